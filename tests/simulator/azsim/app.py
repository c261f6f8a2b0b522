"""The simulator: dispatch by host/path, authentication, faults, request log, admin API."""
from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid

from . import jwt
from .core import ApiError, Request, Response, det_uuid
from .entra import Entra
from .faults import Faults
from .reqlog import RequestLog

ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
KEYVAULT_DNS_SUFFIX = "vault.azsim.local"


class Simulator:
    def __init__(self, state_dir: str, location: str = "eastus", provisioning_delay: float = 0.0,
                 state_file: str | None = None, ca_bundle: str | None = None):
        self.state_dir = state_dir
        self.location = location
        self.provisioning_delay = provisioning_delay
        self.route_delays: list[tuple[re.Pattern, float]] = []
        self.state_file = state_file
        self.ca_bundle = ca_bundle
        self.lock = threading.RLock()
        self.port = 0
        self._ensure_listener = None
        self.tenant_id = det_uuid("tenant")
        self.subscription_id = det_uuid("subscription")
        self.client_id = det_uuid("client")
        self.client_secret = "azsim-" + det_uuid("client-secret").replace("-", "")[:24]
        self.entra = Entra(self)
        self.faults = Faults()
        self.log = RequestLog(os.path.join(state_dir, "requests.jsonl"))
        self._req_counter = 0
        self._dirty = False
        from .arm import Arm
        from .keyvault import KeyVaultDataPlane
        from .maa_glue import Attestation
        self.arm = Arm(self)
        self.kv = KeyVaultDataPlane(self)
        self.attestation = Attestation(self)
        self.graph_principals: dict[str, dict] = {}
        self._default_principals()

    # ------------------------------------------------------------------ setup
    def _default_principals(self):
        self.graph_principals = {}
        self.add_principal(self.client_id, "azsim-automation")
        self.add_principal(ORCHESTRATOR_APP_ID, "Confidential VM Orchestrator")

    def add_principal(self, app_id: str, name: str) -> dict:
        sp = {"id": det_uuid("sp", app_id), "appId": app_id, "displayName": name,
              "servicePrincipalType": "Application", "accountEnabled": True, "appOwnerOrganizationId": self.tenant_id}
        self.graph_principals[app_id.lower()] = sp
        return sp

    @property
    def caller_object_id(self) -> str:
        return det_uuid("sp", self.client_id)

    def attach(self, port: int, ensure_listener):
        self.port = port
        self._ensure_listener = ensure_listener
        if self.state_file and os.path.exists(self.state_file):
            self.load(self.state_file)
        for n, v in list(self.kv.vaults.items()):
            res = self.arm.get(v.get("arm_id", ""))
            if res is not None:      # the port may differ from the run that saved the state
                res["properties"]["vaultUri"] = self.kv.register_vault(v["name"], v["arm_id"])

    def ensure_listener(self, ip: str):
        if self._ensure_listener is not None:
            self._ensure_listener(ip)

    @property
    def base_url(self) -> str:
        return "https://127.0.0.1:%d" % self.port

    def attestation_endpoint(self, location: str | None = None) -> str:
        return "%s/attestation/shared%s" % (self.base_url, (location or self.location).lower())

    def connection_info(self) -> dict:
        return {
            "cloud_environment": {
                "name": "AzureSimulator",
                "arm_endpoint": self.base_url + "/",
                "authority_host": self.base_url + "/",
                "keyvault_dns_suffix": KEYVAULT_DNS_SUFFIX,
                "attestation_endpoint": self.attestation_endpoint(),
                "graph_endpoint": self.base_url + "/",
                "ca_bundle": self.ca_bundle,
            },
            "subscription_id": self.subscription_id,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "location": self.location,
            "state_dir": self.state_dir,
        }

    def delay_for(self, path: str) -> float:
        for pattern, seconds in self.route_delays:
            if pattern.search(path):
                return seconds
        return self.provisioning_delay

    # ------------------------------------------------------------ persistence
    def mark_dirty(self):
        self._dirty = True

    def snapshot(self) -> dict:
        with self.lock:
            return {"arm": self.arm.snapshot(), "kv": self.kv.snapshot(),
                    "graph": self.graph_principals}

    def load(self, path: str):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        with self.lock:
            self.arm.restore(data.get("arm") or {})
            self.kv.restore(data.get("kv") or {})
            if data.get("graph"):
                self.graph_principals = data["graph"]

    def autosave(self):
        if self.state_file and self._dirty:
            self._dirty = False
            tmp = self.state_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.snapshot(), f)
            os.replace(tmp, self.state_file)

    def close(self):
        self._dirty = self._dirty or bool(self.state_file)
        try:
            self.autosave()
        finally:
            self.log.close()

    def reset(self):
        with self.lock:
            self.arm.reset()
            self.kv.reset()
            self.faults.clear()
            self.route_delays = []
            self._default_principals()
            self.attestation.reset()
            self.mark_dirty()

    # --------------------------------------------------------------- dispatch
    def handle(self, req: Request) -> Response:
        start = time.monotonic()
        with self.lock:
            self._req_counter += 1
            request_id = det_uuid("request", self._req_counter)
        correlation = req.headers.get("x-ms-correlation-request-id") or req.headers.get(
            "x-ms-client-request-id") or request_id
        if req.path.startswith("/_sim/") or req.path == "/_sim":
            try:
                resp = self.admin(req)
            except ApiError as err:
                resp = err.to_response()
            return resp
        service = self.service_of(req)
        fault = self.faults.take(req, service)
        resp = None
        if fault is not None:
            resp = fault.apply_before(req)
        if resp is None:
            try:
                resp = self.route(req, fault)
            except ApiError as err:
                resp = err.to_response()
            except (ValueError, UnicodeDecodeError) as exc:
                resp = ApiError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                "deserialized: '%s'." % exc).to_response()
        resp.headers.setdefault("x-ms-request-id", request_id)
        resp.headers.setdefault("x-ms-correlation-request-id", correlation)
        if "x-ms-client-request-id" in req.headers:
            resp.headers.setdefault("x-ms-client-request-id", req.headers["x-ms-client-request-id"])
        self.log.write(req, resp, time.monotonic() - start, service=service)
        return resp

    def service_of(self, req: Request) -> str:
        if self.kv.vault_for_host(req.host) is not None:
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

    def route(self, req: Request, fault) -> Response:
        service = self.service_of(req)
        if service == "keyvault":
            return self.kv.handle(req, self.kv.vault_for_host(req.host))
        if service == "entra":
            return self.entra.handle(req)
        if service == "attestation":
            return self.attestation.handle(req)
        if service == "graph":
            self.authenticate_arm(req)
            return self.graph(req)
        return self.arm.handle(req, fault)

    # ------------------------------------------------------------------ auth
    def token_claims(self, req: Request):
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        return self.entra.validate(auth[7:].strip())

    def authenticate_arm(self, req: Request) -> dict:
        auth = req.headers.get("authorization", "")
        challenge = ('Bearer authorization_uri="%s/%s", error="invalid_token", error_description="The '
                     'authentication failed because of missing \'Authorization\' header."' % (self.base_url, self.tenant_id))
        if not auth.lower().startswith("bearer "):
            raise ApiError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                           headers={"WWW-Authenticate": challenge})
        try:
            claims = self.entra.validate(auth[7:].strip())
        except jwt.JwtError:
            raise ApiError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                           headers={"WWW-Authenticate": challenge.replace("missing 'Authorization' header", "invalid token")})
        if claims.get("exp", 0) < time.time():
            raise ApiError(401, "ExpiredAuthenticationToken", "The access token expiry UTC time '%s' is earlier than "
                           "current UTC time." % time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(claims.get("exp", 0))))
        aud = str(claims.get("aud", "")).rstrip("/")
        allowed = {self.base_url, "https://management.azure.com", "https://management.core.windows.net",
                   "https://graph.microsoft.com"}
        if aud not in allowed:
            raise ApiError(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong "
                           "audience or resource '%s'. It should exactly match with one of the allowed audiences '%s'."
                           % (claims.get("aud"), "','".join(sorted(a + "/" for a in allowed))))
        return claims

    # ----------------------------------------------------------------- graph
    def graph(self, req: Request) -> Response:
        p = req.path
        ctx = self.base_url + "/v1.0/$metadata#servicePrincipals"
        m = re.match(r"^/v1\.0/servicePrincipals\(appId='([^']*)'\)$", p)
        if req.method == "GET" and m:
            sp = self.graph_principals.get(m.group(1).lower())
            if sp is None:
                return self._graph_404(m.group(1))
            return Response(200, dict({"@odata.context": ctx + "/$entity"}, **sp))
        m = re.match(r"^/v1\.0/servicePrincipals/([^/]+)$", p)
        if req.method == "GET" and m:
            for sp in self.graph_principals.values():
                if sp["id"] == m.group(1):
                    return Response(200, dict({"@odata.context": ctx + "/$entity"}, **sp))
            return self._graph_404(m.group(1))
        if req.method == "GET" and p == "/v1.0/servicePrincipals":
            flt = req.query.get("$filter")
            items = list(self.graph_principals.values())
            if flt:
                fm = re.match(r"^\s*(appId|displayName|id)\s+eq\s+'([^']*)'\s*$", flt)
                if not fm:
                    raise ApiError(400, "BadRequest", "Invalid filter clause: %s" % flt,
                                   body={"error": {"code": "BadRequest", "message": "Invalid filter clause"}})
                field, value = fm.group(1), fm.group(2)
                items = [sp for sp in items if str(sp.get(field, "")).lower() == value.lower()]
            return Response(200, {"@odata.context": ctx, "value": items})
        raise ApiError(404, "Request_ResourceNotFound", "Resource not found for the segment '%s'." % p.rsplit("/", 1)[-1],
                       body={"error": {"code": "BadRequest", "message": "Resource not found for the segment '%s'."
                                       % p.rsplit("/", 1)[-1]}})

    def _graph_404(self, ident: str) -> Response:
        return Response(404, {"error": {
            "code": "Request_ResourceNotFound",
            "message": "Resource '%s' does not exist or one of its queried reference-property objects are not present."
            % ident, "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}}})

    # ----------------------------------------------------------------- admin
    def admin(self, req: Request) -> Response:
        p = req.path.rstrip("/")
        m = req.method
        if p == "/_sim/health":
            return Response(200, {"status": "ok"})
        if p == "/_sim/info":
            return Response(200, self.connection_info())
        if p == "/_sim/reset" and m == "POST":
            self.reset()
            return Response(200, {"reset": True})
        if p == "/_sim/requests" and m == "GET":
            since = int(req.query.get("since") or 0)
            entries = self.log.since(since)
            return Response(200, {"requests": entries, "next": self.log.count})
        if p == "/_sim/requests/mark":
            return Response(200, {"mark": self.log.count})
        if p == "/_sim/faults":
            if m == "POST":
                return Response(201, self.faults.add(req.json()))
            if m == "GET":
                return Response(200, {"faults": self.faults.list()})
            if m == "DELETE":
                self.faults.clear()
                return Response(200, {"faults": []})
        if p == "/_sim/delay" and m in ("POST", "PUT"):
            body = req.json()
            seconds = float(body.get("seconds", 0))
            if body.get("pattern"):
                self.route_delays.insert(0, (re.compile(body["pattern"], re.I), seconds))
            else:
                self.provisioning_delay = seconds
            return Response(200, {"provisioning_delay": self.provisioning_delay,
                                  "routes": [[pt.pattern, s] for pt, s in self.route_delays]})
        if p == "/_sim/attestation/trust-roots" and m == "POST":
            return self.attestation.add_trust_root(req)
        mm = re.match(r"^/_sim/graph/servicePrincipals/([^/]+)$", p)
        if mm:
            app_id = mm.group(1)
            if m == "DELETE":
                removed = self.graph_principals.pop(app_id.lower(), None)
                return Response(200 if removed else 404, {"removed": bool(removed)})
            if m in ("PUT", "POST"):
                body = req.json()
                return Response(201, self.add_principal(app_id, body.get("displayName", app_id)))
        if p == "/_sim/state" and m == "GET":
            return Response(200, self.snapshot())
        raise ApiError(404, "NotFound", "No admin route %s %s" % (m, p))
