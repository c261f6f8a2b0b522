# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every vector in ../shared/vectors yields the verdict MANIFEST.md documents."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import (
    hcl, snp, tdx, tpm, maa, certs)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import (
    AttestationError, VerificationError)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence as verify_evidence_strict
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

# The crypto checks under test predate issue 13's verdict defaults (provenance required, 16-byte nonce,
# nonce binding required); test_verify_provenance.py covers those. Options given by a test win.
PRE_ISSUE13_DEFAULTS = {"require_nonce_binding": False, "insecure_skip_provenance": True, "min_nonce_bytes": 9}


def verify_evidence(evidence, nonce, trust=None, options=None):
    return verify_evidence_strict(evidence, nonce, trust, dict(PRE_ISSUE13_DEFAULTS, **(options or {})))


T = V.TRUSTEE
FLASHBOTS_TIME = 1764662251  # when the flashbots TDX evidence was collected (2025-12-02)
STORE = TrustStore()


def failed(res):
    return [c["name"] for c in res.checks if c["result"] == "fail"]


def status(res, name):
    c = [c for c in res.checks if c["name"] == name]
    assert c, "check %s not reported" % name
    return c[0]["result"]


E2E = [
    ("trustee az-snp-vtpm evidence-v0.json", V.snp_evidence_v0, "snp"),
    ("trustee az-snp-vtpm evidence-v1.json (VCEK only, ASK pinned)", V.snp_evidence_v1, "snp"),
    ("trustee az-snp-vtpm hcl-report.bin + vcek.pem + tpm-quote-v1.json", V.snp_evidence_bin, "snp"),
    ("trustee az-snp-vtpm quote.bin (bincode)", V.snp_evidence_bincode_quote, "snp"),
    ("trustee az-tdx-vtpm evidence-v0.json", V.tdx_evidence_v0, "tdx"),
    ("trustee az-tdx-vtpm evidence-v1.json", V.tdx_evidence_v1, "tdx"),
    ("trustee az-tdx-vtpm hcl-report.bin + td-quote.bin + tpm-quote-v1.json", V.tdx_evidence_bin, "tdx"),
    ("trustee az-tdx-vtpm quote.bin (bincode)", V.tdx_evidence_bincode_quote, "tdx"),
]


@pytest.mark.parametrize("name,make,tee", E2E, ids=[e[0] for e in E2E])
def test_real_azure_evidence_passes_end_to_end(name, make, tee):
    res = verify_evidence(make(), V.CHALLENGE_HEX, STORE)
    assert res.verdict == "pass", res.checks
    assert res.tee == tee
    for check in ("hcl.claims_binding", "tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_digest"):
        assert status(res, check) == "pass"
    if tee == "snp":
        for check in ("snp.vcek_chain", "snp.signature", "snp.chip_id", "snp.reported_tcb"):
            assert status(res, check) == "pass"
        assert res.claims["x-ms-attestation-type"] == "sevsnpvm"
        assert res.claims["x-ms-sevsnpvm-is-debuggable"] is False
        assert res.claims["x-ms-sevsnpvm-product"] == "Milan"
    else:
        for check in ("tdx.quote_signature", "tdx.qe_report_signature", "tdx.qe_report_binding", "tdx.pck_chain",
                      "tdx.report_data_binding"):
            assert status(res, check) == "pass"
        assert res.claims["x-ms-attestation-type"] == "tdxvm"
        # no Intel TCB info supplied: the minimum TEE_TCB_SVN rule decides (status not evaluated, said so)
        assert status(res, "tdx.tcb_status") == "pass"
    # user-data is all zero in these vectors: only the quote nonce binds freshness, and it is said so
    nb = [c for c in res.checks if c["name"] == "hcl.nonce_binding"][0]
    assert "not bound to this nonce" in nb["reason"]
    assert res.nonce_bound is False


@pytest.mark.parametrize("make", [V.snp_evidence_bin, V.tdx_evidence_bin])
def test_real_evidence_fails_when_nonce_binding_is_required(make):
    res = verify_evidence(make(), V.CHALLENGE_HEX, STORE, {"require_nonce_binding": True})
    assert res.verdict == "fail"
    assert failed(res) == ["hcl.nonce_binding"]


@pytest.mark.parametrize("make", [V.snp_evidence_bin, V.tdx_evidence_bin, V.snp_evidence_v0])
def test_real_evidence_with_another_nonce_is_a_replay(make):
    res = verify_evidence(make(), b"other nonce".hex(), STORE)
    assert res.verdict == "fail"
    assert failed(res) == ["tpm.quote_nonce"]


def test_v0_and_v1_of_the_same_vm_give_the_same_claims():
    a = verify_evidence(V.snp_evidence_v0(), V.CHALLENGE_HEX, STORE).claims
    b = verify_evidence(V.snp_evidence_v1(), V.CHALLENGE_HEX, STORE).claims
    assert a == b
    assert a["x-ms-sevsnpvm-vmpl"] == 0


def test_snp_report_versions_2_and_3_in_real_reports():
    v2 = hcl.parse(V.read(*T + ("test_data", "az-snp-vtpm", "hcl-report.bin")))
    assert snp.parse(v2.snp_report).version == 2
    ev = V.snp_evidence_v0()
    v3 = hcl.parse(base64.b64decode(ev["hcl_report"]))
    rep = snp.parse(v3.snp_report)
    assert rep.version == 3 and rep.product_hint == "Milan"


def test_snp_hcl_report_bin_tcb_matches_manifest():
    rep = snp.parse(hcl.parse(V.read(*T + ("test_data", "az-snp-vtpm", "hcl-report.bin"))).snp_report)
    assert rep.reported_tcb == 0x7308000000000003
    assert rep.policy == 0x3001F


def test_flashbots_tdx_evidence_with_padded_ak_certificate_chains_to_vtpm_root():
    # at the evidence's own time: its AK certificate expired on 2026-11-30 (test_verify_provenance.py checks that)
    res = verify_evidence(V.flashbots_tdx_evidence(), V.FLASHBOTS_NONCE_HEX, STORE, {"now": FLASHBOTS_TIME})
    assert status(res, "ak_cert.key_match") == "pass"
    assert status(res, "ak_cert.chain") == "pass"
    for check in ("tdx.quote_signature", "tdx.pck_chain", "tdx.report_data_binding", "tpm.quote_signature",
                  "tpm.quote_nonce", "tpm.pcr_digest"):
        assert status(res, check) == "pass"
    # that VM ran with secure boot off: the shipped default policy rejects it, and only that
    assert res.claims["secureboot"] is False
    assert failed(res) == ["policy:secure-boot"]
    assert res.verdict == "fail"
    ok = verify_evidence(V.flashbots_tdx_evidence(), V.FLASHBOTS_NONCE_HEX, STORE,
                         {"policy": [{"name": "secure-boot", "query": "secureboot", "expect": False}],
                          "now": FLASHBOTS_TIME, "insecure_skip_provenance": False})
    assert ok.provenance == ["ak_cert"]
    assert ok.verdict == "pass", ok.checks


def test_flashbots_ak_cert_derived_der_equals_blob_cut_at_der_length():
    der = V.read(*V.FLASHBOTS[:-1] + (V.FLASHBOTS[-1] + ".akcert.der",))
    blob_cert = certs.load_any(V.flashbots_tdx_evidence()["ak_cert"])[0]
    assert certs.load_any(der)[0] == blob_cert


def test_flashbots_ak_cert_without_intermediate_or_with_only_amd_roots_fails():
    ev = V.flashbots_tdx_evidence()
    bare = TrustStore(builtin=False, extra_intel_roots=[certs.to_pem(c) for n, c in STORE.intel_roots])
    res = verify_evidence(ev, V.FLASHBOTS_NONCE_HEX, bare,
                          {"policy": [{"name": "secure-boot", "query": "secureboot", "expect": False}]})
    assert "ak_cert.chain" in failed(res)
    assert res.verdict == "fail"


def test_go_sev_guest_report_with_debug_set_fails_debug_check_only():
    rep = snp.parse(V.read("google-go-sev-guest", "verify", "testdata", "attestation.bin"))
    assert rep.policy == 0xB0000 and rep.debug
    vcek = certs.load_any(V.read("google-go-sev-guest", "verify", "testdata", "vcek.testcer"))[0]
    chain = V.read("google-go-sev-guest", "verify", "testdata", "milan.testcer").decode()
    res = snp.SnpResult()
    with pytest.raises(VerificationError) as err:
        snp.verify(rep, certs.to_pem(vcek), [chain], STORE.amd_arks, result=res)
    assert err.value.check == "snp.debug"
    assert [c[0] for c in res.checks] == ["snp.vcek_chain", "snp.revocation", "snp.product", "snp.signature",
                                          "snp.chip_id", "snp.reported_tcb"]


def test_trustee_raw_snp_report_and_vcek_verify():
    rep = snp.parse(V.read(*T + ("test_data", "snp", "test-report.bin")))
    vcek = V.read(*T + ("test_data", "snp", "test-vcek.der"))
    res = snp.verify(rep, vcek, None, STORE.amd_arks, trusted_asks=STORE.amd_asks, expected_vmpl=None)
    assert res.product == "Milan"
    assert [c[0] for c in res.checks][:6] == ["snp.vcek_chain", "snp.revocation", "snp.product", "snp.signature",
                                              "snp.chip_id", "snp.reported_tcb"]


@pytest.mark.parametrize("name", ["test-vcek-invalid-legacy.der", "test-vcek-invalid-new.der"])
def test_trustee_invalid_vceks_are_rejected(name):
    rep = snp.parse(V.read(*T + ("test_data", "snp", "test-report.bin")))
    vcek = V.read(*T + ("test_data", "snp", name))
    with pytest.raises(VerificationError) as err:
        snp.verify(rep, vcek, None, STORE.amd_arks, trusted_asks=STORE.amd_asks, expected_vmpl=None)
    assert err.value.check in ("snp.vcek_chain", "snp.signature")


def test_trustee_new_invalid_vcek_hwid_octet_string_is_unwrapped():
    info = snp.VcekInfo(certs.load_any(V.read(*T + ("test_data", "snp", "test-vcek-invalid-new.der")))[0])
    assert len(info.hwid) == 64


def test_kinvolk_old_2048_byte_snp_report_parses_and_binds_but_cannot_be_verified():
    raw = V.read("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "hcl-report-snp.bin")
    rep = hcl.parse(raw)
    assert len(raw) == 2048 and rep.version == 1 and rep.tee == "snp"
    assert rep.verify_claims_binding()
    assert rep.user_data is None and "current-time" in rep.vm_configuration
    # certs.pem belongs to another chip: chip_id / signature check must fail
    chain = V.read("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "certs.pem").decode()
    with pytest.raises(VerificationError) as err:
        snp.verify(snp.parse(rep.snp_report), chain, None, STORE.amd_arks)
    assert err.value.check in ("snp.signature", "snp.chip_id")
    # and the full verifier says fail (no quote either), never pass
    res = verify_evidence({"hcl_report": base64.b64encode(raw).decode(), "vcek": chain}, V.CHALLENGE_HEX, STORE)
    assert res.verdict == "fail"
    assert "snp.signature" in failed(res) or "snp.chip_id" in failed(res)
    assert "tpm.quote" in failed(res)


def test_kinvolk_certs_pem_chain_is_valid_milan():
    chain = certs.load_any(V.read("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "certs.pem").decode())
    name, path = snp.verify_chain(chain[0], chain[1:], STORE.amd_arks)
    assert name == "Milan" and len(path) == 3


def test_kinvolk_tdx_report_binds_but_fails_without_a_quote():
    raw = V.read("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "hcl-report-tdx.bin")
    rep = hcl.parse(raw)
    assert rep.tee == "tdx" and rep.verify_claims_binding()
    res = verify_evidence({"hcl_report": base64.b64encode(raw).decode()}, V.CHALLENGE_HEX, STORE)
    assert res.verdict == "fail"
    assert status(res, "hcl.claims_binding") == "pass"
    assert "tdx.quote" in failed(res) and "tpm.quote" in failed(res)


def test_kinvolk_akpub_and_quote_verify_but_not_for_another_ak():
    q = V.quote_from_bincode(V.read("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "quote.bin"))
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    key = load_pem_public_key(V.read("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "akpub.pem"))
    att = tpm.verify_quote(q["message"], q["signature"], key, b"challenge", q["pcrs"])
    assert att.pcr_indices == list(range(24))
    other = hcl.parse(V.read(*T + ("test_data", "az-snp-vtpm", "hcl-report.bin"))).ak_pub
    with pytest.raises(VerificationError) as err:
        tpm.verify_quote(q["message"], q["signature"], other, b"challenge", q["pcrs"])
    assert err.value.check == "tpm.quote_signature"


def test_cvm_attestation_tools_misnamed_snp_report_is_dispatched_as_tdx():
    raw = V.read("Azure-cvm-attestation-tools", "cvm-attestation", "tests", "reports", "snp_hcl_report.bin")
    rep = hcl.parse(raw)
    assert rep.tee == "tdx" and rep.report_type == 4
    assert rep.verify_claims_binding()


@pytest.mark.parametrize("name,version", [("td_quote_v4.dat", 4), ("td_quote_v5.dat", 5)])
def test_cvm_attestation_tools_td_quotes_verify_dcap_crypto(name, version):
    q = tdx.parse_quote(V.read("Azure-cvm-attestation-tools", "cvm-attestation", "tests", "reports", name))
    assert q.version == version
    res = tdx.verify(q, STORE.intel_roots)
    assert [c[0] for c in res.checks] == ["tdx.quote_signature", "tdx.pck_chain", "tdx.revocation",
                                          "tdx.qe_report_signature", "tdx.qe_report_binding", "tdx.qe_identity",
                                          "tdx.debug", "tdx.tcb_status"]


def test_cvm_attestation_tools_quote_is_not_paired_with_its_hcl_report():
    raw = V.read("Azure-cvm-attestation-tools", "cvm-attestation", "tests", "reports", "snp_hcl_report.bin")
    quote = V.read("Azure-cvm-attestation-tools", "cvm-attestation", "tests", "reports", "td_quote_v4.dat")
    res = verify_evidence({"hcl_report": base64.b64encode(raw).decode(), "td_quote": base64.b64encode(quote).decode()},
                          "00", STORE, {"min_nonce_bytes": 1})
    assert "tdx.report_data_binding" in failed(res)
    assert res.verdict == "fail"


def test_td_quote_fails_against_only_amd_roots():
    only_amd = TrustStore(builtin=False, extra_amd_roots=[certs.to_pem(c) for n, c in STORE.amd_arks])
    res = verify_evidence(V.tdx_evidence_bin(), V.CHALLENGE_HEX, only_amd)
    assert "tdx.pck_chain" in failed(res)


def test_snp_evidence_fails_without_pinned_amd_roots():
    res = verify_evidence(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(builtin=False))
    assert "snp.vcek_chain" in failed(res)
    assert res.verdict == "fail"


def test_vcek_from_a_different_chip_is_rejected_with_chip_or_signature_check():
    ev = V.snp_evidence_bin()
    ev["vcek"] = V.read("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "certs.pem").decode()
    res = verify_evidence(ev, V.CHALLENGE_HEX, STORE)
    assert res.verdict == "fail"
    assert failed(res)[0] in ("snp.signature", "snp.chip_id")


def test_ak_key_of_another_vm_fails_the_quote_signature():
    snp_ev = V.snp_evidence_bin()
    snp_ev["tpm_quote"] = V.tdx_evidence_bin()["tpm_quote"]
    res = verify_evidence(snp_ev, V.CHALLENGE_HEX, STORE)
    assert failed(res) == ["tpm.quote_signature"]


def test_real_maa_token_and_jwks_recording_verify():
    rec = json.loads(V.read("Azure-azure-sdk-for-cpp", "sdk", "attestation", "azure-security-attestation", "test", "ut",
                            "recordings", "Attestation-AttestationTests.SimpleAttest-SgxEnclave_Shared.json"))
    token = jwks = None
    for entry in rec["networkCallRecords"]:
        body = entry.get("Response", {}).get("BODY")
        if not body:
            continue
        data = json.loads(body)
        if "keys" in data:
            jwks = data
        if "token" in data:
            token = data["token"]
    assert token and jwks
    header, payload = maa.decode_unverified(token)
    claims = maa.verify_token(token, jwks, payload["iss"], now=payload["iat"] + 10,
                              certs_url_expected=header.get("jku"))
    assert claims["iss"] == payload["iss"]
    # the same token today is expired
    with pytest.raises(VerificationError):
        maa.verify_token(token, jwks, payload["iss"], certs_url_expected=header.get("jku"))
    # and issued by another provider it is not accepted
    with pytest.raises(VerificationError):
        maa.verify_token(token, jwks, "https://sharedeus.eus.attest.azure.net", now=payload["iat"] + 10,
                         certs_url_expected=header.get("jku"))


def test_all_negative_vectors_raise_clean_errors_only():
    """Negative material must fail with AttestationError subclasses, never a crash."""
    for name in ("test-vcek-invalid-legacy.der", "test-vcek-invalid-new.der"):
        try:
            snp.verify(V.read(*T + ("test_data", "snp", "test-report.bin")), V.read(*T + ("test_data", "snp", name)),
                       None, STORE.amd_arks)
        except AttestationError:
            pass
        else:
            raise AssertionError("%s accepted" % name)
