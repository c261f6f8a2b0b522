# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JMESPath policy and the fail-closed orchestration of verify_evidence."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import policy, snp
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import PolicyError
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

CLAIMS = {"x-ms-attestation-type": "sevsnpvm", "x-ms-sevsnpvm-vmpl": 0, "x-ms-sevsnpvm-is-debuggable": False,
          "secureboot": True, "x-ms-runtime": {"vm-configuration": {"tpm-enabled": True}}}

# the real vectors: 9-byte nonce "challenge", all-zero user-data, no AK certificate (provenance: see
# test_verify_provenance.py); these tests are about the policy and the orchestration
VECTOR_OPTIONS = {"min_nonce_bytes": 9, "require_nonce_binding": False, "insecure_skip_provenance": True}


def verify(evidence, nonce, trust, options=None):
    return verify_evidence(evidence, nonce, trust, dict(VECTOR_OPTIONS, **(options or {})))


def results(assertions, claims=None):
    return dict((r["name"], r["result"]) for r in policy.evaluate(assertions, claims or CLAIMS))


def test_expect_and_truthiness():
    r = results([{"name": "a", "query": '"x-ms-sevsnpvm-vmpl"', "expect": 0},
                 {"name": "b", "query": '"x-ms-runtime"."vm-configuration"."tpm-enabled"'},
                 {"name": "c", "query": "missing"},
                 {"name": "d", "query": '"x-ms-attestation-type"', "expect": "tdxvm"},
                 {"name": "e", "query": "contains(['sevsnpvm','tdxvm'], \"x-ms-attestation-type\")"}])
    assert r == {"a": "pass", "b": "pass", "c": "fail", "d": "fail", "e": "pass"}


def test_booleans_are_not_numbers():
    r = results([{"name": "a", "query": '"x-ms-sevsnpvm-is-debuggable"', "expect": 0},
                 {"name": "b", "query": "secureboot", "expect": 1}])
    assert r == {"a": "fail", "b": "fail"}


@pytest.mark.parametrize("bad", [[{"name": "x"}], [{"query": "a"}], [{"name": "x", "query": "a[", "expect": 1}],
                                 [{"name": "x", "query": "a", "unknown": 1}], "nope",
                                 [{"name": "x", "query": "a"}, {"name": "x", "query": "b"}]])
def test_invalid_policies_raise(bad):
    with pytest.raises(PolicyError):
        policy.evaluate(bad, CLAIMS)


def test_user_assertion_replaces_default_of_same_name_and_defaults_can_be_disabled():
    d = policy.default_assertions("snp")
    merged = policy.merge(d, [{"name": "secure-boot", "query": "secureboot", "expect": False}])
    assert [a for a in merged if a["name"] == "secure-boot"][0]["expect"] is False
    assert len(merged) == len(d)
    assert policy.merge(d, [{"name": "x", "query": "a"}], use_defaults=False) == [{"name": "x", "query": "a"}]


def test_defaults_per_tee():
    snp_names = [a["name"] for a in policy.default_assertions("snp", maa_used=True, expected_tee="snp")]
    assert snp_names == ["tee-type-present", "tee-type-matches-vm-size", "maa-compliance-status", "not-debuggable",
                         "vmpl-0", "secure-boot"]
    tdx_names = [a["name"] for a in policy.default_assertions("tdx")]
    assert "vmpl-0" not in tdx_names and "not-debuggable" in tdx_names


def test_user_policy_failure_fails_the_verdict():
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(),
                 {"policy": [{"name": "golden-measurement", "query": '"x-ms-sevsnpvm-launchmeasurement"',
                              "expect": "00" * 48}]})
    assert res.verdict == "fail"
    assert [c["name"] for c in res.failed()] == ["policy:golden-measurement"]


def test_launch_measurement_policy_passes_with_the_right_value():
    base = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore())
    m = base.claims["x-ms-sevsnpvm-launchmeasurement"]
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore(),
                 {"policy": [{"name": "golden", "query": '"x-ms-sevsnpvm-launchmeasurement"', "expect": m}]})
    assert res.verdict == "pass"


def test_any_exception_in_a_check_fails_that_check(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("unexpected")
    monkeypatch.setattr(snp, "verify", boom)
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore())
    assert res.verdict == "fail"
    failed = res.failed()
    assert failed[0]["name"] == "snp.vcek_chain" and "internal error" in failed[0]["reason"]


def test_a_mandatory_check_that_did_not_run_fails_the_verdict():
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore())
    assert res.verdict == "pass"
    res.checks = [c for c in res.checks if c["name"] != "snp.signature"]
    assert res.verdict == "fail"
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, TrustStore())
    res.get("tpm.pcr_digest")["result"] = "skip"
    assert res.verdict == "fail"


@pytest.mark.parametrize("evidence,nonce", [(None, "00"), ({}, "00"), ({"hcl_report": "!!"}, "00"),
                                            ({"hcl_report": "AAAA"}, "00"), ({"hcl_report": "AAAA", "bogus": 1}, "00"),
                                            ({"hcl_report": "AAAA", "tpm_quote": {"message": "x"}}, "00"),
                                            (V.snp_evidence_bin(), None), (V.snp_evidence_bin(), "zz")])
def test_bad_inputs_give_a_fail_verdict_not_an_exception(evidence, nonce):
    res = verify(evidence, nonce, TrustStore())
    assert res.verdict == "fail"
    assert res.failed()


def test_bad_trust_input_fails():
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, {"extra_amd_roots": ["not a pem"]})
    assert res.verdict == "fail" and res.failed()[0]["name"] == "trust.anchors"
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, {"extra_ark": []})
    assert res.verdict == "fail"


def test_result_dict_shape():
    out = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, None).to_dict()
    assert set(out) == set(["verdict", "checks", "claims", "provenance", "insecure_skip_provenance"])
    assert all(set(c) == set(["name", "result", "reason"]) for c in out["checks"])
    assert all(c["result"] in ("pass", "fail", "skip") for c in out["checks"])


def test_pinned_anchor_tampering_is_detected(monkeypatch):
    from ansible_collections.confidential.azure.plugins.module_utils._attestation import anchors, trust
    monkeypatch.setattr(trust, "_BUILTIN", {})
    bad = dict(anchors.AMD_ARKS)
    bad["Milan"] = dict(bad["Milan"], sha256="00" * 32)
    monkeypatch.setattr(anchors, "AMD_ARKS", bad)
    res = verify(V.snp_evidence_bin(), V.CHALLENGE_HEX, None)
    assert res.verdict == "fail" and res.failed()[0]["name"] == "trust.anchors"
