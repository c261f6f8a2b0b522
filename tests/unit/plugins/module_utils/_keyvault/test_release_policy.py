# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._keyvault import release_policy as rp
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors

EUS = "https://sharedeus.eus.attest.azure.net"
WEU = "https://sharedweu.weu.attest.azure.net"
CVM_CLAIMS = {"x-ms-compliance-status": "azure-compliant-cvm", "x-ms-attestation-type": "sevsnpvm"}


def cvm_rule(authority, *conditions):
    return {"authority": authority, "allOf": list(conditions)}


def cond(claim, op="equals", value="x"):
    return {"claim": claim, op: value}


# ------------------------------------------------------------------ default_cvm

def test_default_cvm_matches_azure_cli_shape():
    assert rp.default_cvm([EUS]) == {
        "version": "1.0.0",
        "anyOf": [{"authority": EUS, "allOf": [{"claim": "x-ms-compliance-status", "equals": "azure-compliant-cvm"}]}],
    }


def test_default_cvm_one_entry_per_authority_in_order():
    policy = rp.default_cvm([WEU, EUS])
    assert rp.authorities(policy) == [WEU, EUS]
    assert all(rule["allOf"] == [{"claim": "x-ms-compliance-status", "equals": "azure-compliant-cvm"}]
               for rule in policy["anyOf"])


def test_default_cvm_drops_duplicate_authorities_ignoring_trailing_slash_and_case():
    policy = rp.default_cvm([EUS, EUS + "/", EUS.upper().replace("HTTPS", "https")])
    assert rp.authorities(policy) == [EUS]


def test_default_cvm_keeps_authority_verbatim_like_the_cli():
    assert rp.authorities(rp.default_cvm([EUS + "/"])) == [EUS + "/"]


@pytest.mark.parametrize("bad", [[], EUS, None, ["http://plain.example"], [""], [42]])
def test_default_cvm_rejects_bad_authorities(bad):
    with pytest.raises(rp.PolicyError):
        rp.default_cvm(bad)


def test_default_cvm_lints_clean_for_key_vault():
    assert rp.lint(rp.default_cvm([EUS, WEU])) == []


# ------------------------------------------------------------------ guest_cvm

GUEST_SAMPLE = ("Azure-confidential-computing-cvm-guest-attestation", "cvm-datadisk-enc-scripts",
                "public_SKR_policy-datadisk.json")
GUEST_TOKEN = ("Azure-confidential-computing-cvm-guest-attestation", "cvm-attestation-sample-app",
               "sampleAttestationToken.json")


def _sorted_conditions(policy):
    """Microsoft's sample lists the TEE-type group first; compare the conditions of each authority as a set."""
    return {rp._norm_authority(rule["authority"]): sorted(json.dumps(i, sort_keys=True) for i in rule["allOf"])
            for rule in policy["anyOf"]}


def test_guest_cvm_requires_what_microsofts_data_disk_policy_requires():
    sample = json.loads(vectors.read(*GUEST_SAMPLE))
    ours = rp.guest_cvm(rp.authorities(sample))
    assert rp.lint(ours) == []
    assert _sorted_conditions(ours) == _sorted_conditions(sample)


def test_guest_cvm_releases_to_a_real_guest_token_and_not_to_a_platform_token():
    guest = json.loads(vectors.read(*GUEST_TOKEN))
    policy = rp.guest_cvm([EUS])
    assert rp.evaluate(policy, guest, authority=EUS)[0] is True
    assert rp.evaluate(policy, guest, authority=WEU)[0] is False
    assert rp.evaluate(policy, CVM_CLAIMS, authority=EUS)[0] is False
    assert rp.evaluate(rp.default_cvm([EUS]), guest, authority=EUS)[0] is False
    tdx_only = rp.guest_cvm([EUS], tee_types=["tdxvm"])
    assert rp.evaluate(tdx_only, guest, authority=EUS)[0] is False
    assert tdx_only["anyOf"][0]["allOf"][1] == {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "tdxvm"}


@pytest.mark.parametrize("tee_types", [[], "sevsnpvm", ["sgx"], ["sevsnpvm", "azurevm"]])
def test_guest_cvm_refuses_other_tee_types(tee_types):
    with pytest.raises(rp.PolicyError, match="tee_types"):
        rp.guest_cvm([EUS], tee_types=tee_types)


# ------------------------------------------------------------------ lint

def test_lint_accepts_reference_policy_with_nested_anyof():
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(
        EUS,
        cond("x-ms-compliance-status", value="azure-compliant-cvm"),
        {"anyOf": [cond("x-ms-attestation-type", value="sevsnpvm"), cond("x-ms-attestation-type", value="tdxvm")]},
    )]}
    assert rp.lint(policy) == []


def test_lint_accepts_json_string():
    assert rp.lint(json.dumps(rp.default_cvm([EUS]))) == []


def test_lint_reports_invalid_json():
    errors = rp.lint("{not json")
    assert len(errors) == 1 and "not valid JSON" in errors[0]


@pytest.mark.parametrize("policy, fragment", [
    ([], "must be an object"),
    ({"anyOf": [cvm_rule(EUS, cond("a"))]}, "version: missing"),
    ({"version": "0.2", "anyOf": [cvm_rule(EUS, cond("a"))]}, "'0.2' is not supported"),
    ({"version": "1.0.0"}, "anyOf: missing"),
    ({"version": "1.0.0", "anyOf": []}, "at least one authority"),
    ({"version": "1.0.0", "anyOf": {}}, "anyOf: must be a list"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("a"))], "allOf": []}, "allOf: unknown top-level key"),
    ({"version": "1.0.0", "anyOf": [{"allOf": [cond("a")]}]}, "anyOf[0].authority: missing"),
    ({"version": "1.0.0", "anyOf": [cvm_rule("http://x.attest.azure.net", cond("a"))]}, "https://"),
    ({"version": "1.0.0", "anyOf": [{"authority": EUS}]}, "needs allOf or anyOf"),
    ({"version": "1.0.0", "anyOf": [dict(cvm_rule(EUS, cond("a")), anyOf=[cond("b")])]}, "both allOf and anyOf"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS)]}, "anyOf[0].allOf: must not be empty"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, {"claim": "a"})]}, "has no operator"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, {"equals": "a"})]}, "but no 'claim'"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, {"claim": "a", "equals": "x", "exists": True})]}, "2 operators"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, {"claim": "a", "equal": "x"})]}, "unknown key 'equal'"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("a..b"))]}, "empty segment"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond(""))]}, "non-empty string"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("a", value={"x": 1}))]}, "string, number or boolean"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, {})]}, "empty object"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, "x-ms-compliance-status")]}, "must be an object"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, dict(cond("a"), authority=EUS))]}, "only allowed in the top-level"),
    ({"version": "1.0.0", "anyOf": [cond("a")]}, "wrap the condition in allOf"),
    ({"version": "1.0.0", "anyOf": [cvm_rule(EUS, {"allOf": [cond("a")], "anyOf": [cond("b")]})]},
     "anyOf[0].allOf[0]: has both allOf and anyOf"),
])
def test_lint_rejects_with_path(policy, fragment):
    errors = rp.lint(policy)
    assert errors, "expected lint errors"
    assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize("op, value", [
    ("notEquals", "x"), ("less", 1), ("lessOrEquals", 1), ("greater", 1), ("greaterOrEquals", 1.5), ("exists", True),
])
def test_non_equals_operators_are_errors_for_key_vault_but_valid_grammar(op, value):
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("svn", op, value))]}
    errors = rp.lint(policy)
    assert len(errors) == 1 and "accepts only 'equals'" in errors[0] and "anyOf[0].allOf[0]" in errors[0]
    assert rp.lint(policy, key_vault=False) == []


@pytest.mark.parametrize("op, value", [("less", "3"), ("greater", True), ("exists", "yes")])
def test_operator_value_types(op, value):
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("svn", op, value))]}
    assert any("value must be" in e for e in rp.lint(policy, key_vault=False))


def test_lint_limits_nesting_depth():
    node = cond("a")
    for _level in range(rp.MAX_DEPTH + 2):
        node = {"allOf": [node]}
    errors = rp.lint({"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [node]}]})
    assert any("nested deeper" in e for e in errors)


def test_check_raises_with_every_error():
    with pytest.raises(rp.PolicyError) as exc:
        rp.check({"version": "2", "anyOf": []})
    assert len(exc.value.errors) == 2


# ------------------------------------------------------------------ encode / decode

def test_encode_wire_shape():
    wire = rp.encode(rp.default_cvm([EUS]), immutable=True)
    assert set(wire) == {"contentType", "data", "immutable"}
    assert wire["contentType"] == "application/json; charset=utf-8"
    assert wire["immutable"] is True
    assert "=" not in wire["data"] and "+" not in wire["data"] and "/" not in wire["data"]


def test_encode_is_canonical_regardless_of_key_order():
    a = {"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [{"claim": "c", "equals": "v"}]}]}
    b = {"anyOf": [{"allOf": [{"equals": "v", "claim": "c"}], "authority": EUS}], "version": "1.0.0"}
    assert rp.encode(a)["data"] == rp.encode(b)["data"]
    raw = base64.urlsafe_b64decode(rp.encode(a)["data"] + "==")
    assert raw == b'{"anyOf":[{"allOf":[{"claim":"c","equals":"v"}],"authority":"' + EUS.encode() + b'"}],"version":"1.0.0"}'


def test_round_trip_keeps_unicode_and_immutable_default_false():
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("name", value="caf\u00e9 \u2713"))]}
    wire = rp.encode(policy)
    assert wire["immutable"] is False
    assert rp.decode(wire) == policy


@pytest.mark.parametrize("padding", ["", "=", "=="])
def test_decode_accepts_padded_and_standard_base64(padding):
    policy = rp.default_cvm([EUS])
    raw = rp.canonical_json(policy)
    std = base64.b64encode(raw).decode().rstrip("=") + padding
    assert rp.decode({"data": std}) == policy


@pytest.mark.parametrize("wire, fragment", [
    ("abc", "must be an object"),
    ({}, "data is missing"),
    ({"data": "!!!"}, ""),
    ({"data": rp.b64url_encode(b"not json")}, "does not hold a JSON policy"),
])
def test_decode_rejects_garbage(wire, fragment):
    with pytest.raises(rp.PolicyError) as exc:
        rp.decode(wire)
    assert fragment in str(exc.value)


def test_equivalent_ignores_trailing_slash_host_case_and_key_order():
    a = rp.default_cvm([EUS])
    b = rp.default_cvm(["https://SharedEUS.eus.attest.azure.net/"])
    assert rp.equivalent(a, b)
    assert not rp.equivalent(a, rp.default_cvm([WEU]))
    assert not rp.equivalent(rp.default_cvm([EUS, WEU]), rp.default_cvm([WEU, EUS]))


# ------------------------------------------------------------------ evaluate

def test_evaluate_default_cvm_released_for_compliant_cvm():
    ok, reasons = rp.evaluate(rp.default_cvm([EUS]), CVM_CLAIMS, EUS)
    assert ok is True
    assert EUS in reasons[0]


def test_evaluate_wrong_value_names_claim_and_expectation():
    ok, reasons = rp.evaluate(rp.default_cvm([EUS]), {"x-ms-compliance-status": "azure-compliant-vm"}, EUS)
    assert ok is False
    assert "x-ms-compliance-status" in reasons[0] and "azure-compliant-cvm" in reasons[0]


def test_evaluate_missing_claim_is_false():
    ok, reasons = rp.evaluate(rp.default_cvm([EUS]), {}, EUS)
    assert ok is False and "missing" in reasons[0]


def test_evaluate_authority_selects_rules():
    policy = {"version": "1.0.0", "anyOf": [
        cvm_rule(EUS, cond("tee", value="sevsnpvm")),
        cvm_rule(WEU, cond("tee", value="tdxvm")),
    ]}
    assert rp.evaluate(policy, {"tee": "tdxvm"}, WEU)[0] is True
    assert rp.evaluate(policy, {"tee": "tdxvm"}, EUS)[0] is False
    # no issuer given: any rule may match
    assert rp.evaluate(policy, {"tee": "tdxvm"}, None)[0] is True
    # issuer with trailing slash and upper-case host is the same authority
    assert rp.evaluate(policy, {"tee": "tdxvm"}, "https://SHAREDWEU.weu.attest.azure.net/")[0] is True


def test_evaluate_unknown_authority_is_refused_with_reason():
    ok, reasons = rp.evaluate(rp.default_cvm([EUS]), CVM_CLAIMS, "https://evil.example")
    assert ok is False and "no rule in the policy for authority https://evil.example" in reasons[0]


def test_evaluate_dotted_claim_path_into_nested_object():
    claim = "x-ms-isolation-tee.x-ms-attestation-type"
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond(claim, value="sevsnpvm"))]}
    claims = {"x-ms-isolation-tee": {"x-ms-attestation-type": "sevsnpvm"}}
    assert rp.evaluate(policy, claims, EUS)[0] is True
    assert rp.evaluate(policy, {"x-ms-isolation-tee": "sevsnpvm"}, EUS)[0] is False
    # a literal key containing a dot also matches
    assert rp.evaluate(policy, {"x-ms-isolation-tee.x-ms-attestation-type": "sevsnpvm"}, EUS)[0] is True


def test_evaluate_nested_any_of_inside_all_of():
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(
        EUS, cond("x-ms-compliance-status", value="azure-compliant-cvm"),
        {"anyOf": [cond("x-ms-attestation-type", value="sevsnpvm"), cond("x-ms-attestation-type", value="tdxvm")]},
    )]}
    assert rp.evaluate(policy, CVM_CLAIMS, EUS)[0] is True
    ok, reasons = rp.evaluate(policy, dict(CVM_CLAIMS, **{"x-ms-attestation-type": "sgx"}), EUS)
    assert ok is False
    assert any("no alternative matched" in r for r in reasons)
    assert sum("x-ms-attestation-type" in r for r in reasons) == 2


def test_evaluate_boolean_is_not_number_and_strings_are_case_sensitive():
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("debuggable", value=False))]}
    assert rp.evaluate(policy, {"debuggable": False}, EUS)[0] is True
    assert rp.evaluate(policy, {"debuggable": 0}, EUS)[0] is False
    assert rp.evaluate(policy, {"debuggable": "false"}, EUS)[0] is False
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("s", value="TDXVM"))]}
    assert rp.evaluate(policy, {"s": "tdxvm"}, EUS)[0] is False


@pytest.mark.parametrize("op, expected, actual, result", [
    ("less", 5, 4, True), ("less", 5, 5, False),
    ("lessOrEquals", 5, 5, True), ("greater", 5, 5, False),
    ("greaterOrEquals", 5, 5.0, True), ("greater", 5, "6", False),
    ("notEquals", "a", "b", True), ("notEquals", "a", "a", False),
    ("exists", True, "anything", True), ("exists", False, "anything", False),
])
def test_evaluate_full_grammar_operators(op, expected, actual, result):
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("svn", op, expected))]}
    assert rp.evaluate(policy, {"svn": actual}, EUS)[0] is result


@pytest.mark.parametrize("op, expected", [("notEquals", "a"), ("exists", True), ("greater", 1)])
def test_evaluate_missing_claim_false_for_every_operator(op, expected):
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("svn", op, expected))]}
    assert rp.evaluate(policy, {}, EUS)[0] is False


def test_evaluate_exists_false_is_true_when_missing():
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("debug", "exists", False))]}
    assert rp.evaluate(policy, {}, EUS)[0] is True


def test_evaluate_invalid_policy_never_releases():
    ok, reasons = rp.evaluate({"version": "1.0.0", "anyOf": []}, CVM_CLAIMS, EUS)
    assert ok is False and reasons[0].startswith("invalid policy")


def test_evaluate_accepts_json_string_policy():
    assert rp.evaluate(json.dumps(rp.default_cvm([EUS])), CVM_CLAIMS, EUS)[0] is True


# ---- decide: Key Vault's answer from a verifier's local claims (unknown, never a guessed release) ----------------

LOCAL = {"x-ms-attestation-type": "sevsnpvm", "x-ms-sevsnpvm-vmpl": 0, "secureboot": True}


@pytest.mark.parametrize("condition", [
    cond("x-ms-compliance-status", "exists", False),
    cond("x-ms-compliance-status", "equals", "azure-compliant-cvm"),
    cond("x-ms-compliance-status", "notEquals", "azure-compliant-cvm"),
    cond("x-ms-isolation-tee.x-ms-compliance-status", "exists", True),
])
def test_decide_conditions_on_maa_only_claims_are_unknown_without_a_token(condition):
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, condition)]}
    out = rp.decide(policy, LOCAL)
    assert out["decision"] == "unknown", out
    assert "MAA" in out["reasons"][0]


def test_decide_three_valued_groups():
    unknown = cond("x-ms-compliance-status", "equals", "azure-compliant-cvm")
    false = cond("x-ms-attestation-type", "equals", "tdxvm")
    true = cond("x-ms-attestation-type", "equals", "sevsnpvm")
    policy = {"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [unknown, false]}]}
    assert rp.decide(policy, LOCAL)["decision"] == "no_release"   # false whatever MAA says
    policy = {"version": "1.0.0", "anyOf": [{"authority": EUS, "anyOf": [unknown, true]}]}
    assert rp.decide(policy, LOCAL)["decision"] == "release"      # true whatever MAA says
    policy = {"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [unknown, true]}]}
    assert rp.decide(policy, LOCAL)["decision"] == "unknown"


def test_decide_with_a_verified_token_is_release_or_no_release():
    policy = rp.default_cvm([EUS])
    assert rp.decide(policy, CVM_CLAIMS, EUS, maa_verified=True)["decision"] == "release"
    assert rp.decide(policy, {"x-ms-attestation-type": "sevsnpvm"}, EUS, maa_verified=True)["decision"] == "no_release"
    assert rp.decide(policy, CVM_CLAIMS, WEU, maa_verified=True)["decision"] == "no_release"


@pytest.mark.parametrize("value", [None, [1], {"a": 1}])
def test_equals_values_follow_the_published_grammar(value):
    policy = {"version": "1.0.0", "anyOf": [cvm_rule(EUS, cond("svn", "equals", value))]}
    assert any("must be a string, number or boolean" in e for e in rp.lint(policy, key_vault=False))
    assert rp.decide(policy, {"svn": value})["decision"] == "no_release"
