# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft Azure Attestation (MAA): platform requests and token (JWT) verification.

Pure: builds request bodies and verifies RS256 tokens against a JWKS (MAA's own side, decoding a request and
signing a token, lives in the tests). The HTTP calls are made by the caller (the module uses Ansible's open_url).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import json
import math
import time

from .certs import HAS_CRYPTOGRAPHY, cert_public_key, load_any
from .errors import ParseError, TokenError, VerificationError
from .util import b64decode, b64url

if HAS_CRYPTOGRAPHY:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

KINDS = {"snp": "SevSnpVm", "tdx": "TdxVm"}
DEFAULT_API_VERSIONS = {"SevSnpVm": "2022-08-01", "TdxVm": "2025-06-01"}
DEFAULT_LEEWAY = 60
MAX_TOKEN_SIZE = 1024 * 1024


def attest_path(kind, api_version=None):
    kind = KINDS.get(kind, kind)
    if kind not in DEFAULT_API_VERSIONS:
        raise ParseError("unsupported MAA attestation kind %r" % kind)
    return "/attest/%s?api-version=%s" % (kind, api_version or DEFAULT_API_VERSIONS[kind])


def certs_url(endpoint):
    return endpoint.rstrip("/") + "/certs"


def vcek_chain_pem(vcek):
    """Evidence `vcek` (PEM chain string, THIM JSON string or dict) -> PEM chain text."""
    if isinstance(vcek, str) and vcek.strip().startswith("{"):
        try:
            vcek = json.loads(vcek)
        except ValueError:
            raise ParseError("vcek: invalid THIM JSON")
    if isinstance(vcek, dict):
        cert = vcek.get("vcekCert") or ""
        chain = vcek.get("certificateChain") or ""
        if not cert:
            raise ParseError("vcek: THIM JSON without vcekCert")
        return cert.strip() + "\n" + chain.strip() + "\n"
    if isinstance(vcek, str):
        if "-----BEGIN" in vcek:
            return vcek
        # base64 DER (as in some evidence formats): convert to PEM
        from .certs import to_pem  # noqa: local import keeps module import light
        return "".join(to_pem(c) for c in load_any(vcek, "vcek"))
    raise ParseError("vcek must be a PEM chain or THIM JSON")


def build_request(kind, evidence, nonce=None):
    """MAA platform request body for ``kind`` 'SevSnpVm'|'TdxVm' (or 'snp'|'tdx').

    ``evidence`` holds bytes: ``hcl_report`` (or ``snp_report`` + ``runtime_data``) / ``td_quote``;
    ``vcek`` PEM chain or THIM JSON for SNP. Base64 strings are accepted too.
    """
    from . import hcl as hcl_mod
    kind = KINDS.get(kind, kind)
    ev = dict(evidence)
    runtime = ev.get("runtime_data")
    hw = ev.get("snp_report")
    if ev.get("hcl_report") is not None:
        raw = ev["hcl_report"]
        if isinstance(raw, str):
            raw = b64decode(raw, "hcl_report")
        rep = hcl_mod.parse(raw)
        runtime = rep.claims_bytes
        hw = rep.hw_report
    if runtime is None:
        raise ParseError("MAA request: runtime claims are required")
    body = {"runtimeData": {"data": b64url(runtime), "dataType": "JSON"}}
    if kind == "SevSnpVm":
        if hw is None:
            raise ParseError("MAA SevSnpVm request: SNP report is required")
        if ev.get("vcek") is None:
            raise ParseError("MAA SevSnpVm request: VCEK chain is required")
        report = json.dumps({"SnpReport": b64url(bytes(hw)[:1184]),
                             "VcekCertChain": b64url(vcek_chain_pem(ev["vcek"]).encode("ascii"))},
                            separators=(",", ":"))
        body["report"] = b64url(report.encode("utf-8"))
    elif kind == "TdxVm":
        quote = ev.get("td_quote")
        if quote is None:
            raise ParseError("MAA TdxVm request: TD quote is required")
        if isinstance(quote, str):
            quote = b64decode(quote, "td_quote")
        body["quote"] = b64url(quote)
    else:
        raise ParseError("unsupported MAA attestation kind %r" % kind)
    if nonce is not None:
        body["nonce"] = nonce
    return body


def _json_part(text, what):
    try:
        data = json.loads(b64decode(text, what).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, ParseError):
        raise TokenError("token %s is not base64url(JSON)" % what, check="maa.token")
    if not isinstance(data, dict):
        raise TokenError("token %s is not a JSON object" % what, check="maa.token")
    return data


def decode_unverified(token):
    """(header, payload) WITHOUT verification - for display and tests only."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_SIZE:
        raise TokenError("not a compact JWS token", check="maa.token")
    h, p, dummy = token.split(".")
    return _json_part(h, "header"), _json_part(p, "payload")


def jwk_public_key(jwk):
    if not isinstance(jwk, dict):
        raise TokenError("JWKS entry is not an object", check="maa.token")
    x5c = jwk.get("x5c")
    if x5c:
        if not isinstance(x5c, list) or not isinstance(x5c[0], str):
            raise TokenError("JWKS x5c must be a list of base64 certificates", check="maa.token")
        try:
            return cert_public_key(load_any(x5c[0], "x5c")[0], check="maa.token")
        except (ParseError, VerificationError) as exc:
            raise TokenError("JWKS x5c: %s" % exc, check="maa.token")
    if jwk.get("kty") == "RSA" and jwk.get("n") and jwk.get("e"):
        try:
            return rsa.RSAPublicNumbers(int.from_bytes(b64decode(jwk["e"]), "big"),
                                        int.from_bytes(b64decode(jwk["n"]), "big")).public_key()
        except (ParseError, ValueError) as exc:
            raise TokenError("JWKS RSA key invalid: %s" % exc, check="maa.token")
    raise TokenError("JWKS entry has no usable key", check="maa.token")


def _finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _norm_url(url):
    if url is not None and not isinstance(url, str):
        raise TokenError("token URL claim %r is not a string" % (url,), check="maa.token")
    return (url or "").strip().rstrip("/").lower()


def verify_token(jwt, jwks, issuer, nonce=None, now=None, certs_url_expected=None, leeway=DEFAULT_LEEWAY):
    """Verify an MAA token; return its claims. Raises TokenError (check 'maa.token').

    RS256 only (``none``, HS*, ES*, PS* rejected); the key is the JWKS entry whose ``kid`` matches;
    ``jku`` (if present) must equal the configured certs URL (default ``issuer + '/certs'``);
    ``iss`` must equal ``issuer``; ``exp`` required and in the future, ``nbf`` not in the future
    (``leeway`` seconds of clock skew); ``nonce`` (if given) must equal the token's nonce claim.
    """
    if not HAS_CRYPTOGRAPHY:
        raise TokenError("the cryptography Python package is required", check="maa.token")
    header, payload = decode_unverified(jwt)
    alg = header.get("alg")
    if alg != "RS256":
        raise TokenError("token algorithm %r is not allowed (RS256 only)" % (alg,), check="maa.token")
    if header.get("crit"):
        raise TokenError("token has critical header parameters", check="maa.token")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("token has no key id (kid)", check="maa.token")
    expected_jku = certs_url_expected or certs_url(issuer)
    if "jku" in header and _norm_url(header["jku"]) != _norm_url(expected_jku):
        raise TokenError("token jku %r is not the configured certs URL %r" % (header["jku"], expected_jku),
                         check="maa.token")
    keys = (jwks or {}).get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise TokenError("JWKS has no 'keys' list", check="maa.token")
    matches = [k for k in keys if isinstance(k, dict) and k.get("kid") == kid]
    if not matches:
        raise TokenError("no signing key with kid %r at %s" % (kid, expected_jku), check="maa.token")
    key = jwk_public_key(matches[0])
    if not isinstance(key, rsa.RSAPublicKey):
        raise TokenError("signing key for kid %r is not RSA" % kid, check="maa.token")
    signing_input, dummy, sig_b64 = jwt.rpartition(".")
    try:
        sig = b64decode(sig_b64, "signature")
    except ParseError:
        raise TokenError("token signature is not base64url", check="maa.token")
    try:
        key.verify(sig, signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise TokenError("token signature does not verify", check="maa.token")
    if now is None:
        now = time.time()
    if _norm_url(payload.get("iss")) != _norm_url(issuer):
        raise TokenError("token issuer %r is not %r" % (payload.get("iss"), issuer), check="maa.token")
    exp = payload.get("exp")
    if not _finite_number(exp):
        raise TokenError("token has no valid expiry (exp)", check="maa.token")
    if now > exp + leeway:
        raise TokenError("token expired at %d (now %d)" % (exp, now), check="maa.token")
    nbf = payload.get("nbf")
    if nbf is not None:
        if not _finite_number(nbf):
            raise TokenError("token nbf is not a finite number", check="maa.token")
        if now + leeway < nbf:
            raise TokenError("token not valid before %d (now %d)" % (nbf, now), check="maa.token")
    if nonce is not None:
        got = payload.get("nonce")
        if got is None:
            rt = payload.get("x-ms-runtime")
            cp = rt.get("client-payload") if isinstance(rt, dict) else None
            got = cp.get("nonce") if isinstance(cp, dict) else None
        if got != nonce:
            raise TokenError("token nonce %r does not match the request nonce" % (got,), check="maa.token")
    return payload
