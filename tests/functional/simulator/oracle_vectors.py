"""Real Azure CVM evidence from ../shared/vectors (see its MANIFEST.md) as MAA platform attestation requests.

Built from the vector files directly, with the simulator's own HCL parser: nothing here touches plugins/."""
from __future__ import annotations

import base64
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "tests", "simulator"))
from azsim.oracle import hcl  # noqa: E402  pylint: disable=wrong-import-position
sys.path.pop(0)

TRUSTEE = ("confidential-containers-trustee", "deps", "verifier")


def shared() -> str:
    env = os.environ.get("CONFIDENTIAL_AZURE_SHARED")
    cands = [env] if env else []
    d = REPO
    for dummy in range(6):
        d = os.path.dirname(d)
        cands.append(os.path.join(d, "shared"))
    cands.append("/work/shared")
    for cand in cands:
        if cand and os.path.isfile(os.path.join(cand, "vectors", "MANIFEST.md")):
            return cand
    raise RuntimeError("shared vectors not found: set CONFIDENTIAL_AZURE_SHARED")


def read(*parts) -> bytes:
    with open(os.path.join(shared(), "vectors", *parts), "rb") as fh:
        return fh.read()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def snp_request(report: bytes, chain_pem: bytes, runtime: bytes | None, nonce="azsim-test", **extra) -> dict:
    body = {"report": b64u(json.dumps({"SnpReport": b64u(report), "VcekCertChain": b64u(chain_pem)}).encode())}
    if runtime is not None:
        body["runtimeData"] = {"data": b64u(runtime), "dataType": "JSON"}
    if nonce is not None:
        body["nonce"] = nonce
    body.update(extra)
    return body


def tdx_request(quote: bytes, runtime: bytes | None, nonce="azsim-test") -> dict:
    body = {"quote": b64u(quote)}
    if runtime is not None:
        body["runtimeData"] = {"data": b64u(runtime), "dataType": "JSON"}
    if nonce is not None:
        body["nonce"] = nonce
    return body


def _pem(der: bytes) -> bytes:
    lines = [base64.b64encode(der[i:i + 48]) for i in range(0, len(der), 48)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


def milan_ask_ark() -> bytes:
    return read("virtee-sev", "src", "certs", "snp", "builtin", "milan", "ask.pem") + \
        read("virtee-sev", "src", "certs", "snp", "builtin", "milan", "ark.pem")


def snp_v1():
    """trustee az-snp-vtpm evidence-v1: Azure SNP CVM (Milan, report v3); -> (hcl dict, VCEK+ASK+ARK PEM)."""
    ev = json.loads(read(*TRUSTEE, "test_data", "az-snp-vtpm", "evidence-v1.json"))
    parsed = hcl.parse_report(_b64u_decode(ev["hcl_report"]))
    return parsed, _pem(_b64u_decode(ev["vcek"])) + milan_ask_ark()


def snp_bin():
    """trustee az-snp-vtpm hcl-report.bin + vcek.pem (Milan, report v2)."""
    parsed = hcl.parse_report(read(*TRUSTEE, "test_data", "az-snp-vtpm", "hcl-report.bin"))
    return parsed, read(*TRUSTEE, "test_data", "az-snp-vtpm", "vcek.pem")


def tdx_trustee():
    """trustee az-tdx-vtpm hcl-report.bin + td-quote.bin (Azure TDX CVM, quote v4)."""
    parsed = hcl.parse_report(read(*TRUSTEE, "test_data", "az-tdx-vtpm", "hcl-report.bin"))
    return parsed, read(*TRUSTEE, "test_data", "az-tdx-vtpm", "td-quote.bin")


def snp_attestation_request(nonce="azsim-test") -> dict:
    parsed, chain = snp_v1()
    return snp_request(parsed["hw_report"], chain, parsed["runtime"], nonce=nonce)


def tdx_attestation_request(nonce="azsim-test") -> dict:
    parsed, quote = tdx_trustee()
    return tdx_request(quote, parsed["runtime"], nonce=nonce)
