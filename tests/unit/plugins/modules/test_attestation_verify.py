# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""attestation_verify through its real argument parsing (set_module_args / exit_json patterns)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import io
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.confidential.azure.plugins.module_utils import _attestation_verify as backend
from ansible_collections.confidential.azure.plugins.modules import attestation_verify as mod
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def set_module_args(args):
    """Feed args the way Ansible does (works with ansible-core 2.17 .. 2.21)."""
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core >= 2.19
    except ImportError:
        patch_module_args = None
    if patch_module_args is not None:
        return patch_module_args(args)
    args = json.dumps({"ANSIBLE_MODULE_ARGS": args})
    basic._ANSIBLE_ARGS = to_bytes(args)
    import contextlib
    return contextlib.nullcontext()


def run(monkeypatch, args):
    def exit_json(self, **kw):
        raise AnsibleExitJson(kw)

    def fail_json(self, msg, **kw):
        kw["msg"] = msg
        raise AnsibleFailJson(kw)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    with set_module_args(args):
        try:
            mod.main()
        except AnsibleExitJson as e:
            return "exit", e.args[0]
        except AnsibleFailJson as e:
            return "fail", e.args[0]
    raise AssertionError("module returned without exit_json/fail_json")


def names(out, result="fail"):
    return [c["name"] for c in out["checks"] if c["result"] == result]


CHAIN = synth.AmdChain(tag="module")
VTPM = synth.VtpmChain()
TRUST = {"extra_amd_roots": CHAIN.roots, "extra_vtpm_roots": [synth.pem(VTPM.root)],
         "ak_intermediates": [synth.pem(VTPM.inter)]}


def genuine(**kw):
    """SNP evidence signed by a TEST AMD chain, with an AK certificate from a TEST vTPM CA (both trusted in TRUST)."""
    ev, nonce, dummy = synth.snp_evidence(chain=CHAIN, **kw)
    ev["ak_cert"] = VTPM.ak_cert_b64()
    return ev, nonce


def test_genuine_evidence_with_provenance_passes(monkeypatch):
    ev, nonce = genuine()
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "expected_tee": "snp", "trust": TRUST})
    assert kind == "exit", out
    assert out["verdict"] == "pass" and out["changed"] is False
    assert out["tee"] == "snp" and out["nonce_bound"] is True
    assert out["provenance"] == ["ak_cert"] and out["insecure_skip_provenance"] is False
    assert out["claims"]["x-ms-attestation-type"] == "sevsnpvm"
    assert "maa_token_claims" not in out
    prov = [c for c in out["checks"] if c["name"] == "provenance"][0]["reason"]
    assert "trust.extra_vtpm_roots" in prov and "not a pinned Microsoft root" in prov


def test_evidence_without_provenance_fails_unless_insecure_skip_provenance(monkeypatch):
    ev, nonce = genuine()
    del ev["ak_cert"]
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST})
    assert kind == "fail" and out["failed_checks"] == ["provenance"]
    assert "provenance" in out["msg"]
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST, "insecure_skip_provenance": True})
    assert kind == "exit" and out["verdict"] == "pass" and out["insecure_skip_provenance"] is True
    assert out["provenance"] == [] and any("insecure_skip_provenance" in w for w in warnings)


def test_expected_tee_mismatch_fails_the_task(monkeypatch):
    ev, nonce = genuine()
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST, "expected_tee": "tdx"})
    assert kind == "fail" and out["verdict"] == "fail"
    assert "tee.expected" in out["failed_checks"]
    assert "tee.expected" in out["msg"]


def test_verdict_fail_fails_the_task_by_default_and_is_returned_when_asked(monkeypatch):
    ev, dummy = genuine()
    args = {"evidence": ev, "nonce": "ab" * 32, "trust": TRUST}
    kind, out = run(monkeypatch, args)
    assert kind == "fail" and out["verdict"] == "fail"
    assert out["failed_checks"] == ["hcl.nonce_binding", "tpm.quote_nonce"]
    args["fail_on_fail"] = False
    kind, out = run(monkeypatch, args)
    assert kind == "exit" and out["verdict"] == "fail"


def test_nonce_binding_is_required_by_default(monkeypatch):
    ev, nonce = genuine(bind_nonce=False)
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST})
    assert kind == "fail" and out["failed_checks"] == ["hcl.nonce_binding"]
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST, "require_nonce_binding": False})
    assert kind == "exit" and out["verdict"] == "pass" and out["nonce_bound"] is False


def test_test_chain_needs_extra_root(monkeypatch):
    ev, nonce = genuine()
    vtpm_only = {"extra_vtpm_roots": TRUST["extra_vtpm_roots"], "ak_intermediates": TRUST["ak_intermediates"]}
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": vtpm_only})
    assert kind == "fail" and "snp.vcek_chain" in out["failed_checks"]


def test_real_flashbots_vector_at_its_own_time(monkeypatch):
    base = {"evidence": V.flashbots_tdx_evidence(), "nonce": V.FLASHBOTS_NONCE_HEX, "require_nonce_binding": False,
            "verification_time": "2025-12-02T08:00:00Z"}
    kind, out = run(monkeypatch, base)
    # that VM ran with secure boot off: only the default policy says no; provenance comes from its AK certificate
    assert kind == "fail" and out["failed_checks"] == ["policy:secure-boot"] and out["provenance"] == ["ak_cert"]
    kind, out = run(monkeypatch, dict(base, policy=[
        {"name": "secure-boot", "query": "secureboot", "expect": False},
        {"name": "vtpm", "query": '"x-ms-runtime"."vm-configuration"."tpm-enabled"', "description": "vTPM on"}]))
    assert kind == "exit", out["failed_checks"]
    assert "policy:vtpm" in names(out, "pass")
    kind, out = run(monkeypatch, dict(base, verification_time=None, fail_on_fail=False))
    assert "ak_cert.chain" in out["failed_checks"]  # expired on 2026-11-30


def test_snp_minimum(monkeypatch):
    ev, nonce = genuine()
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST, "snp_minimum": {"microcode": 250}})
    assert kind == "fail" and out["failed_checks"] == ["snp.tcb_minimum"]


def test_strict_policy_by_default(monkeypatch):
    ev, nonce = genuine()
    rule = {"name": "absent", "query": '"x-ms-no-such-claim" != `true`'}
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST, "policy": [rule]})
    assert kind == "fail" and out["failed_checks"] == ["policy:absent"]
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST, "policy": [rule],
                                  "policy_strict": False})
    assert kind == "exit" and out["verdict"] == "pass"


GOOD_NONCE = "00" * 16


@pytest.mark.parametrize("args,msg", [
    ({"nonce": GOOD_NONCE}, "evidence"),
    ({"evidence": {"hcl_report": "AAAA"}}, "nonce"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": "xyz"}, "nonce"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": "0x"}, "nonce"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": "   "}, "nonce"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": "0x" + "ab" * 16}, "no 0x prefix"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": "ab" * 15}, "16 to 64"),
    ({"evidence": {"hcl_report": "AAAA", "unknown": 1}, "nonce": GOOD_NONCE}, "unknown"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": GOOD_NONCE, "policy": [{"name": "x", "query": "a["}]}, "invalid policy"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": GOOD_NONCE, "policy": [{"query": "a"}]}, "name"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": GOOD_NONCE, "expected_tee": "sgx"}, "expected_tee"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": GOOD_NONCE, "trust": {"extra_amd_roots": ["junk"]}}, "trust"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": GOOD_NONCE, "release_policy": "{not json"}, "release_policy"),
    ({"evidence": {"hcl_report": "AAAA"}, "nonce": GOOD_NONCE, "verification_time": "yesterday"}, "verification_time"),
])
def test_bad_input_fails_the_task_with_a_message(monkeypatch, args, msg):
    kind, out = run(monkeypatch, args)
    assert kind == "fail"
    assert msg in out["msg"]
    assert "verdict" not in out or out["verdict"] == "fail"


def test_garbage_evidence_is_a_fail_verdict(monkeypatch):
    kind, out = run(monkeypatch, {"evidence": {"hcl_report": "AAAA"}, "nonce": GOOD_NONCE, "fail_on_fail": False})
    assert kind == "exit" and out["verdict"] == "fail" and out["failed_checks"] == ["hcl.parse"]


def test_release_policy_result_is_returned(monkeypatch):
    policy = V.read("Azure-confidential-computing-cvm", "cvm_deployment", "key", "skr-policy.json").decode()
    ev, nonce = genuine()
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST,
                                  "release_policy": policy, "fail_on_fail": False})
    assert out["release_policy_result"]["released"] is False
    assert out["release_policy_result"]["decision"] == "unknown"  # the policy reads x-ms-compliance-status
    assert "release_policy" in out["failed_checks"]


class FakeResponse(object):
    def __init__(self, data):
        self._data = json.dumps(data).encode()

    def read(self):
        return self._data


def _maa_service(issuer):
    import os
    import sys
    from cryptography.hazmat.primitives import serialization
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.abspath(os.path.join(here, "..", "..", "..", "simulator")))
    try:
        from azsim.maa import MaaService  # pylint: disable=import-error
    finally:
        sys.path.pop(0)
    key, cert = synth.maa_signer()
    return MaaService(issuer, key, cert.public_bytes(serialization.Encoding.PEM), trust_roots=CHAIN.roots)


def test_maa_path_uses_open_url_with_ca_bundle(monkeypatch, tmp_path):
    endpoint = "https://127.0.0.1:9/attestation/sharedeastus"
    svc = _maa_service(endpoint)
    calls = []

    def fake_open_url(url, method="GET", data=None, headers=None, validate_certs=True, ca_path=None, **kw):
        calls.append((method, url, ca_path, validate_certs))
        if url == endpoint + "/certs":
            return FakeResponse(svc.jwks())
        path, query = url[len(endpoint):].split("?")
        kind = path.split("/")[-1]
        status, body = svc.attest(kind, query.split("=")[1], json.loads(data))
        assert status == 200, body
        return FakeResponse(body)
    monkeypatch.setattr(backend, "open_url", fake_open_url)
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    ev, nonce = genuine()
    del ev["ak_cert"]  # MAA alone proves provenance
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": {"extra_amd_roots": CHAIN.roots},
                                  "maa": {"use": True, "endpoint": endpoint, "ca_bundle": str(ca)}})
    assert kind == "exit", out.get("failed_checks")
    assert out["provenance"] == ["maa"]
    assert out["maa_token_claims"]["x-ms-compliance-status"] == "azure-compliant-cvm"
    assert out["claims"]["x-ms-compliance-status"] == "azure-compliant-cvm"
    assert calls[0][:2] == ("POST", endpoint + "/attest/SevSnpVm?api-version=2022-08-01")
    assert calls[1][:2] == ("GET", endpoint + "/certs")
    assert all(c[2] == str(ca) and c[3] is True for c in calls)


def test_maa_http_error_is_a_named_failed_check(monkeypatch):
    from ansible.module_utils.six.moves.urllib.error import HTTPError
    endpoint = "https://127.0.0.1:9/attestation/sharedeastus"

    def fake_open_url(url, **kw):
        raise HTTPError(url, 400, "Bad Request", {}, io.BytesIO(b'{"error": {"code": "InvalidParameter", "message": "no"}}'))
    monkeypatch.setattr(backend, "open_url", fake_open_url)
    ev, nonce = genuine()
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST,
                                  "maa": {"use": True, "endpoint": endpoint}})
    assert kind == "fail"
    assert "maa.request" in out["failed_checks"]
    reason = [c for c in out["checks"] if c["name"] == "maa.request"][0]["reason"]
    assert "InvalidParameter" in reason


def test_maa_endpoint_from_cloud_environment(monkeypatch, tmp_path):
    env = tmp_path / "cloud.json"
    env.write_text(json.dumps({"arm_endpoint": "https://127.0.0.1:9/", "authority_host": "https://127.0.0.1:9/",
                               "keyvault_dns_suffix": "vault.azsim.local",
                               "attestation_endpoint": "https://127.0.0.1:9/attestation/sharedeastus"}))
    monkeypatch.setenv("AZURE_CLOUD_ENVIRONMENT", str(env))
    seen = []

    def fake_open_url(url, **kw):
        seen.append(url)
        raise IOError("refused")
    monkeypatch.setattr(backend, "open_url", fake_open_url)
    ev, nonce = genuine()
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "trust": TRUST, "maa": {"use": True}})
    assert kind == "fail" and "maa.request" in out["failed_checks"]
    assert seen[0].startswith("https://127.0.0.1:9/attestation/sharedeastus/attest/SevSnpVm?")


def test_maa_endpoint_must_be_https(monkeypatch):
    ev, nonce = genuine()
    kind, out = run(monkeypatch, {"evidence": ev, "nonce": nonce, "maa": {"use": True, "endpoint": "http://plain"}})
    assert kind == "fail" and "https" in out["msg"]


def test_too_old_cryptography_is_reported(monkeypatch):
    from ansible_collections.confidential.azure.plugins.module_utils._attestation import certs
    monkeypatch.setattr(certs, "cryptography_version", lambda: (41, 0))
    kind, out = run(monkeypatch, {"evidence": V.snp_evidence_bin(), "nonce": GOOD_NONCE})
    assert kind == "fail" and "cryptography >= 43.0" in out["msg"] and "41.0" in out["msg"]
