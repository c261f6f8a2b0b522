"""Intel TDX quote v4/v5: parse and verify (Intel "TDX DCAP Quoting Library API", appendix A.3 "Quote Format":
Quote Header, TD Quote Body (TDX 1.0 584 bytes / TDX 1.5 648 bytes), ECDSA 256-bit Quote Signature Data with
certification data type 6 (QE report certification data) nesting type 5 (PCK certificate chain, PEM)).

Checks: version 4 or 5, attestation key type 2 (ECDSA-256-with-P-256), TEE type 0x81; the quote signature by the
attestation key over header + body; the QE report signature by the PCK key; the attestation key bound by the QE
(QE report_data = SHA-256(attestation key || QE authentication data) || 32 zero bytes); the PCK chain to the pinned
Intel SGX Root CA, every certificate valid now; the QE is Intel's TD quoting enclave (TD_QE identity from Intel's
signed collateral: MRSIGNER, ISVPRODID, MISCSELECT/ATTRIBUTES under their masks, ISVSVN at an identity TCB level);
the TDX module is Intel's (MRSIGNERSEAM and SEAM_ATTRIBUTES under its mask equal TCB info ``tdxModule``); TEE_TCB_SVN
is not all zero. The TCB status is graded by ``tdx_tcb`` from Intel's TCB info.
Bytes after the signature data must be zero padding (real Azure quotes carry some)."""
from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from . import certs, tdx_tcb
from .encoding import pem_certificates, u16, u32
from .errors import EvidenceError

MAX_QUOTE = 16 * 1024
HEADER = 48
BODY_SIZES = {2: 584, 3: 648}        # v5 body types: 2 = TDX 1.0, 3 = TDX 1.5
QE_REPORT = 384
TD_FIELDS = (("tee_tcb_svn", 0, 16), ("mrseam", 16, 48), ("mrsignerseam", 64, 48), ("seam_attributes", 112, 8),
             ("td_attributes", 120, 8), ("xfam", 128, 8), ("mrtd", 136, 48), ("mrconfigid", 184, 48),
             ("mrowner", 232, 48), ("mrownerconfig", 280, 48), ("rtmr0", 328, 48), ("rtmr1", 376, 48),
             ("rtmr2", 424, 48), ("rtmr3", 472, 48), ("report_data", 520, 64))


def _need(buf, off, size, what):
    if off < 0 or size < 0 or off + size > len(buf):
        raise EvidenceError("tdx.quote", "truncated quote: %s needs %d bytes at %d of %d" % (what, size, off, len(buf)))
    return buf[off:off + size]


def _p256_key(raw64):
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + raw64)
    except ValueError:
        raise EvidenceError("tdx.signature", "the attestation key is not a P-256 point") from None


def _p256_verify(key, sig64, data, check, what):
    der = encode_dss_signature(int.from_bytes(sig64[:32], "big"), int.from_bytes(sig64[32:], "big"))
    try:
        key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise EvidenceError(check, "%s does not verify" % what) from None


def parse(raw) -> dict:
    if not isinstance(raw, (bytes, bytearray)) or not HEADER < len(raw) <= MAX_QUOTE:
        raise EvidenceError("tdx.quote", "a TD quote is %d..%d bytes" % (HEADER + 1, MAX_QUOTE))
    raw = bytes(raw)
    version, key_type, tee_type = u16(raw, 0), u16(raw, 2), u32(raw, 4)
    if version not in (4, 5) or key_type != 2 or tee_type != 0x81:
        raise EvidenceError("tdx.quote", "not a TDX ECDSA-P256 quote (version %d, key type %d, TEE type %#x)" % (
            version, key_type, tee_type))
    off, body_type = HEADER, 2
    if version == 5:
        body_type, size = u16(_need(raw, off, 6, "body descriptor"), 0), u32(raw, off + 2)
        if BODY_SIZES.get(body_type) != size:
            raise EvidenceError("tdx.quote", "v5 body type %d with size %d is not a TD report body" % (body_type, size))
        off += 6
    body = _need(raw, off, BODY_SIZES[body_type], "TD quote body")
    signed_end = off + len(body)
    sig_len = u32(_need(raw, signed_end, 4, "signature length"), 0)
    sig = _need(raw, signed_end + 4, sig_len, "signature data")
    if any(raw[signed_end + 4 + sig_len:]):
        raise EvidenceError("tdx.quote", "non-zero bytes after the signature data")
    cd_type, cd_size = u16(_need(sig, 128, 6, "certification data"), 0), u32(sig, 130)
    if cd_type != 6:
        raise EvidenceError("tdx.quote", "certification data type %d is not QE report certification data (6)" % cd_type)
    cd = _need(sig, 134, cd_size, "QE report certification data")
    auth_len = u16(_need(cd, QE_REPORT + 64, 2, "QE authentication data"), 0)
    auth = _need(cd, QE_REPORT + 66, auth_len, "QE authentication data")
    nested = QE_REPORT + 66 + auth_len
    n_type, n_size = u16(_need(cd, nested, 6, "PCK certification data"), 0), u32(cd, nested + 2)
    if n_type != 5:
        raise EvidenceError("tdx.quote", "nested certification data type %d is not a PCK chain (5)" % n_type)
    quote = {"version": version, "body_type": body_type, "signed": raw[:signed_end], "quote_sig": sig[:64],
             "attestation_key": sig[64:128], "qe_report": cd[:QE_REPORT], "qe_report_sig": cd[QE_REPORT:QE_REPORT + 64],
             "qe_auth": auth, "pck_pem": _need(cd, nested + 6, n_size, "PCK chain"),
             "qe_svn": u16(raw, 8), "pce_svn": u16(raw, 10)}
    quote.update((name, body[o:o + n]) for name, o, n in TD_FIELDS)
    if body_type == 3:
        quote.update(tee_tcb_svn2=body[584:600], mrservicetd=body[600:648])
    return quote


def _masked(value, mask):
    return bytes(a & b for a, b in zip(value, mask))


def _tdx_module(quote, module):
    if quote["mrsignerseam"].hex() != module["mrsigner"] or \
            _masked(quote["seam_attributes"], bytes.fromhex(module["attributesMask"])) != \
            bytes.fromhex(module["attributes"]):
        raise EvidenceError("tdx.module", "the TDX module is not signed by Intel (MRSIGNERSEAM %s)" %
                            quote["mrsignerseam"].hex())


def _qe_identity(qe_report, ident):
    """Intel TD_QE identity check; returns the identity TCB status of the QE's ISVSVN."""
    misc, attrs = qe_report[16:20], qe_report[48:64]
    mrsigner, prodid, isvsvn = qe_report[128:160], u16(qe_report, 256), u16(qe_report, 258)
    if mrsigner.hex() != ident["mrsigner"] or prodid != ident["isvprodid"]:
        raise EvidenceError("tdx.qe_identity", "the quoting enclave is not Intel's TD_QE (MRSIGNER %s, ISVPRODID %d)"
                            % (mrsigner.hex(), prodid))
    if _masked(misc, bytes.fromhex(ident["miscselectMask"])) != bytes.fromhex(ident["miscselect"]) or \
            _masked(attrs, bytes.fromhex(ident["attributesMask"])) != bytes.fromhex(ident["attributes"]):
        raise EvidenceError("tdx.qe_identity", "the quoting enclave's MISCSELECT/ATTRIBUTES differ from TD_QE's")
    for level in ident["tcbLevels"]:
        if isvsvn >= level["isvsvn"]:
            if level["tcbStatus"] == "Revoked":
                break
            return level["tcbStatus"]
    raise EvidenceError("tdx.qe_identity", "quoting enclave ISVSVN %d is revoked or below every TD_QE TCB level"
                        % isvsvn)


def verify(raw_quote, trust, now) -> dict:
    quote = parse(raw_quote)
    att_key = _p256_key(quote["attestation_key"])
    _p256_verify(att_key, quote["quote_sig"], quote["signed"], "tdx.signature", "the quote signature")
    path = pem_certificates(quote["pck_pem"], "tdx.pck_chain", max_certs=3)
    if len(path) != 3:
        raise EvidenceError("tdx.pck_chain", "a PCK chain is PCK, Platform/Processor CA, Root CA; got %d" % len(path))
    certs.verify_path(path, trust.intel, now, "tdx.pck_chain", ["PCK", "PCK CA", "Intel root"])
    pck_key = path[0].public_key()
    if not isinstance(pck_key, ec.EllipticCurvePublicKey) or not isinstance(pck_key.curve, ec.SECP256R1):
        raise EvidenceError("tdx.pck_chain", "the PCK certificate key is not EC P-256")
    _p256_verify(pck_key, quote["qe_report_sig"], quote["qe_report"], "tdx.qe_report", "the QE report signature")
    bound = hashlib.sha256(quote["attestation_key"] + quote["qe_auth"]).digest() + b"\0" * 32
    if quote["qe_report"][320:384] != bound:
        raise EvidenceError("tdx.qe_report", "the QE report does not bind the attestation key")
    quote["qe_tcb_status"] = _qe_identity(quote["qe_report"], trust.td_qe)
    _tdx_module(quote, trust.tdx_module)
    if not any(quote["tee_tcb_svn"]):
        raise EvidenceError("tdx.tcb", "TEE_TCB_SVN is all zero: no TDX module TCB level matches")
    quote["tcb_status"] = tdx_tcb.status(quote, path[0], trust.tdx_tcb_info, quote["qe_tcb_status"])
    quote["debug"] = bool(quote["td_attributes"][0] & 1)
    return quote
