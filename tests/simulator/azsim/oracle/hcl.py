"""Azure paravisor (HCL) evidence: the HCL report and its runtime claims (reference/attestation.md "HCL report
layout", Microsoft's CVM guest attestation docs).

The runtime claims JSON is bound to the hardware report by SHA-256: report_data[0:32] = SHA-256(claims bytes) and
report_data[32:64] = 0. Claims are parsed as strict JSON (no duplicate keys, size and depth bounded) and their shape
is checked: ``keys`` is a list of JWKs and holds ``HCLAkPub``, the vTPM attestation key (RSA), and
``vm-configuration`` is an object whose booleans are JSON booleans."""
from __future__ import annotations

import hashlib
import json

from .encoding import u32
from .errors import EvidenceError

MAX_CLAIMS = 16 * 1024
MAX_KEYS = 16
HCL_SIGNATURE = b"HCLA"
REPORT_TYPES = {2: ("snp", 0x20, 1184), 4: ("tdx", 0x20, 1024)}
BOOLEANS = ("secure-boot", "tpm-enabled", "console-enabled", "tpm-persisted")


def _no_duplicates(pairs):
    keys = [k for k, _v in pairs]
    if len(keys) != len(set(keys)):
        raise EvidenceError("runtime_data", "runtime claims repeat a key")
    return dict(pairs)


def _depth(value, limit=8):
    if limit == 0:
        raise EvidenceError("runtime_data", "runtime claims nest too deep")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _depth(child, limit - 1)


def parse_json(data: bytes, check="runtime_data", limit=MAX_CLAIMS):
    if len(data) > limit:
        raise EvidenceError(check, "%s larger than %d bytes" % (check, limit))
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise EvidenceError(check, "%s is not UTF-8 JSON" % check) from None
    _depth(value)
    return value


def check_binding(report_data: bytes, runtime: bytes):
    if hashlib.sha256(runtime).digest() != report_data[:32] or any(report_data[32:64]):
        raise EvidenceError("runtime_data", "SHA-256 of the runtime data is not the report's report_data")


def hcl_ak(claims):
    """The vTPM attestation key JWK (``HCLAkPub``) when ``claims`` have the HCL's shape, else None."""
    if not isinstance(claims, dict) or not isinstance(claims.get("vm-configuration"), dict):
        return None
    keys = claims.get("keys")
    if not isinstance(keys, list) or not 0 < len(keys) <= MAX_KEYS or not all(isinstance(k, dict) for k in keys):
        return None
    config = claims["vm-configuration"]
    if any(name in config and not isinstance(config[name], bool) for name in BOOLEANS):
        return None
    aks = [k for k in keys if k.get("kid") == "HCLAkPub"]
    if len(aks) != 1 or aks[0].get("kty") != "RSA":
        return None
    if not all(isinstance(aks[0].get(field), str) and aks[0][field] for field in ("n", "e")):
        return None
    return aks[0]


def parse_report(raw: bytes) -> dict:
    """HCL report (2048 or 2600 bytes): hardware report, its type and the runtime claims bytes, binding checked."""
    if not isinstance(raw, (bytes, bytearray)) or not 0x4D4 < len(raw) <= 8192 or raw[:4] != HCL_SIGNATURE:
        raise EvidenceError("hcl.report", "not an HCL report (signature 'HCLA', 0x4D5..8192 bytes)")
    raw = bytes(raw)
    report_type, hash_type, size = u32(raw, 0x4C8), u32(raw, 0x4CC), u32(raw, 0x4D0)
    if report_type not in REPORT_TYPES or hash_type != 1:
        raise EvidenceError("hcl.report", "HCL report type %d / hash type %d unsupported" % (report_type, hash_type))
    if size > len(raw) - 0x4D4:
        raise EvidenceError("hcl.report", "runtime claims size %d exceeds the report" % size)
    kind, off, hw_size = REPORT_TYPES[report_type]
    hw = raw[off:off + hw_size]
    runtime = raw[0x4D4:0x4D4 + size]
    report_data = hw[0x50:0x90] if kind == "snp" else hw[0x80:0xC0]
    check_binding(report_data, runtime)
    return {"kind": kind, "hw_report": hw, "runtime": runtime, "claims": parse_json(runtime)}
