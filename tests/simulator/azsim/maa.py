"""Microsoft Azure Attestation (MAA) service logic of the simulator.

``MaaService`` decodes platform attestation requests (``/attest/SevSnpVm``, ``/attest/TdxVm``), verifies the
evidence with the simulator's own oracle (``azsim.oracle``: AMD/Intel/Microsoft published rules, pinned AMD ARKs and
Intel SGX root plus roots added by tests) and issues an RS256 JWT shaped like a real MAA token (header ``alg``,
``jku``, ``kid``, ``typ``; claims as ``azsim.oracle.attest`` documents, plus ``iss``, ``iat``, ``nbf``, ``exp`` (8 h),
``jti``, ``x-ms-ver``, ``x-ms-policy-hash``). HTTP routing lives in maa_glue; this module maps
(kind, api_version, body) to (status, json).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import jwt
from .oracle import attest
from .oracle.certs import utcnow
from .oracle.errors import EvidenceError
from .oracle.trust import TrustStore

SUPPORTED_API_VERSIONS = {
    "SevSnpVm": ("2022-08-01", "2023-04-01-preview", "2025-06-01"),
    "TdxVm": ("2023-04-01-preview", "2025-06-01"),
}
TOKEN_LIFETIME = 8 * 3600
MAX_BODY = 256 * 1024
# The shared providers attest with MAA's default policy (permit, no extra issuance rules; MAA docs "Attestation
# policy"). The simulator has no policy engine: x-ms-policy-hash is the SHA-256 of this stand-in text, not of
# Microsoft's exact default policy bytes.
DEFAULT_POLICY = b"version=1.0; authorizationrules { => permit(); }; issuancerules { };"


def _error(status, code, message):
    return status, {"error": {"code": code, "message": message}}


class MaaService:
    """One simulated MAA provider (e.g. the shared regional endpoint).

    issuer: the provider URL (token ``iss``; JWKS at ``issuer + '/certs'``).
    signing_key: RSA private key (object or PEM bytes); signing_cert_pem: its certificate (PEM).
    trust_roots: root PEMs trusted on top of the pinned anchors (a test's ARK-<product> or Intel-style root).
    """

    def __init__(self, issuer, signing_key, signing_cert_pem, trust_roots=None, clock=time.time):
        self.issuer = issuer.rstrip("/")
        if isinstance(signing_key, (bytes, str)):
            signing_key = serialization.load_pem_private_key(
                signing_key.encode() if isinstance(signing_key, str) else signing_key, password=None)
        self.signing_key = signing_key
        if isinstance(signing_cert_pem, str):
            signing_cert_pem = signing_cert_pem.encode("ascii")
        self.signing_cert = x509.load_pem_x509_certificate(signing_cert_pem)
        der = self.signing_cert.public_bytes(serialization.Encoding.DER)
        self.kid = base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")
        self._x5c = base64.b64encode(der).decode("ascii")
        self._roots = list(trust_roots or [])
        self._lock = threading.Lock()
        self._store = None
        self.clock = clock
        self.issued = 0

    # ------------------------------------------------------------------ trust
    def add_trust_root(self, pem):
        with self._lock:
            self._roots.append(pem)
            self._store = None

    def trust_store(self):
        with self._lock:
            if self._store is None:
                self._store = TrustStore(self._roots)
            return self._store

    # --------------------------------------------------------------- metadata
    @property
    def certs_url(self):
        return self.issuer + "/certs"

    def openid_configuration(self):
        return {
            "issuer": self.issuer,
            "jwks_uri": self.certs_url,
            "response_types_supported": ["token", "none"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "revocation_endpoint": self.issuer + "/revoke",
            "claims_supported": ["iss", "iat", "exp", "nbf", "jti", "nonce", "x-ms-ver",
                                 "x-ms-policy-hash"] + list(attest.CLAIM_NAMES),
        }

    def jwks(self):
        return {"keys": [{"kid": self.kid, "kty": "RSA", "x5c": [self._x5c]}]}

    # ----------------------------------------------------------------- attest
    def attest(self, kind, api_version, body):
        """-> (status, dict). 200 {"token": jwt}; 400/404 {"error": {"code", "message"}}."""
        if kind not in SUPPORTED_API_VERSIONS:
            return _error(404, "NotFound", "Attestation type '%s' is not supported" % kind)
        if not api_version:
            return _error(400, "MissingApiVersionParameter", "The api-version query parameter is required")
        if api_version not in SUPPORTED_API_VERSIONS[kind]:
            return _error(400, "InvalidApiVersion", "api-version '%s' is not supported for %s (supported: %s)" % (
                api_version, kind, ", ".join(SUPPORTED_API_VERSIONS[kind])))
        if isinstance(body, (bytes, str)):
            if len(body) > MAX_BODY:
                return _error(413, "RequestEntityTooLarge", "The request body is larger than %d bytes" % MAX_BODY)
            try:
                body = json.loads(body)
            except (ValueError, RecursionError):
                return _error(400, "InvalidParameter", "Request body is not valid JSON")
        verify = attest.attest_snp if kind == "SevSnpVm" else attest.attest_tdx
        try:
            claims = verify(body, self.trust_store(), utcnow(self.clock))
        except EvidenceError as exc:
            return _error(400, "InvalidParameter", "Evidence verification failed (%s): %s" % (exc.check, exc))
        now = int(self.clock())
        claims.update({
            "iss": self.issuer, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
            "jti": hashlib.sha256(os.urandom(32)).hexdigest(), "x-ms-ver": "1.0",
            "x-ms-policy-hash": jwt.b64u(hashlib.sha256(DEFAULT_POLICY).digest()),
        })
        token = jwt.sign(claims, self.signing_key, self.kid, {"jku": self.certs_url})
        self.issued += 1
        return 200, {"token": token}
