"""Microsoft Azure Attestation (MAA) service logic of the simulator.

``MaaService`` decodes platform attestation requests (``/attest/SevSnpVm``, ``/attest/TdxVm``),
VERIFIES the evidence with the collection's own pure verifier
(plugins/module_utils/_attestation) against its trust roots (the real pinned AMD ARKs and Intel SGX
root plus roots added by tests) and issues a real RS256 JWT with MAA's claim names.
HTTP routing lives elsewhere (the simulator's glue); this module only maps (kind, api_version, body)
to (status, json).
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import sys
import threading
import time
import types
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import serialization

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_PKG = "_azsim_collection_module_utils"


def collection_module(dotted):
    """Import plugins/module_utils/<dotted> (pure code) without needing an ansible_collections tree."""
    if _PKG not in sys.modules:
        pkg = types.ModuleType(_PKG)
        pkg.__path__ = [os.path.join(_REPO, "plugins", "module_utils")]
        sys.modules[_PKG] = pkg
    return importlib.import_module("%s.%s" % (_PKG, dotted))


def _load_attestation():
    names = ("errors", "certs", "hcl", "snp", "tdx", "maa", "trust", "util")
    return types.SimpleNamespace(**dict((n, collection_module("_attestation." + n)) for n in names))


att = _load_attestation()

SUPPORTED_API_VERSIONS = {
    "SevSnpVm": ("2022-08-01", "2023-04-01-preview", "2025-06-01"),
    "TdxVm": ("2023-04-01-preview", "2025-06-01"),
}
TOKEN_LIFETIME = 8 * 3600
COMPLIANT = "azure-compliant-cvm"


def _error(status, code, message):
    return status, {"error": {"code": code, "message": message}}


class MaaService:
    """One simulated MAA provider (e.g. the shared regional endpoint).

    issuer: the provider URL (token ``iss``; JWKS at ``issuer + '/certs'``).
    signing_key: RSA private key (object or PEM bytes); signing_cert_pem: its certificate (PEM).
    trust_roots: extra root PEMs trusted on top of the built-in pinned anchors (AMD ARKs, Intel SGX root),
    e.g. a test ARK made by a test.
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
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")
        self._x5c = base64.b64encode(der).decode("ascii")
        self._roots = list(trust_roots or [])
        self._lock = threading.Lock()
        self._store = None
        self.clock = clock
        self.issued = 0

    # ------------------------------------------------------------------ trust
    def add_trust_root(self, pem):
        if isinstance(pem, bytes):
            pem = pem.decode("ascii")
        with self._lock:
            self._roots.append(pem)
            self._store = None

    def trust_store(self):
        with self._lock:
            if self._store is None:
                # A root added by a test may be an AMD ARK (+ASK) or an Intel root: offer it to both.
                self._store = att.trust.TrustStore(extra_amd_roots=self._roots, extra_intel_roots=self._roots)
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
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["x-ms-attestation-type", "x-ms-compliance-status", "x-ms-runtime", "nonce",
                                 "x-ms-sevsnpvm-is-debuggable", "x-ms-sevsnpvm-vmpl", "tdx_mrtd",
                                 "iss", "iat", "exp", "nbf", "jti", "x-ms-ver"],
        }

    def jwks(self):
        return {"keys": [{"kid": self.kid, "kty": "RSA", "alg": "RS256", "x5c": [self._x5c]}]}

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
            try:
                body = json.loads(body)
            except ValueError:
                return _error(400, "InvalidParameter", "Request body is not valid JSON")
        try:
            req = att.maa.parse_request(kind, body)
        except att.errors.AttestationError as exc:
            return _error(400, "InvalidParameter", "Invalid attestation request: %s" % exc)
        runtime = req.get("runtime_data")
        runtime_claims = None
        if runtime is not None and req.get("runtime_data_type", "Binary") == "JSON":
            try:
                runtime_claims = json.loads(runtime.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return _error(400, "InvalidParameter", "runtimeData is not valid JSON")
        try:
            if kind == "SevSnpVm":
                claims = self._verify_snp(req, runtime)
            else:
                claims = self._verify_tdx(req, runtime)
        except att.errors.AttestationError as exc:
            return _error(400, "InvalidParameter", "Evidence verification failed (%s): %s" % (
                exc.check or "evidence", exc))
        now = int(self.clock())
        claims.update({
            "iss": self.issuer, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
            "jti": hashlib.sha256(uuid.uuid4().bytes).hexdigest(), "x-ms-ver": "1.0",
            "x-ms-policy-hash": base64.urlsafe_b64encode(hashlib.sha256(b"default").digest()).rstrip(b"=").decode(),
        })
        if runtime_claims is not None:
            claims["x-ms-runtime"] = runtime_claims
        if req.get("nonce") is not None:
            claims["nonce"] = req["nonce"]
        token = att.maa.sign_token(claims, self.signing_key, self.kid, jku=self.certs_url)
        self.issued += 1
        return 200, {"token": token}

    def _runtime_binding(self, report_data, runtime):
        if runtime is None:
            return
        if hashlib.sha256(runtime).digest() != bytes(report_data[:32]) or any(report_data[32:]):
            raise att.errors.VerificationError("runtimeData hash does not match the report data",
                                               check="runtime_data")

    def _verify_snp(self, req, runtime):
        store = self.trust_store()
        report = att.snp.parse(req["snp_report"])
        res = att.snp.verify(report, req["vcek_chain"], trusted_arks=store.amd_arks, trusted_asks=store.amd_asks,
                             allow_debug=True, expected_vmpl=None)
        self._runtime_binding(report.report_data, runtime)
        claims = att.snp.claims(report, res.product, res.tcb)
        claims["x-ms-attestation-type"] = "sevsnpvm"
        if not report.debug and report.vmpl == 0:
            claims["x-ms-compliance-status"] = COMPLIANT
        return claims

    def _verify_tdx(self, req, runtime):
        store = self.trust_store()
        quote = att.tdx.parse_quote(req["td_quote"])
        expected = None
        if runtime is not None:
            expected = hashlib.sha256(runtime).digest() + b"\0" * 32
        att.tdx.verify(quote, store.intel_roots, expected_report_data=expected, allow_debug=True)
        claims = att.tdx.claims(quote)
        claims["x-ms-attestation-type"] = "tdxvm"
        # Intel collateral is not evaluated offline; the simulator reports the platform as up to date.
        claims["attester_tcb_status"] = "UpToDate"
        if not quote.debug:
            claims["x-ms-compliance-status"] = COMPLIANT
        return claims
