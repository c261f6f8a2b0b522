# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure a principal holds key permissions on a Key Vault: access policies or Azure RBAC.

Used by keyvault_key (Confidential VM Orchestrator: get + release) and by disk_encryption_set
(the DES identity: get + wrapKey + unwrapKey).  No Ansible and no SDK import: the one function that
talks to Azure, :func:`ensure_key_permissions`, takes the plumbing's ARM client as an argument.

Requests made (and nothing else):
- access-policy vault: none to read (the vault GET the caller already made carries ``accessPolicies``),
  one ``PUT {vault}/accessPolicies/add`` when something is missing;
- RBAC vault: one ``GET {vault}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '<id>'``
  at the vault (answers the assignments at, above and below it), one ``PUT`` per missing role with a
  deterministic assignment name, so a re-run after a failure never creates duplicates.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import uuid

from .._azure import api_versions

KEYVAULT_MANAGEMENT_API = api_versions.KEYVAULT_MANAGEMENT
AUTHORIZATION_API = api_versions.AUTHORIZATION

ROLE_RELEASE_USER = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"      # Key Vault Crypto Service Release User
ROLE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"   # Key Vault Crypto Service Encryption User
ROLE_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"       # Key Vault Crypto User
ROLE_CRYPTO_OFFICER = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"    # Key Vault Crypto Officer
ROLE_ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"     # Key Vault Administrator

ROLE_NAMES = {
    ROLE_RELEASE_USER: "Key Vault Crypto Service Release User",
    ROLE_ENCRYPTION_USER: "Key Vault Crypto Service Encryption User",
    ROLE_CRYPTO_USER: "Key Vault Crypto User",
    ROLE_CRYPTO_OFFICER: "Key Vault Crypto Officer",
    ROLE_ADMINISTRATOR: "Key Vault Administrator",
}

#: Key permissions of access policies (Microsoft.KeyVault Permissions.keys), canonical spelling.
KEY_PERMISSIONS = ("all", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list", "create",
                   "update", "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate",
                   "getrotationpolicy", "setrotationpolicy")
_CANONICAL = dict((p.lower(), p) for p in KEY_PERMISSIONS)
_ALL_BUT_ALL = frozenset(p for p in KEY_PERMISSIONS if p != "all")

#: Key permissions each built-in data-plane role grants (as used for CVM/DES setups).
ROLE_COVERS = {
    ROLE_RELEASE_USER: frozenset(["get", "release"]),
    ROLE_ENCRYPTION_USER: frozenset(["get", "wrapKey", "unwrapKey"]),
    ROLE_CRYPTO_USER: frozenset(["get", "list", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify",
                                 "update"]),
    ROLE_CRYPTO_OFFICER: _ALL_BUT_ALL,
    ROLE_ADMINISTRATOR: _ALL_BUT_ALL,
}

#: Roles a missing permission is granted with, narrowest first.
_GRANT_ORDER = (ROLE_RELEASE_USER, ROLE_ENCRYPTION_USER, ROLE_CRYPTO_USER, ROLE_CRYPTO_OFFICER)

_NS = uuid.UUID("6f1f7a52-3c1e-4f7a-9a57-8f0e3a1d2b40")


class GrantError(ValueError):
    """The grant cannot be made as asked; the message says why and how to fix it."""


# --------------------------------------------------------------------------- pure helpers

def normalize_permissions(permissions):
    """Canonical, sorted, de-duplicated key permission names; raises GrantError on an unknown one."""
    out = set()
    for perm in permissions or []:
        canonical = _CANONICAL.get(str(perm).lower())
        if canonical is None:
            raise GrantError("unknown key permission %r; use %s" % (perm, ", ".join(KEY_PERMISSIONS)))
        out.add(canonical)
    return sorted(out)


def _held(permissions):
    held = set(normalize_permissions([p for p in permissions or [] if str(p).lower() in _CANONICAL]))
    if "all" in held:
        held |= _ALL_BUT_ALL
    return held


def policy_permissions(access_policies, object_id):
    """Key permissions ``object_id`` holds through the vault's access policies (all entries merged)."""
    perms = []
    for entry in access_policies or []:
        if str(entry.get("objectId", "")).lower() == str(object_id).lower():
            perms.extend((entry.get("permissions") or {}).get("keys") or [])
    return normalize_permissions([p for p in perms if str(p).lower() in _CANONICAL])


def missing_permissions(access_policies, object_id, wanted):
    held = _held(policy_permissions(access_policies, object_id))
    return [p for p in normalize_permissions(wanted) if p not in held and not (p == "all" and held >= _ALL_BUT_ALL)]


def access_policy_body(tenant_id, object_id, permissions):
    """Body of ``PUT {vault}/accessPolicies/add`` (Key Vault merges it with the principal's entry)."""
    return {"properties": {"accessPolicies": [{
        "tenantId": tenant_id,
        "objectId": object_id,
        "permissions": {"keys": normalize_permissions(permissions)},
    }]}}


def role_guid(role_definition_id):
    return str(role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


def role_definition_id(subscription_id, role):
    return "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (subscription_id, role)


def scope_covers(assignment_scope, target_scope):
    """True when an assignment at ``assignment_scope`` applies to ``target_scope`` (same or ancestor)."""
    a = str(assignment_scope or "").rstrip("/").lower()
    t = str(target_scope or "").rstrip("/").lower()
    return a == "" or t == a or t.startswith(a + "/")


def roles_held(assignments, scope, principal_id):
    """Role GUIDs ``principal_id`` holds at ``scope`` or above (from a role assignment list)."""
    out = set()
    for item in assignments or []:
        props = item.get("properties") or {}
        if str(props.get("principalId", "")).lower() != str(principal_id).lower():
            continue
        if scope_covers(props.get("scope") or _scope_of_assignment_id(item.get("id")), scope):
            out.add(role_guid(props.get("roleDefinitionId")))
    return out


def _scope_of_assignment_id(rid):
    text = str(rid or "")
    marker = "/providers/microsoft.authorization/roleassignments/"
    index = text.lower().find(marker)
    return text[:index] if index >= 0 else None


def covered_by_roles(roles):
    covered = set()
    for role in roles:
        covered |= ROLE_COVERS.get(role, frozenset())
    return covered


def roles_to_grant(wanted, held_roles):
    """The narrowest built-in roles that add what ``held_roles`` lacks of ``wanted``."""
    needed = set(normalize_permissions(wanted))
    if "all" in needed:
        needed = set(_ALL_BUT_ALL)
    missing = needed - covered_by_roles(held_roles)
    chosen = []
    for role in _GRANT_ORDER:
        # Each role is taken only for the permissions it is the narrowest grant of.
        if missing & ROLE_COVERS[role] and (role != ROLE_RELEASE_USER or "release" in missing):
            chosen.append(role)
            missing -= ROLE_COVERS[role]
    # A narrow role taken early is redundant when a broader one taken later covers its part (e.g. get + create:
    # Key Vault Crypto Officer alone, not Crypto Service Encryption User as well).
    for role in list(chosen):
        others = [r for r in chosen if r != role]
        if needed <= covered_by_roles(set(held_roles) | set(others)):
            chosen = others
    return chosen


def assignment_name(scope, role, principal_id):
    """Deterministic role assignment name (GUID) for (scope, role, principal): re-runs never duplicate."""
    return str(uuid.uuid5(_NS, "%s|%s|%s" % (scope.rstrip("/").lower(), role.lower(), principal_id.lower())))


def role_assignment_body(subscription_id, role, principal_id, principal_type="ServicePrincipal"):
    return {"properties": {
        "roleDefinitionId": role_definition_id(subscription_id, role),
        "principalId": principal_id,
        "principalType": principal_type,
    }}


def vault_mode(vault):
    return "rbac" if ((vault or {}).get("properties") or {}).get("enableRbacAuthorization") else "access_policy"


def _subscription_of(rid):
    parts = str(rid).split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("subscriptions") + 1] if "subscriptions" in lowered else None


def key_scope(vault_id, key_name):
    return "%s/keys/%s" % (vault_id.rstrip("/"), key_name)


def plan_grant(vault, principal_id, permissions, key_name=None, scope="key", assignments=None):
    """Pure planning: what the principal holds, what is missing and what request(s) would add it.

    ``assignments`` is the role assignment list (RBAC vaults only).  Returns a dict with mode, scope,
    before, after (lists: key permissions for access-policy vaults, role names for RBAC vaults), missing,
    and requests: a list of (method, path, body).
    """
    wanted = normalize_permissions(permissions)
    if not wanted:
        raise GrantError("permissions must name at least one key permission")
    vault_id = (vault or {}).get("id")
    if not vault_id:
        raise GrantError("the vault resource has no id; pass the vault as returned by an ARM GET")
    props = vault.get("properties") or {}
    mode = vault_mode(vault)
    if mode == "access_policy":
        before = policy_permissions(props.get("accessPolicies"), principal_id)
        missing = missing_permissions(props.get("accessPolicies"), principal_id, wanted)
        requests = []
        if missing:
            tenant = props.get("tenantId")
            if not tenant:
                raise GrantError("the vault %s reports no tenantId; cannot add an access policy" % vault_id)
            requests.append(("PUT", vault_id.rstrip("/") + "/accessPolicies/add",
                             access_policy_body(tenant, principal_id, missing)))
        return {"mode": mode, "scope": vault_id, "principal_id": principal_id, "permissions": wanted,
                "before": before, "after": normalize_permissions(before + missing), "missing": missing,
                "requests": requests}
    if scope not in ("key", "vault"):
        raise GrantError("scope must be key or vault, got %r" % (scope,))
    if scope == "key" and not key_name:
        raise GrantError("scope key needs the key name")
    target = key_scope(vault_id, key_name) if scope == "key" else vault_id.rstrip("/")
    held = roles_held(assignments, target, principal_id)
    add = roles_to_grant(wanted, held)
    subscription = _subscription_of(vault_id)
    requests = [("PUT", "%s/providers/Microsoft.Authorization/roleAssignments/%s"
                 % (target, assignment_name(target, role, principal_id)),
                 role_assignment_body(subscription, role, principal_id))
                for role in add]
    names_before = sorted(ROLE_NAMES.get(r, r) for r in held if r in ROLE_COVERS)
    return {"mode": mode, "scope": target, "principal_id": principal_id, "permissions": wanted,
            "before": names_before, "after": sorted(set(names_before) | set(ROLE_NAMES[r] for r in add)),
            "missing": [ROLE_NAMES[r] for r in add], "requests": requests}


# --------------------------------------------------------------------------- the one call that talks to Azure

def list_assignments(arm, scope, principal_id):
    return arm.list("%s/providers/Microsoft.Authorization/roleAssignments" % scope.rstrip("/"), AUTHORIZATION_API,
                    params={"$filter": "principalId eq '%s'" % principal_id})


def ensure_key_permissions(arm, vault, principal_id, permissions, key_name=None, scope="key", check_mode=False,
                           principal_type="ServicePrincipal", timeout=600):
    """Make ``principal_id`` hold ``permissions`` (key permissions) on the vault.

    arm           the plumbing's ArmClient (``m.arm``)
    vault         the vault resource dict from ``arm.get(vault_id, '2024-11-01')`` (preferred: the caller usually
                  has it already), or the vault's ARM id (then it is read here: one more GET)
    principal_id  object id of the service principal / managed identity
    permissions   e.g. ['get', 'release'] (CVM orchestrator) or ['get', 'wrapKey', 'unwrapKey'] (DES identity)
    key_name      the key, for RBAC assignments at key scope (scope='key', the default)
    scope         'key' or 'vault' (RBAC vaults only; access policies are always vault-wide)
    check_mode    plan only, send no write

    Returns a dict: changed, mode ('access_policy'|'rbac'), scope, principal_id, permissions, before, after,
    missing (permissions or role names that were / would be added).  Raises GrantError for impossible requests;
    Azure errors propagate as the plumbing's AzureApiError (m.run turns them into a clean failure).
    """
    if isinstance(vault, str):
        vault_id = vault
        vault = arm.get(vault_id, KEYVAULT_MANAGEMENT_API)
        if vault is None:
            raise GrantError("key vault %s does not exist" % vault_id)
    assignments = None
    if vault_mode(vault) == "rbac":
        # Listed at the vault: the answer holds assignments at, above and below it (key scopes too), and the
        # key scope need not exist yet (check mode, or before the key is created).
        assignments = list_assignments(arm, vault["id"], principal_id)
    plan = plan_grant(vault, principal_id, permissions, key_name=key_name, scope=scope, assignments=assignments)
    if principal_type != "ServicePrincipal":
        for _method, _path, body in plan["requests"]:
            if "principalType" in body.get("properties", {}):
                body["properties"]["principalType"] = principal_type
    result = dict((k, v) for k, v in plan.items() if k != "requests")
    result["changed"] = bool(plan["requests"])
    if check_mode or not plan["requests"]:
        return result
    for _method, path, body in plan["requests"]:
        api = AUTHORIZATION_API if "/roleAssignments/" in path else KEYVAULT_MANAGEMENT_API
        try:
            arm.put(path, api, body, wait=True, timeout=timeout)
        except Exception as exc:  # the plumbing's AzureApiError; kept duck-typed to stay SDK-free
            if getattr(exc, "code", None) == "RoleAssignmentExists":
                continue  # same principal, role and scope under another name: already granted
            raise
    if result["mode"] == "access_policy":
        props = vault.setdefault("properties", {})
        props.setdefault("accessPolicies", []).append(plan["requests"][0][2]["properties"]["accessPolicies"][0])
    return result


# --------------------------------------------------------------------------- key-scope release grants
# keyvault_key's release_principal_ids: each principal (a VM's managed identity) holds "Key Vault Crypto Service
# Release User" at the scope of ONE key, so it can release that key and no other. Role id source: Microsoft doc
# "Azure built-in roles" (Security: Key Vault Crypto Service Release User, 08bbd89e-9f13-488c-ac41-acfcb10c90ab,
# DataActions Microsoft.KeyVault/vaults/keys/release/action); the simulator's tests/simulator/azsim/rbac.py
# carries the same definition.

RELEASE_PRINCIPALS_PARAM = "release_principal_ids"
_RELEASING_ROLES = (ROLE_RELEASE_USER, ROLE_CRYPTO_OFFICER, ROLE_ADMINISTRATOR)


def _is_guid(text):
    try:
        return str(uuid.UUID(str(text))) == str(text).lower()
    except ValueError:
        return False


def release_principals(principal_ids):
    """Validated, de-duplicated (case-insensitive, first spelling kept) object ids; raises GrantError."""
    out, seen, bad = [], set(), []
    for pid in principal_ids or []:
        text = str(pid or "").strip()
        if not _is_guid(text):
            bad.append(repr(pid))
        elif text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    if bad:
        raise GrantError("%s: %s %s not object ids (GUIDs); give the principal (object) ids of the identities that "
                         "release the key, e.g. the vm module's vm.identity.principal_id"
                         % (RELEASE_PRINCIPALS_PARAM, ", ".join(bad), "is" if len(bad) == 1 else "are"))
    return out


def refuse_key_release_grant(vault, key_params):
    """Why ``release_principal_ids`` cannot be honoured on this vault / key, before anything is written; or None.

    An access-policy vault grants per vault, never per key: a policy with ``release`` would let the principal
    release every exportable key of the vault, so the grant is refused instead of silently widened."""
    vault_id = (vault or {}).get("id") or "the vault"
    if vault_mode(vault) != "rbac":
        return ("%s: vault %s uses access policies, which grant per vault: a key-only release grant is impossible "
                "there. Use a vault with Azure RBAC (confidential.azure.keyvault enable_rbac_authorization: true; a "
                "separate vault for data-disk keys if this one must keep access policies), or drop %s and add an "
                "access policy with get and release yourself, accepting that it covers every key of the vault"
                % (RELEASE_PRINCIPALS_PARAM, vault_id, RELEASE_PRINCIPALS_PARAM))
    if not key_params.get("exportable", True):
        return ("%s: the key is not exportable, so it can never be released; set exportable: true (with a "
                "release_policy)" % RELEASE_PRINCIPALS_PARAM)
    return None


def plan_key_release(vault, key_name, principal_ids, assignments):
    """Pure: which principals lack "Key Vault Crypto Service Release User" at exactly the key's scope.

    ``assignments`` is a role assignment list that holds at least the assignments at the key's scope and above
    (one list at the vault). Only an assignment of this role at this key counts as held; a broader role that
    also releases (Release User at the vault or above, Key Vault Crypto Officer, Key Vault Administrator) is
    reported in ``broader`` because it lets the principal release other keys too.
    Returns a dict: scope, role, role_id, principal_ids, held, missing, broader, requests (method, path, body).
    """
    wanted = release_principals(principal_ids)
    vault_id = (vault or {}).get("id")
    if not vault_id:
        raise GrantError("the vault resource has no id; pass the vault as returned by an ARM GET")
    if not key_name:
        raise GrantError("a key-scope grant needs the key name")
    scope = key_scope(vault_id, key_name)
    scope_l = scope.lower()
    subscription = _subscription_of(vault_id)
    held, broader = [], []
    for pid in wanted:
        for item in assignments or []:
            props = item.get("properties") or {}
            if str(props.get("principalId", "")).lower() != pid.lower():
                continue
            at = (props.get("scope") or _scope_of_assignment_id(item.get("id")) or "").rstrip("/")
            role = role_guid(props.get("roleDefinitionId"))
            if role == ROLE_RELEASE_USER and at.lower() == scope_l:
                if pid not in held:
                    held.append(pid)
            elif role in _RELEASING_ROLES and scope_covers(at, scope):
                broader.append({"principal_id": pid, "role": ROLE_NAMES[role], "scope": at})
    missing = [pid for pid in wanted if pid not in held]
    requests = [("PUT", "%s/providers/Microsoft.Authorization/roleAssignments/%s"
                 % (scope, assignment_name(scope, ROLE_RELEASE_USER, pid)),
                 role_assignment_body(subscription, ROLE_RELEASE_USER, pid))
                for pid in missing]
    return {"scope": scope, "role": ROLE_NAMES[ROLE_RELEASE_USER], "role_id": ROLE_RELEASE_USER,
            "principal_ids": wanted, "held": held, "missing": missing, "broader": broader, "requests": requests}


def broader_warnings(plan):
    return ["principal %s also holds %s at %s: it can release other keys than %s too; remove that assignment to "
            "bind it to this key only" % (b["principal_id"], b["role"], b["scope"], plan["scope"])
            for b in plan["broader"]]


def ensure_key_release(arm, vault, key_name, principal_ids, check_mode=False, timeout=600):
    """Grant each principal "Key Vault Crypto Service Release User" at ``<vault id>/keys/<key_name>``.

    One role assignment list at the vault (it answers the assignments at, above and below it, so key scopes too,
    and works before the key exists, in check mode) decides; then one PUT per missing principal with a
    deterministic assignment name. Never removes assignments. Returns the plan without its requests, plus
    ``changed``. Raises GrantError (access-policy vault, bad ids); Azure errors propagate.
    """
    problem = refuse_key_release_grant(vault, {})
    if problem:
        raise GrantError(problem)
    wanted = release_principals(principal_ids)
    assignments = arm.list("%s/providers/Microsoft.Authorization/roleAssignments" % vault["id"].rstrip("/"),
                           AUTHORIZATION_API) if wanted else []
    plan = plan_key_release(vault, key_name, wanted, assignments)
    result = dict((k, v) for k, v in plan.items() if k != "requests")
    result["changed"] = bool(plan["requests"])
    if check_mode:
        return result
    for _method, path, body in plan["requests"]:
        try:
            arm.put(path, AUTHORIZATION_API, body, wait=True, timeout=timeout)
        except Exception as exc:  # the plumbing's AzureApiError; kept duck-typed to stay SDK-free
            if getattr(exc, "code", None) != "RoleAssignmentExists":
                raise
    return result


def check_key_release(vault, key_params):
    """Raise GrantError when ``key_params['release_principal_ids']`` cannot be honoured (before any write)."""
    release_principals(key_params.get(RELEASE_PRINCIPALS_PARAM))
    problem = refuse_key_release_grant(vault, key_params)
    if problem:
        raise GrantError(problem)


def release_report(outcome):
    """(result entry, diff before, diff after) for keyvault_key's ``release_grant``."""
    report = dict((k, v) for k, v in outcome.items() if k != "changed")
    return report, sorted(outcome["held"]), sorted(outcome["held"] + outcome["missing"])
