"""Microsoft.KeyVault management plane: vaults and their access policies.

Spec: specification/keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/keyvault.json."""
from __future__ import annotations

import copy
import datetime
import re
import time

from ..core import ApiError, Response, bad_request
from .base import SUB_PREFIX, TypeHandler, now_iso as _now_iso, register_operations, register_type

NS = "Microsoft.KeyVault"


class Vaults(TypeHandler):
    namespace, types, name_params = NS, ("vaults",), ("vaultName",)
    put_style, delete_style = "sync", "sync"
    readonly_props = ("provisioningState", "vaultUri", "hsmPoolResourceId", "privateEndpointConnections")

    def build(self, req, rg, names, body, existing):
        name = names[-1]
        if not re.match(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", name):
            raise bad_request("VaultNameNotValid", "The vault name '%s' is invalid. A vault's name must be between "
                              "3-24 alphanumeric characters. The name must begin with a letter, end with a letter or "
                              "digit, and not contain consecutive hyphens. Follow this link for more information: "
                              "https://go.microsoft.com/fwlink/?linkid=2147742" % name)
        recovering = (body.get("properties") or {}).get("createMode") == "recover"
        if existing is None:
            for v in self.arm.of_type(self.display_type):
                if v["name"].lower() == name.lower():
                    raise _name_in_use(name)
            deleted = self.arm.deleted_vaults.get(name.lower())
            if deleted is not None and not recovering:
                name_reusable_after_purge(deleted, name)
            if recovering:
                if deleted is None:
                    raise bad_request("SoftDeletedVaultDoesNotExist", "A soft deleted vault with the given name does "
                                      "not exist. Ensure that the name for the vault that is being attempted to "
                                      "recover is in a recoverable state.")
                return self.recover(req, rg, names, body, deleted)
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        old = (existing or {}).get("properties", {})
        if not props.get("tenantId"):
            raise bad_request("BadRequest", "The parameter tenantId cannot be null or empty.")
        sku = props.get("sku") or {}
        if (sku.get("name") or "").lower() not in ("standard", "premium"):
            raise bad_request("BadRequest", "The parameter sku.name is invalid.")
        sku["name"] = sku["name"].lower()
        if "accessPolicies" not in props and not props.get("enableRbacAuthorization") and \
                props.get("createMode") != "recover":
            if existing is None:
                raise bad_request("BadRequest", "The parameter accessPolicies is not specified.")
            props["accessPolicies"] = old.get("accessPolicies", [])
        props.setdefault("accessPolicies", [])
        for ap in props["accessPolicies"]:
            if not ap.get("objectId") or not ap.get("tenantId"):
                raise bad_request("BadRequest", "An invalid value was provided for 'accessPolicies'.")
        if old.get("enablePurgeProtection") and props.get("enablePurgeProtection") is False:
            raise bad_request("BadRequest", "The property \"enablePurgeProtection\" cannot be set to false. Enabling "
                              "the purge protection for a vault is an irreversible action.")
        if old.get("enablePurgeProtection") and "enablePurgeProtection" not in props:
            props["enablePurgeProtection"] = True
        if props.get("enableSoftDelete") is False and (existing is None or old.get("enableSoftDelete", True)):
            if existing is not None:
                raise bad_request("BadRequest", "The property \"enableSoftDelete\" cannot be set to false. Enabling "
                                  "the 'soft delete' functionality is an irreversible action.")
        props.setdefault("enableSoftDelete", True)
        props.setdefault("softDeleteRetentionInDays", 90)
        props.setdefault("enableRbacAuthorization", False)
        props.setdefault("enabledForDeployment", False)
        props.setdefault("enabledForDiskEncryption", False)
        props.setdefault("enabledForTemplateDeployment", False)
        props.setdefault("publicNetworkAccess", "Enabled")
        props["vaultUri"] = self.sim.kv.register_vault(name, res["id"])
        props["provisioningState"] = "Succeeded"
        res["systemData"] = {"createdBy": self.sim.client_id, "createdByType": "Application",
                             "createdAt": (existing or {}).get("systemData", {}).get("createdAt") or _now_iso(),
                             "lastModifiedBy": self.sim.client_id, "lastModifiedByType": "Application",
                             "lastModifiedAt": _now_iso()}
        return res

    def on_delete(self, res):
        """Soft delete: the vault (with its keys) stays recoverable until its scheduled purge date."""
        props = res["properties"]
        kv_state = self.sim.kv.vaults.get(res["name"].lower())
        self.sim.kv.delete_vault(res["name"])
        if props.get("enableSoftDelete", True) is False:
            return
        now = time.time()
        days = int(props.get("softDeleteRetentionInDays") or 90)
        self.arm.deleted_vaults[res["name"].lower()] = {
            "vault": copy.deepcopy(res), "kv": kv_state, "deleted_at": now, "purge_at": now + days * 86400}
        self.sim.mark_dirty()

    def recover(self, req, rg, names, body, deleted):
        """createMode 'recover': the soft-deleted vault comes back with its properties and keys."""
        res = copy.deepcopy(deleted["vault"])
        if res["id"].lower() != self.build_id(rg["name"], names).lower():
            raise bad_request("BadRequest", "The soft deleted vault '%s' belongs to '%s'; recover it in its original "
                              "resource group." % (names[-1], res["id"]))
        del self.arm.deleted_vaults[names[-1].lower()]
        if deleted.get("kv"):
            self.sim.kv.vaults[names[-1].lower()] = deleted["kv"]
        res["properties"]["vaultUri"] = self.sim.kv.register_vault(names[-1], res["id"])
        return res


def _name_in_use(name):
    return ApiError(409, "VaultAlreadyExists", "The vault name '%s' is already in use. Vault names are globally "
                    "unique so it is possible that the name is already taken. If you are sure that the vault name "
                    "was not taken then it is possible that a vault with the same name was recently deleted but not "
                    "purged after being placed in a recoverable state. If the vault is in a recoverable state then "
                    "the vault will need to be explicitly purged. Please refer to "
                    "https://go.microsoft.com/fwlink/?linkid=2147740 for more details." % name)


def name_reusable_after_purge(deleted, name):
    """The name of a soft-deleted vault is taken until the vault is purged (by its scheduled purge date, or by a
    purge call, which purge protection forbids).

    Source: Microsoft doc "Azure Key Vault soft-delete overview" ("you can't reuse the name of a key vault that
    has been soft-deleted until the retention period has passed"; purge protection: "a vault ... in the deleted
    state cannot be purged until the retention period has passed"); the message is public record
    (Azure/azure-powershell issue #15115, VaultAlreadyExists)."""
    if time.time() < deleted["purge_at"]:
        raise _name_in_use(name)


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def deleted_vault_view(arm, d) -> dict:
    v = d["vault"]
    iso = _iso
    return {"id": "/subscriptions/%s/providers/%s/locations/%s/deletedVaults/%s"
                  % (arm.sub, NS, v["location"], v["name"]),
            "name": v["name"], "type": NS + "/deletedVaults",
            "properties": {"vaultId": v["id"], "location": v["location"], "deletionDate": iso(d["deleted_at"]),
                           "scheduledPurgeDate": iso(d["purge_at"]), "tags": v.get("tags") or {},
                           "purgeProtectionEnabled": bool(v["properties"].get("enablePurgeProtection"))}}


def deleted_vault(arm, m):
    d = arm.deleted_vaults.get(m["vaultName"].lower())
    if d is None or d["vault"]["location"] != m["location"].lower():
        raise ApiError(404, "DeletedVaultNotFound", "Vault not found: %s" % m["vaultName"])
    return d


def purge(arm, req, m, fault):
    """POST .../locations/{location}/deletedVaults/{vaultName}/purge; refused while purge protection holds.

    Source: Microsoft doc "Azure Key Vault soft-delete overview" (purge protection: no purge before the end of the
    retention period)."""
    d = deleted_vault(arm, m)
    if d["vault"]["properties"].get("enablePurgeProtection"):
        raise ApiError(409, "Conflict", "Operation \"purge\" is not allowed because purge protection is enabled for "
                       "vault '%s'. The vault will be purged automatically after its scheduled purge date."
                       % m["vaultName"])
    del arm.deleted_vaults[m["vaultName"].lower()]
    arm.sim.mark_dirty()
    op = arm.new_op(NS, m["location"].lower(), "action", "", None, req.api_version, fault)
    return Response(202, None, arm.lro_headers(op, async_op=False))


def access_policy(arm, req, m, fault):
    """PUT .../vaults/{vaultName}/accessPolicies/{operationKind} (VaultsUpdateAccessPolicy)."""
    rg_name, names = m["resourceGroupName"], [m["vaultName"], m["operationKind"]]
    rg = arm.require_group(rg_name)
    vault = arm.get("%s/providers/%s/vaults/%s" % (arm.rg_id(rg["name"]), NS, names[0]))
    if vault is None:
        raise arm.not_found("Microsoft.KeyVault/vaults/%s" % names[0], rg_name)
    op = names[1].lower()
    if op not in ("add", "replace", "remove") or req.method != "PUT":
        raise bad_request("BadRequest", "The operation kind '%s' is not valid; use add, replace or remove."
                          % names[1])
    body = req.json()
    arm.validate_body(req, body)
    new = ((body.get("properties") or {}).get("accessPolicies")) or []
    current = vault["properties"].setdefault("accessPolicies", [])
    for ap in new:
        match = next((c for c in current if c.get("objectId") == ap.get("objectId")
                      and c.get("tenantId") == ap.get("tenantId")
                      and c.get("applicationId") == ap.get("applicationId")), None)
        perms_new = ap.get("permissions") or {}
        if op == "replace" or match is None:
            if match is not None:
                current.remove(match)
            if op != "remove":
                current.append(copy.deepcopy(ap))
            continue
        for kind, values in perms_new.items():
            cur = match.setdefault("permissions", {}).setdefault(kind, [])
            if op == "add":
                for v in values:
                    if v.lower() not in [c.lower() for c in cur]:
                        cur.append(v)
            else:
                match["permissions"][kind] = [c for c in cur if c.lower() not in [v.lower() for v in values]]
        if op == "remove" and not any(match.get("permissions", {}).values()):
            current.remove(match)
    arm.sim.mark_dirty()
    return Response(200, {"id": vault["id"] + "/accessPolicies/" + names[1], "name": names[1],
                          "type": "Microsoft.KeyVault/vaults/accessPolicies", "location": vault["location"],
                          "properties": {"accessPolicies": current}})


def register(table, arm):
    vaults = Vaults(arm)
    tmpl = register_type(table, vaults)
    for kind in ("accessPolicies", "accessPolicy"):   # 'accessPolicy' is accepted as an alias
        table.add("PUT", tmpl + "/%s/{operationKind}" % kind,
                  lambda req, m, fault: access_policy(arm, req, m, fault),
                  rtype=NS + "/vaults/accessPolicies", action=NS + "/vaults/accessPolicies/write")
    loc = SUB_PREFIX + NS + "/locations/{location}/deletedVaults/{vaultName}"
    table.add("GET", SUB_PREFIX + NS + "/deletedVaults", lambda req, m, fault: Response(200, {"value": [
        deleted_vault_view(arm, d) for d in arm.deleted_vaults.values()]}))
    table.add("GET", loc, lambda req, m, fault: Response(200, deleted_vault_view(arm, deleted_vault(arm, m))))
    table.add("POST", loc + "/purge", lambda req, m, fault: purge(arm, req, m, fault))
    register_operations(table, arm, NS)
    return [vaults]
