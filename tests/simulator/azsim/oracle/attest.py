"""What Microsoft Azure Attestation does with a platform attestation request (``/attest/SevSnpVm``,
``/attest/TdxVm``; REST spec attestation/data-plane 2025-06-01 ``AttestSevSnpVmRequest`` / ``AttestTdxVmRequest``)
and the claims it issues (MAA docs "Claim sets", the TDX EAT profile, real tokens in ../shared/vectors).

- The request is decoded with bounded sizes; ``runtimeData`` is bound by SHA-256 to the report's report_data
  (first 32 bytes, the rest zero); ``initTimeData`` of an SNP request is bound by SHA-256 to host_data.
- The hardware evidence is verified by ``snp.verify`` / ``tdx.verify``.
- ``x-ms-compliance-status: azure-compliant-cvm`` is issued only when the evidence proves an Azure confidential VM:
  JSON runtime data bound to the report with the HCL's shape (the vTPM attestation key ``HCLAkPub``,
  ``vm-configuration`` with ``tpm-enabled: true``), the paravisor's VMPL 0 (SNP), no debug, no migration agent (SNP
  MIGRATE_MA). Anything else still gets a token with the TEE claims, but without compliance status.
- Platform tokens carry the TEE claims at top level (reference/attestation.md: "Platform (SevSnpVm) tokens carry the
  same SNP claims at top level"); ``x-ms-isolation-tee`` is the AzureGuest endpoint's wrapper, which the simulator
  does not offer, so a policy on ``x-ms-isolation-tee.*`` is not satisfied by these tokens, as with real MAA.
- TDX tokens carry ``attester_tcb_status`` when Intel's collateral grades the TCB (``tdx_tcb``).
"""
from __future__ import annotations

import hashlib

from . import hcl, snp, tdx
from .encoding import b64_any
from .errors import EvidenceError

MAX_REPORT_FIELD = 64 * 1024
MAX_NONCE = 1024
COMPLIANT = "azure-compliant-cvm"
TD_ATTRIBUTE_BITS = {"debug": 0, "septve_disable": 28, "migratable": 29, "protection_keys": 30,
                     "key_locker": 31, "perfmon": 63}


def _data_field(body, name, limit):
    field = body.get(name)
    if field is None:
        return None, None
    if not isinstance(field, dict) or not isinstance(field.get("data"), str):
        raise EvidenceError(name, "%s must be an object with a base64url 'data'" % name)
    kind = field.get("dataType", "Binary")
    if not isinstance(kind, str) or kind.lower() not in ("json", "binary"):
        raise EvidenceError(name, "%s.dataType must be 'JSON' or 'Binary'" % name)
    return b64_any(field["data"], name, limit), kind.lower()


def _common(body):
    if not isinstance(body, dict):
        raise EvidenceError("request", "the request body must be a JSON object")
    if body.get("draftPolicyForAttestation") is not None:
        raise EvidenceError("request", "draftPolicyForAttestation is not supported by this attestation provider")
    nonce = body.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce) > MAX_NONCE):
        raise EvidenceError("nonce", "nonce must be a string of at most %d characters" % MAX_NONCE)
    runtime, kind = _data_field(body, "runtimeData", hcl.MAX_CLAIMS)
    claims = hcl.parse_json(runtime) if runtime is not None and kind == "json" else None
    return nonce, runtime, claims


def parse_snp_request(body) -> dict:
    nonce, runtime, claims = _common(body)
    if not isinstance(body.get("report"), str):
        raise EvidenceError("report", "report (base64url JSON with SnpReport and VcekCertChain) is required")
    outer = hcl.parse_json(b64_any(body["report"], "report", MAX_REPORT_FIELD), "report", MAX_REPORT_FIELD)
    if not isinstance(outer, dict) or not isinstance(outer.get("SnpReport"), str) or \
            not isinstance(outer.get("VcekCertChain"), str):
        raise EvidenceError("report", "report must decode to JSON with SnpReport and VcekCertChain")
    init, _kind = _data_field(body, "initTimeData", 4096)
    return {"report": b64_any(outer["SnpReport"], "SnpReport", 4096),
            "chain": b64_any(outer["VcekCertChain"], "VcekCertChain", MAX_REPORT_FIELD),
            "init": init, "nonce": nonce, "runtime": runtime, "runtime_claims": claims}


def parse_tdx_request(body) -> dict:
    nonce, runtime, claims = _common(body)
    if not isinstance(body.get("quote"), str):
        raise EvidenceError("quote", "quote (base64url TD quote) is required")
    if body.get("initTimeData") is not None:
        raise EvidenceError("initTimeData", "initTimeData is not supported for TDX VMs by this attestation provider")
    return {"quote": b64_any(body["quote"], "quote", tdx.MAX_QUOTE), "nonce": nonce, "runtime": runtime,
            "runtime_claims": claims}


def _hex(b):
    return bytes(b).hex()


def _azure_cvm(req) -> bool:
    """Runtime data bound to the report with the HCL's shape: the vTPM-held AK, TPM enabled."""
    claims = req["runtime_claims"]
    return hcl.hcl_ak(claims) is not None and claims["vm-configuration"].get("tpm-enabled") is True


def snp_claims(rep) -> dict:
    pre = "x-ms-sevsnpvm-"
    out = {pre + "authorkeydigest": _hex(rep["author_key_digest"]), pre + "familyId": _hex(rep["family_id"]),
           pre + "guestsvn": rep["guest_svn"], pre + "hostdata": _hex(rep["host_data"]),
           pre + "idkeydigest": _hex(rep["id_key_digest"]), pre + "imageId": _hex(rep["image_id"]),
           pre + "launchmeasurement": _hex(rep["measurement"]), pre + "reportdata": _hex(rep["report_data"]),
           pre + "reportid": _hex(rep["report_id"]), pre + "vmpl": rep["vmpl"],
           pre + "bootloader-svn": rep["tcb"]["bootloader"], pre + "tee-svn": rep["tcb"]["tee"],
           pre + "snpfw-svn": rep["tcb"]["snp"], pre + "microcode-svn": rep["tcb"]["microcode"]}
    for name, bit in snp.POLICY_BITS.items():
        out[pre + name] = bool(rep["policy"] >> bit & 1)
    return out


def tdx_claims(quote) -> dict:
    out = dict(("tdx_" + name, _hex(quote[name])) for name, _o, _n in tdx.TD_FIELDS)
    attrs = int.from_bytes(quote["td_attributes"], "little")
    for name, bit in TD_ATTRIBUTE_BITS.items():
        out["tdx_td_attributes_" + name] = bool(attrs >> bit & 1)
    out["dbgstat"] = "enabled" if quote["debug"] else "disabled-since-boot"
    return out


def _finish(kind, claims, req, compliant) -> dict:
    claims["x-ms-attestation-type"] = kind
    if req["runtime_claims"] is not None:
        claims["x-ms-runtime"] = req["runtime_claims"]
    if compliant:
        claims["x-ms-compliance-status"] = COMPLIANT
    if req["nonce"] is not None:
        claims["nonce"] = req["nonce"]
    return claims


def attest_snp(body, trust, now) -> dict:
    """Claims for a verified /attest/SevSnpVm request (no JWT fields); raises EvidenceError."""
    req = parse_snp_request(body)
    rep = snp.verify(req["report"], req["chain"], trust, now)
    if req["runtime"] is not None:
        hcl.check_binding(rep["report_data"], req["runtime"])
    if req["init"] is not None and hashlib.sha256(req["init"]).digest() != rep["host_data"]:
        raise EvidenceError("initTimeData", "SHA-256 of initTimeData is not the report's host_data")
    claims = snp_claims(rep)
    compliant = _azure_cvm(req) and rep["vmpl"] == 0 and not rep["policy"] >> 19 & 1 and not rep["policy"] >> 18 & 1
    return _finish("sevsnpvm", claims, req, compliant)


def attest_tdx(body, trust, now) -> dict:
    """Claims for a verified /attest/TdxVm request (no JWT fields); raises EvidenceError."""
    req = parse_tdx_request(body)
    quote = tdx.verify(req["quote"], trust, now)
    if req["runtime"] is not None:
        hcl.check_binding(quote["report_data"], req["runtime"])
    claims = tdx_claims(quote)
    if quote["tcb_status"] is not None:
        claims["attester_tcb_status"] = quote["tcb_status"]
    compliant = _azure_cvm(req) and not quote["debug"]
    return _finish("tdxvm", claims, req, compliant)


CLAIM_NAMES = tuple(["x-ms-attestation-type", "x-ms-compliance-status", "x-ms-runtime", "attester_tcb_status",
                     "dbgstat"] +
                    ["x-ms-sevsnpvm-" + n for n in ("authorkeydigest", "familyId", "guestsvn", "hostdata",
                                                    "idkeydigest", "imageId", "launchmeasurement", "reportdata",
                                                    "reportid", "vmpl", "bootloader-svn", "tee-svn", "snpfw-svn",
                                                    "microcode-svn")] +
                    ["x-ms-sevsnpvm-" + n for n in snp.POLICY_BITS] +
                    ["tdx_" + n for n, _o, _s in tdx.TD_FIELDS] +
                    ["tdx_td_attributes_" + n for n in TD_ATTRIBUTE_BITS])


def claim_names(claims) -> list:
    """Sorted top-level claim names (for reports and tests)."""
    return sorted(claims)


__all__ = ["attest_snp", "attest_tdx", "parse_snp_request", "parse_tdx_request"]
