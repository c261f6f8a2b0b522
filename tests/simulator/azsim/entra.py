"""Entra ID (Azure AD) v2.0 endpoints: OIDC metadata, instance discovery, client-credentials tokens."""
from __future__ import annotations

import datetime
import threading
import time
import uuid
from urllib.parse import parse_qs

from . import jwt
from .core import ApiError, Response
from .pki import rsa_key

TOKEN_LIFETIME = 3599


class Entra:
    def __init__(self, sim):
        self.sim = sim
        self._key = None
        self._ready = threading.Event()
        # generating the signing key takes 0.1-0.8 s: do it in the background so the simulator starts at once
        threading.Thread(target=self._make_key, name="azsim-entra-key", daemon=True).start()
        self._cache: dict[str, dict] = {}

    def _make_key(self):
        self._key = rsa_key(2048)
        self.public_key = self._key.public_key()
        self.kid = jwt.kid_of(self.public_key)
        self._ready.set()

    @property
    def key(self):
        self._ready.wait()
        return self._key

    # -------------------------------------------------------------- tokens
    def issue(self, resource: str, app_id: str, object_id: str) -> str:
        now = int(time.time())
        claims = {"aud": resource, "iss": "https://sts.windows.net/%s/" % self.sim.tenant_id,
                  "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME, "appid": app_id, "appidacr": "1",
                  "idtyp": "app", "oid": object_id, "sub": object_id, "tid": self.sim.tenant_id,
                  "uti": uuid.uuid4().hex[:22], "ver": "1.0"}
        return jwt.sign(claims, self.key, self.kid, {"x5t": self.kid})

    def validate(self, token: str) -> dict:
        claims = self._cache.get(token)
        if claims is None:
            self._ready.wait()
            claims = jwt.verify(token, self.public_key)
            if claims.get("tid") != self.sim.tenant_id:
                raise jwt.JwtError("wrong tenant")
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[token] = claims
        return claims

    # ----------------------------------------------------------- endpoints
    def _aad_error(self, status: int, error: str, code: int, text: str) -> ApiError:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        body = {"error": error,
                "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
                % (code, text, trace, corr, now),
                "error_codes": [code], "timestamp": now, "trace_id": trace, "correlation_id": corr,
                "error_uri": "%s/error?code=%d" % (self.sim.base_url, code)}
        return ApiError(status, error, text, body=body)

    def metadata(self, tenant: str, v2: bool = True) -> dict:
        base = self.sim.base_url
        t = self.sim.tenant_id if tenant.lower() not in ("common", "organizations") else tenant
        issuer = "%s/%s/v2.0" % (base, self.sim.tenant_id) if v2 else "https://sts.windows.net/%s/" % self.sim.tenant_id
        suffix = "/v2.0" if v2 else ""
        return {
            "token_endpoint": "%s/%s/oauth2%s/token" % (base, t, suffix),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": "%s/%s/discovery%s/keys" % (base, t, suffix),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "%s/oidc/userinfo" % base,
            "authorization_endpoint": "%s/%s/oauth2%s/authorize" % (base, t, suffix),
            "device_authorization_endpoint": "%s/%s/oauth2%s/devicecode" % (base, t, suffix),
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": "%s/%s/oauth2%s/logout" % (base, t, suffix),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "azsim.local",
            "cloud_graph_host_name": "127.0.0.1",
            "msgraph_host": "127.0.0.1:%d" % self.sim.port,
        }

    def handle(self, req) -> Response:
        parts = [p for p in req.path.split("/") if p]
        tenant = parts[0]
        rest = "/".join(parts[1:])
        if tenant.lower() not in ("common", "organizations") and tenant.lower() != self.sim.tenant_id:
            if rest.endswith("openid-configuration") or rest.startswith("oauth2"):
                raise self._aad_error(400, "invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you "
                                      "have the correct tenant ID and are signing into the correct cloud." % tenant)
        if req.method == "GET" and rest in ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration"):
            return Response(200, self.metadata(tenant, v2=rest.startswith("v2.0")))
        if req.method == "GET" and rest in ("discovery/instance", "discovery/v2.0/instance"):
            host = "127.0.0.1:%d" % self.sim.port
            return Response(200, {
                "tenant_discovery_endpoint": "%s/%s/v2.0/.well-known/openid-configuration" % (
                    self.sim.base_url, self.sim.tenant_id),
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]})
        if req.method == "GET" and rest in ("discovery/v2.0/keys", "discovery/keys"):
            self._ready.wait()
            nums = self.public_key.public_numbers()
            return Response(200, {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                                            "n": jwt.int_b64u(nums.n), "e": jwt.int_b64u(nums.e)}]})
        if req.method == "POST" and rest in ("oauth2/v2.0/token", "oauth2/token"):
            return self.token(req, v2=rest.startswith("oauth2/v2.0"))
        raise ApiError(404, "NotFound", "Unknown Entra ID endpoint %s" % req.path)

    def token(self, req, v2: bool) -> Response:
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8"), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")
        if "authorization" in req.headers and req.headers["authorization"].lower().startswith("basic "):
            import base64
            cid, _sep, sec = base64.b64decode(req.headers["authorization"][6:]).decode().partition(":")
            client_id, secret = client_id or cid, secret or sec
        if grant != "client_credentials":
            raise self._aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type "
                                  "'%s'." % grant)
        if client_id.lower() != self.sim.client_id:
            raise self._aad_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found "
                                  "in the directory '%s'. This can happen if the application has not been installed "
                                  "by the administrator of the tenant or consented to by any user in the tenant. You "
                                  "may have sent your authentication request to the wrong tenant." % (
                                      client_id, self.sim.tenant_id))
        if not secret:
            raise self._aad_error(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or "
                                  "'request' is required for the 'client_credentials' grant type.")
        if secret != self.sim.client_secret:
            raise self._aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                  "being sent in the request is the client secret value, not the client secret ID, "
                                  "for a secret added to app '%s'." % client_id)
        if v2:
            scope = form.get("scope", "")
            scopes = [s for s in scope.split() if s.endswith("/.default")]
            if not scopes:
                raise self._aad_error(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid. "
                                      "Client credential flows must have a scope value with /.default suffixed to "
                                      "the resource identifier (application ID URI)." % scope)
            resource = scopes[0][: -len("/.default")]
        else:
            resource = form.get("resource", "")
        token = self.issue(resource, client_id, self.sim.caller_object_id)
        now = int(time.time())
        body = {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME,
                "access_token": token}
        if not v2:
            body.update({"expires_on": str(now + TOKEN_LIFETIME), "not_before": str(now), "resource": resource})
        return Response(200, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})
