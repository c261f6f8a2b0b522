"""HTTP glue for the simulated Microsoft Azure Attestation shared providers (logic lives in azsim.maa)."""
from __future__ import annotations

import time

from cryptography.hazmat.primitives import serialization

from . import jwt
from .core import ApiError, Response


class Attestation:
    def __init__(self, sim):
        self.sim = sim
        self.services: dict[str, object] = {}
        self.extra_roots: list[bytes] = []
        self._key = None
        self._cert_pem = None

    def reset(self):
        self.services = {}
        self.extra_roots = []

    def _signing(self):
        if self._key is None:
            from .pki import rsa_key, self_signed
            self._key = rsa_key(2048)
            self._cert_pem = self_signed(self._key, "azsim attestation signing", ca=False).public_bytes(
                serialization.Encoding.PEM)
        return self._key, self._cert_pem

    def service(self, provider: str):
        provider = provider.lower()
        if provider in self.services:
            return self.services[provider]
        try:
            from .maa import MaaService
        except ImportError:
            raise ApiError(501, "NotImplemented", "The attestation service logic (azsim.maa) is not available.")
        loc = provider[len("shared"):] if provider.startswith("shared") else provider
        key, cert = self._signing()
        svc = MaaService(self.sim.attestation_endpoint(loc), key, cert, list(self.extra_roots))
        self.services[provider] = svc
        return svc

    def add_trust_root(self, req) -> Response:
        pem = req.body
        try:
            from .oracle.encoding import pem_certificates
            from .oracle.errors import EvidenceError
            pem_certificates(pem, "trust root", max_certs=4)
        except EvidenceError as exc:
            raise ApiError(400, "InvalidCertificate", "POST PEM certificates (%s)." % exc)
        self.extra_roots.append(pem)
        for svc in self.services.values():
            svc.add_trust_root(pem)
        return Response(201, {"trust_roots_added": len(self.extra_roots)})

    def handle(self, req) -> Response:
        parts = [p for p in req.path.split("/") if p]   # attestation/<provider>/...
        if len(parts) < 2:
            raise ApiError(404, "NotFound", "Unknown attestation provider.")
        provider, rest = parts[1], "/".join(parts[2:])
        svc = self.service(provider)
        if req.method == "GET" and rest == ".well-known/openid-configuration":
            return Response(200, svc.openid_configuration())
        if req.method == "GET" and rest == "certs":
            return Response(200, svc.jwks())
        if req.method == "POST" and rest.lower() in ("attest/sevsnpvm", "attest/tdxvm"):
            kind = "SevSnpVm" if rest.lower().endswith("sevsnpvm") else "TdxVm"
            version = req.api_version
            if not version:
                raise ApiError(400, "InvalidParameter", "The api-version query parameter is required.")
            status, body = svc.attest(kind, version, req.json())
            return Response(status, body)
        if req.method == "POST" and rest.lower() == "attest/azureguest":
            from .maa_guest import attest
            return Response(*attest(svc, req.api_version, req.json()))
        raise ApiError(404, "NotFound", "No such attestation endpoint: %s %s" % (req.method, rest))

    def verify_token(self, token: str):
        """Claims of an attestation token issued by one of our providers (RS256 signature by the provider key,
        ``iss`` one of our providers, ``nbf`` <= now < ``exp``), else None. Key Vault evaluates a release policy only
        against a token it verified this way."""
        try:
            _h, claims = jwt.decode_unverified(token)
        except jwt.JwtError:
            return None
        iss = str(claims.get("iss", "")).rstrip("/")
        base = self.sim.base_url + "/attestation/"
        if not iss.startswith(base):
            return None
        key, _cert = self._signing()
        try:
            claims = jwt.verify(token, key.public_key())
        except jwt.JwtError:
            return None
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)) or not nbf - 60 <= now < exp:
            return None
        return claims
