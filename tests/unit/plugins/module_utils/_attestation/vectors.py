# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locate ../shared/vectors and turn the real Azure evidence files into attestation_evidence dicts."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import base64
import json
import os
import struct

CHALLENGE_HEX = b"challenge".hex()


def find_shared():
    """$CONFIDENTIAL_AZURE_SHARED, else walk up from this file looking for shared/vectors/MANIFEST.md."""
    env = os.environ.get("CONFIDENTIAL_AZURE_SHARED")
    cands = [env] if env else []
    d = os.path.dirname(os.path.abspath(__file__))
    while True:
        cands.append(os.path.join(d, "shared"))
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    cands.append("/work/shared")
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "vectors", "MANIFEST.md")):
            return c
    raise RuntimeError("shared vectors not found: set CONFIDENTIAL_AZURE_SHARED to the shared directory")


def vpath(*parts):
    return os.path.join(find_shared(), "vectors", *parts)


TRUSTEE = ("confidential-containers-trustee", "deps", "verifier")


def read(*parts):
    with open(vpath(*parts), "rb") as f:
        return f.read()


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def quote_from_bincode(raw):
    """trustee/kinvolk quote.bin: u64 len + sig, u64 len + TPMS_ATTEST, u64 count + 32-byte PCRs."""
    off = 0
    n = struct.unpack_from("<Q", raw, off)[0]
    sig = raw[off + 8:off + 8 + n]
    off += 8 + n
    n = struct.unpack_from("<Q", raw, off)[0]
    msg = raw[off + 8:off + 8 + n]
    off += 8 + n
    n = struct.unpack_from("<Q", raw, off)[0]
    off += 8
    pcrs = dict((str(i), raw[off + 32 * i:off + 32 * (i + 1)].hex()) for i in range(n))
    return {"message": b64(msg), "signature": b64(sig), "pcrs": pcrs}


def quote_from_hexjson(q):
    return {"message": b64(bytes.fromhex(q["message"])), "signature": b64(bytes.fromhex(q["signature"])),
            "pcrs": dict((str(i), p) for i, p in enumerate(q["pcrs"]))}


def quote_from_lists(q):
    return {"message": b64(bytes(q["message"])), "signature": b64(bytes(q["signature"])),
            "pcrs": dict((str(i), bytes(p).hex()) for i, p in enumerate(q["pcrs"]))}


def snp_evidence_v0():
    d = json.loads(read(*TRUSTEE + ("test_data", "az-snp-vtpm", "evidence-v0.json")))
    return {"hcl_report": b64(bytes(d["report"])), "tpm_quote": quote_from_lists(d["quote"]), "vcek": d["vcek"]}


def snp_evidence_v1():
    d = json.loads(read(*TRUSTEE + ("test_data", "az-snp-vtpm", "evidence-v1.json")))
    # vcek is base64url(DER) of the VCEK only: the ASK comes from the pinned built-ins
    return {"hcl_report": d["hcl_report"], "tpm_quote": quote_from_hexjson(d["tpm_quote"]), "vcek": d["vcek"]}


def snp_evidence_bin():
    q = json.loads(read(*TRUSTEE + ("test_data", "az-snp-vtpm", "tpm-quote-v1.json")))
    return {"hcl_report": b64(read(*TRUSTEE + ("test_data", "az-snp-vtpm", "hcl-report.bin"))),
            "tpm_quote": quote_from_hexjson(q),
            "vcek": read(*TRUSTEE + ("test_data", "az-snp-vtpm", "vcek.pem")).decode("ascii")}


def snp_evidence_bincode_quote():
    ev = snp_evidence_bin()
    ev["tpm_quote"] = quote_from_bincode(read(*TRUSTEE + ("test_data", "az-snp-vtpm", "quote.bin")))
    return ev


def tdx_evidence_v0():
    d = json.loads(read(*TRUSTEE + ("test_data", "az-tdx-vtpm", "evidence-v0.json")))
    return {"hcl_report": b64(bytes(d["hcl_report"])), "td_quote": b64(bytes(d["td_quote"])),
            "tpm_quote": quote_from_lists(d["tpm_quote"])}


def tdx_evidence_v1():
    d = json.loads(read(*TRUSTEE + ("test_data", "az-tdx-vtpm", "evidence-v1.json")))
    return {"hcl_report": d["hcl_report"], "td_quote": d["td_quote"], "tpm_quote": quote_from_hexjson(d["tpm_quote"])}


def tdx_evidence_bin():
    q = json.loads(read(*TRUSTEE + ("test_data", "az-tdx-vtpm", "tpm-quote-v1.json")))
    return {"hcl_report": b64(read(*TRUSTEE + ("test_data", "az-tdx-vtpm", "hcl-report.bin"))),
            "td_quote": b64(read(*TRUSTEE + ("test_data", "az-tdx-vtpm", "td-quote.bin"))),
            "tpm_quote": quote_from_hexjson(q)}


def tdx_evidence_bincode_quote():
    ev = tdx_evidence_bin()
    ev["tpm_quote"] = quote_from_bincode(read(*TRUSTEE + ("test_data", "az-tdx-vtpm", "quote.bin")))
    return ev


FLASHBOTS = ("flashbots-attested-tls-proxy", "attested-tls", "test-assets", "azure-tdx-1764662251380464271")
FLASHBOTS_NONCE_HEX = "00" * 32


def flashbots_tdx_evidence():
    d = json.loads(read(*FLASHBOTS))
    t = d["tpm_attestation"]
    return {"hcl_report": d["hcl_report_base64"], "td_quote": d["tdx_quote_base64"],
            "tpm_quote": quote_from_lists(t["quote"]),
            # the raw 4096-byte NV blob wrapped in PEM (zero padding inside)
            "ak_cert": t["ak_certificate_pem"]}
