"""Microsoft.Authorization: built-in role definitions and role assignments at any scope.

The role definitions are Microsoft's published ones (Microsoft doc "Azure built-in roles", categories Privileged,
General and Security): same GUIDs, Actions, NotActions, DataActions and NotDataActions."""
from __future__ import annotations

import datetime
import re

from .core import ApiError, Response, bad_request, det_uuid

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KV_READS = ["Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Resources/deployments/*",
             "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
             "Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/deletedVaults/read",
             "Microsoft.KeyVault/locations/*/read", "Microsoft.KeyVault/vaults/*/read",
             "Microsoft.KeyVault/operations/read"]


def _role(guid, description, actions=(), not_actions=(), data_actions=(), not_data_actions=()):
    return {"id": guid, "description": description, "actions": list(actions), "notActions": list(not_actions),
            "dataActions": list(data_actions), "notDataActions": list(not_data_actions)}


# Source: Microsoft doc "Azure built-in roles" (built-in-roles/privileged.md, general.md, security.md).
ROLES = {
    "Owner": _role("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Grants full access to manage all resources, including "
                   "the ability to assign roles in Azure RBAC.", ["*"]),
    "Contributor": _role("b24988ac-6180-42a0-ab88-20f7382dd24c", "Grants full access to manage all resources, but "
                         "does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, "
                         "or share image galleries.", ["*"], [
                             "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                             "Microsoft.Authorization/elevateAccess/Action",
                             "Microsoft.Blueprint/blueprintAssignments/write",
                             "Microsoft.Blueprint/blueprintAssignments/delete",
                             "Microsoft.Compute/galleries/share/action", "Microsoft.Purview/consents/write",
                             "Microsoft.Purview/consents/delete",
                             "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
                             "Microsoft.Subscription/cancel/action", "Microsoft.Subscription/enable/action"]),
    "Reader": _role("acdd72a7-3385-48ef-bd42-f606fba81ae7", "View all resources, but does not allow you to make "
                    "any changes.", ["*/read"]),
    "User Access Administrator": _role("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "Lets you manage user access to "
                                       "Azure resources.", ["*/read", "Microsoft.Authorization/*",
                                                            "Microsoft.Support/*"]),
    "Key Vault Administrator": _role(
        "00482a5a-887f-4fb3-b363-3b7fe8e74483", "Perform all data plane operations on a key vault and all objects "
        "in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role "
        "assignments. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        _KV_READS, data_actions=["Microsoft.KeyVault/vaults/*"]),
    "Key Vault Crypto Officer": _role(
        "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", "Perform any action on the keys of a key vault, except manage "
        "permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        _KV_READS, data_actions=["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"]),
    "Key Vault Crypto User": _role(
        "12338af0-0e69-4776-bea7-57ae8d297424", "Perform cryptographic operations using keys. Only works for key "
        "vaults that use the 'Azure role-based access control' permission model.", data_actions=[
            "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action", "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action", "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action"]),
    "Key Vault Crypto Service Encryption User": _role(
        "e147488a-f6f5-4113-8e2d-b22465e65bf6", "Read metadata of keys and perform wrap/unwrap operations. Only "
        "works for key vaults that use the 'Azure role-based access control' permission model.",
        ["Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read",
         "Microsoft.EventGrid/eventSubscriptions/delete"],
        data_actions=["Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
                      "Microsoft.KeyVault/vaults/keys/unwrap/action"]),
    "Key Vault Crypto Service Release User": _role(
        "08bbd89e-9f13-488c-ac41-acfcb10c90ab", "Release keys. Only works for key vaults that use the 'Azure "
        "role-based access control' permission model.", data_actions=["Microsoft.KeyVault/vaults/keys/release/action"]),
}
_BY_GUID = {r["id"]: dict(r, roleName=name) for name, r in ROLES.items()}
DEFAULT_PRINCIPAL_ROLES = ("Contributor", "User Access Administrator")


def role_by_guid(guid: str) -> dict | None:
    """The built-in role (its definition dict plus ``roleName``) with this GUID, or None."""
    return _BY_GUID.get((guid or "").lower())


def role_by_name(name: str) -> dict | None:
    for n, r in ROLES.items():
        if n.lower() == (name or "").lower():
            return _BY_GUID[r["id"]]
    return None


_PATTERNS: dict[str, re.Pattern] = {}


def action_matches(pattern: str, action: str) -> bool:
    """ARM operation matching: case-insensitive, ``*`` stands for any run of characters (``/`` included).

    Source: Microsoft doc "Understand Azure role definitions" (wildcard permissions: "*/read",
    "Microsoft.Compute/*")."""
    rx = _PATTERNS.get(pattern)
    if rx is None:
        rx = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.I)
        _PATTERNS[pattern] = rx
    return bool(rx.match(action))


def permits(role: dict, action: str, data: bool = False) -> bool:
    """Actions minus NotActions (or DataActions minus NotDataActions) of one role.

    Source: Microsoft doc "Understand Azure role definitions" (NotActions are subtracted from Actions of the same
    role; they are not deny rules)."""
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    return any(action_matches(p, action) for p in role[allow]) and \
        not any(action_matches(p, action) for p in role[deny])


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def subscriptions_of(sim) -> list[str]:
    return list(getattr(sim, "subscriptions", None) or [sim.subscription_id])


def seed_default_assignments(sim):
    """The default principal holds exactly Contributor and User Access Administrator on every subscription
    (the minimum README documents for a rollout) and no data-plane right."""
    store = sim.arm.role_assignments
    for sub in subscriptions_of(sim):
        scope = "/subscriptions/%s" % sub
        for name in DEFAULT_PRINCIPAL_ROLES:
            guid = ROLES[name]["id"]
            ra_name = det_uuid("default-role-assignment", sub, guid)
            rid = "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope, ra_name)
            if rid.lower() in store:
                continue
            store[rid.lower()] = {
                "id": rid, "name": ra_name, "type": "Microsoft.Authorization/roleAssignments",
                "properties": {"roleDefinitionId": "%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                                                   % (scope, guid),
                               "principalId": sim.caller_object_id, "principalType": "ServicePrincipal",
                               "scope": scope, "condition": None, "conditionVersion": None,
                               "createdOn": _now_iso(), "updatedOn": _now_iso(), "createdBy": None,
                               "updatedBy": None, "delegatedManagedIdentityResourceId": None,
                               "description": None}}


class Authorization:
    def __init__(self, arm):
        self.arm = arm
        self.sim = arm.sim

    def role_definition(self, guid: str, scope: str = "") -> dict | None:
        role = role_by_guid(guid)
        if role is None:
            return None
        # Built-in roles have subscription-level ids at any scope under a subscription (Microsoft doc "List Azure role
        # definitions": id /subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/<guid>);
        # the Azure CLI fills roleDefinitionName by matching assignments' roleDefinitionId against a list at the scope.
        m = re.match(r"^(/subscriptions/[^/]+)", scope or "", re.I)
        base = m.group(1) if m else ("/subscriptions/" + self.arm.sub if not scope else scope)
        perms = [{k: list(role[k]) for k in ("actions", "notActions", "dataActions", "notDataActions")}]
        return {"id": "%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (base, role["id"]),
                "name": role["id"], "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {"roleName": role["roleName"], "type": "BuiltInRole",
                               "description": role["description"], "assignableScopes": ["/"],
                               "permissions": perms, "createdOn": None, "updatedOn": None, "createdBy": None,
                               "updatedBy": None}}

    def _authz(self):
        return getattr(self.sim, "authz", None)

    def handle(self, req, scope, rest, fault):
        authz = self._authz()
        if authz is not None:
            authz._sync_epoch()
        low = [s.lower() for s in rest]
        v = req.api_version
        if not v:
            raise bad_request("MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required for all requests.")
        kind = low[0]
        if kind not in ("roleassignments", "roledefinitions"):
            raise ApiError(400, "InvalidResourceType", "The resource type '%s' could not be found in the namespace "
                           "'Microsoft.Authorization' for api version '%s'." % (rest[0], v))
        self.arm.check_version(req, "microsoft.authorization/" + kind, rest[0])
        self._check_scope(scope)
        if kind == "roledefinitions":
            return self._definitions(req, scope, rest)
        if len(rest) == 1:
            if req.method != "GET":
                raise ApiError(405, "MethodNotAllowed", "Method not allowed.")
            return Response(200, {"value": self.list_at(scope, req.query.get("$filter") or "")})
        name = rest[1]
        rid = "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope, name)
        key = rid.lower()
        existing = self.arm.role_assignments.get(key)
        if req.method == "GET":
            if existing is None:
                raise ApiError(404, "RoleAssignmentNotFound", "The role assignment '%s' is not found." % name)
            return Response(200, existing)
        if req.method == "DELETE":
            if existing is None:
                return Response(204)
            del self.arm.role_assignments[key]
            self.sim.mark_dirty()
            return Response(200, existing)
        if req.method == "PUT":
            return self._put(req, scope, name, rid, existing)
        raise ApiError(405, "MethodNotAllowed", "Method not allowed.")

    def _definitions(self, req, scope, rest):
        if len(rest) == 1:
            flt = req.query.get("$filter") or ""
            m = re.search(r"roleName\s+eq\s+'([^']+)'", flt, re.I)
            defs = [self.role_definition(r["id"], scope) for r in ROLES.values()]
            if m:
                defs = [d for d in defs if d["properties"]["roleName"].lower() == m.group(1).lower()]
            return Response(200, {"value": defs})
        d = self.role_definition(rest[1], scope)
        if d is None:
            raise ApiError(404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not "
                           "exist." % rest[1])
        return Response(200, d)

    def _put(self, req, scope, name, rid, existing):
        key = rid.lower()
        if not _GUID.match(name):
            raise bad_request("InvalidRoleAssignmentId", "The role assignment ID '%s' is not valid. The role "
                              "assignment ID must be a GUID." % name)
        body = req.json()
        self.arm.validate_body(req, body)
        props = body.get("properties") or {}
        rdid = props.get("roleDefinitionId") or ""
        guid = rdid.rstrip("/").rsplit("/", 1)[-1].lower()
        if role_by_guid(guid) is None:
            raise bad_request("RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not "
                              "exist." % guid)
        pid = props.get("principalId") or ""
        if not self.principal_exists(pid):
            raise bad_request("PrincipalNotFound", "Principal %s does not exist in the directory %s. Check that "
                              "you have the correct principal ID. If you are creating this principal and then "
                              "immediately assigning a role, this error might be related to a replication delay. "
                              "In this case, set the role assignment principalType property to a value, such as "
                              "ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype"
                              % (pid.replace("-", ""), self.sim.tenant_id))
        for other in self.arm.role_assignments.values():
            op = other["properties"]
            if other["id"].lower() != key and op["principalId"] == pid and op["scope"].lower() == scope.lower() \
                    and op["roleDefinitionId"].rsplit("/", 1)[-1].lower() == guid:
                raise ApiError(409, "RoleAssignmentExists", "The role assignment already exists.")
        if existing is not None and (existing["properties"]["principalId"] != pid or
                                     existing["properties"]["roleDefinitionId"].rsplit("/", 1)[-1].lower() != guid):
            raise ApiError(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and "
                           "scope are not allowed to be updated.")
        sub = scope.split("/")[2] if scope.lower().startswith("/subscriptions/") else self.arm.sub
        now = _now_iso()
        ra = {"id": rid, "name": name, "type": "Microsoft.Authorization/roleAssignments",
              "properties": {"roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/"
                                                 "roleDefinitions/%s" % (sub, guid),
                             "principalId": pid, "principalType": props.get("principalType", "ServicePrincipal"),
                             "scope": scope, "condition": props.get("condition"),
                             "conditionVersion": props.get("conditionVersion"),
                             "createdOn": (existing or {}).get("properties", {}).get("createdOn", now),
                             "updatedOn": now,
                             "createdBy": self.sim.caller_object_id, "updatedBy": self.sim.caller_object_id,
                             "delegatedManagedIdentityResourceId": None,
                             "description": props.get("description")}}
        self.arm.role_assignments[key] = ra
        authz = self._authz()
        if authz is not None and existing is None:
            authz.note_role_assignment(key)
        self.sim.mark_dirty()
        return Response(200 if existing else 201, ra)

    def principal_exists(self, pid: str) -> bool:
        pid = pid.lower()
        if any(sp["id"] == pid for sp in self.sim.graph_principals.values()):
            return True
        for r in self.arm.resources.values():
            ident = r.get("identity") or {}
            if (ident.get("principalId") or "").lower() == pid:
                return True
        return False

    def _check_scope(self, scope: str):
        if not scope or scope.count("/") <= 2:
            return
        segs = [s for s in scope.split("/") if s]
        low = [s.lower() for s in segs]
        if "resourcegroups" in low:
            rg = segs[low.index("resourcegroups") + 1]
            self.arm.require_group(rg)
        if "providers" in low:
            i = low.index("providers")
            # resource scope: the top-level resource must exist (keys are data-plane objects: check the vault)
            top = "/".join([""] + segs[:i + 4])
            if self.arm.get(top) is None:
                raise ApiError(404, "ResourceNotFound", "The Resource '%s/%s/%s' under resource group '%s' was not "
                               "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
                               % (segs[i + 1], segs[i + 2], segs[i + 3], segs[low.index("resourcegroups") + 1]))

    def list_at(self, scope: str, flt: str) -> list[dict]:
        """Assignments at, above (inherited) and, unless ``atScope()``, below ``scope``.

        Source: Microsoft doc "List Azure role assignments using the REST API" ($filter=atScope(),
        principalId eq '{id}', assignedTo('{id}'))."""
        authz = self._authz()
        if authz is not None:
            authz._sync_epoch()
        scope_l = scope.lower().rstrip("/")
        at_scope = "atscope()" in flt.lower()
        m = re.search(r"(?:principalId\s+eq\s+|assignedTo\()'([^']+)'", flt, re.I)
        out = []
        for ra in self.arm.role_assignments.values():
            s = ra["properties"]["scope"].lower().rstrip("/")
            above = scope_l == s or scope_l.startswith(s + "/") or s == ""
            below = s.startswith(scope_l + "/") or scope_l == ""
            if not (above or (below and not at_scope)):
                continue
            if m and ra["properties"]["principalId"].lower() != m.group(1).lower():
                continue
            out.append(ra)
        return out

    def roles_for(self, principal_id: str, scope: str) -> list[str]:
        """Built-in role names held by ``principal_id`` at ``scope`` (inherited from parent scopes)."""
        names = []
        for ra in self.list_at(scope, "atScope()"):
            if ra["properties"]["principalId"].lower() == principal_id.lower():
                role = role_by_guid(ra["properties"]["roleDefinitionId"].rsplit("/", 1)[-1])
                if role:
                    names.append(role["roleName"])
        return names
