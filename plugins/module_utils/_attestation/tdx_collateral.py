# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Intel TDX collateral: QE identity and TCB info (Intel PCS v4 formats), PCK certificate SGX extensions.

Public API (used by tdx.verify):

* ``qe_report_fields(qe_report) -> dict``: mrsigner, isvprodid, isvsvn, miscselect, attributes of the QE's SGX report.
* ``check_pinned_qe_identity(fields, identity) -> str``: the QE is Intel's TDX QE (anchors.INTEL_TDX_QE_IDENTITY:
  MRSIGNER, ISVPRODID, minimum ISVSVN, MISCSELECT/ATTRIBUTES under their masks). VerificationError check
  tdx.qe_identity.
* ``pck_tcb(pck_cert) -> dict``: fmspc, pceid, pcesvn, cpusvn components (16) from the PCK's SGX extension.
* ``load_collateral(collateral, intel_roots, now) -> Collateral``: verifies the TCB info and QE identity
  signatures (ECDSA P-256 over the exact JSON bytes) by Intel's TCB signing certificate chained to a pinned
  Intel root, checks issueDate <= now <= nextUpdate, and loads the CRLs (root CA CRL, PCK CRL).
  ``collateral`` keys (Intel PCS / DCAP names): tcb_info, tcb_info_signature, tcb_info_issuer_chain, qe_identity,
  qe_identity_signature, qe_identity_issuer_chain, and optional root_ca_crl, pck_crl (hex DER, PEM or DER).
* ``evaluate_tcb(tcb_info, pck, tee_tcb_svn, mrsignerseam, seam_attributes) -> (status, reason)``: Intel's TDX
  TCB level matching (platform level: SGX components + PCESVN + TDX components; TDX module identity when
  TEE_TCB_SVN[1] > 0); the worse of the platform and module statuses.
* ``evaluate_qe_identity(qe_identity, fields) -> (status, reason)``.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import datetime
import json
import struct

from .certs import HAS_CRYPTOGRAPHY, build_chain, cert_public_key, load_pem_chain, named_certs
from .crl import load_crl
from .der import der_children, der_oid, der_uint, der_value
from .errors import ParseError, VerificationError
from .limits import MAX_COLLATERAL_JSON, MAX_TCB_LEVELS

if HAS_CRYPTOGRAPHY:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
# Statuses from best to worst (Intel PCS TCB info v3 / QE identity v2 tcbStatus values).
STATUS_ORDER = ("UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
                "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked")
DEFAULT_ACCEPTED_STATUSES = ("UpToDate", "SWHardeningNeeded")
COLLATERAL_KEYS = ("tcb_info", "tcb_info_signature", "tcb_info_issuer_chain", "qe_identity", "qe_identity_signature",
                   "qe_identity_issuer_chain", "root_ca_crl", "pck_crl", "pck_crl_issuer_chain")


def qe_report_fields(qe_report):
    r = bytes(qe_report)
    if len(r) != 384:
        raise ParseError("QE report must be 384 bytes", check="tdx.qe_identity")
    return {"miscselect": struct.unpack_from("<I", r, 16)[0], "attributes": r[48:64], "mrsigner": r[128:160],
            "isvprodid": struct.unpack_from("<H", r, 256)[0], "isvsvn": struct.unpack_from("<H", r, 258)[0]}


def _hex(value, size, what):
    if not isinstance(value, str) or len(value) != 2 * size:
        raise ParseError("%s must be %d hex bytes" % (what, size))
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ParseError("%s is not hex" % what)


def _masked_equal(have, want, mask):
    return all((h & m) == (w & m) for h, w, m in zip(bytes(have), bytes(want), bytes(mask)))


def _identity_mismatches(fields, identity):
    bad = []
    if bytes(fields["mrsigner"]) != _hex(identity["mrsigner"], 32, "mrsigner"):
        bad.append("MRSIGNER %s" % bytes(fields["mrsigner"]).hex())
    if fields["isvprodid"] != identity["isvprodid"]:
        bad.append("ISVPRODID %d (expected %d)" % (fields["isvprodid"], identity["isvprodid"]))
    misc = struct.pack("<I", fields["miscselect"])
    want_misc = struct.pack("<I", int(identity["miscselect"], 16))
    mask_misc = struct.pack("<I", int(identity["miscselectMask"], 16))
    if not _masked_equal(misc, want_misc, mask_misc):
        bad.append("MISCSELECT 0x%08x" % fields["miscselect"])
    if not _masked_equal(fields["attributes"], _hex(identity["attributes"], 16, "attributes"),
                         _hex(identity["attributesMask"], 16, "attributesMask")):
        bad.append("ATTRIBUTES %s" % bytes(fields["attributes"]).hex())
    return bad


def check_pinned_qe_identity(fields, identity):
    """The QE that signed the report is Intel's TDX QE at or above the pinned minimum ISVSVN."""
    bad = _identity_mismatches(fields, identity)
    if fields["isvsvn"] < identity["min_isvsvn"]:
        bad.append("ISVSVN %d below the minimum %d" % (fields["isvsvn"], identity["min_isvsvn"]))
    if bad:
        raise VerificationError("the quoting enclave is not Intel's TDX QE: %s" % "; ".join(bad), check="tdx.qe_identity")
    return "QE MRSIGNER %s..., ISVPRODID %d, ISVSVN %d >= %d (Intel TDX QE identity, pinned)" % (
        bytes(fields["mrsigner"]).hex()[:16], fields["isvprodid"], fields["isvsvn"], identity["min_isvsvn"])


def pck_tcb(pck_cert):
    """FMSPC, PCE-ID, PCESVN and the 16 CPUSVN components from the PCK certificate's SGX extension."""
    try:
        raw = pck_cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value.value
    except (x509.ExtensionNotFound, AttributeError):
        raise VerificationError("PCK certificate has no SGX extension", check="tdx.tcb_status")
    out = {}
    try:
        tag, body = der_value(raw, "SGX extension")
        for tag, item in der_children(body, "SGX extension"):
            parts = der_children(item, "SGX extension entry")
            if tag != 0x30 or len(parts) != 2 or parts[0][0] != 0x06:
                raise ParseError("SGX extension: malformed entry")
            oid = der_oid(parts[0][1])
            if oid == SGX_EXTENSION_OID + ".2":
                comps = {}
                for ctag, comp in der_children(parts[1][1], "SGX TCB"):
                    cparts = der_children(comp, "SGX TCB component")
                    if len(cparts) != 2 or cparts[0][0] != 0x06:
                        raise ParseError("SGX TCB: malformed component")
                    sub = der_oid(cparts[0][1])
                    if cparts[1][0] == 0x02:
                        comps[sub] = der_uint(cparts[1][1], sub)
                out["cpusvn"] = [comps.get("%s.2.%d" % (SGX_EXTENSION_OID, i)) for i in range(1, 17)]
                out["pcesvn"] = comps.get(SGX_EXTENSION_OID + ".2.17")
            elif oid == SGX_EXTENSION_OID + ".3":
                out["pceid"] = bytes(parts[1][1]).hex().upper()
            elif oid == SGX_EXTENSION_OID + ".4":
                out["fmspc"] = bytes(parts[1][1]).hex().upper()
    except ParseError as exc:
        raise VerificationError("PCK SGX extension unreadable: %s" % exc, check="tdx.tcb_status")
    if None in out.get("cpusvn", [None]) or out.get("pcesvn") is None or "fmspc" not in out or "pceid" not in out:
        raise VerificationError("PCK SGX extension lacks the TCB, FMSPC or PCE-ID", check="tdx.tcb_status")
    return out


def _parse_time(value, what):
    if not isinstance(value, str):
        raise ParseError("%s must be an ISO 8601 time" % what)
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise ParseError("%s is not a time like 2026-02-18T10:58:51Z" % what)


class SignedJson(object):
    """A collateral JSON body (exact bytes), its parsed object, its verified signer chain."""

    def __init__(self, body, obj, chain):
        self.body = body
        self.obj = obj
        self.chain = chain


def _signed_json(collateral, key, expected_id, expected_version, intel_roots, now, check):
    body = collateral.get(key)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)) or not body:
        raise ParseError("collateral.%s must be the JSON text Intel signed" % key, check=check)
    if len(body) > MAX_COLLATERAL_JSON:
        raise ParseError("collateral.%s is too large" % key, check=check)
    try:
        obj = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError("collateral.%s is not JSON: %s" % (key, exc), check=check)
    if not isinstance(obj, dict) or obj.get("id") != expected_id or obj.get("version") != expected_version:
        raise ParseError("collateral.%s is not a %s version %d document" % (key, expected_id, expected_version),
                         check=check)
    sig = _hex(collateral.get(key + "_signature"), 64, "collateral.%s_signature" % key)
    certs = load_pem_chain(collateral.get(key + "_issuer_chain"), "collateral.%s_issuer_chain" % key)
    chain = build_chain(certs[0], certs[1:], [c for dummy, c in named_certs(intel_roots, "intel_roots")], now=now,
                        max_depth=1, check=check)
    key_obj = cert_public_key(certs[0], check=check)
    if not isinstance(key_obj, ec.EllipticCurvePublicKey):
        raise VerificationError("collateral signer key is not an EC key", check=check)
    try:
        key_obj.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
                       bytes(body), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise VerificationError("collateral.%s signature does not verify with '%s'" % (
            key, certs[0].subject.rfc4514_string()), check=check)
    issued = _parse_time(obj.get("issueDate"), key + ".issueDate")
    nxt = _parse_time(obj.get("nextUpdate"), key + ".nextUpdate")
    if now < issued or now > nxt:
        raise VerificationError("collateral.%s is not current at %s (issued %s, next update %s): fetch it again" % (
            key, now.isoformat(), issued.isoformat(), nxt.isoformat()), check=check)
    return SignedJson(bytes(body), obj, chain)


class Collateral(object):
    def __init__(self, tcb_info, qe_identity, crls):
        self.tcb_info = tcb_info
        self.qe_identity = qe_identity
        self.crls = crls


def load_collateral(collateral, intel_roots, now):
    """Verify and load Intel collateral (see the module docstring); ``now`` is an aware datetime."""
    if not isinstance(collateral, dict):
        raise ParseError("tdx collateral must be a dict", check="tdx.collateral")
    unknown = sorted(set(collateral) - set(COLLATERAL_KEYS))
    if unknown:
        raise ParseError("tdx collateral: unknown keys %s" % ", ".join(unknown), check="tdx.collateral")
    tcb = _signed_json(collateral, "tcb_info", "TDX", 3, intel_roots, now, "tdx.collateral")
    qe = _signed_json(collateral, "qe_identity", "TD_QE", 2, intel_roots, now, "tdx.collateral")
    crls = [load_crl(collateral[k], "collateral.%s" % k) for k in ("root_ca_crl", "pck_crl") if collateral.get(k)]
    return Collateral(tcb.obj, qe.obj, crls)


def _worst(*statuses):
    return max(statuses, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER))


def _levels(doc, what):
    levels = doc.get("tcbLevels")
    if not isinstance(levels, list) or not levels or len(levels) > MAX_TCB_LEVELS:
        raise ParseError("%s: tcbLevels missing or too many" % what, check="tdx.tcb_status")
    return levels


def _svns(comps, what):
    if not isinstance(comps, list) or len(comps) != 16:
        raise ParseError("%s: expected 16 components" % what, check="tdx.tcb_status")
    out = []
    for c in comps:
        svn = c.get("svn") if isinstance(c, dict) else None
        if isinstance(svn, bool) or not isinstance(svn, int):
            raise ParseError("%s: component svn is not an integer" % what, check="tdx.tcb_status")
        out.append(svn)
    return out


def _module_status(tcb_info, tee_tcb_svn, mrsignerseam, seam_attributes):
    module = tcb_info.get("tdxModule")
    if isinstance(module, dict):
        if bytes(mrsignerseam) != _hex(module.get("mrsigner"), 48, "tdxModule.mrsigner") or not _masked_equal(
                seam_attributes, _hex(module.get("attributes"), 8, "tdxModule.attributes"),
                _hex(module.get("attributesMask"), 8, "tdxModule.attributesMask")):
            raise VerificationError("TDX module MRSIGNER/attributes do not match Intel's TCB info", check="tdx.tcb_status")
    if tee_tcb_svn[1] == 0:
        return None
    wanted = "TDX_%02X" % tee_tcb_svn[1]
    for ident in tcb_info.get("tdxModuleIdentities") or []:
        if isinstance(ident, dict) and ident.get("id") == wanted:
            if bytes(mrsignerseam) != _hex(ident.get("mrsigner"), 48, "module mrsigner"):
                raise VerificationError("TDX module MRSIGNER does not match %s" % wanted, check="tdx.tcb_status")
            for level in _levels(ident, wanted):
                isvsvn = (level.get("tcb") or {}).get("isvsvn") if isinstance(level, dict) else None
                if isinstance(isvsvn, int) and not isinstance(isvsvn, bool) and tee_tcb_svn[0] >= isvsvn:
                    return str(level.get("tcbStatus"))
            return "NoMatchingTcbLevel"
    raise VerificationError("Intel's TCB info has no identity for TDX module %s" % wanted, check="tdx.tcb_status")


def evaluate_tcb(tcb_info, pck, tee_tcb_svn, mrsignerseam, seam_attributes):
    """(status, reason) of the platform + TDX module against Intel's TCB info."""
    tee_tcb_svn = bytes(tee_tcb_svn)
    if tcb_info.get("fmspc", "").upper() != pck["fmspc"] or tcb_info.get("pceId", "").upper() != pck["pceid"]:
        raise VerificationError("TCB info is for FMSPC %s / PCE %s, the PCK is FMSPC %s / PCE %s" % (
            tcb_info.get("fmspc"), tcb_info.get("pceId"), pck["fmspc"], pck["pceid"]), check="tdx.tcb_status")
    module = _module_status(tcb_info, tee_tcb_svn, mrsignerseam, seam_attributes)
    start = 2 if tee_tcb_svn[1] > 0 else 0
    platform = None
    for level in _levels(tcb_info, "tcb_info"):
        tcb = level.get("tcb") if isinstance(level, dict) else None
        if not isinstance(tcb, dict):
            raise ParseError("tcb_info: malformed level", check="tdx.tcb_status")
        sgx = _svns(tcb.get("sgxtcbcomponents"), "sgxtcbcomponents")
        tdxc = _svns(tcb.get("tdxtcbcomponents"), "tdxtcbcomponents")
        pcesvn = tcb.get("pcesvn")
        if not isinstance(pcesvn, int) or isinstance(pcesvn, bool):
            raise ParseError("tcb_info: pcesvn is not an integer", check="tdx.tcb_status")
        if (all(have >= want for have, want in zip(pck["cpusvn"], sgx)) and pck["pcesvn"] >= pcesvn
                and all(tee_tcb_svn[i] >= tdxc[i] for i in range(start, 16))):
            platform = str(level.get("tcbStatus"))
            break
    if platform is None:  # Intel's QVL: "TCB level not found", i.e. below every level Intel still lists
        platform = "NoMatchingTcbLevel"
    status = _worst(platform, module) if module else platform
    return status, "platform %s%s (FMSPC %s, TCB evaluation data %s)" % (
        platform, ", TDX module %s" % module if module else "", pck["fmspc"], tcb_info.get("tcbEvaluationDataNumber"))


def evaluate_qe_identity(qe_identity, fields):
    bad = _identity_mismatches(fields, qe_identity)
    if bad:
        raise VerificationError("QE does not match Intel's QE identity: %s" % "; ".join(bad), check="tdx.qe_identity")
    for level in _levels(qe_identity, "qe_identity"):
        isvsvn = (level.get("tcb") or {}).get("isvsvn") if isinstance(level, dict) else None
        if isinstance(isvsvn, int) and not isinstance(isvsvn, bool) and fields["isvsvn"] >= isvsvn:
            return str(level.get("tcbStatus")), "QE ISVSVN %d: %s per Intel's QE identity" % (
                fields["isvsvn"], level.get("tcbStatus"))
    return "NoMatchingTcbLevel", "QE ISVSVN %d is below every level of Intel's QE identity" % fields["isvsvn"]
