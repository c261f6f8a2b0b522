"""Microsoft.Authorization role assignments / built-in role definitions at any scope."""
from __future__ import annotations

import re

from . import catalog
from .core import ApiError, Response, bad_request

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Authorization:
    def __init__(self, arm):
        self.arm = arm
        self.sim = arm.sim

    def role_definition(self, guid: str, scope: str = "") -> dict | None:
        name = catalog.role_by_guid(guid)
        if name is None:
            return None
        rid, actions, data_actions = catalog.BUILTIN_ROLES[name]
        base = scope or ("/subscriptions/" + self.arm.sub)
        perms = [{"actions": actions, "notActions": [], "dataActions": data_actions, "notDataActions": []}]
        return {"id": "%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (base, rid), "name": rid,
                "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {"roleName": name, "type": "BuiltInRole", "description": name,
                               "assignableScopes": ["/"], "permissions": perms}}

    def handle(self, req, scope, rest, fault):
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
            if len(rest) == 1:
                flt = req.query.get("$filter") or ""
                m = re.search(r"roleName\s+eq\s+'([^']+)'", flt, re.I)
                defs = [self.role_definition(rid, scope) for rid, _a, _d in catalog.BUILTIN_ROLES.values()]
                if m:
                    defs = [d for d in defs if d["properties"]["roleName"].lower() == m.group(1).lower()]
                return Response(200, {"value": defs})
            d = self.role_definition(rest[1], scope)
            if d is None:
                raise ApiError(404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not "
                               "exist." % rest[1])
            return Response(200, d)
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
            if not _GUID.match(name):
                raise bad_request("InvalidRoleAssignmentId", "The role assignment ID '%s' is not valid. The role "
                                  "assignment ID must be a GUID." % name)
            body = req.json()
            self.arm.validate_body(req, body)
            props = body.get("properties") or {}
            rdid = props.get("roleDefinitionId") or ""
            guid = rdid.rstrip("/").rsplit("/", 1)[-1]
            if catalog.role_by_guid(guid) is None:
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
                        and op["roleDefinitionId"].rsplit("/", 1)[-1] == guid:
                    raise ApiError(409, "RoleAssignmentExists", "The role assignment already exists.")
            if existing is not None and (existing["properties"]["principalId"] != pid or
                                         existing["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] != guid):
                raise ApiError(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and "
                               "scope are not allowed to be updated.")
            ra = {"id": rid, "name": name, "type": "Microsoft.Authorization/roleAssignments",
                  "properties": {"roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/"
                                                     "roleDefinitions/%s" % (self.arm.sub, guid),
                                 "principalId": pid, "principalType": props.get("principalType", "ServicePrincipal"),
                                 "scope": scope, "condition": props.get("condition"),
                                 "conditionVersion": props.get("conditionVersion"),
                                 "createdBy": self.sim.caller_object_id, "updatedBy": self.sim.caller_object_id,
                                 "description": props.get("description")}}
            self.arm.role_assignments[key] = ra
            self.sim.mark_dirty()
            return Response(200 if existing else 201, ra)
        raise ApiError(405, "MethodNotAllowed", "Method not allowed.")

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
        scope_l = scope.lower().rstrip("/")
        at_scope = "atscope()" in flt.lower()
        m = re.search(r"principalId\s+eq\s+'([^']+)'", flt, re.I)
        out = []
        for ra in self.arm.role_assignments.values():
            s = ra["properties"]["scope"].lower().rstrip("/")
            above = scope_l == s or scope_l.startswith(s + "/") or s == ""
            below = s.startswith(scope_l + "/")
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
                name = catalog.role_by_guid(ra["properties"]["roleDefinitionId"].rsplit("/", 1)[-1])
                if name:
                    names.append(name)
        return names
