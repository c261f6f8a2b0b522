# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vm module's behaviour: validate, read once, compare, then create / update / recreate / remove.

Uses AzureModule (``m``) for parameters and the ARM client; the decisions are the pure functions in limits, vm_body,
diff and summary.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure import api_versions as V
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError, AzureError, LroFailed
from ansible_collections.confidential.azure.plugins.module_utils._azure.ids import same_id
from ansible_collections.confidential.azure.plugins.module_utils._azure.result import join_errors, merge_tags

from . import api, diff, limits, network_body, preflight, summary, vm_body, vm_properties
from .failure import ManagerFailure
from .manager import Manager

TRANSITIONAL = ("creating", "updating", "deleting", "migrating")
# tag on the NIC / public IP this module creates: state absent removes them even when the VM was never created
OWNER_TAG = "confidential.azure.vm"


class VmManager(Manager):
    resource = "vm"

    def __init__(self, m):
        super(VmManager, self).__init__(m)
        self.pending = []        # network writes planned, not sent yet
        self.created = []        # (kind, id) this run created
        self.left_behind = None  # what a failed create could not remove

    # -- entry -----------------------------------------------------------------------------------------------
    def validate(self):
        return limits.validate_vm(self.p)

    def azure_failure(self, exc):
        changed = self.changed
        if isinstance(exc, AzureApiError) and not isinstance(exc, LroFailed) and 400 <= exc.status < 500:
            # the last write was refused outright: only what is still there from this run changed something
            changed = bool(self.created or self.left_behind) or any(
                a.startswith(("update", "power", "delete VM", "delete disk")) for a in self.actions[:-1])
        extra = {"left_behind": self.left_behind} if self.left_behind else {}
        return dict(extra, changed=changed)

    @property
    def arm(self):
        return self.m.arm

    @property
    def timeout(self):
        return self.p["wait_timeout"]

    # -- helpers ---------------------------------------------------------------------------------------------
    def _id_or_name(self, value, builder):
        if value and value.startswith("/"):
            return value
        return builder(self.sub, self.p["resource_group"], value)

    def _read_vm(self):
        current = api.get_vm(self.m.sdk, self.sub, self.p["resource_group"], self.p["name"])
        state = ((current or {}).get("properties") or {}).get("provisioningState") or ""
        if current is not None and state.lower() in TRANSITIONAL and self.p["wait"]:
            # started by an earlier run with wait: false (or by someone else): wait for it, then read again
            api.wait_resource(self.arm, api.vm_id(self.sub, self.p["resource_group"], self.p["name"]),
                              V.VIRTUAL_MACHINES, self.timeout)
            current = api.get_vm(self.m.sdk, self.sub, self.p["resource_group"], self.p["name"])
        return current

    def _location(self, current):
        if self.p.get("location"):
            return self.p["location"]
        if current:
            return current["location"]
        group = self.m.shared_read(("resource group", self.sub, self.p["resource_group"].lower()),
                                   lambda: api.get_resource_group(self.arm, self.sub, self.p["resource_group"]))
        if group is None:
            raise ManagerFailure("resource_group: %s does not exist in subscription %s; create it first or fix the name"
                                 % (self.p["resource_group"], self.sub))
        return group["location"]

    # -- network: read and plan first, write only after every check passed -----------------------------------
    def _plan_network(self, location, current):
        """NIC refs for the VM and the network writes they need (kept in self.pending, not sent yet)."""
        self.pending = []
        if not self.p.get("subnet_id"):
            if self.p.get("network_interfaces") is None:
                return None
            current_refs = {}
            for ref in ((current or {}).get("properties") or {}).get("networkProfile", {}).get(
                    "networkInterfaces") or []:
                current_refs[(ref.get("id") or "").lower()] = (ref.get("properties") or {}).get("deleteOption")
            return [(rid, current_refs.get(rid.lower()) == "Delete")
                    for rid in (self._id_or_name(n, api.nic_id) for n in self.p["network_interfaces"])]
        rg = self.p["resource_group"]
        tags = dict(self.p.get("tags") or {})
        tags[OWNER_TAG] = self.p["name"]
        nic_rid = api.nic_id(self.sub, rg, self._nic_name())
        pip_rid = None
        if self.p.get("public_ip"):
            pip_rid = api.public_ip_id(self.sub, rg, "%s-pip" % self.p["name"])
            if api.get_public_ip(self.arm, pip_rid) is None:
                self.pending.append(("public IP", pip_rid, network_body.public_ip_body(
                    location, self.p.get("zone"), tags)))
        nic = api.get_nic(self.arm, nic_rid)
        problems = preflight.nic_problems(nic, location, api.vm_id(self.sub, rg, self.p["name"]))
        if problems:
            raise ManagerFailure(join_errors(problems), errors=problems)
        want = {"subnet_id": self.p["subnet_id"].lower(), "public_ip_id": pip_rid.lower() if pip_rid else None,
                "accelerated_networking": False}
        have = network_body.nic_view(nic)
        if nic is None or any(have.get(k) != v for k, v in want.items()):
            if nic is not None:
                self.diff["before"]["nic"] = dict((k, have.get(k)) for k in want)
                self.diff["after"]["nic"] = want
                tags = dict(nic.get("tags") or {}, **tags)
            self.pending.append(("NIC", nic_rid, network_body.nic_body(location, self.p["subnet_id"], pip_rid, tags)))
        return [(nic_rid, True)]

    def _nic_name(self):
        return self.p.get("nic_name") or "%s-nic" % self.p["name"]

    def _check_subnet(self, location):
        """Before the module writes a NIC: the subnet exists and its virtual network is in the VM's region."""
        if not any(kind == "NIC" for kind, _rid, _body in self.pending):
            return
        subnet = self.p["subnet_id"]
        vnet_rid = subnet.split("/subnets/", maxsplit=1)[0]
        vnet = self.m.shared_read(("vnet", vnet_rid.lower()), lambda: api.get_vnet_by_id(self.arm, vnet_rid))
        problems = preflight.subnet_problems(vnet, subnet, location)
        if problems:
            raise ManagerFailure(join_errors(problems), errors=problems)

    def _write_network(self):
        """Send the planned public IP / NIC writes; with wait: false they are not waited for (the VM PUT is)."""
        for kind, rid, body in self.pending:
            existed = kind == "NIC" and "nic" in self.diff["before"]
            self._note("%s %s %s" % ("update" if existed else "create", kind, rid))
            if self.m.check_mode:
                continue
            put = api.put_public_ip if kind == "public IP" else api.put_nic
            put(self.arm, rid, body, self.timeout, wait=self.p["wait"])
            if not existed:
                self.created.append((kind, rid))
        self.pending = []

    def _remove_created(self):
        """After a refused VM create: delete what this run created (NIC, then public IP); return what stays."""
        left = []
        for kind, rid in reversed(self.created):
            if left:
                # the NIC that holds this public IP is still there
                left.append({"kind": kind, "id": rid, "error": "in use by %s" % left[0]["id"]})
                continue
            try:
                api.delete_by_id(self.arm, rid, V.NETWORK, True, self.timeout)
                self.actions.append("delete %s %s (the VM create failed)" % (kind, rid))
            except AzureError as exc:
                left.append({"kind": kind, "id": rid, "error": str(exc)})
        self.created = []
        return left

    # -- pre-flight: reads only, before the first write -------------------------------------------------------
    def _des_rid(self):
        des = self.p.get("disk_encryption_set")
        return self._id_or_name(des, api.des_id) if des else None

    def _check_sku(self, location, size, zone):
        skus = self.m.shared_read(("skus", location.lower()), lambda: api.list_skus(self.m.sdk, location))
        problems = preflight.sku_problems(skus, size, location, zone)
        if problems:
            raise ManagerFailure(join_errors(problems), errors=problems)

    def _check_des(self, location):
        des_rid = self._des_rid()
        if not des_rid:
            return
        des = self.m.shared_read(("des", des_rid.lower()), lambda: api.get_des_by_id(self.m.sdk, des_rid))
        problems = preflight.des_problems(des, des_rid, location)
        vault_rid = preflight.des_vault_id(des)
        if not problems and vault_rid:
            vault = self.m.shared_read(("vault", vault_rid.lower()), lambda: api.get_vault(self.arm, vault_rid))
            problems = preflight.vault_problems(vault, vault_rid)
        if problems:
            raise ManagerFailure(join_errors(problems), errors=problems)

    def _desired_body(self, location, nic_refs, current):
        tags = merge_tags(self.p.get("tags"), (current or {}).get("tags"), self.p["append_tags"])
        os_type = limits.image_info(self.p["image"])["os_type"]
        return vm_body.build_vm_body(self.p, location, nic_refs, self._des_rid(), os_type, tags)

    # -- present ---------------------------------------------------------------------------------------------
    def _present(self):
        rg = self.p["resource_group"]
        current = self._read_vm()
        if current is None:
            if limits.is_partial(self.p):
                raise ManagerFailure("VM %s does not exist in %s; give size, image, admin_username and a network to "
                                     "create it" % (self.p["name"], rg))
            return self._create()
        state = (current.get("properties") or {}).get("provisioningState") or ""
        if state.lower() in TRANSITIONAL:
            # wait: false and still provisioning from an earlier run: report, do not touch
            self.operation = {"status": state, "resource_id": current.get("id"), "done": False}
            return {"vm": summary.vm_result(current, rg)}
        if state.lower() == "failed" and not limits.is_partial(self.p):
            # an earlier create/update ended Failed (e.g. allocation): ARM retries when the VM is PUT again
            return self._create(current, reapply=True)
        return self._update(current)

    def _create(self, current=None, reapply=False):
        """A new VM (or a Failed one PUT again): pre-flight reads, then NIC, then the VM; undo the NIC on refusal."""
        rg, name = self.p["resource_group"], self.p["name"]
        location = self._location(current)
        nic_refs = self._plan_network(location, current)
        self._check_sku(location, self.p["size"], self.p.get("zone"))
        self._check_des(location)
        self._check_subnet(location)
        desired = self._desired_body(location, nic_refs, current)
        self.diff["before"] = {}
        self.diff["after"] = diff.vm_view(desired)
        self._write_network()
        self._note("%s VM %s" % ("re-apply (provisioningState Failed)" if reapply else "create",
                                 api.vm_id(self.sub, rg, name)))
        if self.m.check_mode:
            predicted = vm_body.redact_body(desired)
            predicted["id"] = api.vm_id(self.sub, rg, name)
            predicted["name"] = name
            return {"vm": summary.vm_result(predicted, rg)}
        try:
            result = api.put_vm(self.m.sdk, self.sub, rg, name, desired, self.p["wait"], self.timeout)
        except AzureError:
            if self.created and api.get_vm(self.m.sdk, self.sub, rg, name) is None:
                self.left_behind = self._remove_created()
            raise
        if not result.done:
            self.operation = result.to_dict()
            return {"vm": summary.vm_result(vm_body.redact_body(result.resource or desired), rg)}
        want_power = self.p.get("power_state")
        if want_power in ("stopped", "deallocated"):
            self._power(want_power)
        return {"vm": summary.vm_result(api.get_vm(self.m.sdk, self.sub, rg, name), rg)}

    def _recreate(self, current):
        self.actions.append("recreate (allow_recreate)")
        if self.m.check_mode:
            self.changed = True
            return {"vm": summary.vm_result(current, self.p["resource_group"])}
        self._remove(current)
        return self._create()

    def _update(self, current):
        """An existing VM: compare every option given (vm_properties) and change what Azure can change."""
        rg, name = self.p["resource_group"], self.p["name"]
        location = current["location"]
        nic_refs = self._plan_network(location, current)
        tags = merge_tags(self.p.get("tags"), current.get("tags"), self.p["append_tags"])
        have = diff.vm_view(current)
        want = vm_properties.desired_view(self.p, self._des_rid(), [r for r, _c in nic_refs] if nic_refs else None,
                                          tags, have["identity"])
        if want.get("secure_boot") is False and (want.get("security_encryption_type") or have.get(
                "security_encryption_type")) == "DiskWithVMGuestState":
            raise ManagerFailure("secure_boot: the VM uses DiskWithVMGuestState (confidential OS disk encryption), "
                                 "which requires secure boot; keep secure_boot: true")
        changes = diff.compare_vm(want, have)
        found = diff.diff_output(changes)
        self.diff["before"].update(found["before"])
        self.diff["after"].update(found["after"])
        blockers = [(k, c) for k, c in changes.items() if c["kind"] == diff.RECREATE]
        if blockers:
            if not self.p["allow_recreate"] or limits.is_partial(self.p):
                reasons = [c["reason"] for _k, c in blockers]
                how = ("allow_recreate: true (with the full definition: size and image) deletes and recreates the VM "
                       "(its OS disk and the NIC it created are deleted; data on them is lost)")
                raise ManagerFailure("%s. %s" % (join_errors(reasons), how), diff=self.diff,
                                     changes=sorted(k for k, _change in blockers))
            return self._recreate(current)
        power = summary.power_state(current)
        want_power = self.p.get("power_state")
        needs_dealloc = [k for k, c in changes.items() if c["kind"] == diff.DEALLOCATED]
        if needs_dealloc and power != "deallocated" and want_power != "deallocated":
            raise ManagerFailure("%s can only change while the VM is deallocated (power state is %s); run with "
                                 "power_state: deallocated, then power_state: running"
                                 % (", ".join(sorted(needs_dealloc)), power), diff=self.diff)
        if want_power and want_power != power:
            self.diff["before"]["power_state"] = power
            self.diff["after"]["power_state"] = want_power
        if not changes and not self.pending and (not want_power or want_power == power):
            return {"vm": summary.vm_result(current, rg)}
        if "size" in changes:
            self._check_sku(location, changes["size"]["after"], have.get("zone"))
        self._check_subnet(location)
        self._write_network()
        if self.m.check_mode:
            self.changed = True
            if changes:
                self.actions.append("update %s" % ", ".join(sorted(changes)))
            if want_power and want_power != power:
                self.actions.append("power %s -> %s" % (power, want_power))
            return {"vm": summary.vm_result(current, rg)}
        if needs_dealloc and power != "deallocated":
            self._power("deallocated")
            power = "deallocated"
        if changes:
            self._note("update %s" % ", ".join(sorted(changes)))
            patch = vm_body.build_patch(changes, current, self.p, nic_refs)
            result = api.patch_vm(self.m.sdk, self.sub, rg, name, patch, self.p["wait"], self.timeout)
            if not result.done:
                self.operation = result.to_dict()
                return {"vm": summary.vm_result(result.resource or current, rg)}
            self._delete_detached_disks(changes, current)
        if want_power and want_power != power:
            self._power(want_power)
            if self.operation:
                return {"vm": summary.vm_result(current, rg)}
        return {"vm": summary.vm_result(api.get_vm(self.m.sdk, self.sub, rg, name), rg)}

    def _power(self, state):
        self._note("power %s" % state)
        result = api.vm_power_action(self.m.sdk, self.sub, self.p["resource_group"], self.p["name"], state,
                                     self.p["wait"], self.timeout)
        if not result.done:
            self.operation = result.to_dict()

    def _delete_detached_disks(self, changes, current):
        change = changes.get("data_disks")
        if not change or not change.get("removed"):
            return
        for disk in ((current.get("properties") or {}).get("storageProfile") or {}).get("dataDisks") or []:
            disk_id = (disk.get("managedDisk") or {}).get("id")
            if disk.get("lun") in change["removed"] and disk.get("deleteOption") == "Delete" and disk_id:
                self._note("delete detached data disk %s" % disk_id)
                api.delete_disk_by_id(self.m.sdk, disk_id, True, self.timeout)

    # -- absent ----------------------------------------------------------------------------------------------
    def _remove(self, current):
        """Delete the VM, then the OS disk, data disks and NICs it owns (deleteOption Delete), nothing else."""
        props = current.get("properties") or {}
        storage = props.get("storageProfile") or {}
        owned_disks = []
        os_disk = storage.get("osDisk") or {}
        if (os_disk.get("managedDisk") or {}).get("id"):
            owned_disks.append(os_disk["managedDisk"]["id"])
        for disk in storage.get("dataDisks") or []:
            if disk.get("deleteOption") == "Delete" and (disk.get("managedDisk") or {}).get("id"):
                owned_disks.append(disk["managedDisk"]["id"])
        owned_nics = [ref["id"] for ref in (props.get("networkProfile") or {}).get("networkInterfaces") or []
                      if (ref.get("properties") or {}).get("deleteOption") == "Delete"]
        self._note("delete VM %s" % current.get("id"))
        api.delete_vm(self.m.sdk, self.sub, self.p["resource_group"], self.p["name"], True, self.timeout)
        for disk_id in owned_disks:
            self.actions.append("delete disk %s" % disk_id)
            api.delete_disk_by_id(self.m.sdk, disk_id, True, self.timeout)
        for nic_rid in owned_nics:
            nic = api.get_nic(self.arm, nic_rid)
            self.actions.append("delete NIC %s" % nic_rid)
            api.delete_by_id(self.arm, nic_rid, V.NETWORK, True, self.timeout)
            for config in ((nic or {}).get("properties") or {}).get("ipConfigurations") or []:
                pip = (config.get("properties") or {}).get("publicIPAddress") or {}
                if pip.get("id") and same_id(pip["id"], api.public_ip_id(
                        self.sub, self.p["resource_group"], "%s-pip" % self.p["name"])):
                    self.actions.append("delete public IP %s" % pip["id"])
                    api.delete_by_id(self.arm, pip["id"], V.NETWORK, True, self.timeout)

    def _own_network(self):
        """NIC and public IP this module created for a VM that does not exist (tagged by it, attached to no VM)."""
        rg, name = self.p["resource_group"], self.p["name"]
        found = []
        nic_rid = api.nic_id(self.sub, rg, self._nic_name())
        nic = api.get_nic(self.arm, nic_rid)
        if nic is not None and (nic.get("tags") or {}).get(OWNER_TAG) == name and not (
                nic.get("properties") or {}).get("virtualMachine"):
            found.append(("NIC", nic_rid))
        pip_rid = api.public_ip_id(self.sub, rg, "%s-pip" % name)
        pip = api.get_public_ip(self.arm, pip_rid)
        user = (((pip or {}).get("properties") or {}).get("ipConfiguration") or {}).get("id") or ""
        if pip is not None and (pip.get("tags") or {}).get(OWNER_TAG) == name and (
                not user or (found and user.lower().startswith(nic_rid.lower() + "/"))):
            found.append(("public IP", pip_rid))
        return found

    def _absent(self):
        current = api.get_vm(self.m.sdk, self.sub, self.p["resource_group"], self.p["name"])
        if current is None:
            own = self._own_network()
            if own:
                self.diff = {"before": {"network": [rid for _k, rid in own]}, "after": {"network": []}}
            for kind, rid in own:
                self._note("delete %s %s (created by this module for a VM that does not exist)" % (kind, rid))
                if not self.m.check_mode:
                    api.delete_by_id(self.arm, rid, V.NETWORK, True, self.timeout)
            return {"vm": {}}
        self.diff = {"before": {"state": "present"}, "after": {"state": "absent"}}
        if self.m.check_mode:
            self._note("delete VM %s" % current.get("id"))
            return {"vm": {}}
        if not self.p["wait"]:
            self._note("delete VM %s" % current.get("id"))
            result = api.delete_vm(self.m.sdk, self.sub, self.p["resource_group"], self.p["name"], False, self.timeout)
            self.operation = result.to_dict()
            if not result.done:
                self.m.warn("wait: false - the VM is being deleted; its OS disk and NIC are removed by ARM "
                            "(deleteOption Delete) or by a later run with wait: true")
            return {"vm": {}}
        self._remove(current)
        return {"vm": {}}
