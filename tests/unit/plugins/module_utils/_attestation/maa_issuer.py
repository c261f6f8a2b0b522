# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MAA's side of the exchange, for tests only: decode a platform request body and issue an RS256 token."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import ParseError
from ansible_collections.confidential.azure.plugins.module_utils._attestation.maa import KINDS
from ansible_collections.confidential.azure.plugins.module_utils._attestation.util import b64decode, b64url


def parse_request(kind, body):
    """Decode a platform request body -> dict (snp_report, vcek_chain | td_quote, runtime_data, nonce)."""
    kind = KINDS.get(kind, kind)
    if not isinstance(body, dict):
        raise ParseError("request body must be a JSON object")
    rd = body.get("runtimeData")
    out = {"nonce": body.get("nonce"), "runtime_data": None}
    if rd is not None:
        if not isinstance(rd, dict) or not isinstance(rd.get("data"), str):
            raise ParseError("runtimeData.data must be a base64url string")
        out["runtime_data"] = b64decode(rd["data"], "runtimeData.data")
        out["runtime_data_type"] = rd.get("dataType", "Binary")
    if kind == "SevSnpVm":
        if not isinstance(body.get("report"), str):
            raise ParseError("'report' is required")
        try:
            inner = json.loads(b64decode(body["report"], "report").decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ParseError("'report' is not base64url(JSON)")
        if not isinstance(inner, dict) or not isinstance(inner.get("SnpReport"), str) \
                or not isinstance(inner.get("VcekCertChain"), str):
            raise ParseError("'report' must carry SnpReport and VcekCertChain")
        out["snp_report"] = b64decode(inner["SnpReport"], "SnpReport")
        try:
            out["vcek_chain"] = b64decode(inner["VcekCertChain"], "VcekCertChain").decode("ascii")
        except UnicodeDecodeError:
            raise ParseError("VcekCertChain is not PEM text")
    elif kind == "TdxVm":
        if not isinstance(body.get("quote"), str):
            raise ParseError("'quote' is required")
        out["td_quote"] = b64decode(body["quote"], "quote")
    else:
        raise ParseError("unsupported MAA attestation kind %r" % kind)
    return out


def sign_token(claims, private_key, kid, jku=None, x5c=None):
    """Issue an RS256 JWT as MAA does."""
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    if jku:
        header["jku"] = jku
    if x5c:
        header["x5c"] = x5c
    signing_input = b64url(json.dumps(header, separators=(",", ":"))) + "." + \
        b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True))
    sig = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)
