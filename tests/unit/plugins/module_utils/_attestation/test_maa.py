# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MAA token verification, request building, and the simulator's MAA service (tests/simulator/azsim/maa.py)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import hashlib
import hmac
import json
import os
import sys

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import maa, hcl, util
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import (
    ParseError, TokenError, VerificationError)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

ISSUER = "https://127.0.0.1:8443/attestation/sharedeastus"
KEY, CERT = synth.maa_signer()
KID = "test-kid"
X5C = base64.b64encode(CERT.public_bytes(__import__("cryptography.hazmat.primitives.serialization",
                                                    fromlist=["Encoding"]).Encoding.DER)).decode()
JWKS = {"keys": [{"kid": KID, "kty": "RSA", "x5c": [X5C]}]}
NOW = 1_800_000_000

# the real vectors carry the 9-byte nonce "challenge" and all-zero user-data; MAA supplies provenance
VECTOR_OPTIONS = {"min_nonce_bytes": 9, "require_nonce_binding": False}


def verify(evidence, nonce, trust, options=None):
    return verify_evidence(evidence, nonce, trust, dict(VECTOR_OPTIONS, **(options or {})))


def claims(**over):
    c = {"iss": ISSUER, "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3600, "nonce": "abcd",
         "x-ms-attestation-type": "sevsnpvm"}
    c.update(over)
    return dict((k, v) for k, v in c.items() if v is not None)


def token(c=None, key=KEY, kid=KID, jku=maa.certs_url(ISSUER)):
    return maa.sign_token(c or claims(), key, kid, jku=jku)


def raw_token(header, payload, sig=b""):
    return "%s.%s.%s" % (util.b64url(json.dumps(header)), util.b64url(json.dumps(payload)), util.b64url(sig))


def check(tok, **kw):
    args = dict(jwks=JWKS, issuer=ISSUER, nonce="abcd", now=NOW)
    args.update(kw)
    return maa.verify_token(tok, **args)


def test_valid_token_verifies():
    assert check(token())["x-ms-attestation-type"] == "sevsnpvm"


def test_jwks_with_n_and_e_instead_of_x5c():
    n = KEY.public_key().public_numbers()
    jwks = {"keys": [{"kid": KID, "kty": "RSA", "n": synth.b64u_int(n.n), "e": synth.b64u_int(n.e)}]}
    check(token(), jwks=jwks)


def test_alg_none_is_rejected():
    with pytest.raises(TokenError, match="RS256 only"):
        check(raw_token({"alg": "none", "kid": KID}, claims()))


def test_hs256_signed_with_the_public_key_is_rejected():
    header, payload = {"alg": "HS256", "kid": KID}, claims()
    signing_input = "%s.%s" % (util.b64url(json.dumps(header)), util.b64url(json.dumps(payload)))
    mac = hmac.new(X5C.encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(TokenError, match="RS256 only"):
        check(signing_input + "." + util.b64url(mac))


def test_forged_token_signed_by_another_key_is_rejected():
    other = synth.rsa_key("forger")
    with pytest.raises(TokenError, match="signature"):
        check(token(key=other))


def test_tampered_payload_is_rejected():
    h, p, s = token().split(".")
    evil = util.b64url(json.dumps(claims(**{"x-ms-attestation-type": "tdxvm"}), separators=(",", ":")))
    with pytest.raises(TokenError, match="signature"):
        check("%s.%s.%s" % (h, evil, s))


def test_wrong_kid_is_rejected():
    with pytest.raises(TokenError, match="kid"):
        check(token(kid="other"))
    with pytest.raises(TokenError, match="kid"):
        check(raw_token({"alg": "RS256"}, claims()))


def test_wrong_issuer_is_rejected():
    with pytest.raises(TokenError, match="issuer"):
        check(token(claims(iss="https://evil.example")))


def test_expired_token_is_rejected_and_missing_exp_too():
    with pytest.raises(TokenError, match="expired"):
        check(token(claims(exp=NOW - 3600)))
    with pytest.raises(TokenError, match="exp"):
        check(token(claims(exp=None)))


def test_not_yet_valid_token_is_rejected():
    with pytest.raises(TokenError, match="not valid before"):
        check(token(claims(nbf=NOW + 3600)))


def test_clock_skew_leeway():
    check(token(claims(exp=NOW - 30)))
    check(token(claims(nbf=NOW + 30)))


def test_jku_must_be_the_configured_certs_url():
    with pytest.raises(TokenError, match="jku"):
        check(token(jku="https://attacker.example/certs"))
    check(token(jku=None))


def test_nonce_must_match():
    with pytest.raises(TokenError, match="nonce"):
        check(token(), nonce="ffff")
    with pytest.raises(TokenError, match="nonce"):
        check(token(claims(nonce=None)))
    # AzureGuest tokens carry it under x-ms-runtime.client-payload
    check(token(claims(nonce=None, **{"x-ms-runtime": {"client-payload": {"nonce": "abcd"}}})))


@pytest.mark.parametrize("bad", ["", "a.b", "a.b.c.d", "!!!.###.$$$", "e30.e30", 42, None])
def test_garbage_tokens_raise_token_errors(bad):
    with pytest.raises(TokenError):
        check(bad)


def test_crit_header_is_rejected():
    h = {"alg": "RS256", "kid": KID, "crit": ["exp"]}
    with pytest.raises(TokenError, match="critical"):
        check(raw_token(h, claims()))


# ---- requests -------------------------------------------------------------------------------------

def test_snp_request_body_layout_roundtrips():
    ev = V.snp_evidence_bin()
    body = maa.build_request("SevSnpVm", ev, nonce="abcd")
    assert set(body) == set(["report", "runtimeData", "nonce"])
    assert body["runtimeData"]["dataType"] == "JSON"
    inner = json.loads(util.b64decode(body["report"]))
    assert set(inner) == set(["SnpReport", "VcekCertChain"])
    rep = hcl.parse(base64.b64decode(ev["hcl_report"]))
    assert util.b64decode(inner["SnpReport"]) == rep.snp_report
    assert "=" not in body["report"] and "+" not in body["report"]
    parsed = maa.parse_request("SevSnpVm", body)
    assert parsed["runtime_data"] == rep.claims_bytes
    assert parsed["vcek_chain"].count("BEGIN CERTIFICATE") == 3
    assert maa.attest_path("snp") == "/attest/SevSnpVm?api-version=2022-08-01"


def test_tdx_request_body_layout():
    ev = V.tdx_evidence_bin()
    body = maa.build_request("TdxVm", ev, nonce="abcd")
    assert set(body) == set(["quote", "runtimeData", "nonce"])
    assert util.b64decode(body["quote"]) == base64.b64decode(ev["td_quote"])
    assert maa.attest_path("tdx", "2023-04-01-preview") == "/attest/TdxVm?api-version=2023-04-01-preview"


@pytest.mark.parametrize("body", [{}, {"report": "!!"}, {"report": util.b64url(b"[]")},
                                  {"report": util.b64url(b'{"SnpReport": 1}')}, "x",
                                  {"report": util.b64url(b'{"SnpReport":"AA","VcekCertChain":"AA"}'),
                                   "runtimeData": {"data": 5}}])
def test_bad_request_bodies_raise_parse_errors(body):
    with pytest.raises(ParseError):
        maa.parse_request("SevSnpVm", body)


# ---- simulator service ----------------------------------------------------------------------------

def _sim():
    here = os.path.dirname(os.path.abspath(__file__))
    sim_dir = os.path.join(here, "..", "..", "..", "..", "simulator")
    sys.path.insert(0, os.path.abspath(sim_dir))
    try:
        from azsim import maa as simmaa  # pylint: disable=import-error
    finally:
        sys.path.pop(0)
    return simmaa


def service(roots=None):
    from cryptography.hazmat.primitives import serialization
    return _sim().MaaService(ISSUER, KEY, CERT.public_bytes(serialization.Encoding.PEM), trust_roots=roots)


def test_simulator_issues_verifiable_tokens_for_real_snp_evidence():
    svc = service()
    st, resp = svc.attest("SevSnpVm", "2022-08-01", maa.build_request("SevSnpVm", V.snp_evidence_bin(), nonce="n1"))
    assert st == 200
    c = maa.verify_token(resp["token"], svc.jwks(), ISSUER, nonce="n1")
    assert c["x-ms-attestation-type"] == "sevsnpvm"
    assert c["x-ms-compliance-status"] == "azure-compliant-cvm"
    assert c["x-ms-sevsnpvm-microcode-svn"] == 115
    assert c["x-ms-runtime"]["vm-configuration"]["vmUniqueId"] == "911B0EF8-9DBA-48B0-B275-4E4DF2D39252"
    assert c["exp"] - c["iat"] == 8 * 3600
    assert svc.openid_configuration()["jwks_uri"] == ISSUER + "/certs"


def test_simulator_tdx_and_test_roots():
    svc = service()
    st, resp = svc.attest("TdxVm", "2025-06-01", maa.build_request("TdxVm", V.tdx_evidence_bin(), nonce="n"))
    assert st == 200
    assert maa.verify_token(resp["token"], svc.jwks(), ISSUER)["x-ms-attestation-type"] == "tdxvm"
    ev, nonce, chain = synth.snp_evidence()
    st, resp = svc.attest("SevSnpVm", "2022-08-01", maa.build_request("SevSnpVm", ev, nonce=nonce))
    assert st == 400 and resp["error"]["code"] == "InvalidParameter"
    assert "snp.vcek_chain" in resp["error"]["message"]
    svc.add_trust_root(chain.roots[0])
    st, resp = svc.attest("SevSnpVm", "2022-08-01", maa.build_request("SevSnpVm", ev, nonce=nonce))
    assert st == 200


def test_simulator_errors():
    svc = service()
    body = maa.build_request("SevSnpVm", V.snp_evidence_bin())
    assert svc.attest("SevSnpVm", None, body)[0] == 400
    assert svc.attest("SevSnpVm", "1999-01-01", body)[1]["error"]["code"] == "InvalidApiVersion"
    assert svc.attest("SgxEnclave2", "2022-08-01", body)[0] == 404
    assert svc.attest("SevSnpVm", "2022-08-01", b"not json")[0] == 400
    # runtime data that is not the one bound into the report
    body["runtimeData"]["data"] = util.b64url(b'{"keys":[]}')
    st, resp = svc.attest("SevSnpVm", "2022-08-01", body)
    assert st == 400 and "runtime" in resp["error"]["message"]


def test_simulator_debug_report_gets_no_compliance_claim():
    chain = synth.AmdChain(tag="simdebug")
    svc = service(chain.roots)
    ev, nonce, chain = synth.snp_evidence(chain=chain, policy=synth.AZURE_POLICY | synth.DEBUG)
    st, resp = svc.attest("SevSnpVm", "2022-08-01", maa.build_request("SevSnpVm", ev, nonce=nonce))
    c = maa.verify_token(resp["token"], svc.jwks(), ISSUER)
    assert c["x-ms-sevsnpvm-is-debuggable"] is True and "x-ms-compliance-status" not in c


# ---- verify_evidence through MAA ------------------------------------------------------------------

def maa_opts(svc, tamper=None, now=None):
    def attest(kind, body):
        st, resp = svc.attest(kind, maa.DEFAULT_API_VERSIONS[kind], body)
        if st != 200:
            raise VerificationError(resp["error"]["message"])
        return tamper(resp["token"]) if tamper else resp["token"]
    return {"attest": attest, "jwks": svc.jwks, "issuer": ISSUER}


def test_verify_with_maa_adds_token_claims_and_compliance_policy():
    svc = service()
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(), {"maa": maa_opts(svc)})
    assert res.verdict == "pass", res.checks
    assert res.get("maa.token")["result"] == "pass"
    assert res.get("policy:maa-compliance-status")["result"] == "pass"
    assert res.claims["x-ms-compliance-status"] == "azure-compliant-cvm"
    assert res.maa_token_claims["nonce"] == V.CHALLENGE_HEX


def test_verify_with_maa_rejects_a_token_from_another_signer():
    svc = service()
    forger = _sim().MaaService(ISSUER, synth.rsa_key("forger"), CERT.public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM))
    opts = maa_opts(forger)
    opts["jwks"] = svc.jwks  # the real provider's keys
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(), {"maa": opts})
    assert res.verdict == "fail" and "maa.token" in [c["name"] for c in res.failed()]


def test_verify_with_maa_rejects_token_for_other_evidence():
    svc = service()
    other = svc.attest("TdxVm", "2025-06-01", maa.build_request("TdxVm", V.tdx_evidence_bin(), nonce=V.CHALLENGE_HEX))
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(),
                 {"maa": maa_opts(svc, tamper=lambda t: other[1]["token"])})
    # the mismatching token is refused, so no compliance claim reaches the policy either
    assert [c["name"] for c in res.failed()] == ["maa.claims_match", "provenance", "policy:maa-compliance-status"]


def test_verify_with_maa_down_fails_closed():
    def attest(kind, body):
        raise IOError("connection refused")
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(),
                 {"maa": {"attest": attest, "jwks": {}, "issuer": ISSUER}})
    assert res.verdict == "fail"
    assert [c["name"] for c in res.failed()] == ["maa.request", "provenance", "policy:maa-compliance-status"]


def test_release_policy_evaluation_with_and_without_maa():
    policy = json.loads(V.read("Azure-confidential-computing-cvm", "cvm_deployment", "key", "skr-policy.json"))
    local = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(), {"release_policy": policy})
    assert local.release_policy_result["released"] is False
    assert local.release_policy_result["decision"] == "unknown"  # x-ms-compliance-status: only MAA issues it
    assert local.get("release_policy")["result"] == "fail"
    # with a token from a provider named in the policy, Key Vault would release
    authority = policy["anyOf"][0]["authority"]
    global ISSUER
    saved = ISSUER
    try:
        ISSUER = authority
        svc = service()
        opts = maa_opts(svc)
        res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(),
                     {"maa": opts, "release_policy": policy})
    finally:
        ISSUER = saved
    assert res.release_policy_result["released"] is True, res.release_policy_result
    assert res.verdict == "pass", res.checks


def test_verify_tdx_with_maa_reports_the_tcb_status_from_the_token():
    svc = service()
    res = verify(V.tdx_evidence_bin(), V.CHALLENGE_HEX, TrustStore(), {"maa": maa_opts(svc)})
    assert res.verdict == "pass", res.checks
    # the simulator grades this quote with Intel's TCB info: TDX module TDX_01 at isvsvn 2 is OutOfDate
    assert "OutOfDate" in res.get("tdx.tcb_status")["reason"]
    assert res.claims["attester_tcb_status"] == "OutOfDate"
    assert res.claims["x-ms-isolation-tee"]["x-ms-compliance-status"] == "azure-compliant-cvm"
    res = verify(V.tdx_evidence_bin(), V.CHALLENGE_HEX, TrustStore(), {
        "maa": maa_opts(svc), "policy": [{"name": "tcb", "query": "attester_tcb_status", "expect": "UpToDate"}]})
    assert [c["name"] for c in res.failed()] == ["policy:tcb"]


def test_release_policy_is_evaluated_on_the_token_key_vault_would_get():
    # an AzureGuest-style policy (x-ms-isolation-tee.*) is NOT satisfied by a platform SevSnpVm token,
    # even though the locally merged claims carry x-ms-isolation-tee
    policy = json.loads(V.read("Azure-confidential-computing-cvm-guest-attestation", "cvm-datadisk-enc-scripts",
                               "public_SKR_policy-datadisk.json"))
    global ISSUER
    saved = ISSUER
    try:
        ISSUER = policy["anyOf"][0]["authority"].rstrip("/")
        svc = service()
        res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(),
                     {"maa": maa_opts(svc), "release_policy": policy})
    finally:
        ISSUER = saved
    assert res.claims["x-ms-isolation-tee"]["x-ms-compliance-status"] == "azure-compliant-cvm"
    assert res.release_policy_result["claims_source"] == "maa_token"
    assert res.release_policy_result["released"] is False
    assert [c["name"] for c in res.failed()] == ["release_policy"]


def test_release_policy_fails_when_maa_token_was_refused():
    policy = json.loads(V.read("Azure-confidential-computing-cvm", "cvm_deployment", "key", "skr-policy.json"))

    def attest(kind, body):
        raise IOError("down")
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(),
                 {"maa": {"attest": attest, "jwks": {}, "issuer": policy["anyOf"][0]["authority"]},
                  "release_policy": policy})
    assert res.release_policy_result == {"released": False, "decision": "no_release",
                                         "authority": policy["anyOf"][0]["authority"],
                                         "claims_source": "none",
                                         "reasons": ["no verified MAA token: Key Vault would not get one"]}
