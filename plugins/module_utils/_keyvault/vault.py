# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key Vault (Microsoft.KeyVault/vaults): validation, desired state, comparison, request bodies, results.

Pure Python.  Options left out (None) are not managed on an existing vault; on creation they take the
confidential-VM defaults (Premium, purge protection on, 90 days soft delete, access policies).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import re

from .._azure.result import Changes, merge_tags
from . import grants

CREATE_DEFAULTS = {
    "sku": "premium",
    "enable_purge_protection": True,
    "soft_delete_retention_days": 90,
    "enable_rbac_authorization": False,
}
#: Key permissions the automation principal grants itself on an access-policy vault: what keyvault_key,
#: keyvault_key_info and disk_encryption_set do with keys (read, create and version, update, delete and recover,
#: import, rotation policy).  Not purge (purge protection forbids it) and not release (only the Confidential VM
#: Orchestrator releases CVM keys).  On an RBAC vault the principal gets Key Vault Crypto Officer at vault scope.
AUTOMATION_KEY_PERMISSIONS = ("get", "list", "create", "update", "import", "delete", "recover", "rotate",
                              "getrotationpolicy", "setrotationpolicy")
_VAULT_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")
_LOCATION = re.compile(r"^[a-z0-9]+$")

#: module option -> path under properties (for PATCH bodies and comparison)
_PROPS = (
    ("sku", ("sku", "name")),
    ("tenant_id", ("tenantId",)),
    ("enable_purge_protection", ("enablePurgeProtection",)),
    ("soft_delete_retention_days", ("softDeleteRetentionInDays",)),
    ("enable_rbac_authorization", ("enableRbacAuthorization",)),
    ("enabled_for_disk_encryption", ("enabledForDiskEncryption",)),
    ("network_default_action", ("networkAcls", "defaultAction")),
)


def normalize_location(location):
    return (location or "").replace(" ", "").lower()


def validate(params):
    errors = []
    name = params.get("name")
    if not isinstance(name, str) or not _VAULT_NAME.match(name):
        errors.append("name %r must be 3-24 letters, digits and single hyphens, start with a letter and not end "
                      "with a hyphen (it becomes https://<name>.vault.azure.net)" % (name,))
    rg = params.get("resource_group")
    if not isinstance(rg, str) or not _RG_NAME.match(rg) or rg.endswith("."):
        errors.append("resource_group %r must be 1-90 letters, digits, '-', '_', '.', '(' or ')' and not end with "
                      "a period" % (rg,))
    if params.get("state", "present") == "absent":
        return errors
    location = params.get("location")
    if location is not None and not _LOCATION.match(normalize_location(location)):
        errors.append("location %r is not an Azure region name; use e.g. eastus or westeurope" % location)
    days = params.get("soft_delete_retention_days")
    if days is not None and not 7 <= days <= 90:
        errors.append("soft_delete_retention_days %r must be between 7 and 90" % (days,))
    tenant = params.get("tenant_id")
    if tenant is not None and not _GUID.match(tenant):
        errors.append("tenant_id %r is not a GUID (the Entra ID tenant of the vault)" % tenant)
    policies = params.get("access_policies") or []
    if policies and params.get("enable_rbac_authorization"):
        errors.append("access_policies are ignored by a vault with enable_rbac_authorization: true; drop them and "
                      "grant Azure roles, or set enable_rbac_authorization: false")
    seen = set()
    for index, entry in enumerate(policies):
        where = "access_policies[%d]" % index
        oid = entry.get("object_id")
        if not oid or not _GUID.match(oid):
            errors.append("%s.object_id %r must be the object id (GUID) of a user, group or service principal"
                          % (where, oid))
        elif oid.lower() in seen:
            errors.append("%s.object_id %s is listed twice; merge its permissions into one entry" % (where, oid))
        else:
            seen.add(oid.lower())
        if entry.get("tenant_id") and not _GUID.match(entry["tenant_id"]):
            errors.append("%s.tenant_id %r is not a GUID" % (where, entry["tenant_id"]))
        try:
            grants.normalize_permissions(entry.get("keys") or [])
        except grants.GrantError as exc:
            errors.append("%s.keys: %s" % (where, exc))
        if not (entry.get("keys") or entry.get("secrets") or entry.get("certificates")):
            errors.append("%s: give at least one of keys, secrets or certificates" % where)
    if not params.get("allow_unfit_for_confidential_disks"):
        errors.extend(unfit_for_confidential_disks(params))
    tags = params.get("tags") or {}
    if len(tags) > 50:
        errors.append("tags: %d given, Azure allows at most 50 per resource" % len(tags))
    return errors


def unfit_for_confidential_disks(params):
    """Why the vault asked for could not hold the key of a confidential disk encryption set (empty when it could)."""
    out = []
    if params.get("enable_purge_protection") is False:
        out.append("enable_purge_protection: false makes a vault a confidential disk encryption set cannot use (Azure "
                   "requires purge protection on the vault of a DES key); leave enable_purge_protection out (on by "
                   "default), or set allow_unfit_for_confidential_disks: true if this vault will never hold a "
                   "confidential VM disk key")
    if params.get("sku") == "standard":
        out.append("sku: standard makes a vault that cannot hold the RSA-HSM key a confidential disk encryption set "
                   "needs; use sku: premium (the default), or set allow_unfit_for_confidential_disks: true if this "
                   "vault will never hold a confidential VM disk key")
    return out


def automation_entry(object_id, tenant_id):
    """The access policy entry the automation principal grants itself."""
    return {"tenantId": tenant_id, "objectId": object_id,
            "permissions": {"keys": grants.normalize_permissions(AUTOMATION_KEY_PERMISSIONS)}}


def merge_entries(entries):
    """Access policy entries with one entry per object id (permissions unioned, canonical order)."""
    out = []
    by_id = {}
    for entry in entries:
        oid = entry["objectId"].lower()
        if oid not in by_id:
            by_id[oid] = {"tenantId": entry["tenantId"], "objectId": entry["objectId"],
                          "permissions": dict((k, list(v)) for k, v in entry["permissions"].items())}
            out.append(by_id[oid])
            continue
        perms = by_id[oid]["permissions"]
        for kind, values in entry["permissions"].items():
            merged = set(perms.get(kind) or []) | set(values)
            perms[kind] = grants.normalize_permissions(merged) if kind == "keys" else sorted(merged)
    return out


def _get(props, path):
    node = props
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def current(resource):
    props = (resource or {}).get("properties") or {}
    out = {
        "location": normalize_location(resource.get("location")),
        "sku": (_get(props, ("sku", "name")) or "").lower() or None,
        "tenant_id": props.get("tenantId"),
        "enable_purge_protection": bool(props.get("enablePurgeProtection")),
        "soft_delete_retention_days": props.get("softDeleteRetentionInDays", 90),
        "enable_rbac_authorization": bool(props.get("enableRbacAuthorization")),
        "enabled_for_disk_encryption": bool(props.get("enabledForDiskEncryption")),
        "network_default_action": _get(props, ("networkAcls", "defaultAction")) or "Allow",
        "tags": dict(resource.get("tags") or {}),
    }
    return out


def desired(params, creating):
    """Compared subset: given options, plus the creation defaults when ``creating``."""
    out = {}
    for option, _path in _PROPS:
        value = params.get(option)
        if value is None and creating:
            value = CREATE_DEFAULTS.get(option)
        if value is not None:
            out[option] = value.lower() if option == "sku" else value
    if params.get("location") is not None:
        out["location"] = normalize_location(params["location"])
    if params.get("tags") is not None:
        out["tags"] = dict(params["tags"])
    return out


def access_policy_entries(params, default_tenant):
    out = []
    for entry in params.get("access_policies") or []:
        perms = {}
        for kind in ("keys", "secrets", "certificates"):
            values = entry.get(kind) or []
            perms[kind] = grants.normalize_permissions(values) if kind == "keys" else sorted(set(values))
        item = {"tenantId": entry.get("tenant_id") or default_tenant, "objectId": entry["object_id"],
                "permissions": perms}
        out.append(item)
    return out


def missing_access(current_policies, wanted_entries):
    """Access policy entries (or parts) absent from the vault: ensure-at-least semantics."""
    out = []
    for entry in wanted_entries:
        have = [p for p in current_policies or [] if str(p.get("objectId", "")).lower() == entry["objectId"].lower()]
        missing = {}
        for kind, values in entry["permissions"].items():
            held = set()
            for p in have:
                held |= set(str(v).lower() for v in ((p.get("permissions") or {}).get(kind) or []))
            lack = [v for v in values if v.lower() not in held and "all" not in held]
            if lack:
                missing[kind] = lack
        if missing:
            out.append({"tenantId": entry["tenantId"], "objectId": entry["objectId"], "permissions": missing})
    return out


class Plan(Changes):
    """result.Changes, the PATCH to send and the access policy entries to add."""

    def __init__(self):
        super(Plan, self).__init__()
        self.patch = {}
        self.access = []

    @property
    def changed(self):
        return bool(self.changes) or bool(self.access)

    def diff(self):
        out = super(Plan, self).diff()
        if self.access:
            out["before"]["access_policies"] = []
            out["after"]["access_policies"] = [dict(object_id=a["objectId"], **a["permissions"]) for a in self.access]
        return out


def compare(resource, params, extra_access=()):
    """Plan for an existing vault; extra_access: access policy entries ensured besides access_policies."""
    have = current(resource)
    want = desired(params, creating=False)
    if "tags" in want:
        want["tags"] = merge_tags(params.get("tags"), have["tags"], params.get("append_tags", True))
    plan = Plan()
    for name, value in want.items():
        before = have.get(name)
        if name == "tenant_id":
            same = str(before or "").lower() == str(value).lower()
        else:
            same = before == value
        if same:
            continue
        plan.changes[name] = (before, value)
        if name == "location":
            plan.errors.append("location: the vault is in %s, you asked for %s; a vault cannot move. Use the vault's "
                               "location or another vault name" % (before, value))
        elif name == "soft_delete_retention_days":
            plan.errors.append("soft_delete_retention_days is %s and cannot be changed after the vault is created; "
                               "set soft_delete_retention_days: %s or leave it out" % (before, before))
        elif name == "enable_purge_protection" and before and not value:
            plan.errors.append("enable_purge_protection cannot be turned off once on")
        else:
            plan.patch[name] = value
    props = (resource or {}).get("properties") or {}
    if not have["enable_rbac_authorization"] or plan.patch.get("enable_rbac_authorization") is False:
        wanted = merge_entries(access_policy_entries(params, props.get("tenantId")) + list(extra_access))
        plan.access = missing_access(props.get("accessPolicies"), wanted)
    return plan


def _set(body, path, value):
    node = body
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def create_body(params, tenant_id, extra_access=()):
    want = desired(params, creating=True)
    props = {"tenantId": want.get("tenant_id") or tenant_id,
             "sku": {"family": "A", "name": want["sku"]},
             "enableSoftDelete": True,
             "accessPolicies": merge_entries(access_policy_entries(params, want.get("tenant_id") or tenant_id)
                                             + list(extra_access))}
    for option, path in _PROPS:
        if option in ("sku", "tenant_id") or option not in want:
            continue
        if option == "enable_purge_protection" and not want[option]:
            continue  # Azure takes only true; off means "not set"
        _set(props, path, want[option])
    if "networkAcls" in props:
        props["networkAcls"].setdefault("bypass", "AzureServices")
    body = {"location": want["location"], "properties": props}
    if want.get("tags") is not None:
        body["tags"] = want["tags"]
    return body


def predicted(body, rid, name, dns_suffix):
    """The vault a create request ``body`` would make, in ARM's shape, for check mode: its id and data-plane URL are
    known before it exists (https://<name>.<the cloud's Key Vault DNS suffix>/); provisioningState is left out (no
    vault yet), so to_result reports provisioning_state None."""
    props = dict(body.get("properties") or {})
    props["vaultUri"] = "https://%s.%s/" % (name.lower(), dns_suffix.strip(".").lower())
    return dict(body, id=rid, name=name, type="Microsoft.KeyVault/vaults", properties=props)


def patch_body(plan):
    props = {}
    body = {}
    for option, path in _PROPS:
        if option in plan.patch:
            value = plan.patch[option]
            if option == "sku":
                value = value.lower()
                props["sku"] = {"family": "A", "name": value}
                continue
            _set(props, path, value)
    if "networkAcls" in props:
        props["networkAcls"].setdefault("bypass", "AzureServices")
    if props:
        body["properties"] = props
    if "tags" in plan.patch:
        body["tags"] = plan.patch["tags"]
    return body


def to_result(resource):
    if not resource:
        return {}
    props = resource.get("properties") or {}
    rid = resource.get("id") or ""
    parts = rid.split("/")
    lowered = [p.lower() for p in parts]
    rg = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else None
    have = current(resource)
    return {
        "id": rid,
        "name": resource.get("name"),
        "resource_group": rg,
        "location": have["location"],
        "tags": have["tags"],
        "sku": have["sku"],
        "tenant_id": have["tenant_id"],
        "vault_uri": props.get("vaultUri"),
        "enable_rbac_authorization": have["enable_rbac_authorization"],
        "enable_purge_protection": have["enable_purge_protection"],
        "enable_soft_delete": props.get("enableSoftDelete", True),
        "soft_delete_retention_days": have["soft_delete_retention_days"],
        "enabled_for_disk_encryption": have["enabled_for_disk_encryption"],
        "network_default_action": have["network_default_action"],
        "access_policies": [{
            "object_id": p.get("objectId"),
            "tenant_id": p.get("tenantId"),
            "keys": list((p.get("permissions") or {}).get("keys") or []),
            "secrets": list((p.get("permissions") or {}).get("secrets") or []),
            "certificates": list((p.get("permissions") or {}).get("certificates") or []),
        } for p in props.get("accessPolicies") or []],
        "provisioning_state": props.get("provisioningState"),
    }
