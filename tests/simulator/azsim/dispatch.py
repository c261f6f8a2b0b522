"""Dispatch: which service a request is for, its route, authentication, authorization, then the handler.

Authorization hook
------------------
Every routed ARM, Microsoft Graph and Key Vault data-plane request passes through ``authorize(sim, call)`` exactly
once, after authentication, routing and the service's own pre-checks (api-version, body, vault exists) and before
its handler runs. ``call`` (a ``Call``) carries everything a decision needs:

* ``call.service``   "arm" | "graph" | "keyvault"
* ``call.action``    ARM action of the route, as role definitions name it: ``Microsoft.Compute/virtualMachines/write``,
                     ``.../read``, ``.../delete``, ``Microsoft.Compute/virtualMachines/deallocate/action``,
                     ``Microsoft.Authorization/roleAssignments/write`` ("" for routes ARM does not authorize)
* ``call.key_op``    Key Vault key operation (access-policy permission name): create, get, list, update, delete,
                     recover, purge, rotate, release, getrotationpolicy, setrotationpolicy
* ``call.scope``     ARM: the request path (the resource id, or the collection / scope it lists);
                     Key Vault: ``<vault ARM id>/keys/<key name>`` (the vault id for list operations)
* ``call.principal`` the token's ``oid``; ``call.claims`` the whole validated token
* ``call.vault`` / ``call.arm_vault`` / ``call.key_name`` (Key Vault only)

Raise the service's own 403 ``ApiError`` to refuse. Admin (``/_sim``), Entra ID token and MAA requests are not
authorized (they are not ARM operations).
"""
from __future__ import annotations

import re
import time

from . import authz, graph, jwt
from .core import ApiError, Response, det_uuid

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Call:
    """A routed, authenticated request as authorization sees it."""
    __slots__ = ("service", "req", "match", "claims", "vault", "arm_vault", "fault")

    def __init__(self, service, req, match, claims, vault=None, arm_vault=None, fault=None):
        self.service = service
        self.req = req
        self.match = match
        self.claims = claims
        self.vault = vault
        self.arm_vault = arm_vault
        self.fault = fault

    @property
    def action(self) -> str:
        return self.match.action or ""

    @property
    def key_op(self) -> str | None:
        return self.match.key_op

    @property
    def principal(self) -> str:
        return str(self.claims.get("oid", ""))

    @property
    def key_name(self) -> str:
        return self.match.get("key-name", "")

    @property
    def scope(self) -> str:
        if self.service == "keyvault":
            base = self.arm_vault["id"] if self.arm_vault else ""
            return "%s/keys/%s" % (base, self.key_name) if self.key_name else base
        return self.req.path.rstrip("/")


def authorize(sim, call: Call):
    """THE authorization hook (see the module docstring): azsim.authz decides (RBAC, Key Vault permissions,
    throttling)."""
    authz.authorize_call(sim, call)


class Dispatcher:
    def __init__(self, sim):
        self.sim = sim
        self.graph = graph.build(sim)

    def handle(self, req) -> Response:
        sim = self.sim
        start = time.monotonic()
        with sim.lock:
            sim._req_counter += 1
            request_id = det_uuid("request", sim._req_counter)
        correlation = req.headers.get("x-ms-correlation-request-id") or req.headers.get(
            "x-ms-client-request-id") or request_id
        if req.path.startswith("/_sim/") or req.path == "/_sim":
            try:
                return sim.admin_api.handle(req)
            except ApiError as err:
                return err.to_response()
        service = self.service_of(req)
        fault = sim.faults.take(req, service)
        resp = None
        if fault is not None:
            resp = fault.apply_before(req)
        if resp is None:
            try:
                resp = self.route(req, service, fault)
            except ApiError as err:
                resp = err.to_response()
            except (ValueError, UnicodeDecodeError) as exc:
                resp = ApiError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                "deserialized: '%s'." % exc).to_response()
        resp.headers.setdefault("x-ms-request-id", request_id)
        resp.headers.setdefault("x-ms-correlation-request-id", correlation)
        if "x-ms-client-request-id" in req.headers:
            resp.headers.setdefault("x-ms-client-request-id", req.headers["x-ms-client-request-id"])
        authz.decorate(sim, resp)
        sim.log.write(req, resp, time.monotonic() - start, service=service)
        return resp

    def service_of(self, req) -> str:
        if self.sim.kv.vault_for_host(req.host) is not None:
            return "keyvault"
        p = req.path
        if p.startswith("/attestation/"):
            return "attestation"
        if p.startswith("/v1.0/"):
            return "graph"
        first = p.strip("/").split("/", 1)[0]
        if first.lower() in ("common", "organizations") or _GUID_RE.match(first) and (
                "/oauth2/" in p or "/.well-known/" in p or "/discovery/" in p or p.endswith("/v2.0")):
            return "entra"
        return "arm"

    def route(self, req, service: str, fault) -> Response:
        sim = self.sim
        if service == "entra":
            return sim.entra.handle(req)
        if service == "attestation":
            return sim.attestation.handle(req)
        if service == "keyvault":
            return self.keyvault(req)
        if service == "graph":
            claims = self.authenticate_arm(req)
            m = self.graph.match(req.method, req.path)
            if m is None:
                raise graph.no_route(req)
            authorize(sim, Call("graph", req, m, claims, fault=fault))
            return m.route.handler(req, m, fault)
        return self.arm(req, fault)

    def arm(self, req, fault) -> Response:
        arm = self.sim.arm
        if req.method == "GET" and req.path.strip("/").lower() == "metadata/endpoints":
            return Response(200, arm.cloud_metadata())
        claims = self.authenticate_arm(req)
        with self.sim.lock:
            arm.settle()
            m = arm.route(req)
            arm.prepare(req, m)
            authorize(self.sim, Call("arm", req, m, claims, fault=fault))
            return m.route.handler(req, m, fault)

    def keyvault(self, req) -> Response:
        kv = self.sim.kv
        vault = kv.vault_for_host(req.host)
        claims = kv.authenticate(req)
        arm_vault = kv.prepare(req, vault)
        m = kv.route(req)
        call = Call("keyvault", req, m, claims, vault=vault, arm_vault=arm_vault)
        with self.sim.lock:
            authorize(self.sim, call)
        return kv.run(req, m, call)

    # ------------------------------------------------------------------ auth
    def authenticate_arm(self, req) -> dict:
        sim = self.sim
        auth = req.headers.get("authorization", "")
        challenge = ('Bearer authorization_uri="%s/%s", error="invalid_token", error_description="The '
                     'authentication failed because of missing \'Authorization\' header."'
                     % (sim.base_url, sim.tenant_id))
        if not auth.lower().startswith("bearer "):
            raise ApiError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                           headers={"WWW-Authenticate": challenge})
        try:
            claims = sim.entra.validate(auth[7:].strip())
        except jwt.JwtError:
            raise ApiError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                           headers={"WWW-Authenticate": challenge.replace("missing 'Authorization' header",
                                                                          "invalid token")})
        if claims.get("exp", 0) < time.time():
            raise ApiError(401, "ExpiredAuthenticationToken", "The access token expiry UTC time '%s' is earlier than "
                           "current UTC time." % time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(claims.get("exp", 0))))
        aud = str(claims.get("aud", "")).rstrip("/")
        allowed = {sim.base_url, "https://management.azure.com", "https://management.core.windows.net",
                   "https://graph.microsoft.com"}
        if aud not in allowed:
            raise ApiError(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong "
                           "audience or resource '%s'. It should exactly match with one of the allowed audiences '%s'."
                           % (claims.get("aud"), "','".join(sorted(a + "/" for a in allowed))))
        return claims
