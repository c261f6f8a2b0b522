"""Managed identities of a virtual machine: what ARM adds to ``identity`` on PUT.

Source: Microsoft Learn "Configure managed identities for Azure resources on a VM using REST API calls" and the
Compute spec (``VirtualMachineIdentity``: ``principalId`` and ``tenantId`` are read-only and set for a
system-assigned identity; ``userAssignedIdentities`` values carry read-only ``principalId`` and ``clientId``;
type ``None`` removes every identity). A system-assigned identity keeps its principal while it stays enabled; a new
one (after ``None``) is a new principal.
"""
from __future__ import annotations

import uuid

from ..core import bad_request

TYPES = ("SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned", "None")


def apply(sim, res, existing):
    ident = res.get("identity")
    if not ident:
        return
    # Enum values are matched case-insensitively by ARM (the simulator's case-insensitive enum rule).
    folded = {t.replace(" ", "").lower(): t for t in TYPES}
    kind = folded.get(str(ident.get("type") or "").replace(" ", "").lower(), ident.get("type"))
    if kind not in TYPES:
        raise bad_request("InvalidParameter", "The value '%s' of parameter 'identity.type' is not valid. Allowed "
                          "values: %s." % (kind, ", ".join(TYPES)), target="identity.type")
    if kind == "None":
        res.pop("identity", None)
        return
    old = (existing or {}).get("identity") or {}
    out = {"type": kind}
    if "SystemAssigned" in kind:
        out["principalId"] = old.get("principalId") if "SystemAssigned" in str(old.get("type", "")) \
            and old.get("principalId") else str(uuid.uuid4())
        out["tenantId"] = sim.tenant_id
    if "UserAssigned" in kind:
        users = ident.get("userAssignedIdentities") or {}
        if not users:
            raise bad_request("InvalidParameter", "Parameter 'identity.userAssignedIdentities' is required when "
                              "identity type is '%s'." % kind, target="identity.userAssignedIdentities")
        known = old.get("userAssignedIdentities") or {}
        out["userAssignedIdentities"] = dict(
            (rid, known.get(rid) or {"principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, rid.lower() + "#p")),
                                     "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, rid.lower() + "#c"))})
            for rid in users)
    res["identity"] = out
