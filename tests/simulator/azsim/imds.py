"""Instance Metadata Service (IMDS) stand-in: managed identity tokens and the VCEK chain (THIM) for one VM.

Real IMDS answers at http://169.254.169.254 and knows the calling VM by its network; the simulator has one
address, so each VM gets its own base URL ``{simulator}/_sim/imds/{handle}`` from ``POST /_sim/imds`` (body
``{"vm": <VM ARM id>, "thim": {vcekCert, certificateChain, tcbm}}``), which a guest test uses as IMDS.

Sources (public):
- Microsoft Learn "How to use managed identities for Azure resources on an Azure VM to acquire an access token":
  ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`` with header ``Metadata: true``;
  optional ``client_id`` / ``object_id`` / ``msi_res_id`` select a user-assigned identity (each by its own
  property: the identity's client id, its object (principal) id, its ARM resource id); answer fields
  ``access_token, client_id, expires_in, expires_on, ext_expires_in, not_before, resource, token_type``; errors
  400 ``invalid_request`` "Required metadata header not specified", 400 ``invalid_request`` "Identity not found".
- IMDS's answer without ``resource``: 400 ``{"error":"invalid_request","error_description":"Required query variable
  'resource' is missing"}`` (quoted in public PR Azure/aad-pod-identity#450, which mimics IMDS); an unknown
  api-version: "Invalid 'api-version' requested" (public issue MicrosoftDocs/azure-docs#112538).
- Several user-assigned identities and no selector: 400 ``{"error":"invalid_request","error_description":"Multiple
  user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"}``
  (IMDS's answer quoted in public PRs Hexadite/acs-keyvault-agent#43 and Azure/azure-sdk-for-rust#748). More than
  one selector at once is refused (Microsoft Learn "How to use managed identities for App Service": ``mi_res_id``
  "Cannot be used on a request that includes principal_id, client_id, or object_id"; the simulator applies the rule
  to IMDS too, the stricter reading).
- IMDS refuses any request carrying ``X-Forwarded-For`` (Microsoft Learn "Azure Instance Metadata Service":
  requests "must not contain an X-Forwarded-For header"; Microsoft AntiSSRF docs "AntiSSRFPolicy.AddXFFHeader
  Property": "IMDS, will drop all incoming requests with the X-Forwarded-For header present"); the exact answer text
  is not published, the simulator answers 400 ``invalid_request``.
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
# query parameter -> the user-assigned identity's property it names (None: the identity's ARM resource id);
# ``mi_res_id`` is the older spelling of ``msi_res_id`` the Azure SDKs still send
SELECTORS = {"client_id": "clientId", "object_id": "principalId", "msi_res_id": None, "mi_res_id": None}


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
        if "x-forwarded-for" in req.headers:
            raise _error(400, "invalid_request", "Requests with an X-Forwarded-For header are not accepted")
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
        if not q.get("api-version"):
            raise _error(400, "invalid_request", "Required query variable 'api-version' is missing")
        if q.get("api-version") not in API_VERSIONS:
            raise _error(400, "invalid_request", "Invalid 'api-version' requested")
        resource = q.get("resource")
        if not resource:
            raise _error(400, "invalid_request", "Required query variable 'resource' is missing")
        with self.sim.lock:
            vm = self.sim.arm.get(entry["vm"])
        ident = (vm or {}).get("identity") or {}
        principal, client = self._identity(ident, q)
        now = int(time.time())
        token = self.sim.entra.issue(resource.rstrip("/"), client, principal)
        return Response(200, {"access_token": token, "client_id": client, "expires_in": str(TOKEN_LIFETIME),
                              "expires_on": str(now + TOKEN_LIFETIME), "ext_expires_in": str(TOKEN_LIFETIME),
                              "not_before": str(now), "resource": resource, "token_type": "Bearer"})

    @staticmethod
    def _identity(ident, q):
        """(principal id, client id) of the identity the query selects, else IMDS's 400."""
        users = ident.get("userAssignedIdentities") or {}
        chosen = [k for k in SELECTORS if q.get(k)]
        if len(chosen) > 1:
            raise _error(400, "invalid_request", "Only one of client_id, object_id, msi_res_id may be specified")
        if chosen:
            key, want = chosen[0], q[chosen[0]].lower()
            for rid, u in users.items():
                u = u or {}
                have = rid if SELECTORS[key] is None else str(u.get(SELECTORS[key], ""))
                if have.lower() == want:
                    return u.get("principalId"), u.get("clientId")
            raise _error(400, "invalid_request", "Identity not found")
        if "SystemAssigned" in str(ident.get("type", "")) and ident.get("principalId"):
            return ident["principalId"], ident.get("clientId") or ident["principalId"]
        if len(users) == 1:
            u = list(users.values())[0] or {}
            return u.get("principalId"), u.get("clientId")
        if len(users) > 1:
            raise _error(400, "invalid_request", "Multiple user assigned identities exist, please specify the "
                         "clientId / resourceId of the identity in the token request")
        raise _error(400, "invalid_request", "Identity not found")
