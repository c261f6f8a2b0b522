# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify Azure CVM guest evidence end to end and apply a policy. Fails closed.

``verify_evidence(evidence, nonce, trust, options) -> Result`` runs every check it can, records each
as pass / fail / skip with a reason, and returns verdict 'pass' only when no check failed and every
mandatory check ran. Any exception inside a check fails that check (never the caller).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import json
import re

from . import claims as claims_mod
from . import hcl as hcl_mod
from . import maa as maa_mod
from . import policy as policy_mod
from . import snp as snp_mod
from . import tdx as tdx_mod
from . import tpm as tpm_mod
from .certs import load_any
from .errors import AttestationError, ParseError, VerificationError
from .trust import TrustStore
from .util import b64decode

NOT_BOUND = "hardware report not bound to this nonce"
NONCE_MIN_BYTES = 16
NONCE_MAX_BYTES = 64
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
COMPLIANT_CVM = "azure-compliant-cvm"
# checks that must have PASSED (not skipped) for a 'pass' verdict, per TEE
MANDATORY = {
    "common": ("evidence.decode", "hcl.parse", "hcl.runtime_claims", "hcl.claims_binding", "hcl.nonce_binding",
               "tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_selection", "tpm.pcr_digest"),
    "snp": ("snp.vcek_chain", "snp.product", "snp.signature", "snp.chip_id", "snp.reported_tcb", "snp.debug",
            "snp.guest_policy", "snp.vmpl"),
    "tdx": ("tdx.quote_signature", "tdx.pck_chain", "tdx.qe_report_signature", "tdx.qe_report_binding",
            "tdx.qe_identity", "tdx.report_data_binding", "tdx.debug", "tdx.tcb_status"),
}
EVIDENCE_KEYS = ("hcl_report", "tpm_quote", "ak_cert", "vcek", "td_quote", "event_log", "vm_id", "location")


class Result(object):
    def __init__(self):
        self.checks = []
        self.claims = {}
        self.maa_token_claims = None
        self.maa_token = None
        self.release_policy_result = None
        self.tee = None
        self.nonce_bound = False
        self.provenance = []          # signals that proved the evidence comes from Azure: "ak_cert", "maa"
        self.insecure_skip_provenance = False
        self.ak_anchor_source = None  # 'builtin' (pinned Microsoft root) or 'extra_root' (trust.extra_vtpm_roots)

    def add(self, name, result, reason):
        self.checks.append({"name": name, "result": result, "reason": reason})

    def get(self, name):
        for c in self.checks:
            if c["name"] == name:
                return c
        return None

    def passed(self, name):
        c = self.get(name)
        return c is not None and c["result"] == "pass"

    def failed(self):
        return [c for c in self.checks if c["result"] == "fail"]

    def mandatory(self):
        names = list(MANDATORY["common"]) + list(MANDATORY.get(self.tee or "", ()))
        if not self.insecure_skip_provenance:
            names.append("provenance")
        return names

    def bound(self):
        """Every mandatory evidence check passed: the claims are bound to verified hardware evidence."""
        return self.tee is not None and all(self.passed(n) for n in self.mandatory() if n != "provenance")

    @property
    def verdict(self):
        if self.failed() or self.tee is None:
            return "fail"
        return "pass" if all(self.passed(n) for n in self.mandatory()) else "fail"

    def to_dict(self):
        out = {"verdict": self.verdict, "checks": list(self.checks), "claims": self.claims,
               "provenance": list(self.provenance), "insecure_skip_provenance": self.insecure_skip_provenance}
        if self.maa_token_claims is not None:
            out["maa_token_claims"] = self.maa_token_claims
        if self.release_policy_result is not None:
            out["release_policy_result"] = self.release_policy_result
        return out


def _bytes(value, what):
    """Evidence field -> bytes (base64/base64url text, hex is NOT accepted here, int list, bytes)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        try:
            return bytes(value)
        except (TypeError, ValueError):
            raise ParseError("%s: invalid byte list" % what)
    if isinstance(value, str):
        return b64decode(value, what)
    raise ParseError("%s: unsupported encoding (%s)" % (what, type(value).__name__))


class _Decoded(object):
    pass


def decode_evidence(evidence):
    if not isinstance(evidence, dict):
        raise ParseError("evidence must be a dict", check="evidence.decode")
    unknown = [k for k in evidence if k not in EVIDENCE_KEYS]
    if unknown:
        raise ParseError("evidence: unknown keys %s" % ", ".join(sorted(unknown)), check="evidence.decode")
    d = _Decoded()
    if evidence.get("hcl_report") in (None, ""):
        raise ParseError("evidence.hcl_report is required", check="evidence.decode")
    d.hcl_report = _bytes(evidence["hcl_report"], "hcl_report")
    q = evidence.get("tpm_quote")
    d.tpm_quote = None
    if q not in (None, {}):
        if not isinstance(q, dict) or not all(k in q for k in ("message", "signature", "pcrs")):
            raise ParseError("evidence.tpm_quote needs message, signature and pcrs", check="evidence.decode")
        d.tpm_quote = q
    d.ak_cert = evidence.get("ak_cert") or None
    d.vcek = evidence.get("vcek") or None
    d.td_quote = _bytes(evidence["td_quote"], "td_quote") if evidence.get("td_quote") else None
    d.vm_id = evidence.get("vm_id") or None
    d.location = evidence.get("location") or None
    return d


def _vcek_certs(vcek):
    pem = maa_mod.vcek_chain_pem(vcek)
    certs = load_any(pem, "vcek")
    return pem, certs


class _Runner(object):
    def __init__(self, result):
        self.result = result

    def run(self, name, fn, *args, **kwargs):
        """Run ``fn``; on any exception record a failure (named by the error's check or ``name``)."""
        try:
            return True, fn(*args, **kwargs)
        except AttestationError as exc:
            self.result.add(exc.check or name, "fail", str(exc))
        except Exception as exc:  # fail closed on anything unexpected
            self.result.add(name, "fail", "internal error: %s: %s" % (type(exc).__name__, exc))
        return False, None

    def skip(self, names, reason):
        for n in names:
            if self.result.get(n) is None:
                self.result.add(n, "skip", reason)


def _record(result, checks):
    for name, res, reason in checks:
        result.add(name, res, reason)


def verify_evidence(evidence, nonce, trust=None, options=None):
    """Verify ``evidence`` (the attestation_evidence dict) for ``nonce`` (hex string or bytes, from the controller).

    ``trust``: dict (extra_amd_roots, extra_intel_roots, extra_vtpm_roots, ak_intermediates) or TrustStore.
    ``options``:

    * freshness: require_nonce_binding (bool, default True), min_nonce_bytes (default 16; old test vectors only);
    * provenance: insecure_skip_provenance (bool, default False), maa (dict: ``attest`` callable(kind, body) ->
      token string, ``jwks`` dict or callable() -> dict, ``issuer``, ``certs_url``);
    * policy: expected_tee ('snp'|'tdx'), policy (list of assertions), default_policy (bool, default True),
      policy_strict (bool, default True), release_policy (dict/JSON);
    * evidence checks: snp_minimum (dict), snp_guest_policy (snp.check_guest_policy overrides), tdx_collateral
      (Intel PCS collateral dict), tdx_min_tee_tcb_svn (hex), tdx_accepted_tcb_statuses (list), required_pcrs
      (PCR indices on top of 0-7), crls (PEM, DER, hex or base64 CRLs), allow_debug and tdx_qe_identity (tests
      only), now (epoch seconds: when certificates and tokens must be valid; default the current time).
    """
    options = dict(options or {})
    result = Result()
    result.insecure_skip_provenance = options.get("insecure_skip_provenance") is True
    r = _Runner(result)

    # --- inputs ---------------------------------------------------------------------------------
    ok, nonce_bytes = r.run("nonce", parse_nonce, nonce, options.get("min_nonce_bytes", NONCE_MIN_BYTES))
    if not ok:
        return result
    ok, ev = r.run("evidence.decode", decode_evidence, evidence)
    if not ok:
        return result
    if isinstance(trust, TrustStore):
        store = trust
    else:
        ok, store = r.run("trust.anchors", TrustStore.from_dict, trust)
        if not ok:
            return result
    result.add("nonce", "pass", "%d-byte nonce from the controller" % len(nonce_bytes))
    result.add("evidence.decode", "pass", "evidence decoded")

    # --- HCL report -----------------------------------------------------------------------------
    ok, rep = r.run("hcl.parse", hcl_mod.parse, ev.hcl_report)
    if not ok:
        return result
    result.tee = rep.tee
    result.add("hcl.parse", "pass", "HCL report v%d, %d bytes, %s hardware report" % (
        rep.version, len(rep.raw), rep.tee.upper()))
    if not r.run("hcl.runtime_claims", claims_mod.check_runtime_claims, rep.claims_bytes)[0]:
        return result  # nothing below may read claims of the wrong type
    result.add("hcl.runtime_claims", "pass", "runtime claims are well-typed JSON")
    if r.run("hcl.claims_binding", rep.verify_claims_binding)[0]:
        result.add("hcl.claims_binding", "pass", "SHA-256(runtime claims) == report_data[0:32], rest zero")
    r.run("hcl.nonce_binding", _nonce_binding, rep, nonce_bytes, options.get("require_nonce_binding", True), result)
    if ev.vm_id:
        r.run("hcl.vm_id", _vm_id_check, rep, ev.vm_id, result)
    expected_tee = options.get("expected_tee")
    if expected_tee:
        if expected_tee == rep.tee:
            result.add("tee.expected", "pass", "evidence is %s as expected" % rep.tee.upper())
        else:
            result.add("tee.expected", "fail", "evidence is %s, expected %s" % (rep.tee.upper(), expected_tee.upper()))

    # --- TPM quote and AK -------------------------------------------------------------------------
    attest = _quote_checks(r, result, rep, ev, nonce_bytes, options.get("required_pcrs"))
    if ev.ak_cert:
        r.run("ak_cert.chain", _ak_cert_checks, ev.ak_cert, rep.ak_pub, store, options, result)
    else:
        result.add("ak_cert.chain", "skip", "no AK certificate in the evidence")

    # --- hardware report ------------------------------------------------------------------------
    if rep.tee == "snp":
        ok, srep = r.run("snp.parse", snp_mod.parse, rep.snp_report)
        if ok:
            hw_claims = _snp_checks(r, result, srep, ev, store, options)
        else:
            hw_claims = {}
            r.skip(MANDATORY["snp"], "SNP report unreadable")
    else:
        hw_claims = _tdx_checks(r, result, rep, ev, store, options)

    result.claims = claims_mod.normalized(rep, hw_claims, attest)

    # --- MAA and provenance -------------------------------------------------------------------------
    maa_opts = options.get("maa")
    if maa_opts:
        r.run("maa.token", _maa_checks, rep, ev, nonce_bytes.hex(), maa_opts, options.get("now"), result)
    else:
        result.add("maa.token", "skip", "MAA not used")
    _provenance(result, bool(maa_opts), ev)

    # --- policy -----------------------------------------------------------------------------------
    r.run("policy", _policy_checks, options, rep.tee, bool(maa_opts), expected_tee, result)
    if options.get("release_policy") is not None:
        r.run("release_policy", _release_policy, options["release_policy"], result,
              maa_opts.get("issuer") if maa_opts else None)
    return result


def parse_nonce(nonce, min_bytes=NONCE_MIN_BYTES):
    """The controller's nonce (hex text or bytes) -> bytes. Strict: no prefix, no whitespace, 16..64 bytes."""
    if isinstance(nonce, (bytes, bytearray)):
        raw = bytes(nonce)
    elif isinstance(nonce, str):
        if len(nonce) > 2 * NONCE_MAX_BYTES or not _HEX_RE.fullmatch(nonce) or len(nonce) % 2:
            raise ParseError("nonce must be an even-length hex string of at most %d bytes (digits and a-f only: no "
                             "0x prefix, no whitespace)" % NONCE_MAX_BYTES, check="nonce")
        raw = bytes.fromhex(nonce)
    else:
        raise ParseError("a nonce (hex string) is required", check="nonce")
    if len(raw) < min_bytes or len(raw) > NONCE_MAX_BYTES:
        raise ParseError("nonce is %d bytes: it must be %d to %d random bytes drawn by the controller" % (
            len(raw), min_bytes, NONCE_MAX_BYTES), check="nonce")
    return raw


def _quote_checks(r, result, rep, ev, nonce_bytes, required_pcrs):
    ak = rep.ak_pub
    names = ("tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_selection", "tpm.pcr_digest")
    if ak is None:
        result.add("tpm.ak_key", "fail", "HCL runtime claims carry no HCLAkPub key")
        r.skip(names, "no AK key")
        return None
    if ev.tpm_quote is None:
        result.add("tpm.quote", "fail", "no TPM quote in the evidence: the report cannot be tied to a fresh nonce")
        r.skip(names, "no TPM quote")
        return None
    q = ev.tpm_quote
    checks = []
    ok, attest = r.run("tpm.quote_signature", tpm_mod.verify_quote, q["message"], q["signature"], ak,
                       nonce_bytes, q["pcrs"], checks, required_pcrs=required_pcrs)
    _record(result, checks)
    if not ok:
        r.skip(names, "an earlier quote check failed")
    return attest


def _nonce_binding(rep, nonce, required, result):
    ud = rep.user_data
    if ud is None or not any(ud):
        if required:
            raise VerificationError("%s (HCL user-data is %s) and nonce binding is required" % (
                NOT_BOUND, "absent" if ud is None else "all zero"), check="hcl.nonce_binding")
        result.add("hcl.nonce_binding", "pass", "%s: HCL user-data is %s; freshness rests on the TPM quote nonce only" % (
            NOT_BOUND, "absent" if ud is None else "all zero"))
        return
    if len(nonce) > len(ud) or ud[:len(nonce)] != nonce:
        raise VerificationError("HCL user-data does not start with the nonce (stale or replayed report)",
                                check="hcl.nonce_binding")
    result.nonce_bound = True
    result.add("hcl.nonce_binding", "pass", "HCL user-data starts with the nonce")


def _vm_id_check(rep, vm_id, result):
    have = str(rep.vm_configuration.get("vmUniqueId") or "")
    if not have:
        result.add("hcl.vm_id", "skip", "HCL claims carry no vmUniqueId")
        return
    if have.lower() != str(vm_id).lower():
        raise VerificationError("evidence vm_id %s is not the HCL vmUniqueId %s" % (vm_id, have), check="hcl.vm_id")
    result.add("hcl.vm_id", "pass", "vm_id == HCL vmUniqueId")


def _ak_cert_checks(ak_cert, ak_jwk, store, options, result):
    """The AK certificate chains to an Azure vTPM root (pinned, or one the caller named in trust.extra_vtpm_roots)
    and certifies HCLAkPub, the key that signed the TPM quote."""
    pinned = [(n, c) for n, c in store.vtpm_roots if not n.startswith("extra_vtpm_roots")]
    extra = [(n, c) for n, c in store.vtpm_roots if n.startswith("extra_vtpm_roots")]
    akc = tpm_mod.verify_ak_certificate(ak_cert, pinned, intermediates=store.ak_intermediates, extra_roots=extra,
                                        now=options.get("now"), crls=options.get("crls"))
    root = "pinned root %s" % akc.anchor if akc.anchor_source == "builtin" else \
        "root %s that the caller trusts explicitly (trust.extra_vtpm_roots), NOT a pinned Microsoft root" % akc.anchor
    result.add("ak_cert.chain", "pass", "%s (%s), every certificate valid" % (" -> ".join(akc.subjects), root))
    rev = akc.revocation or {}
    result.add("ak_cert.revocation", "pass" if rev.get("checked") else "skip", rev.get("reason", "not checked"))
    if ak_jwk is None or not tpm_mod.ak_keys_equal(akc, ak_jwk):
        raise VerificationError("the AK certificate's key is not HCLAkPub, the key in the runtime claims that signed "
                                "the TPM quote", check="ak_cert.key_match")
    result.add("ak_cert.key_match", "pass", "AK certificate key == HCLAkPub == the TPM quote's signing key")
    result.ak_anchor_source = akc.anchor_source


def _snp_checks(r, result, srep, ev, store, options):
    claims = snp_mod.claims(srep, srep.product_hint)
    if not ev.vcek:
        result.add("snp.vcek_chain", "fail", "no VCEK in the evidence: the SNP report cannot be verified")
        r.skip(MANDATORY["snp"], "no VCEK")
        return claims
    sres = snp_mod.SnpResult()

    def go():
        pem, dummy = _vcek_certs(ev.vcek)
        return snp_mod.verify(srep, pem, trusted_arks=store.amd_arks, trusted_asks=store.amd_asks,
                              policy_min=options.get("snp_minimum"), allow_debug=bool(options.get("allow_debug")),
                              result=sres, now=options.get("now"), crls=options.get("crls"),
                              guest_policy=options.get("snp_guest_policy"))
    ok, dummy = r.run("snp.vcek_chain", go)
    # record passes first so the list reads in order, then the failure already added by run()
    fail = result.checks.pop() if not ok else None
    _record(result, sres.checks)
    if fail:
        result.checks.append(fail)
        r.skip(MANDATORY["snp"], "not evaluated: %s failed" % fail["name"])
    claims = snp_mod.claims(srep, sres.product, sres.tcb)
    return claims


def _tdx_checks(r, result, rep, ev, store, options):
    ok, tdrep = r.run("tdx.parse", tdx_mod.parse_tdreport, rep.td_report)
    if not ev.td_quote:
        result.add("tdx.quote", "fail", "no TD quote in the evidence: the TDX report cannot be verified")
        r.skip(MANDATORY["tdx"], "no TD quote")
        return {}
    ok, quote = r.run("tdx.parse", tdx_mod.parse_quote, ev.td_quote)
    if not ok:
        r.skip(MANDATORY["tdx"], "TD quote unreadable")
        return {}
    tres = tdx_mod.TdxResult()
    expected = rep.claims_digest()
    expected = expected + b"\0" * (64 - len(expected))
    extra = {}
    if options.get("tdx_accepted_tcb_statuses"):
        extra["accepted_tcb_statuses"] = tuple(options["tdx_accepted_tcb_statuses"])
    ok, dummy = r.run("tdx.quote_signature", tdx_mod.verify, quote, store.intel_roots, expected_report_data=expected,
                      td_report=tdrep, allow_debug=bool(options.get("allow_debug")), result=tres,
                      now=options.get("now"), collateral=options.get("tdx_collateral"), crls=options.get("crls"),
                      qe_identity=options.get("tdx_qe_identity"), min_tee_tcb_svn=options.get("tdx_min_tee_tcb_svn"),
                      **extra)
    fail = result.checks.pop() if not ok else None
    _record(result, tres.checks)
    if fail:
        result.checks.append(fail)
        r.skip(MANDATORY["tdx"], "not evaluated: %s failed" % fail["name"])
    if result.get("tdx.tcb_status") is None:
        result.add("tdx.tcb_status", "skip", "not evaluated: an earlier TDX check failed")
    return tdx_mod.claims(quote)


# claims that MAA and the local verifier derive from the same bytes: they must agree
_CROSS = {"snp": ("x-ms-attestation-type", "x-ms-sevsnpvm-launchmeasurement", "x-ms-sevsnpvm-reportdata",
                  "x-ms-sevsnpvm-is-debuggable", "x-ms-sevsnpvm-vmpl", "x-ms-sevsnpvm-hostdata"),
          "tdx": ("x-ms-attestation-type", "tdx_mrtd", "tdx_report_data", "tdx_td_attributes_debug")}


def _token_tee_claim(payload, name):
    """A TEE claim of an MAA token: under x-ms-isolation-tee (guest tokens) when present, else top level (platform)."""
    tee = payload.get("x-ms-isolation-tee")
    if isinstance(tee, dict) and name in tee:
        return tee[name]
    return payload.get(name, _MISSING)


_MISSING = object()


def _maa_checks(rep, ev, nonce_hex, maa_opts, now, result):
    issuer = maa_opts.get("issuer")
    if not issuer:
        raise ParseError("maa.issuer is required", check="maa.request")
    kind = "SevSnpVm" if rep.tee == "snp" else "TdxVm"
    try:
        body = maa_mod.build_request(kind, {"hcl_report": rep.raw, "vcek": ev.vcek, "td_quote": ev.td_quote},
                                     nonce=nonce_hex)
    except AttestationError as exc:
        raise ParseError(str(exc), check="maa.request")
    try:
        token = maa_opts["attest"](kind, body)
    except AttestationError as exc:
        raise VerificationError("MAA rejected the evidence: %s" % exc, check="maa.request")
    except Exception as exc:
        raise VerificationError("MAA request failed: %s" % exc, check="maa.request")
    result.add("maa.request", "pass", "MAA %s attestation returned a token" % kind)
    jwks = maa_opts.get("jwks")
    if callable(jwks):
        jwks = jwks()
    payload = maa_mod.verify_token(token, jwks, issuer, nonce=nonce_hex, now=now,
                                   certs_url_expected=maa_opts.get("certs_url"))
    result.add("maa.token", "pass", "RS256 token from %s verified (kid, iss, exp/nbf, nonce)" % issuer)
    _maa_cross_check(rep, payload, result)
    status = _token_tee_claim(payload, "x-ms-compliance-status")
    if status != COMPLIANT_CVM:
        raise VerificationError("MAA token x-ms-compliance-status is %s, not %s" % (
            "missing" if status is _MISSING else repr(status), COMPLIANT_CVM), check="maa.compliance")
    result.add("maa.compliance", "pass", "MAA reports an Azure-compliant confidential VM (%s)" % COMPLIANT_CVM)
    result.maa_token = token
    result.maa_token_claims = payload
    _merge_token_claims(payload, result)


def _maa_cross_check(rep, payload, result):
    """Every TEE claim the local checks derive from the same bytes must be IN the token and equal (none = fail)."""
    missing, mism = [], []
    for name in _CROSS[rep.tee]:
        value = _token_tee_claim(payload, name)
        if value is _MISSING:
            missing.append(name)
        elif name not in result.claims or value != result.claims[name]:
            mism.append(name)
    runtime = _token_tee_claim(payload, "x-ms-runtime")
    if runtime is not _MISSING and runtime != rep.claims:
        mism.append("x-ms-runtime")
    if missing or mism:
        raise VerificationError("MAA token does not vouch for this evidence: %s" % "; ".join(
            part for part in ("claims missing from the token: " + ", ".join(missing) if missing else "",
                              "claims that disagree with the local verification: " + ", ".join(mism) if mism else "")
            if part), check="maa.claims_match")
    result.add("maa.claims_match", "pass", "MAA token carries and agrees on %s" % ", ".join(_CROSS[rep.tee]))


def _merge_token_claims(payload, result):
    tcb_status = payload.get("attester_tcb_status")
    check = result.get("tdx.tcb_status")
    if check is not None and tcb_status is not None:
        check["reason"] += "; MAA attester_tcb_status is %r (add a policy assertion on attester_tcb_status to " \
                           "require a value)" % tcb_status
    for k, v in payload.items():
        if k not in result.claims and k not in ("iat", "exp", "nbf", "jti", "iss", "nonce"):
            result.claims[k] = v
            if k.startswith("x-ms-compliance") or k.startswith("attester_") or k.startswith("x-ms-sevsnpvm") \
                    or k.startswith("tdx_"):
                result.claims["x-ms-isolation-tee"][k] = v


def _provenance(result, maa_used, ev):
    """Pass needs proof the evidence comes from an Azure CVM: a chained AK certificate or a verified MAA token."""
    if result.passed("ak_cert.chain") and result.passed("ak_cert.key_match") and result.passed("tpm.quote_signature"):
        result.provenance.append("ak_cert")
    if result.passed("maa.claims_match") and result.passed("maa.compliance"):
        result.provenance.append("maa")
    if result.provenance:
        root = "a pinned Azure vTPM root" if result.ak_anchor_source == "builtin" else \
            "a root the caller trusts explicitly (trust.extra_vtpm_roots), not a pinned Microsoft root"
        how = {"ak_cert": "AK certificate chains to %s and its key is HCLAkPub, the key that signed the TPM quote"
                          % root,
               "maa": "Microsoft Azure Attestation verified the evidence (%s)" % COMPLIANT_CVM}
        result.add("provenance", "pass", "; ".join(how[p] for p in result.provenance))
        return
    ak = result.get("ak_cert.chain")
    ak_why = "the evidence has no AK certificate" if not ev.ak_cert else \
        "the AK certificate did not verify (%s)" % (ak["reason"] if ak else "not checked")
    maa_why = "MAA was not used (maa.use)" if not maa_used else "the MAA token was not verified"
    missing = "no provenance: nothing proves this evidence comes from an Azure confidential VM - %s and %s" % (
        ak_why, maa_why)
    if result.insecure_skip_provenance:
        result.add("provenance", "skip", "INSECURE (insecure_skip_provenance: true): %s" % missing)
    else:
        result.add("provenance", "fail", missing + " (a genuine report from any other platform would look the same)")


def _policy_checks(options, tee, maa_used, expected_tee, result):
    defaults = policy_mod.default_assertions(tee, maa_used=maa_used, expected_tee=expected_tee)
    assertions = policy_mod.merge(defaults, options.get("policy"), options.get("default_policy", True))
    for item in policy_mod.evaluate(assertions, result.claims, strict=options.get("policy_strict", True) is not False):
        result.add("policy:%s" % item["name"], item["result"], item["reason"])


def _release_policy(policy, result, authority):
    try:
        from .._keyvault import release_policy as rp
    except ImportError as exc:  # pragma: no cover - the key vault package ships with the collection
        raise VerificationError("release policy evaluator unavailable: %s" % exc, check="release_policy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            raise ParseError("release_policy is not valid JSON: %s" % exc, check="release_policy")
    if not result.bound():
        # claims of evidence that did not verify are the attacker's words: predict nothing from them
        result.add("release_policy", "fail", "not evaluated: the claims are not bound to verified evidence")
        return
    # Key Vault sees only the attestation token: with MAA, evaluate its claims (not the merged local view);
    # without a verified token, the local claims can predict conditions on claims they carry, nothing else.
    if result.maa_token_claims is not None:
        out = rp.decide(policy, result.maa_token_claims, authority=authority, maa_verified=True)
        source = "maa_token"
    elif authority is not None:  # MAA was configured but its token was not accepted
        out = {"decision": "no_release", "reasons": ["no verified MAA token: Key Vault would not get one"]}
        source = "none"
    else:
        out = rp.decide(policy, result.claims, maa_verified=False)
        source = "local"
    decision = out["decision"]
    result.release_policy_result = {"released": decision == "release", "decision": decision,
                                    "reasons": list(out["reasons"]), "authority": authority, "claims_source": source}
    verb = {"release": "would release", "no_release": "would NOT release",
            "unknown": "cannot say whether Key Vault would release"}[decision]
    result.add("release_policy", "pass" if decision == "release" else "fail",
               "%s the key: %s" % (verb, "; ".join(out["reasons"])))
