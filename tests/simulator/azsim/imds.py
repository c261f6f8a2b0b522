"""Instance Metadata Service (IMDS) stand-in: managed identity tokens and the VCEK chain (THIM) for one VM.

Real IMDS answers at http://169.254.169.254 and knows the calling VM by its network; the simulator has one
address, so each VM gets its own base URL ``{simulator}/_sim/imds/{handle}`` from ``POST /_sim/imds`` (body
``{"vm": <VM ARM id>, "thim": {vcekCert, certificateChain, tcbm}}``), which a guest test uses as IMDS.

Sources (public):
- Microsoft Learn "How to use managed identities for Azure resources on an Azure VM to acquire an access token":
  ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`` with header ``Metadata: true``;
  optional ``client_id`` / ``object_id`` / ``msi_res_id`` select a user-assigned identity; answer fields
  ``access_token, client_id, expires_in, expires_on, ext_expires_in, not_before, resource, token_type``; errors
  400 ``invalid_request`` "Required metadata header not specified", 400 ``invalid_request`` "Identity not found",
  400 ``invalid_resource`` when the resource is missing.
- Microsoft Learn "Azure Instance Metadata Service": ``/metadata/THIM/amd/certification`` returns
  ``vcekCert``, ``certificateChain`` (ASK + ARK), ``tcbm``, ``cacheControl``; requests without ``Metadata: true``
  are refused with 400.
"""
from __future__ import annotations

import time
import uuid

from .core import ApiError, Response

TOKEN_LIFETIME = 24 * 3600
API_VERSIONS = ("2018-02-01", "2019-08-01", "2021-02-01", "2021-12-13")


def _error(status, code, description):
    return ApiError(status, code, description, body={"error": code, "error_description": description})


class Imds:
    def __init__(self, sim):
        self.sim = sim
        self.vms: dict[str, dict] = {}

    def register(self, req) -> Response:
        body = req.json() or {}
        vm_id = body.get("vm")
        if not isinstance(vm_id, str) or "/providers/Microsoft.Compute/virtualMachines/" not in vm_id:
            raise ApiError(400, "BadRequest", "POST {\"vm\": <VM ARM id>, \"thim\": {...}}")
        handle = uuid.uuid4().hex
        self.vms[handle] = {"vm": vm_id, "thim": body.get("thim")}
        return Response(201, {"endpoint": "%s/_sim/imds/%s" % (self.sim.base_url, handle), "handle": handle})

    def _vm(self, req, handle):
        if req.headers.get("metadata", "").lower() != "true":
            raise _error(400, "invalid_request", "Required metadata header not specified")
        entry = self.vms.get(handle)
        if entry is None:
            raise ApiError(404, "NotFound", "No such IMDS stand-in (POST /_sim/imds first).")
        return entry

    def thim(self, req, handle) -> Response:
        entry = self._vm(req, handle)
        if not entry.get("thim"):
            raise ApiError(404, "NotFound", "The VM has no AMD SEV-SNP certification (not an SNP CVM).")
        return Response(200, dict(entry["thim"], cacheControl="86400"))

    def token(self, req, handle) -> Response:
        entry = self._vm(req, handle)
        q = req.query
        if q.get("api-version") not in API_VERSIONS:
            raise _error(400, "invalid_request", "Invalid or missing api-version")
        resource = q.get("resource")
        if not resource:
            raise _error(400, "invalid_resource", "Resource parameter is required")
        with self.sim.lock:
            vm = self.sim.arm.get(entry["vm"])
        ident = (vm or {}).get("identity") or {}
        principal, client = self._identity(ident, q)
        if principal is None:
            raise _error(400, "invalid_request", "Identity not found")
        now = int(time.time())
        token = self.sim.entra.issue(resource.rstrip("/"), client, principal)
        return Response(200, {"access_token": token, "client_id": client, "expires_in": str(TOKEN_LIFETIME),
                              "expires_on": str(now + TOKEN_LIFETIME), "ext_expires_in": str(TOKEN_LIFETIME),
                              "not_before": str(now), "resource": resource, "token_type": "Bearer"})

    @staticmethod
    def _identity(ident, q):
        """(principal id, client id) of the identity the query selects; (None, None) when the VM has none."""
        users = ident.get("userAssignedIdentities") or {}
        for key in ("client_id", "object_id", "msi_res_id", "mi_res_id"):
            want = q.get(key)
            if not want:
                continue
            for rid, u in users.items():
                u = u or {}
                if want.lower() in (str(u.get("clientId", "")).lower(), str(u.get("principalId", "")).lower(),
                                    rid.lower()):
                    return u.get("principalId"), u.get("clientId")
            return None, None
        if "SystemAssigned" in str(ident.get("type", "")) and ident.get("principalId"):
            return ident["principalId"], ident.get("clientId") or ident["principalId"]
        if len(users) == 1:
            u = list(users.values())[0] or {}
            return u.get("principalId"), u.get("clientId")
        return None, None
