"""Microsoft.Authorization: role assignments and role definitions at any scope (extension resources).

Spec: specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/
authorization-RoleAssignmentsCalls.json and authorization-RoleDefinitionsCalls.json. The behaviour lives in
azsim/rbac.py; this module only declares the routes."""
from __future__ import annotations

NS = "/{scope}/providers/Microsoft.Authorization"
ROUTES = [
    ("GET", "/roleAssignments"), ("GET", "/roleAssignments/{roleAssignmentName}"),
    ("PUT", "/roleAssignments/{roleAssignmentName}"), ("DELETE", "/roleAssignments/{roleAssignmentName}"),
    ("GET", "/roleDefinitions"), ("GET", "/roleDefinitions/{roleDefinitionId}"),
]


def register(table, arm):
    for method, path in ROUTES:
        table.add(method, NS + path, lambda req, m, fault: handle(arm, req, m, fault), rtype="")  # rbac checks


def handle(arm, req, m, fault):
    segs = [s for s in req.path.split("/") if s]
    low = [s.lower() for s in segs]
    i = max(j for j in range(len(low) - 1) if low[j] == "providers" and low[j + 1] == "microsoft.authorization")
    return arm.types["authorization"].handle(req, m.get("scope", ""), segs[i + 2:], fault)
