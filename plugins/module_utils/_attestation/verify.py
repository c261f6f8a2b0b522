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

from . import hcl as hcl_mod
from . import maa as maa_mod
from . import policy as policy_mod
from . import snp as snp_mod
from . import tdx as tdx_mod
from . import tpm as tpm_mod
from .certs import build_chain, cert_public_key, load_any, public_key_der
from .errors import AttestationError, ParseError, VerificationError
from .trust import TrustStore
from .util import b64decode, hexdecode

NOT_BOUND = "hardware report not bound to this nonce"
# checks that must have PASSED (not skipped) for a 'pass' verdict, per TEE
MANDATORY = {
    "common": ("evidence.decode", "hcl.parse", "hcl.claims_binding", "hcl.nonce_binding", "tpm.quote_signature",
               "tpm.quote_nonce", "tpm.pcr_digest"),
    "snp": ("snp.vcek_chain", "snp.signature", "snp.chip_id", "snp.reported_tcb", "snp.debug", "snp.vmpl"),
    "tdx": ("tdx.quote_signature", "tdx.pck_chain", "tdx.qe_report_signature", "tdx.qe_report_binding",
            "tdx.report_data_binding", "tdx.debug"),
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

    def add(self, name, result, reason):
        self.checks.append({"name": name, "result": result, "reason": reason})

    def get(self, name):
        for c in self.checks:
            if c["name"] == name:
                return c
        return None

    def failed(self):
        return [c for c in self.checks if c["result"] == "fail"]

    @property
    def verdict(self):
        if self.failed():
            return "fail"
        required = list(MANDATORY["common"]) + list(MANDATORY.get(self.tee or "", ()))
        if self.tee is None:
            return "fail"
        for name in required:
            c = self.get(name)
            if c is None or c["result"] != "pass":
                return "fail"
        return "pass"

    def to_dict(self):
        out = {"verdict": self.verdict, "checks": list(self.checks), "claims": self.claims}
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
    """Verify ``evidence`` (the attestation_evidence dict) for ``nonce`` (hex string or bytes).

    ``trust``: dict (extra_amd_roots, extra_intel_roots, extra_vtpm_roots, ak_intermediates) or TrustStore.
    ``options``: require_nonce_binding (bool), expected_tee ('snp'|'tdx'), policy (list of assertions),
    default_policy (bool, default True), snp_minimum (dict), allow_debug (bool, tests only),
    release_policy (dict/JSON), maa (dict: ``attest`` callable(kind, body) -> token string, ``jwks``
    dict or callable() -> dict, ``issuer``, ``certs_url``), now (epoch seconds for token checks).
    """
    options = dict(options or {})
    result = Result()
    r = _Runner(result)

    # --- inputs ---------------------------------------------------------------------------------
    ok, nonce_bytes = r.run("evidence.decode", _nonce_bytes, nonce)
    if not ok:
        return _finish(result, r)
    ok, ev = r.run("evidence.decode", decode_evidence, evidence)
    if not ok:
        return _finish(result, r)
    if isinstance(trust, TrustStore):
        store = trust
    else:
        ok, store = r.run("trust.anchors", TrustStore.from_dict, trust)
        if not ok:
            return _finish(result, r)
    result.add("evidence.decode", "pass", "evidence decoded")

    # --- HCL report -----------------------------------------------------------------------------
    ok, rep = r.run("hcl.parse", hcl_mod.parse, ev.hcl_report)
    if not ok:
        return _finish(result, r)
    result.tee = rep.tee
    result.add("hcl.parse", "pass", "HCL report v%d, %d bytes, %s hardware report" % (
        rep.version, len(rep.raw), rep.tee.upper()))
    if r.run("hcl.claims_binding", rep.verify_claims_binding)[0]:
        result.add("hcl.claims_binding", "pass", "SHA-256(runtime claims) == report_data[0:32], rest zero")
    r.run("hcl.nonce_binding", _nonce_binding, rep, nonce_bytes, options.get("require_nonce_binding", False), result)
    if ev.vm_id:
        r.run("hcl.vm_id", _vm_id_check, rep, ev.vm_id, result)
    expected_tee = options.get("expected_tee")
    if expected_tee:
        if expected_tee == rep.tee:
            result.add("tee.expected", "pass", "evidence is %s as expected" % rep.tee.upper())
        else:
            result.add("tee.expected", "fail", "evidence is %s, expected %s" % (rep.tee.upper(), expected_tee.upper()))

    # --- TPM quote and AK -------------------------------------------------------------------------
    ak = rep.ak_pub
    attest = None
    if ak is None:
        result.add("tpm.ak_key", "fail", "HCL runtime claims carry no HCLAkPub key")
        r.skip(("tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_digest"), "no AK key")
    elif ev.tpm_quote is None:
        result.add("tpm.quote", "fail", "no TPM quote in the evidence: the report cannot be tied to a fresh nonce")
        r.skip(("tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_digest"), "no TPM quote")
    else:
        q = ev.tpm_quote
        checks = []
        ok, attest = r.run("tpm.quote_signature", tpm_mod.verify_quote, q["message"], q["signature"], ak,
                           nonce_bytes, q["pcrs"], checks)
        _record(result, checks)
        if not ok:
            r.skip(("tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_digest"), "an earlier quote check failed")

    if ev.ak_cert:
        r.run("ak_cert.chain", _ak_cert_checks, ev.ak_cert, ak, store, result)
    else:
        result.add("ak_cert.chain", "skip", "no AK certificate in the evidence")

    # --- hardware report ------------------------------------------------------------------------
    hw_claims = {}
    if rep.tee == "snp":
        ok, srep = r.run("snp.parse", snp_mod.parse, rep.snp_report)
        if ok:
            hw_claims = _snp_checks(r, result, srep, ev, store, options)
        else:
            r.skip(MANDATORY["snp"], "SNP report unreadable")
    else:
        hw_claims = _tdx_checks(r, result, rep, ev, store, options)

    # --- claims ---------------------------------------------------------------------------------
    claims = _claims(rep, hw_claims, attest)
    result.claims = claims

    # --- MAA --------------------------------------------------------------------------------------
    maa_opts = options.get("maa")
    maa_used = bool(maa_opts)
    if maa_used:
        r.run("maa.token", _maa_checks, rep, ev, nonce, maa_opts, options.get("now"), result)
    else:
        result.add("maa.token", "skip", "MAA not used")

    # --- policy -----------------------------------------------------------------------------------
    r.run("policy", _policy_checks, options, rep.tee, maa_used, expected_tee, result)
    if options.get("release_policy") is not None:
        r.run("release_policy", _release_policy, options["release_policy"], result,
              (maa_opts or {}).get("issuer") if maa_used else None)
    return _finish(result, r)


def _finish(result, runner):
    return result


def _nonce_bytes(nonce):
    if nonce is None or nonce == "":
        raise ParseError("a nonce is required", check="evidence.decode")
    if isinstance(nonce, (bytes, bytearray)):
        return bytes(nonce)
    return hexdecode(nonce, "nonce")


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


def _ak_cert_checks(ak_cert, ak_jwk, store, result):
    try:
        cert = load_any(ak_cert, "ak_cert")[0]
    except ParseError as exc:
        raise VerificationError(str(exc), check="ak_cert.key_match")
    if ak_jwk is None:
        raise VerificationError("no HCLAkPub to compare the AK certificate with", check="ak_cert.key_match")
    ak_key = tpm_mod.jwk_to_public_key(ak_jwk)
    if public_key_der(cert_public_key(cert, check="ak_cert.key_match")) != public_key_der(ak_key):
        raise VerificationError("AK certificate key is not HCLAkPub", check="ak_cert.key_match")
    result.add("ak_cert.key_match", "pass", "AK certificate key == HCLAkPub")
    try:
        chain = build_chain(cert, [c for dummy, c in store.ak_intermediates], [c for dummy, c in store.vtpm_roots])
    except VerificationError as exc:
        raise VerificationError(str(exc), check="ak_cert.chain")
    result.add("ak_cert.chain", "pass", " -> ".join(c.subject.rfc4514_string() for c in chain))


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
                              result=sres)
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
    ok, dummy = r.run("tdx.quote_signature", tdx_mod.verify, quote, store.intel_roots, expected_report_data=expected,
                      td_report=tdrep, allow_debug=bool(options.get("allow_debug")), result=tres)
    fail = result.checks.pop() if not ok else None
    _record(result, tres.checks)
    if fail:
        result.checks.append(fail)
        r.skip(MANDATORY["tdx"], "not evaluated: %s failed" % fail["name"])
    result.add("tdx.tcb_status", "skip", "TCB status needs Intel collateral; use MAA (maa.use) for attester_tcb_status")
    return tdx_mod.claims(quote)


def _claims(rep, hw_claims, attest):
    vc = rep.vm_configuration
    tee_type = "sevsnpvm" if rep.tee == "snp" else "tdxvm"
    tee = {"x-ms-attestation-type": tee_type, "x-ms-runtime": rep.claims}
    tee.update(hw_claims)
    claims = dict(tee)
    claims["x-ms-isolation-tee"] = dict(tee)
    if "secure-boot" in vc:
        claims["secureboot"] = bool(vc.get("secure-boot"))
    if vc.get("vmUniqueId"):
        claims["x-ms-azurevm-vmid"] = vc.get("vmUniqueId")
    if attest is not None:
        claims["x-ms-azurevm-attested-pcrs"] = list(getattr(attest, "pcr_indices", []))
    return claims


# claims that MAA and the local verifier derive from the same bytes: they must agree
_CROSS = {"snp": ("x-ms-attestation-type", "x-ms-sevsnpvm-launchmeasurement", "x-ms-sevsnpvm-reportdata",
                  "x-ms-sevsnpvm-is-debuggable", "x-ms-sevsnpvm-vmpl", "x-ms-sevsnpvm-hostdata"),
          "tdx": ("x-ms-attestation-type", "tdx_mrtd", "tdx_report_data", "tdx_td_attributes_debug")}


def _maa_checks(rep, ev, nonce, maa_opts, now, result):
    issuer = maa_opts.get("issuer")
    if not issuer:
        raise ParseError("maa.issuer is required", check="maa.request")
    kind = "SevSnpVm" if rep.tee == "snp" else "TdxVm"
    nonce_str = nonce if isinstance(nonce, str) else bytes(nonce).hex()
    try:
        body = maa_mod.build_request(kind, {"hcl_report": rep.raw, "vcek": ev.vcek, "td_quote": ev.td_quote},
                                     nonce=nonce_str)
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
    payload = maa_mod.verify_token(token, jwks, issuer, nonce=nonce_str, now=now,
                                   certs_url_expected=maa_opts.get("certs_url"))
    result.add("maa.token", "pass", "RS256 token from %s verified (kid, iss, exp/nbf, nonce)" % issuer)
    mism = []
    for name in _CROSS[rep.tee]:
        if name in payload and name in result.claims and payload[name] != result.claims[name]:
            mism.append(name)
    rt = payload.get("x-ms-runtime")
    if rt is not None and rt != rep.claims:
        mism.append("x-ms-runtime")
    if mism:
        raise VerificationError("MAA token claims disagree with the local verification: %s" % ", ".join(mism),
                                check="maa.claims_match")
    result.add("maa.claims_match", "pass", "MAA token claims match the locally verified evidence")
    result.maa_token = token
    result.maa_token_claims = payload
    tcb_status = payload.get("attester_tcb_status")
    check = result.get("tdx.tcb_status")
    if check is not None and tcb_status is not None:
        check["reason"] = "MAA attester_tcb_status is %r (not judged here: add a policy assertion on " \
                          "attester_tcb_status to require a value)" % tcb_status
    for k, v in payload.items():
        if k not in result.claims and k not in ("iat", "exp", "nbf", "jti", "iss", "nonce"):
            result.claims[k] = v
            if k.startswith("x-ms-compliance") or k.startswith("attester_") or k.startswith("x-ms-sevsnpvm") \
                    or k.startswith("tdx_"):
                result.claims["x-ms-isolation-tee"][k] = v


def _policy_checks(options, tee, maa_used, expected_tee, result):
    defaults = policy_mod.default_assertions(tee, maa_used=maa_used, expected_tee=expected_tee)
    assertions = policy_mod.merge(defaults, options.get("policy"), options.get("default_policy", True))
    for item in policy_mod.evaluate(assertions, result.claims):
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
    # Key Vault sees only the attestation token: with MAA, evaluate its claims (not the merged local view);
    # without MAA, the locally verified claims are the best prediction (no compliance status in them).
    if result.maa_token_claims is not None:
        claims, source = result.maa_token_claims, "maa_token"
    else:
        claims, source = result.claims, "local"
        if authority is not None:  # MAA was configured but its token was not accepted
            released, reasons = False, ["no verified MAA token: Key Vault would not get one"]
            result.release_policy_result = {"released": False, "reasons": reasons, "authority": authority,
                                            "claims_source": "none"}
            result.add("release_policy", "fail", "Key Vault would NOT release the key: %s" % reasons[0])
            return
    released, reasons = rp.evaluate(policy, claims, authority=authority)
    result.release_policy_result = {"released": bool(released), "reasons": list(reasons), "authority": authority,
                                    "claims_source": source}
    result.add("release_policy", "pass" if released else "fail",
               "Key Vault would %srelease the key: %s" % ("" if released else "NOT ", "; ".join(reasons)))
