# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""attestation_evidence against a real software TPM (swtpm on the host, no qemu), verified by attestation_verify.

The swtpm is provisioned like an Azure SEV-SNP vTPM (tests/tools/hcl_testchain.py): AK at 0x81000003, a
2048-byte HCL report whose SNP report is signed by a TEST AMD chain made here, HCLAkPub = that AK, and an AK
certificate from a TEST vTPM CA (ak_testca.py) in NV 0x01C101D0, the provenance signal the verifier requires; the
verifying plays trust that CA explicitly (trust.extra_vtpm_roots).
"""

from __future__ import annotations

import base64
import secrets
import uuid

import ak_testca
from ga_helpers import free_port, hcl_testchain, record_task


def provision(tpm, chain, nonce=None, imds=None):
    vm_id = str(uuid.uuid4()).upper()
    material = ak_testca.provision(tpm.tcti, ak_testca.shared_ca(), nonce_hex=nonce, chain=chain, vm_unique_id=vm_id)
    material["trust"] = ak_testca.trust(ak_testca.shared_ca(), material)
    if imds is not None:
        imds.thim = material["thim"]
        imds.compute = {"vmId": vm_id, "location": "westeurope"}
    material["vm_id"] = vm_id
    return material


def evidence_and_verify_play(tcti, imds_url, collect_nonce, verify_nonce, extra_tasks=()):
    return [{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "collect", "confidential.azure.attestation_evidence": {
                "nonce": collect_nonce, "tcti": tcti, "wait_seconds": 0, "imds_endpoint": imds_url,
                "imds_timeout": 5}, "register": "collected"},
            record_task("collected", "collected", host_specific=False),
            {"name": "verify with the test root trusted", "confidential.azure.attestation_verify": {
                "evidence": "{{ collected.evidence }}", "nonce": verify_nonce, "require_nonce_binding": True,
                "trust": "{{ test_trust }}", "fail_on_fail": False}, "register": "with_test_root"},
            record_task("with_test_root", "with_test_root", host_specific=False),
            {"name": "verify with only the real AMD roots", "confidential.azure.attestation_verify": {
                "evidence": "{{ collected.evidence }}", "nonce": verify_nonce, "require_nonce_binding": True,
                "trust": {"extra_vtpm_roots": "{{ test_trust.extra_vtpm_roots }}",
                          "ak_intermediates": "{{ test_trust.ak_intermediates }}"},
                "fail_on_fail": False}, "register": "real_roots"},
            record_task("real_roots", "real_roots", host_specific=False),
        ] + list(extra_tasks),
    }]


def failed(result):
    return [c["name"] for c in result["checks"] if c["result"] == "fail"]


def test_evidence_from_swtpm_verifies_with_the_test_root_and_fails_on_the_ark_pin_with_real_roots(
        host_swtpm, fake_imds, runner, test_chain):
    nonce = secrets.token_hex(32)
    material = provision(host_swtpm, test_chain, nonce=nonce, imds=fake_imds)
    rc, out, rec = runner.run(evidence_and_verify_play(host_swtpm.tcti, fake_imds.url(), nonce, nonce),
                              extra_vars={"test_ark": material["ark_pem"], "test_trust": material["trust"]})
    assert rc == 0, out
    ev = rec["collected"]["evidence"]
    assert base64.b64decode(ev["hcl_report"]) == material["hcl_report"]
    assert len(base64.b64decode(ev["hcl_report"])) == 2048
    assert sorted(ev["tpm_quote"]["pcrs"], key=int) == [str(i) for i in range(8)]
    assert ev["vm_id"] == material["vm_id"] and ev["location"] == "westeurope"
    assert ev["vcek"].count("BEGIN CERTIFICATE") == 3
    thim_calls = [r for r in fake_imds.requests if r["path"] == "/metadata/THIM/amd/certification"]
    assert thim_calls and all(r["metadata"] == "true" for r in thim_calls)
    assert rec["collected"]["changed"] is False

    assert base64.b64decode(ev["ak_cert"]) == material["ak_cert_der"]
    ok = rec["with_test_root"]
    assert ok["verdict"] == "pass", failed(ok)
    assert ok["nonce_bound"] is True
    assert ok["provenance"] == ["ak_cert"]
    prov = [c for c in ok["checks"] if c["name"] == "provenance"][0]["reason"]
    assert "trust.extra_vtpm_roots" in prov and "not a pinned Microsoft root" in prov
    passed = dict((c["name"], c["result"]) for c in ok["checks"])
    for name in ("snp.vcek_chain", "snp.signature", "hcl.claims_binding", "hcl.nonce_binding",
                 "tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_digest", "ak_cert.chain", "ak_cert.key_match"):
        assert passed[name] == "pass", name

    real = rec["real_roots"]
    assert real["verdict"] == "fail"
    assert "snp.vcek_chain" in failed(real)


def test_a_report_not_regenerated_for_a_new_nonce_is_rejected_when_binding_is_required(
        host_swtpm, fake_imds, runner, test_chain):
    """swtpm does not regenerate the HCL report: evidence for a second nonce carries the first one (a replay)."""
    first, second = secrets.token_hex(32), secrets.token_hex(32)
    material = provision(host_swtpm, test_chain, nonce=first, imds=fake_imds)
    rc, out, rec = runner.run(evidence_and_verify_play(host_swtpm.tcti, fake_imds.url(), second, second),
                              extra_vars={"test_ark": material["ark_pem"], "test_trust": material["trust"]})
    assert rc == 0, out
    res = rec["with_test_root"]
    assert res["verdict"] == "fail"
    assert failed(res) == ["hcl.nonce_binding"]
    # the quote itself is fresh: it carries the second nonce
    assert dict((c["name"], c["result"]) for c in res["checks"])["tpm.quote_nonce"] == "pass"


def test_quote_for_another_nonce_is_rejected(host_swtpm, fake_imds, runner, test_chain):
    nonce, other = secrets.token_hex(32), secrets.token_hex(32)
    material = provision(host_swtpm, test_chain, nonce=nonce, imds=fake_imds)
    rc, out, rec = runner.run(evidence_and_verify_play(host_swtpm.tcti, fake_imds.url(), nonce, other),
                              extra_vars={"test_ark": material["ark_pem"], "test_trust": material["trust"]})
    assert rc == 0, out
    res = rec["with_test_root"]
    assert res["verdict"] == "fail"
    assert "tpm.quote_nonce" in failed(res) or "tpm.quote_signature" in failed(res)


def test_unreachable_imds_fails_the_collection_with_a_clear_message(host_swtpm, runner, test_chain):
    provision(host_swtpm, test_chain)
    dead = "http://127.0.0.1:%d" % free_port()
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "collect", "confidential.azure.attestation_evidence": {
            "nonce": secrets.token_hex(32), "tcti": host_swtpm.tcti, "wait_seconds": 0, "imds_endpoint": dead,
            "imds_timeout": 3}, "register": "collected", "ignore_errors": True},
        record_task("collected", "collected", host_specific=False)]}]
    rc, out, rec = runner.run(play)
    assert rec["collected"]["failed"] is True
    assert "Instance Metadata Service" in rec["collected"]["msg"]


def test_check_mode_leaves_the_report_data_index_alone(host_swtpm, fake_imds, runner, test_chain):
    provision(host_swtpm, test_chain, imds=fake_imds)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "collect", "confidential.azure.attestation_evidence": {
            "nonce": secrets.token_hex(32), "tcti": host_swtpm.tcti, "wait_seconds": 0,
            "imds_endpoint": fake_imds.url()}, "register": "collected"},
        record_task("collected", "collected", host_specific=False)]}]
    rc, out, rec = runner.run(play, check=True)
    assert rc == 0, out
    assert rec["collected"]["skipped"] is True and rec["collected"]["evidence"] == {}
    nv = hcl_testchain._nv_indices(host_swtpm.tcti)
    assert int(hcl_testchain.REPORT_DATA_NV_INDEX, 16) not in nv
    assert fake_imds.requests == []


def maa_verify_task(name, sim, nonce):
    # without the AK certificate: the MAA token alone has to prove provenance
    args = {"evidence": "{{ collected.evidence | dict2items | rejectattr('key', 'equalto', 'ak_cert') | items2dict }}",
            "nonce": nonce, "require_nonce_binding": True,
            "trust": {"extra_amd_roots": ["{{ test_ark }}"]}, "fail_on_fail": False,
            "maa": {"use": True, "endpoint": sim.info["cloud_environment"]["attestation_endpoint"],
                    "ca_bundle": sim.ca_bundle}}
    return [{"name": name, "confidential.azure.attestation_verify": args, "register": name},
            record_task(name, name, host_specific=False)]


def test_maa_path_through_the_simulator_returns_a_verified_token_only_for_a_trusted_chain(
        host_swtpm, fake_imds, runner, test_chain, fresh_simulator):
    sim = fresh_simulator
    nonce = secrets.token_hex(32)
    material = provision(host_swtpm, test_chain, nonce=nonce, imds=fake_imds)
    collect = [{"name": "collect", "confidential.azure.attestation_evidence": {
        "nonce": nonce, "tcti": host_swtpm.tcti, "wait_seconds": 0, "imds_endpoint": fake_imds.url()},
        "register": "collected"}]
    # MAA (simulated) trusts only the real AMD roots: it must refuse the test chain
    rc, out, rec = runner.run([{"hosts": "localhost", "gather_facts": False,
                                "tasks": collect + maa_verify_task("untrusted_at_maa", sim, nonce)}],
                              extra_vars={"test_ark": material["ark_pem"], "test_trust": material["trust"]}, env=sim.env)
    assert rc == 0, out
    res = rec["untrusted_at_maa"]
    assert res["verdict"] == "fail" and "maa.request" in res["failed_checks"], res["checks"]
    assert not res.get("maa_token_claims")

    sim.add_trust_root(material["ark_pem"].encode())
    rc, out, rec = runner.run([{"hosts": "localhost", "gather_facts": False,
                                "tasks": collect + maa_verify_task("trusted_at_maa", sim, nonce)}],
                              extra_vars={"test_ark": material["ark_pem"], "test_trust": material["trust"]}, env=sim.env)
    assert rc == 0, out
    res = rec["trusted_at_maa"]
    assert res["verdict"] == "pass", [c for c in res["checks"] if c["result"] != "pass"]
    checks = dict((c["name"], c["result"]) for c in res["checks"])
    assert checks["maa.token"] == "pass" and checks["maa.compliance"] == "pass"
    assert res["provenance"] == ["maa"]
    claims = res["maa_token_claims"]
    assert claims["x-ms-attestation-type"] == "sevsnpvm"
    assert claims["iss"].rstrip("/") == sim.info["cloud_environment"]["attestation_endpoint"].rstrip("/")
    assert claims["x-ms-sevsnpvm-is-debuggable"] is False
