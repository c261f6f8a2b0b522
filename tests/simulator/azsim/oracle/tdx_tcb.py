"""Intel TDX TCB status from Intel's signed collateral (Intel PCS API "TCB Info V3" for TDX, and the DCAP quote
verification rules for TDX: platform TCB level, TDX module identity, QE identity).

- Platform level: the first TCB level (Intel orders them newest first) whose 16 SGX component SVNs and PCESVN are
  <= the PCK certificate's (SGX extension OID 1.2.840.113741.1.13.1.2) and whose 16 TDX component SVNs are <= the
  quote's TEE_TCB_SVN (bytes 0 and 1 skipped when TEE_TCB_SVN[1] > 0: the module identity grades them). Needs the TCB
  info for the PCK certificate's FMSPC; the simulator pins the one Intel collateral found in the public vectors.
- TDX module identity ``TDX_<TEE_TCB_SVN[1]>``: MRSIGNERSEAM / SEAM attributes and the first level with
  isvsvn <= TEE_TCB_SVN[0].
- Result: a platform below every TCB level Intel lists, an unknown module identity or a Revoked part is refused
  (DCAP's "TCB level not supported" / "revoked" are verification failures, so MAA issues no token); else the platform
  status if not UpToDate, else "OutOfDate" if the module or QE is not UpToDate, else "UpToDate". Without TCB info for
  the FMSPC only a definite "OutOfDate" (from the module or QE) can be stated; otherwise the status is unknown (None)
  and the token carries no ``attester_tcb_status``. The collateral's nextUpdate date is not enforced (the vectors'
  collateral is historical).
"""
from __future__ import annotations

from .errors import EvidenceError

SGX_EXT = "1.2.840.113741.1.13.1"
_OID_TCB = bytes.fromhex("2a864886f84d010d0102")        # 1.2.840.113741.1.13.1.2
_OID_FMSPC = bytes.fromhex("2a864886f84d010d0104")      # 1.2.840.113741.1.13.1.4


def _tlvs(data: bytes, limit=64):
    """(tag, value) items of a DER sequence body; short and long (1-2 byte) lengths only."""
    out, pos = [], 0
    while pos < len(data):
        if len(out) == limit or pos + 2 > len(data):
            raise EvidenceError("tdx.pck_chain", "malformed PCK SGX extension")
        tag, n, pos = data[pos], data[pos + 1], pos + 2
        if n & 0x80:
            width = n & 0x7F
            if width not in (1, 2) or pos + width > len(data):
                raise EvidenceError("tdx.pck_chain", "malformed PCK SGX extension")
            n, pos = int.from_bytes(data[pos:pos + width], "big"), pos + width
        if pos + n > len(data):
            raise EvidenceError("tdx.pck_chain", "malformed PCK SGX extension")
        out.append((tag, data[pos:pos + n]))
        pos += n
    return out


def _pairs(seq_body):
    """{oid bytes: (tag, value)} of a SEQUENCE OF SEQUENCE { OID, value }."""
    out = {}
    for tag, item in _tlvs(seq_body):
        inner = _tlvs(item, 2) if tag == 0x30 else []
        if len(inner) == 2 and inner[0][0] == 0x06:
            out[inner[0][1]] = inner[1]
    return out


def pck_tcb(pck_cert) -> dict:
    """FMSPC (hex), the 16 SGX component SVNs and PCESVN from the PCK certificate's SGX extension."""
    from cryptography import x509
    try:
        raw = pck_cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXT)).value.value
    except x509.ExtensionNotFound:
        raise EvidenceError("tdx.pck_chain", "the PCK certificate has no SGX extension") from None
    top = _tlvs(raw, 2)
    if len(top) != 1 or top[0][0] != 0x30:
        raise EvidenceError("tdx.pck_chain", "malformed PCK SGX extension")
    fields = _pairs(top[0][1])
    tcb, fmspc = fields.get(_OID_TCB), fields.get(_OID_FMSPC)
    if not tcb or tcb[0] != 0x30 or not fmspc or fmspc[0] != 0x04:
        raise EvidenceError("tdx.pck_chain", "the PCK certificate's SGX extension lacks TCB or FMSPC")
    comps = _pairs(tcb[1])
    svn = {}
    for oid, (tag, value) in comps.items():
        if oid[:-1] == _OID_TCB and tag == 0x02 and len(value) <= 2:
            svn[oid[-1]] = int.from_bytes(value, "big")
    if any(i not in svn for i in range(1, 18)):
        raise EvidenceError("tdx.pck_chain", "the PCK certificate's TCB lacks component SVNs")
    return {"fmspc": fmspc[1].hex(), "sgx": [svn[i] for i in range(1, 17)], "pcesvn": svn[17]}


def _module_status(tee, identities):
    if tee[1] == 0:
        return "UpToDate"
    ident = next((m for m in identities if m["id"] == "TDX_%02X" % tee[1]), None)
    if ident is None:
        raise EvidenceError("tdx.tcb", "no TDX module identity TDX_%02X in Intel's TCB info" % tee[1])
    for level in ident["tcbLevels"]:
        if tee[0] >= level["isvsvn"]:
            return level["tcbStatus"]
    raise EvidenceError("tdx.tcb", "TDX module SVN %d is below every level of TDX_%02X" % (tee[0], tee[1]))


def _platform_status(tee, pck, info):
    skip = 2 if tee[1] > 0 else 0
    for level in info["tcbLevels"]:
        if all(a >= b for a, b in zip(pck["sgx"], level["sgx"])) and pck["pcesvn"] >= level["pcesvn"] and \
                all(tee[i] >= level["tdx"][i] for i in range(skip, 16)):
            return level["tcbStatus"]
    raise EvidenceError("tdx.tcb", "the platform TCB (FMSPC %s) is below every TCB level of Intel's TCB info" %
                        pck["fmspc"])


def status(quote, pck_cert, collateral, qe_status):
    """attester_tcb_status for a verified quote, or None when Intel's collateral for it is not pinned."""
    tee = quote["tee_tcb_svn"]
    pck = pck_tcb(pck_cert)
    info = collateral.get(pck["fmspc"])
    identities = info["tdxModuleIdentities"] if info else next(iter(collateral.values()))["tdxModuleIdentities"]
    module = _module_status(tee, identities)
    parts = [module, qe_status]
    if info is not None:
        parts.insert(0, _platform_status(tee, pck, info))
    if "Revoked" in parts:
        raise EvidenceError("tdx.tcb", "Intel's TCB info marks this TCB as Revoked")
    if info is not None and parts[0] != "UpToDate":
        return parts[0]
    if any(p != "UpToDate" for p in parts):
        return "OutOfDate"
    return "UpToDate" if info is not None else None
