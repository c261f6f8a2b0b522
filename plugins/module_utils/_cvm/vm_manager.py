# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vm module's behaviour: validate, read once, compare, then create / update / recreate / remove.

Uses AzureModule (``m``) for parameters and the ARM client; the decisions are the pure functions in limits, vm_body,
diff and summary.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure import api_versions as V
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import (AzureApiError, AzureError,
                                                                                       LroFailed)
from ansible_collections.confidential.azure.plugins.module_utils._azure.ids import same_id

from . import api, diff, limits, network_body, summary, vm_body
from .failure import ManagerFailure

TRANSITIONAL = ("creating", "updating", "deleting", "migrating")


class VmManager(object):
    def __init__(self, m):
        self.m = m
        self.p = m.params
        self.changed = False
        self.operation = None
        self.diff = {"before": {}, "after": {}}
        self.actions = []

    # -- entry -----------------------------------------------------------------------------------------------
    def run(self):
        errors = limits.validate_vm(self.p)
        if errors:
            self.m.fail_json(msg="invalid parameters: " + " | ".join(errors), errors=errors, changed=False)
        try:
            if self.p["state"] == "absent":
                result = self._absent()
            elif limits.is_partial(self.p):
                result = self._partial()
            else:
                result = self._present()
        except ManagerFailure as exc:
            self.m.fail_json(msg=exc.msg, changed=self.changed, actions=self.actions, **exc.extra)
        except AzureError as exc:
            changed = self.changed
            if isinstance(exc, AzureApiError) and not isinstance(exc, LroFailed) and 400 <= exc.status < 500:
                # the last write was refused outright: only the writes before it changed something
                changed = any(not a.startswith("recreate") for a in self.actions[:-1])
            self.m.fail_azure(exc, changed=changed, actions=self.actions)
        result.setdefault("changed", self.changed)
        result["actions"] = self.actions
        if self.operation is not None:
            result["operation"] = self.operation
        if self.m.diff_mode:
            result["diff"] = self.diff
        self.m.exit_json(**result)

    @property
    def sub(self):
        return self.m.subscription_id

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
        current = api.get_vm(self.arm, self.sub, self.p["resource_group"], self.p["name"])
        state = ((current or {}).get("properties") or {}).get("provisioningState") or ""
        if current is not None and state.lower() in TRANSITIONAL and self.p["wait"]:
            # started by an earlier run with wait: false (or by someone else): wait for it, then read again
            api.wait_resource(self.arm, api.vm_id(self.sub, self.p["resource_group"], self.p["name"]),
                              V.VIRTUAL_MACHINES, self.timeout)
            current = api.get_vm(self.arm, self.sub, self.p["resource_group"], self.p["name"])
        return current

    def _location(self, current):
        if self.p.get("location"):
            return self.p["location"]
        if current:
            return current["location"]
        group = api.get_resource_group(self.arm, self.sub, self.p["resource_group"])
        if group is None:
            raise ManagerFailure("resource_group: %s does not exist in subscription %s; create it first or fix the name"
                                 % (self.p["resource_group"], self.sub))
        return group["location"]

    def _ensure_nic(self, location, tags):
        """Ensure the NIC this module creates (subnet_id given).  One GET per NIC (and public IP)."""
        rg = self.p["resource_group"]
        nic_name = self.p.get("nic_name") or "%s-nic" % self.p["name"]
        nic_rid = api.nic_id(self.sub, rg, nic_name)
        pip_rid = None
        if self.p.get("public_ip"):
            pip_rid = api.public_ip_id(self.sub, rg, "%s-pip" % self.p["name"])
            pip = api.get_public_ip(self.arm, pip_rid)
            if pip is None:
                self._note("create public IP %s" % pip_rid)
                if not self.m.check_mode:
                    api.put_public_ip(self.arm, pip_rid, network_body.public_ip_body(
                        location, self.p.get("zone"), tags), self.timeout)
        nic = api.get_nic(self.arm, nic_rid)
        want = {"subnet_id": self.p["subnet_id"].lower(), "public_ip_id": pip_rid.lower() if pip_rid else None,
                "accelerated_networking": False}
        have = network_body.nic_view(nic)
        if nic is None or any(have.get(k) != v for k, v in want.items()):
            if nic is not None:
                self.diff["before"]["nic"] = dict((k, have.get(k)) for k in want)
                self.diff["after"]["nic"] = want
            self._note("%s NIC %s" % ("create" if nic is None else "update", nic_rid))
            if not self.m.check_mode:
                api.put_nic(self.arm, nic_rid, network_body.nic_body(location, self.p["subnet_id"], pip_rid, tags),
                            self.timeout)
        return nic_rid

    def _note(self, action):
        self.changed = True
        self.actions.append(action)

    def _desired(self, current):
        location = self._location(current)
        tags = diff.merge_tags(self.p.get("tags"), (current or {}).get("tags"), self.p["append_tags"])
        if self.p.get("subnet_id"):
            nic_refs = [(self._ensure_nic(location, self.p.get("tags") or {}), True)]
        else:
            current_refs = {}
            for ref in ((current or {}).get("properties") or {}).get("networkProfile", {}).get(
                    "networkInterfaces") or []:
                current_refs[(ref.get("id") or "").lower()] = (ref.get("properties") or {}).get("deleteOption")
            nic_refs = []
            for nic in self.p["network_interfaces"]:
                rid = self._id_or_name(nic, api.nic_id)
                nic_refs.append((rid, current_refs.get(rid.lower()) == "Delete"))
        des = self.p.get("disk_encryption_set")
        des_rid = self._id_or_name(des, api.des_id) if des else None
        os_type = limits.image_info(self.p["image"])["os_type"]
        return vm_body.build_vm_body(self.p, location, nic_refs, des_rid, os_type, tags)

    def _managed_view(self, desired_body):
        view = diff.vm_view(desired_body)
        p = self.p
        if p.get("secure_boot") is None:
            view["secure_boot"] = None
        if p.get("os_disk_type") is None:
            view["os_disk_type"] = None
        if p.get("data_disks") is None:
            view["data_disks"] = None
        if p.get("zone") is None:
            view["zone"] = None
        if not p.get("ssh_public_keys"):
            view["ssh_public_keys"] = None
        return view

    # -- present ---------------------------------------------------------------------------------------------
    def _present(self):
        rg, name = self.p["resource_group"], self.p["name"]
        current = self._read_vm()
        desired = self._desired(current)
        if current is None:
            return self._create(desired)
        state = (current.get("properties") or {}).get("provisioningState") or ""
        if state.lower() in TRANSITIONAL:
            # wait: false and still provisioning from an earlier run: report, do not touch
            self.operation = {"status": state, "resource_id": current.get("id"), "done": False}
            return {"vm": summary.vm_result(current, rg)}
        if state.lower() == "failed":
            # an earlier create/update ended Failed (e.g. allocation): ARM retries when the VM is PUT again
            return self._create(desired, reapply=True)
        changes = diff.compare_vm(self._managed_view(desired), diff.vm_view(current))
        blockers = [(k, c) for k, c in changes.items() if c["kind"] == diff.RECREATE]
        found = diff.diff_output(changes)
        self.diff["before"].update(found["before"])
        self.diff["after"].update(found["after"])
        if blockers:
            if not self.p["allow_recreate"]:
                reasons = [c["reason"] or "%s: %s -> %s cannot be changed on an existing VM"
                           % (k, c["before"], c["after"]) for k, c in blockers]
                raise ManagerFailure("Azure cannot make these changes in place: %s. Set allow_recreate: true to delete "
                                     "and recreate the VM (its OS disk and the NIC it created are deleted; data on them is "
                                     "lost)" % "; ".join(reasons), diff=self.diff, changes=sorted(k for k, _change in blockers))
            return self._recreate(current, desired)
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
        if not changes and (not want_power or want_power == power):
            return {"vm": summary.vm_result(current, rg)}
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
            patch = vm_body.build_patch(changes, desired, current)
            result = api.patch_vm(self.arm, self.sub, rg, name, patch, self.p["wait"], self.timeout)
            if not result.done:
                self.operation = result.to_dict()
                return {"vm": summary.vm_result(result.resource or current, rg)}
            self._delete_detached_disks(changes, current)
        if want_power and want_power != power:
            self._power(want_power)
            if self.operation:
                return {"vm": summary.vm_result(current, rg)}
        return {"vm": summary.vm_result(api.get_vm(self.arm, self.sub, rg, name), rg)}

    def _power(self, state):
        self._note("power %s" % state)
        result = api.vm_power_action(self.arm, self.sub, self.p["resource_group"], self.p["name"], state,
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
                api.delete_disk_by_id(self.arm, disk_id, True, self.timeout)

    def _create(self, desired, reapply=False):
        rg, name = self.p["resource_group"], self.p["name"]
        self._note("%s VM %s" % ("re-apply (provisioningState Failed)" if reapply else "create",
                                 api.vm_id(self.sub, rg, name)))
        self.diff["before"] = {}
        self.diff["after"] = diff.vm_view(desired)
        if self.m.check_mode:
            predicted = vm_body.redact_body(desired)
            predicted["id"] = api.vm_id(self.sub, rg, name)
            predicted["name"] = name
            return {"vm": summary.vm_result(predicted, rg)}
        result = api.put_vm(self.arm, self.sub, rg, name, desired, self.p["wait"], self.timeout)
        if not result.done:
            self.operation = result.to_dict()
            return {"vm": summary.vm_result(vm_body.redact_body(result.resource or desired), rg)}
        want_power = self.p.get("power_state")
        if want_power in ("stopped", "deallocated"):
            self._power(want_power)
        return {"vm": summary.vm_result(api.get_vm(self.arm, self.sub, rg, name), rg)}

    def _recreate(self, current, desired):
        self.actions.append("recreate (allow_recreate)")
        if self.m.check_mode:
            self.changed = True
            return {"vm": summary.vm_result(current, self.p["resource_group"])}
        self._remove(current)
        desired = self._desired(None)
        return self._create(desired)

    def _partial(self):
        """Only power_state and tags of an existing VM."""
        rg, name = self.p["resource_group"], self.p["name"]
        current = self._read_vm()
        if current is None:
            raise ManagerFailure("VM %s does not exist in %s; give size, image, admin_username and a network to create it"
                                 % (name, rg))
        tags = diff.merge_tags(self.p.get("tags"), current.get("tags"), self.p["append_tags"])
        power = summary.power_state(current)
        want_power = self.p.get("power_state")
        if tags != (current.get("tags") or {}):
            self.diff["before"]["tags"] = current.get("tags") or {}
            self.diff["after"]["tags"] = tags
        if want_power and want_power != power:
            self.diff["before"]["power_state"] = power
            self.diff["after"]["power_state"] = want_power
        if not self.diff["after"]:
            return {"vm": summary.vm_result(current, rg)}
        if self.m.check_mode:
            self.changed = True
            self.actions.extend("update %s" % k for k in sorted(self.diff["after"]))
            return {"vm": summary.vm_result(current, rg)}
        if "tags" in self.diff["after"]:
            self._note("update tags")
            result = api.patch_vm(self.arm, self.sub, rg, name, {"tags": tags}, self.p["wait"], self.timeout)
            if not result.done:
                self.operation = result.to_dict()
        if "power_state" in self.diff["after"]:
            self._power(want_power)
        if self.operation:
            return {"vm": summary.vm_result(current, rg)}
        return {"vm": summary.vm_result(api.get_vm(self.arm, self.sub, rg, name), rg)}

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
        api.delete_vm(self.arm, self.sub, self.p["resource_group"], self.p["name"], True, self.timeout)
        for disk_id in owned_disks:
            self.actions.append("delete disk %s" % disk_id)
            api.delete_disk_by_id(self.arm, disk_id, True, self.timeout)
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

    def _absent(self):
        current = api.get_vm(self.arm, self.sub, self.p["resource_group"], self.p["name"])
        if current is None:
            return {"vm": None}
        self.diff = {"before": {"state": "present"}, "after": {"state": "absent"}}
        if self.m.check_mode:
            self._note("delete VM %s" % current.get("id"))
            return {"vm": None}
        if not self.p["wait"]:
            self._note("delete VM %s" % current.get("id"))
            result = api.delete_vm(self.arm, self.sub, self.p["resource_group"], self.p["name"], False, self.timeout)
            self.operation = result.to_dict()
            if not result.done:
                self.m.warn("wait: false - the VM is being deleted; its OS disk and NIC are removed by ARM "
                            "(deleteOption Delete) or by a later run with wait: true")
            return {"vm": None}
        self._remove(current)
        return {"vm": None}
