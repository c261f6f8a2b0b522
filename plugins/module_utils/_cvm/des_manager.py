# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk_encryption_set module's behaviour: validate, read once, check the key before creating, converge."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure import api_versions as V
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError
from ansible_collections.confidential.azure.plugins.module_utils._azure.result import join_errors, merge_tags
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api as kv_api
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import facts, grants

from . import api, des_body, diff, limits, preflight, summary
from .failure import ManagerFailure
from .manager import Manager

DES_KEY_PERMISSIONS = ("get", "wrapKey", "unwrapKey")

# encryption type and identity type cannot change on an existing set
RECREATE_KEYS = ("encryption_type",)


class DesManager(Manager):
    resource = "disk_encryption_set"

    def __init__(self, m):
        super(DesManager, self).__init__(m)
        self.key_parts = None
        self.vault = None

    def validate(self):
        errors, self.key_parts = limits.validate_des(self.p)
        return errors

    def _vault_id(self):
        vault = self.p.get("source_vault")
        if not vault:
            return None
        if vault.startswith("/"):
            return vault
        return api.vault_id(self.sub, self.p["resource_group"], vault)

    def _check_key(self):
        """Key Vault GET of the key version through the KeyClient: an exportable HSM key with a release policy, else
        say why not."""
        parts = self.key_parts
        vault_url, name = parts["vault_url"], parts["name"]
        play_facts = facts.Facts.of_params(self.p)
        try:
            bundle = kv_api.get_key(kv_api.keys_client(self.m, play_facts, vault_url), name, parts["version"])
        except AzureApiError as exc:
            if exc.status == 403:
                raise ManagerFailure("key_url: no permission to read key %s in %s (needs key permission get) - %s"
                                     % (name, vault_url, exc.message), azure_error=exc.to_dict())
            if not exc.status:  # no answer from Key Vault: the plumbing's connection error as it is
                raise
            raise ManagerFailure("key_url: reading the key failed with %s %s: %s" % (exc.status, exc.code,
                                                                                     exc.message),
                                 azure_error=exc.to_dict())
        kv_api.remember_challenge(play_facts, vault_url)
        if bundle is None:
            raise ManagerFailure("key_url: key %s version %s does not exist in %s" % (name, parts["version"],
                                                                                      vault_url))
        problems = des_body.key_problems(bundle, self.p.get("encryption_type") or limits.CONFIDENTIAL_DES_TYPE)
        if problems:
            raise ManagerFailure("key_url: %s cannot back a confidential disk encryption set: %s"
                                 % (self.p["key_url"], join_errors(problems)))

    def _check_vault(self):
        """Before the set is written: its vault exists with purge protection (Azure refuses the set otherwise)."""
        vault_id = self._vault_id()
        if not vault_id:
            return
        self.vault = api.get_vault(self.m.arm, vault_id)
        problems = preflight.vault_problems(self.vault, vault_id, param="source_vault")
        if problems:
            raise ManagerFailure(join_errors(problems), errors=problems)

    def _vms_using(self, des_id):
        """VMs of the subscription whose confidential OS disk uses this set, with their power state."""
        out = []
        for resource in api.list_vms(self.m.sdk, self.sub):
            disk_sec = ((((resource.get("properties") or {}).get("storageProfile") or {}).get("osDisk") or {}).get(
                "managedDisk") or {}).get("securityProfile") or {}
            if ((disk_sec.get("diskEncryptionSet") or {}).get("id") or "").lower() == des_id.lower():
                out.append(resource)
        return out

    def _key_change(self, current, put):
        """A confidential set's key changes only while the VMs that use it are deallocated (Microsoft's CVM
        key-rotation guidance): refuse while any runs, or deallocate them, change the key, start those that ran."""
        if (current.get("properties") or {}).get("encryptionType") != limits.CONFIDENTIAL_DES_TYPE:
            return put()
        vms = self._vms_using(current["id"])
        active = [v for v in vms if summary.power_state(v) != "deallocated"]
        if not active:
            return put()
        names = sorted(v.get("name") for v in active)
        if not self.p.get("deallocate_for_key_change"):
            raise ManagerFailure("key_url: cannot change the key of confidential disk encryption set %s while these VMs "
                                 "that use it are not deallocated: %s; deallocate them first, or set "
                                 "deallocate_for_key_change: true" % (current.get("name"), ", ".join(names)),
                                 vms=names, diff=self.diff)
        running = [v for v in active if summary.power_state(v) in ("running", "starting")]
        for resource in active:
            self._vm_power(resource, "deallocated")
        result = put()
        for resource in running:
            self._vm_power(resource, "running")
        return result

    def _vm_power(self, resource, state):
        rg = resource["id"].split("/")[4]
        self._note("%s VM %s (key change)" % ("deallocate" if state == "deallocated" else "start", resource["name"]))
        if not self.m.check_mode:
            api.vm_power_action(self.m.sdk, self.sub, rg, resource["name"], state, True, self.p["wait_timeout"])

    def _present(self):
        rg, name = self.p["resource_group"], self.p["name"]
        current = api.get_des(self.m.sdk, self.sub, rg, name)
        location = self.p.get("location") or (current or {}).get("location")
        if not location:
            group = api.get_resource_group(self.m.arm, self.sub, rg)
            if group is None:
                raise ManagerFailure("resource_group: %s does not exist; create it first" % rg)
            location = group["location"]
        tags = merge_tags(self.p.get("tags"), (current or {}).get("tags"), self.p["append_tags"])
        desired = des_body.des_body(self.p, location, self._vault_id(), tags)
        want = des_body.des_view(desired)
        if current is None:
            self._check_vault()
            self._check_key()
            self._note("create disk encryption set")
            self.diff["after"] = want
            if self.m.check_mode:
                return {"disk_encryption_set": des_body.des_result(dict(desired, name=name, id=api.des_id(
                    self.sub, rg, name)))}
            result = api.put_des(self.m.sdk, self.sub, rg, name, desired, self.p["wait"], self.p["wait_timeout"])
            if not result.done:
                self.operation = result.to_dict()
                return {"disk_encryption_set": des_body.des_result(result.resource or desired)}
            resource = result.resource or api.get_des(self.m.sdk, self.sub, rg, name)
        else:
            have = des_body.des_view(current)
            if not self.p.get("source_vault"):
                want["source_vault"] = None
            changes = diff.diff_dicts(want, have)
            if "user_assigned_identities" in changes and not changes["user_assigned_identities"]["after"]:
                del changes["user_assigned_identities"]
            self.diff = {"before": dict((k, v["before"]) for k, v in changes.items()),
                         "after": dict((k, v["after"]) for k, v in changes.items())}
            blocked = [k for k in changes if k in RECREATE_KEYS]
            if blocked:
                change = changes["encryption_type"]
                raise ManagerFailure("encryption_type: %s -> %s cannot change on an existing disk encryption set; create a "
                                     "new set (another name) and move the disks" % (change["before"], change["after"]),
                                     diff=self.diff)
            resource = current
            failed = ((current.get("properties") or {}).get("provisioningState") or "").lower() == "failed"
            if changes or failed:
                if "key_url" in changes or "source_vault" in changes:
                    self._check_vault()
                    self._check_key()
                action = ("update %s" % ", ".join(sorted(changes)) if changes else
                          "re-apply disk encryption set (provisioningState Failed)")
                key_change = "key_url" in changes

                def put():
                    self._note(action)
                    if self.m.check_mode:
                        return None
                    return api.put_des(self.m.sdk, self.sub, rg, name, desired,
                                       self.p["wait"] or key_change, self.p["wait_timeout"])
                result = self._key_change(current, put) if key_change else put()
                if result is not None:
                    if not result.done:
                        self.operation = result.to_dict()
                        return {"disk_encryption_set": des_body.des_result(result.resource or current)}
                    resource = result.resource or api.get_des(self.m.sdk, self.sub, rg, name)
        out = {"disk_encryption_set": des_body.des_result(resource)}
        if self.p.get("grant_key_permissions"):
            confirmed = self._confirmed_grant(resource) if resource is current and not self.changed else None
            out["grant"] = confirmed if confirmed is not None else self._grant(resource)
        return out

    def _grant_fact(self, resource):
        identity = (resource or {}).get("identity") or {}
        principal = identity.get("principalId")
        if self.p.get("identity") == "UserAssigned":
            principal = self.p.get("user_assigned_identity_principal_id")
        return ((resource or {}).get("id", "").lower(), principal, (self._vault_id() or "").lower(),
                self.key_parts["name"], self.p["grant_scope"], ",".join(DES_KEY_PERMISSIONS))

    def _confirmed_grant(self, resource):
        """The set identity's grant as confirmed or made earlier in the play (facts cache, token cache on): a
        no-change run then reads only the set; a changed set always reads the vault again."""
        fact = self._grant_fact(resource)
        if not fact[1]:
            return None
        return facts.Facts.of_params(self.p).get("des-grant", fact, facts.GRANT_TTL)

    def _grant(self, resource):
        """The set's identity gets get / wrapKey / unwrapKey on the vault (access policy or RBAC at key scope)."""
        identity = (resource or {}).get("identity") or {}
        principal = identity.get("principalId")
        if self.p.get("identity") == "UserAssigned":
            principal = self.p.get("user_assigned_identity_principal_id")
        if not principal:
            if self.m.check_mode:
                return {"changed": True, "missing": list(DES_KEY_PERMISSIONS),
                        "note": "the identity exists only after creation; the grant is made then"}
            raise ManagerFailure("grant_key_permissions: the disk encryption set reports no identity principal id; "
                                 "for identity UserAssigned give user_assigned_identity_principal_id")
        vault_id = self._vault_id()
        vault = self.vault or self.m.arm.get(vault_id, V.KEYVAULT_MANAGEMENT)
        if vault is None:
            raise ManagerFailure("source_vault: key vault %s does not exist" % vault_id)
        try:
            result = grants.ensure_key_permissions(self.m.arm, vault, principal, list(DES_KEY_PERMISSIONS),
                                                   key_name=self.key_parts["name"], scope=self.p["grant_scope"],
                                                   check_mode=self.m.check_mode, timeout=self.p["wait_timeout"])
        except grants.GrantError as exc:
            raise ManagerFailure("grant_key_permissions: %s" % exc)
        if result.get("changed"):
            self._note("grant %s to %s on %s (%s)"
                       % (", ".join(result["missing"]), principal, result["scope"], result["mode"]))
            self.diff["before"]["key_permissions"] = result["before"]
            self.diff["after"]["key_permissions"] = result["after"]
        if not (result.get("changed") and self.m.check_mode) and (resource or {}).get("id"):
            settled = dict(facts.settled(result), changed=False)
            facts.Facts.of_params(self.p).put("des-grant", self._grant_fact(resource), settled)
        return result

    def _absent(self):
        rg, name = self.p["resource_group"], self.p["name"]
        current = api.get_des(self.m.sdk, self.sub, rg, name)
        if current is None:
            return {"disk_encryption_set": {}}
        self._note("delete disk encryption set %s" % current.get("id"))
        self.diff = {"before": {"state": "present"}, "after": {"state": "absent"}}
        if not self.m.check_mode:
            result = api.delete_des(self.m.sdk, self.sub, rg, name, self.p["wait"], self.p["wait_timeout"])
            if not result.done:
                self.operation = result.to_dict()
        return {"disk_encryption_set": {}}
