# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 13, verdict layer: provenance by default, strict nonce, typed claims, strict policies, MAA cross-check,
release-policy answers. Each accepted attack of the red-team report is rebuilt here and must now be rejected."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import datetime
import hashlib
import json

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import maa
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

ISSUER = "https://sharedeus.eus.attest.azure.net"
MAA_KEY, MAA_CERT = synth.maa_signer("maa-provenance")
MAA_KID = "provenance-kid"
CHAIN = synth.AmdChain(tag="prov")
VTPM = synth.VtpmChain()
VTPM_TRUST = {"extra_vtpm_roots": [synth.pem(VTPM.root)], "ak_intermediates": [synth.pem(VTPM.inter)]}
# old vectors: 9-byte "challenge" nonce and all-zero user-data (collected without a controller nonce)
LEGACY = {"min_nonce_bytes": 9, "require_nonce_binding": False}


def failed(res):
    return [c["name"] for c in res.failed()]


def trust(**extra):
    out = {"extra_amd_roots": CHAIN.roots}
    out.update(extra)
    return out


def snp(**kw):
    return synth.snp_evidence(chain=CHAIN, **kw)


def evidence_with_claims(runtime_claims_bytes, nonce=b"\x11" * 32):
    """SNP evidence whose (attacker-written) runtime claims are bound by a genuinely signed report."""
    rd = hashlib.sha256(runtime_claims_bytes).digest() + b"\0" * 32
    hw = CHAIN.report(rd)
    return {"hcl_report": base64.b64encode(synth.hcl_report(hw, runtime_claims_bytes)).decode(),
            "tpm_quote": synth.tpm_quote(synth.rsa_key("ak"), nonce), "vcek": CHAIN.chain_pem}, nonce.hex()


def genuine_claims(**change):
    claims = json.loads(synth.runtime_claims(synth.rsa_key("ak").public_key(), b"\x11" * 32 + b"\0" * 32))
    for key, value in change.items():
        if key == "secure_boot":
            claims["vm-configuration"]["secure-boot"] = value
        else:
            claims[key] = value
    return json.dumps(claims, separators=(",", ":")).encode()


# ---- provenance ----------------------------------------------------------------------------------------------

def test_genuine_report_from_a_non_azure_platform_fails_for_missing_provenance_only():
    # the red-team case: a real SNP report whose report_data binds attacker-written claims (AK, secure boot...)
    ev, nonce, dummy = snp()
    res = verify_evidence(ev, nonce, trust())
    assert res.verdict == "fail"
    assert failed(res) == ["provenance"]
    reason = res.get("provenance")["reason"]
    assert "no AK certificate" in reason and "MAA was not used" in reason
    assert res.provenance == [] and res.to_dict()["insecure_skip_provenance"] is False


def test_insecure_skip_provenance_passes_and_is_recorded():
    ev, nonce, dummy = snp()
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True})
    assert res.verdict == "pass", res.checks
    assert res.get("provenance")["result"] == "skip" and "INSECURE" in res.get("provenance")["reason"]
    out = res.to_dict()
    assert out["insecure_skip_provenance"] is True and out["provenance"] == []


def test_ak_certificate_chained_to_a_trusted_vtpm_root_gives_provenance():
    ev, nonce, dummy = snp()
    ev["ak_cert"] = VTPM.ak_cert_b64()
    res = verify_evidence(ev, nonce, trust(**VTPM_TRUST))
    assert res.verdict == "pass", res.checks
    assert res.provenance == ["ak_cert"]
    assert res.get("provenance")["result"] == "pass"


def test_ak_certificate_of_another_key_or_untrusted_root_gives_no_provenance():
    other = synth.VtpmChain(ak_key=synth.rsa_key("other-ak"))
    ev, nonce, dummy = snp()
    ev["ak_cert"] = other.ak_cert_b64()
    res = verify_evidence(ev, nonce, trust(**VTPM_TRUST))
    assert "ak_cert.key_match" in failed(res) and "provenance" in failed(res)
    ev["ak_cert"] = VTPM.ak_cert_b64()
    res = verify_evidence(ev, nonce, trust())  # the test root is not trusted: only Microsoft's pinned roots
    assert "ak_cert.chain" in failed(res) and "provenance" in failed(res)
    assert "did not verify" in res.get("provenance")["reason"]


def test_expired_ak_certificate_fails():
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = synth._cert(synth._name("expired.ConfidentialVM"), VTPM.inter.subject, synth.rsa_key("ak").public_key(),
                       synth.rsa_key("vtpm-inter"), False, hash_alg=synth.hashes.SHA256(), days=-1)
    assert cert.not_valid_after_utc < now
    ev, nonce, dummy = snp()
    ev["ak_cert"] = synth.pem(cert)
    res = verify_evidence(ev, nonce, trust(**VTPM_TRUST))
    assert "ak_cert.chain" in failed(res) and res.verdict == "fail"


def test_real_tdx_vector_with_ak_chain_passes_at_its_own_time_and_fails_today():
    when = {"now": 1764662251}  # the evidence's collection time (2025-12-02); its AK certificate expired 2026-11-30
    opts = dict(LEGACY, policy=[{"name": "secure-boot", "query": "secureboot", "expect": False}], **when)
    res = verify_evidence(V.flashbots_tdx_evidence(), V.FLASHBOTS_NONCE_HEX, None, opts)
    assert res.provenance == ["ak_cert"]
    assert res.verdict == "pass", [c for c in res.checks if c["result"] != "pass"]
    # the VM ran with secure boot off: the default policy rejects exactly that, provenance is fine
    res = verify_evidence(V.flashbots_tdx_evidence(), V.FLASHBOTS_NONCE_HEX, None, dict(LEGACY, **when))
    assert failed(res) == ["policy:secure-boot"]
    today = verify_evidence(V.flashbots_tdx_evidence(), V.FLASHBOTS_NONCE_HEX, None, dict(opts, now=None))
    assert "ak_cert.chain" in failed(today) and "provenance" in failed(today)


GENUINE = [V.snp_evidence_v0, V.snp_evidence_v1, V.snp_evidence_bin, V.tdx_evidence_v0, V.tdx_evidence_bin]


@pytest.mark.parametrize("make", GENUINE, ids=[m.__name__ for m in GENUINE])
def test_real_vectors_without_ak_cert_or_maa_fail_only_for_provenance(make):
    res = verify_evidence(make(), V.CHALLENGE_HEX, None, LEGACY)
    assert failed(res) == ["provenance"], res.checks
    ok = verify_evidence(make(), V.CHALLENGE_HEX, None, dict(LEGACY, insecure_skip_provenance=True))
    assert ok.verdict == "pass", ok.checks


@pytest.mark.parametrize("skip", [False, True])
def test_tampered_real_vectors_fail_either_way(skip):
    ev = V.snp_evidence_bin()
    raw = bytearray(base64.b64decode(ev["hcl_report"]))
    raw[0x4D4 + 40] ^= 0x01  # one bit of the runtime claims
    ev["hcl_report"] = base64.b64encode(bytes(raw)).decode()
    res = verify_evidence(ev, V.CHALLENGE_HEX, None, dict(LEGACY, insecure_skip_provenance=skip))
    assert res.verdict == "fail"
    tdx = V.flashbots_tdx_evidence()
    tdx["tpm_quote"] = V.tdx_evidence_bin()["tpm_quote"]
    res = verify_evidence(tdx, V.FLASHBOTS_NONCE_HEX, None, dict(LEGACY, now=1764662251, insecure_skip_provenance=skip))
    assert res.verdict == "fail" and "tpm.quote_signature" in failed(res)


# ---- MAA as the provenance signal ----------------------------------------------------------------------------

def maa_opts(make_claims):
    """A fake MAA provider that signs whatever claims ``make_claims(kind, request)`` returns."""
    def attest(kind, body):
        req = maa.parse_request(kind, body)
        claims = dict(make_claims(kind, req), iss=ISSUER, iat=1, nbf=1, exp=4102444800, nonce=body.get("nonce"))
        return maa.sign_token(claims, MAA_KEY, MAA_KID, jku=maa.certs_url(ISSUER))
    x5c = base64.b64encode(MAA_CERT.public_bytes(synth.serialization.Encoding.DER)).decode()
    return {"attest": attest, "jwks": {"keys": [{"kid": MAA_KID, "kty": "RSA", "x5c": [x5c]}]}, "issuer": ISSUER}


def local_tee_claims(ev, nonce):
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True})
    assert res.verdict == "pass", res.checks
    names = ("x-ms-attestation-type", "x-ms-sevsnpvm-launchmeasurement", "x-ms-sevsnpvm-reportdata",
             "x-ms-sevsnpvm-is-debuggable", "x-ms-sevsnpvm-vmpl", "x-ms-sevsnpvm-hostdata")
    return dict((n, res.claims[n]) for n in names)


def test_verified_maa_token_with_matching_tee_claims_gives_provenance():
    ev, nonce, dummy = snp()
    tee = local_tee_claims(ev, nonce)
    res = verify_evidence(ev, nonce, trust(), {"maa": maa_opts(
        lambda k, r: dict(tee, **{"x-ms-compliance-status": "azure-compliant-cvm"}))})
    assert res.verdict == "pass", res.checks
    assert res.provenance == ["maa"]


def test_guest_token_with_tee_claims_under_isolation_tee_gives_provenance():
    ev, nonce, dummy = snp()
    tee = dict(local_tee_claims(ev, nonce), **{"x-ms-compliance-status": "azure-compliant-cvm"})
    res = verify_evidence(ev, nonce, trust(), {"maa": maa_opts(
        lambda k, r: {"x-ms-attestation-type": "azurevm", "x-ms-isolation-tee": tee})})
    assert res.provenance == ["maa"], res.checks


def test_maa_token_without_tee_claims_fails_the_cross_check():
    ev, nonce, dummy = snp()
    res = verify_evidence(ev, nonce, trust(), {"maa": maa_opts(
        lambda k, r: {"x-ms-compliance-status": "azure-compliant-cvm"})})
    assert res.verdict == "fail"
    assert "maa.claims_match" in failed(res) and "provenance" in failed(res)
    assert "missing from the token" in res.get("maa.claims_match")["reason"]


def test_maa_token_without_compliance_status_gives_no_provenance():
    ev, nonce, dummy = snp()
    tee = local_tee_claims(ev, nonce)
    res = verify_evidence(ev, nonce, trust(), {"maa": maa_opts(lambda k, r: tee)})
    assert "maa.compliance" in failed(res) and "provenance" in failed(res)


def test_maa_token_for_other_tee_values_fails():
    ev, nonce, dummy = snp()
    tee = dict(local_tee_claims(ev, nonce), **{"x-ms-compliance-status": "azure-compliant-cvm",
                                               "x-ms-sevsnpvm-launchmeasurement": "00" * 48})
    res = verify_evidence(ev, nonce, trust(), {"maa": maa_opts(lambda k, r: tee)})
    assert "maa.claims_match" in failed(res) and "disagree" in res.get("maa.claims_match")["reason"]


# ---- nonce ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", " ", "0x", "  \n", "0x" + "ab" * 32, "ab" * 15, " " + "ab" * 32,
                                 "ab" * 32 + "\n", "ab" * 65, "zz" * 32, "abc", None, 12345, b"short"])
def test_weak_or_malformed_nonces_fail(bad):
    ev, nonce, dummy = snp()
    res = verify_evidence(ev, bad, trust(), {"insecure_skip_provenance": True})
    assert res.verdict == "fail"
    assert failed(res) == ["nonce"]


def test_nonce_binding_is_required_by_default():
    ev, nonce, dummy = snp(bind_nonce=False)
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True})
    assert failed(res) == ["hcl.nonce_binding"]
    ok = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True, "require_nonce_binding": False})
    assert ok.verdict == "pass"
    assert verify_evidence(ev, bytes.fromhex(nonce), trust(),
                           {"insecure_skip_provenance": True, "require_nonce_binding": False}).verdict == "pass"


# ---- typed runtime claims --------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [{"secure_boot": "false"}, {"secure_boot": 0}, {"secure_boot": None},
                                    {"keys": 1}, {"keys": True}, {"keys": 1.5}, {"keys": [1]},
                                    {"keys": [{"kid": "HCLAkPub", "n": 5}]}, {"vm-configuration": []},
                                    {"user-data": 7}])
def test_wrongly_typed_runtime_claims_fail_cleanly(change):
    ev, nonce = evidence_with_claims(genuine_claims(**change))
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True})
    assert res.verdict == "fail"
    assert failed(res) == ["hcl.runtime_claims"], res.checks
    assert "internal error" not in res.get("hcl.runtime_claims")["reason"]


def test_duplicate_ak_or_duplicate_json_members_fail():
    claims = json.loads(genuine_claims())
    claims["keys"] = claims["keys"] * 2
    ev, nonce = evidence_with_claims(json.dumps(claims).encode())
    assert failed(verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True})) == ["hcl.runtime_claims"]
    text = genuine_claims().decode()
    dup = text[:-1] + ',"vm-configuration":{"secure-boot":true}}'
    ev, nonce = evidence_with_claims(dup.encode())
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True})
    assert failed(res) == ["hcl.runtime_claims"] and "duplicate" in res.get("hcl.runtime_claims")["reason"]


def test_boolean_secure_boot_false_fails_the_default_policy_only():
    ev, nonce = evidence_with_claims(genuine_claims(secure_boot=False))
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True})
    assert failed(res) == ["policy:secure-boot"] and res.claims["secureboot"] is False


# ---- strict policies ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    {"name": "neq", "query": "\"x-ms-not-a-claim\" != `true`"},
    {"name": "neg", "query": "!\"x-ms-not-a-claim\""},
    {"name": "null", "query": "\"x-ms-not-a-claim\"", "expect": None},
    {"name": "nested", "query": "\"x-ms-runtime\".\"vm-configuration\".\"no-such\" == null"},
])
def test_strict_policy_fails_rules_that_read_missing_claims(rule):
    ev, nonce, dummy = snp()
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True, "policy": [rule]})
    assert failed(res) == ["policy:%s" % rule["name"]]
    assert "does not carry" in res.get("policy:%s" % rule["name"])["reason"]
    lenient = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True, "policy": [rule],
                                                   "policy_strict": False})
    assert lenient.verdict == "pass"


# ---- release policy ------------------------------------------------------------------------------------------------

def test_release_policy_on_an_maa_only_claim_is_unknown_without_maa():
    ev, nonce, dummy = snp()
    for cond in ({"claim": "x-ms-compliance-status", "exists": False},
                 {"claim": "x-ms-compliance-status", "equals": "azure-compliant-cvm"}):
        policy = {"version": "1.0.0", "anyOf": [{"authority": ISSUER, "allOf": [cond]}]}
        res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True, "release_policy": policy})
        out = res.release_policy_result
        assert out["decision"] == "unknown" and out["released"] is False, out
        assert res.get("release_policy")["result"] == "fail"


def test_release_policy_is_not_reported_for_unbound_claims():
    ev, nonce, dummy = snp()
    raw = bytearray(base64.b64decode(ev["hcl_report"]))
    raw[0x4D4 + 30] ^= 0x01
    ev["hcl_report"] = base64.b64encode(bytes(raw)).decode()
    policy = {"version": "1.0.0", "anyOf": [{"authority": ISSUER, "allOf": [
        {"claim": "x-ms-attestation-type", "equals": "sevsnpvm"}]}]}
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True, "release_policy": policy})
    assert res.release_policy_result is None and "release_policy_result" not in res.to_dict()
    assert res.get("release_policy")["result"] == "fail"


def test_release_policy_on_local_claims_releases_only_on_claims_the_verifier_produced():
    ev, nonce, dummy = snp()
    policy = {"version": "1.0.0", "anyOf": [{"authority": ISSUER, "allOf": [
        {"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
        {"claim": "x-ms-sevsnpvm-vmpl", "lessOrEquals": 0}]}]}
    res = verify_evidence(ev, nonce, trust(), {"insecure_skip_provenance": True, "release_policy": policy})
    assert res.release_policy_result["decision"] == "release", res.release_policy_result
