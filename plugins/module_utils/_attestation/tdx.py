# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Intel TDX: TD quote v4/v5 (ECDSA-P256, PCK chain to the Intel SGX root) and TDREPORT parsing.

Public API used by the verdict layer:

* ``parse_quote(data) -> TdQuote`` (at most limits.MAX_TD_QUOTE bytes), ``parse_tdreport(data) -> TdReport``.
* ``verify(quote, trusted_roots, expected_report_data=None, td_report=None, allow_debug=False, result=None,
  now=None, collateral=None, crls=None, qe_identity=None, min_tee_tcb_svn=None,
  accepted_tcb_statuses=DEFAULT_ACCEPTED_STATUSES) -> TdxResult``. Checks, in order: tdx.quote_signature,
  tdx.pck_chain (every certificate valid at ``now``), tdx.collateral (when ``collateral`` is given: Intel-signed TCB
  info and QE identity, current at ``now``), tdx.revocation (``crls``, else the collateral's root CA / PCK CRLs;
  "skip ... revocation not checked" without any), tdx.qe_report_signature, tdx.qe_report_binding, tdx.qe_identity
  (pinned Intel TDX QE identity: MRSIGNER, ISVPRODID, minimum ISVSVN; plus the collateral QE identity's status),
  tdx.report_data_binding, tdx.debug, tdx.tcb_status (Intel TCB level matching with collateral; without it,
  TEE_TCB_SVN must not be all zero and must be >= ``min_tee_tcb_svn`` component-wise). ``TdxResult`` carries
  ``tcb_status`` (None without collateral), ``revocation`` and ``pck_chain``.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import hashlib

from . import anchors
from . import tdx_collateral as coll
from .certs import HAS_CRYPTOGRAPHY, build_chain, cert_public_key, load_pem_chain, named_certs, to_datetime
from .crl import check_revocation
from .errors import AttestationError, ParseError, VerificationError
from .limits import MAX_TD_QUOTE
from .util import hexstr, require, u16le, u32le

if HAS_CRYPTOGRAPHY:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HEADER_SIZE = 48
TD10_BODY_SIZE = 584
TD15_BODY_SIZE = 648
TEE_TYPE_TDX = 0x81
ATT_KEY_ECDSA_P256 = 2
QE_REPORT_SIZE = 384
CERT_TYPE_PCK_CHAIN = 5
CERT_TYPE_QE_REPORT = 6
TD_ATTR_DEBUG = 1
PCK_CHAIN_MAX_CERTS = 4
DEFAULT_ACCEPTED_STATUSES = coll.DEFAULT_ACCEPTED_STATUSES

# TD report body field offsets (TD 1.0 body; TD 1.5 appends tee_tcb_svn2 + mrservicetd)
_BODY_FIELDS = (
    ("tee_tcb_svn", 0, 16), ("mrseam", 16, 48), ("mrsignerseam", 64, 48), ("seam_attributes", 112, 8),
    ("td_attributes", 120, 8), ("xfam", 128, 8), ("mrtd", 136, 48), ("mrconfigid", 184, 48),
    ("mrowner", 232, 48), ("mrownerconfig", 280, 48), ("rtmr0", 328, 48), ("rtmr1", 376, 48),
    ("rtmr2", 424, 48), ("rtmr3", 472, 48), ("report_data", 520, 64),
)
_BODY15_FIELDS = (("tee_tcb_svn2", 584, 16), ("mrservicetd", 600, 48))


class TdQuote(object):
    def __init__(self, raw):
        self.raw = raw
        self.version = u16le(raw, 0)
        self.att_key_type = u16le(raw, 2)
        self.tee_type = u32le(raw, 4)
        self.qe_vendor_id = require(raw, 12, 16, "quote header")
        self.header_user_data = require(raw, 28, 20, "quote header")
        if self.version == 4:
            self.body_type = 2
            body_off, body_size = HEADER_SIZE, TD10_BODY_SIZE
        elif self.version == 5:
            self.body_type = u16le(raw, HEADER_SIZE, "quote v5 body type")
            body_size = u32le(raw, HEADER_SIZE + 2, "quote v5 body size")
            body_off = HEADER_SIZE + 6
            expected = {2: TD10_BODY_SIZE, 3: TD15_BODY_SIZE}.get(self.body_type)
            if expected is None or body_size != expected:
                raise ParseError("TD quote v5: unsupported body type %d / size %d" % (self.body_type, body_size),
                                 check="tdx.parse")
        else:
            raise ParseError("TD quote: unsupported version %d" % self.version, check="tdx.parse")
        if self.tee_type != TEE_TYPE_TDX:
            raise ParseError("TD quote: tee_type 0x%x is not TDX" % self.tee_type, check="tdx.parse")
        if self.att_key_type != ATT_KEY_ECDSA_P256:
            raise ParseError("TD quote: unsupported attestation key type %d" % self.att_key_type, check="tdx.parse")
        self.body = require(raw, body_off, body_size, "TD quote body")
        fields = _BODY_FIELDS + (_BODY15_FIELDS if body_size == TD15_BODY_SIZE else ())
        self.fields = dict((name, self.body[off:off + size]) for name, off, size in fields)
        self.signed_bytes = raw[:body_off + body_size]
        sig_len = u32le(raw, body_off + body_size, "quote signature length")
        sig = require(raw, body_off + body_size + 4, sig_len, "quote signature data")
        if sig_len < 128 + 6:
            raise ParseError("TD quote: signature data too short", check="tdx.parse")
        self.signature = sig[0:64]
        self.attestation_key = sig[64:128]
        ctype = u16le(sig, 128)
        csize = u32le(sig, 130)
        if ctype != CERT_TYPE_QE_REPORT:
            raise ParseError("TD quote: certification data type %d is not a QE report" % ctype, check="tdx.parse")
        inner = require(sig, 134, csize, "QE report certification data")
        self.qe_report = require(inner, 0, QE_REPORT_SIZE, "QE report")
        self.qe_report_signature = require(inner, QE_REPORT_SIZE, 64, "QE report signature")
        auth_len = u16le(inner, QE_REPORT_SIZE + 64, "QE auth data length")
        self.qe_auth_data = require(inner, QE_REPORT_SIZE + 66, auth_len, "QE auth data")
        p = QE_REPORT_SIZE + 66 + auth_len
        self.pck_cert_type = u16le(inner, p, "PCK certification data type")
        pck_size = u32le(inner, p + 2, "PCK certification data size")
        self.pck_cert_data = require(inner, p + 6, pck_size, "PCK certification data")

    @property
    def report_data(self):
        return self.fields["report_data"]

    @property
    def mrtd(self):
        return self.fields["mrtd"]

    @property
    def td_attributes(self):
        return int.from_bytes(bytes(self.fields["td_attributes"]), "little")

    @property
    def debug(self):
        return bool(self.td_attributes & TD_ATTR_DEBUG)

    @property
    def qe_report_data(self):
        return self.qe_report[320:384]


def parse_quote(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError("TD quote must be bytes", check="tdx.parse")
    data = bytes(data)
    if len(data) > MAX_TD_QUOTE:
        raise ParseError("TD quote is too large (%d bytes, limit %d)" % (len(data), MAX_TD_QUOTE), check="tdx.parse")
    if len(data) < HEADER_SIZE + TD10_BODY_SIZE + 4:
        raise ParseError("TD quote too short (%d bytes)" % len(data), check="tdx.parse")
    try:
        return TdQuote(data)
    except ParseError as exc:
        if exc.check is None:
            exc.check = "tdx.parse"
        raise


class TdReport(object):
    """The 1024-byte TDREPORT embedded in the HCL report."""

    def __init__(self, raw):
        raw = bytes(raw)
        if len(raw) < 1024:
            raise ParseError("TDREPORT too short", check="tdx.parse")
        self.raw = raw[:1024]
        self.report_type = raw[0]
        self.report_data = raw[0x80:0xC0]
        self.td_attributes = int.from_bytes(raw[0x200:0x208], "little")
        self.xfam = raw[0x208:0x210]
        self.mrtd = raw[0x210:0x240]
        self.mrconfigid = raw[0x240:0x270]
        self.mrowner = raw[0x270:0x2A0]
        self.mrownerconfig = raw[0x2A0:0x2D0]
        self.rtmrs = [raw[0x2D0 + 48 * i:0x300 + 48 * i] for i in range(4)]


def parse_tdreport(data):
    return TdReport(data)


def _p256_key(raw64):
    try:
        x = int.from_bytes(bytes(raw64[:32]), "big")
        y = int.from_bytes(bytes(raw64[32:64]), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError as exc:
        raise VerificationError("attestation key is not a valid P-256 point: %s" % exc, check="tdx.quote_signature")


def _p256_verify(key, sig64, message, check, what):
    r = int.from_bytes(bytes(sig64[:32]), "big")
    s = int.from_bytes(bytes(sig64[32:64]), "big")
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise VerificationError("%s does not verify" % what, check=check)


class TdxResult(object):
    def __init__(self):
        self.checks = []
        self.pck_chain = None
        self.revocation = None
        self.tcb_status = None
        self.qe_status = None

    def add(self, name, result, reason):
        self.checks.append((name, result, reason))


def _min_svn(value):
    if value is None:
        return bytes(16)
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
    elif isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 256
                                                  for v in value):
        raw = bytes(value)
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raw = b""
    if len(raw) != 16:
        raise ParseError("min_tee_tcb_svn must be 16 bytes (32 hex digits or 16 integers)", check="tdx.tcb_status")
    return raw


def _check_tee_tcb_svn(quote, minimum):
    svn = bytes(quote.fields["tee_tcb_svn"])
    if not any(svn):
        raise VerificationError("TEE_TCB_SVN is all zero: no TDX module TCB is reported", check="tdx.tcb_status")
    low = [i for i in range(16) if svn[i] < minimum[i]]
    if low:
        raise VerificationError("TEE_TCB_SVN %s is below the minimum %s at bytes %s" % (
            svn.hex(), minimum.hex(), ",".join(str(i) for i in low)), check="tdx.tcb_status")
    return "TEE_TCB_SVN %s >= minimum %s (no Intel TCB info supplied: TCB status not evaluated)" % (
        svn.hex(), minimum.hex())


def _collateral_step(fn, *args):
    """Collateral is Intel-signed but still parsed defensively: malformed values are clean errors."""
    try:
        return fn(*args)
    except AttestationError as exc:
        if exc.check is None:
            exc.check = "tdx.collateral"
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError("Intel collateral malformed: %s: %s" % (type(exc).__name__, exc), check="tdx.collateral")


def verify(quote, trusted_roots, expected_report_data=None, td_report=None, allow_debug=False, result=None,
           now=None, collateral=None, crls=None, qe_identity=None, min_tee_tcb_svn=None,
           accepted_tcb_statuses=DEFAULT_ACCEPTED_STATUSES):
    """Verify a TD quote; raises VerificationError (with ``check``) on the first failure (see the module docstring).

    ``trusted_roots``: [(name, cert)] Intel SGX roots (TrustStore.intel_roots) or PEM strings. ``expected_report_data``:
    64 bytes the TD's REPORTDATA must equal (HCL: SHA-256(claims) + zeros). ``td_report``: the HCL TDREPORT whose
    MRTD/REPORTDATA must match the quote. ``qe_identity``: overrides anchors.INTEL_TDX_QE_IDENTITY (tests only).
    """
    if isinstance(quote, (bytes, bytearray)):
        quote = parse_quote(quote)
    res = result if result is not None else TdxResult()
    when = to_datetime(now)
    minimum = _min_svn(min_tee_tcb_svn)
    key = _p256_key(quote.attestation_key)
    _p256_verify(key, quote.signature, quote.signed_bytes, "tdx.quote_signature",
                 "TD quote signature by the attestation key")
    res.add("tdx.quote_signature", "pass", "quote signed by the attestation key")

    if quote.pck_cert_type != CERT_TYPE_PCK_CHAIN:
        raise VerificationError("quote carries no PCK certificate chain (type %d)" % quote.pck_cert_type,
                                check="tdx.pck_chain")
    try:
        pck_certs = load_pem_chain(bytes(quote.pck_cert_data).rstrip(b"\0"), "PCK chain", max_certs=PCK_CHAIN_MAX_CERTS)
        roots = [c for dummy, c in named_certs(trusted_roots, "trusted_roots")]
    except ParseError as exc:
        raise VerificationError(str(exc), check="tdx.pck_chain")
    try:
        chain = build_chain(pck_certs[0], pck_certs[1:], roots, max_depth=1, now=when)
    except VerificationError as exc:
        raise VerificationError("PCK certificate does not chain to a trusted Intel root: %s" % exc, check="tdx.pck_chain")
    res.pck_chain = chain
    res.add("tdx.pck_chain", "pass", "PCK -> %s -> Intel SGX Root CA (pinned), all valid now" %
            chain[1].subject.rfc4514_string())

    loaded = None
    if collateral is not None:
        loaded = _collateral_step(coll.load_collateral, collateral, trusted_roots, when)
        res.add("tdx.collateral", "pass", "Intel TCB info and QE identity signed by Intel and current")
    res.revocation = check_revocation(chain, crls if crls else (loaded.crls if loaded else None), now=when,
                                      check="tdx.revocation")
    res.add("tdx.revocation", "pass" if res.revocation["checked"] else "skip", res.revocation["reason"])

    pck_key = cert_public_key(pck_certs[0], check="tdx.qe_report_signature")
    if not isinstance(pck_key, ec.EllipticCurvePublicKey):
        raise VerificationError("PCK key is not an EC key", check="tdx.qe_report_signature")
    _p256_verify(pck_key, quote.qe_report_signature, quote.qe_report, "tdx.qe_report_signature",
                 "QE report signature by the PCK")
    res.add("tdx.qe_report_signature", "pass", "QE report signed by the PCK")

    digest = hashlib.sha256(bytes(quote.attestation_key) + bytes(quote.qe_auth_data)).digest()
    qrd = quote.qe_report_data
    if qrd[:32] != digest or any(qrd[32:]):
        raise VerificationError("QE report data does not bind the attestation key", check="tdx.qe_report_binding")
    res.add("tdx.qe_report_binding", "pass", "QE report data == SHA-256(attestation key || QE auth data)")

    fields = coll.qe_report_fields(quote.qe_report)
    reason = _collateral_step(coll.check_pinned_qe_identity, fields, qe_identity or anchors.INTEL_TDX_QE_IDENTITY)
    if loaded is not None:
        res.qe_status, qe_reason = _collateral_step(coll.evaluate_qe_identity, loaded.qe_identity, fields)
        if res.qe_status not in accepted_tcb_statuses:
            raise VerificationError("quoting enclave TCB is %s: %s" % (res.qe_status, qe_reason), check="tdx.qe_identity")
        reason += "; " + qe_reason
    res.add("tdx.qe_identity", "pass", reason)

    if td_report is not None:
        if bytes(td_report.mrtd) != bytes(quote.mrtd) or bytes(td_report.report_data) != bytes(quote.report_data):
            raise VerificationError("TD quote does not match the HCL TDREPORT (MRTD/REPORTDATA differ)",
                                    check="tdx.report_data_binding")
    if expected_report_data is not None:
        if bytes(quote.report_data) != bytes(expected_report_data):
            raise VerificationError("TD quote REPORTDATA does not match the HCL runtime claims",
                                    check="tdx.report_data_binding")
    if td_report is not None or expected_report_data is not None:
        res.add("tdx.report_data_binding", "pass", "quote REPORTDATA/MRTD match the HCL report and its claims")

    if quote.debug and not allow_debug:
        raise VerificationError("TD attributes have DEBUG set", check="tdx.debug")
    res.add("tdx.debug", "pass", "TD DEBUG attribute off")

    if loaded is None:
        res.add("tdx.tcb_status", "pass", _check_tee_tcb_svn(quote, minimum))
        return res
    pck = coll.pck_tcb(pck_certs[0])
    status, reason = _collateral_step(coll.evaluate_tcb, loaded.tcb_info, pck, quote.fields["tee_tcb_svn"],
                                      quote.fields["mrsignerseam"], quote.fields["seam_attributes"])
    res.tcb_status = status
    if status not in accepted_tcb_statuses:
        raise VerificationError("TDX TCB status is %s (accepted: %s): %s" % (
            status, ", ".join(accepted_tcb_statuses), reason), check="tdx.tcb_status")
    res.add("tdx.tcb_status", "pass", "TCB %s: %s" % (status, reason))
    return res


def claims(quote):
    f = quote.fields
    out = {
        "tdx_mrtd": hexstr(f["mrtd"]),
        "tdx_mrconfigid": hexstr(f["mrconfigid"]),
        "tdx_mrowner": hexstr(f["mrowner"]),
        "tdx_mrownerconfig": hexstr(f["mrownerconfig"]),
        "tdx_mrseam": hexstr(f["mrseam"]),
        "tdx_mrsignerseam": hexstr(f["mrsignerseam"]),
        "tdx_report_data": hexstr(f["report_data"]),
        "tdx_seam_attributes": hexstr(f["seam_attributes"]),
        "tdx_td_attributes": hexstr(f["td_attributes"]),
        "tdx_td_attributes_debug": quote.debug,
        "tdx_td_attributes_septve_disable": bool(quote.td_attributes & (1 << 28)),
        "tdx_xfam": hexstr(f["xfam"]),
        "tdx_tee_tcb_svn": hexstr(f["tee_tcb_svn"]),
        "tdx_quote_version": quote.version,
    }
    for i in range(4):
        out["tdx_rtmr%d" % i] = hexstr(f["rtmr%d" % i])
    if "mrservicetd" in f:
        out["tdx_mrservicetd"] = hexstr(f["mrservicetd"])
        out["tdx_tee_tcb_svn2"] = hexstr(f["tee_tcb_svn2"])
    return out
