# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest_attestation role against a host swtpm (fast path; the in-guest run is test_guest_attestation.py).

swtpm does not regenerate the HCL report when the nonce is written, and the role draws a fresh random nonce
on the controller that the test cannot know in advance, so these runs set
guest_attestation_require_nonce_binding=false: freshness then rests on the TPM quote's nonce, which the
verifier reports as "hardware report not bound to this nonce". Binding is proven in test_evidence_swtpm.py.
"""

from __future__ import annotations

import re
import sys
import uuid

import ak_testca
from ga_helpers import REPO, hcl_testchain, record_task


def provision(tpm, chain, imds):
    """The swtpm as an Azure vTPM: AK, HCL report (TEST AMD chain) and an AK certificate (TEST vTPM CA)."""
    vm_id = str(uuid.uuid4()).upper()
    material = ak_testca.provision(tpm.tcti, ak_testca.shared_ca(), chain=chain, vm_unique_id=vm_id)
    material["trust"] = ak_testca.trust(ak_testca.shared_ca(), material)
    imds.thim = material["thim"]
    imds.compute = {"vmId": vm_id, "location": "westeurope"}
    material["vm_id"] = vm_id
    return material


def role_vars(tpm, imds, **extra):
    out = {"guest_attestation_tcti": tpm.tcti, "guest_attestation_wait_seconds": 0,
           "guest_attestation_imds_endpoint": imds.url(), "guest_attestation_become": False,
           "guest_attestation_require_nonce_binding": False}
    out.update(extra)
    return out


def guarded_role_play(role_vars_, runs=1):
    """Run the role (``runs`` times), recording the result fact whether it fails or not."""
    tasks = []
    for n in range(runs):
        tasks.append({"name": "attest (run %d)" % n, "block": [
            {"name": "the role", "ansible.builtin.include_role": {"name": "confidential.azure.guest_attestation"},
             "vars": role_vars_}],
            "rescue": [record_task("failure%d" % n, "ansible_failed_result")],
            "always": [record_task("result%d" % n, "guest_attestation_result | default(none)")]})
    return [{"hosts": "all", "gather_facts": False, "tasks": tasks}]


def test_role_passes_a_genuine_guest_with_the_test_root_and_a_fresh_nonce_each_run(
        host_swtpm, fake_imds, runner, test_chain):
    material = provision(host_swtpm, test_chain, fake_imds)
    rv = role_vars(host_swtpm, fake_imds,
                   guest_attestation_trust=material["trust"],
                   guest_attestation_expected_tee="snp", guest_attestation_expected_vm_id=material["vm_id"].lower())
    rc, out, rec = runner.run(guarded_role_play(rv, runs=2))
    assert rc == 0, out
    assert "failure0-localhost" not in rec and "failure1-localhost" not in rec, rec
    first, second = rec["result0-localhost"], rec["result1-localhost"]
    for res in (first, second):
        assert res["verdict"] == "pass", res
        assert res["tee"] == "snp" and res["failing_checks"] == []
        assert res["vm_id"] == material["vm_id"]
        assert re.match(r"^[0-9a-f]{64}$", res["nonce"])
        names = dict((c["name"], c["result"]) for c in res["checks"])
        assert names["snp.vcek_chain"] == "pass" and names["tpm.quote_nonce"] == "pass"
        assert names["provenance"] == "pass" and res["provenance"] == ["ak_cert"]
        assert res["insecure_skip_provenance"] is False
    assert first["nonce"] != second["nonce"]


def test_role_fails_the_host_when_the_chain_is_not_trusted(host_swtpm, fake_imds, runner, test_chain):
    provision(host_swtpm, test_chain, fake_imds)
    rc, out, rec = runner.run(guarded_role_play(role_vars(host_swtpm, fake_imds)))
    assert rc == 0, out   # rescued by the test's guard
    res = rec["result0-localhost"]
    assert res["verdict"] == "fail"
    assert "snp.vcek_chain" in res["failing_checks"]
    assert "snp.vcek_chain" in rec["failure0-localhost"]["msg"]


def test_role_without_a_guard_fails_the_play(host_swtpm, fake_imds, runner, test_chain):
    provision(host_swtpm, test_chain, fake_imds)
    play = [{"hosts": "all", "gather_facts": False, "roles": [
        {"role": "confidential.azure.guest_attestation", "vars": role_vars(host_swtpm, fake_imds)}]}]
    rc, out, rec = runner.run(play)
    assert rc != 0
    assert "attestation of localhost failed" in out and "snp.vcek_chain" in out


def test_role_fails_closed_when_evidence_cannot_be_collected(host_swtpm, fake_imds, runner, test_chain):
    provision(host_swtpm, test_chain, fake_imds)
    fake_imds.thim = None   # IMDS answers 404 for the VCEK
    rc, out, rec = runner.run(guarded_role_play(role_vars(host_swtpm, fake_imds)))
    res = rec["result0-localhost"]
    assert res["verdict"] == "fail" and res["failing_checks"] == ["collection"]
    assert "Instance Metadata Service" in res["reason"]


def test_role_rejects_evidence_from_another_vm_than_expected(host_swtpm, fake_imds, runner, test_chain):
    material = provision(host_swtpm, test_chain, fake_imds)
    rv = role_vars(host_swtpm, fake_imds, guest_attestation_trust=material["trust"],
                   guest_attestation_expected_vm_id=str(uuid.uuid4()))
    rc, out, rec = runner.run(guarded_role_play(rv))
    res = rec["result0-localhost"]
    assert res["verdict"] == "fail" and res["failing_checks"] == ["vm_id.expected"]


def test_role_in_check_mode_does_not_attest_and_does_not_pass(host_swtpm, fake_imds, runner, test_chain):
    provision(host_swtpm, test_chain, fake_imds)
    rc, out, rec = runner.run(guarded_role_play(role_vars(host_swtpm, fake_imds)), check=True)
    assert rc == 0, out
    res = rec["result0-localhost"]
    assert res["verdict"] == "not_run"
    assert fake_imds.requests == []
    assert int(hcl_testchain.REPORT_DATA_NV_INDEX, 16) not in hcl_testchain._nv_indices(host_swtpm.tcti)


def test_role_argument_spec_rejects_an_unknown_failure_mode(host_swtpm, fake_imds, runner, test_chain):
    rc, out, rec = runner.run(guarded_role_play(role_vars(host_swtpm, fake_imds,
                                                          guest_attestation_on_failure="ignore")))
    assert "failure0-localhost" in rec
    assert "guest_attestation_on_failure" in rec["failure0-localhost"]["msg"]
    assert rec["result0-localhost"] is None   # the role did not start: no verdict, certainly no pass


def create_vm(sim):
    """A confidential VM in the simulator, made with the collection's own modules."""
    sys.path.insert(0, str(REPO / "tests" / "functional" / "modules"))
    import cvm_common
    from helpers import run_module
    cvm_common.network(sim)
    out = run_module("vm", cvm_common.vm_args(sim), sim.env)
    assert not out.get("failed"), out
    return "/subscriptions/%s/resourceGroups/rg-cvm/providers/Microsoft.Compute/virtualMachines/cvm1" % (
        sim.subscription_id)


def test_role_quarantines_a_failing_vm_tags_and_deallocates_it_then_fails_the_host(
        host_swtpm, fake_imds, runner, test_chain, fresh_simulator):
    sim = fresh_simulator
    vm_path = create_vm(sim)
    provision(host_swtpm, test_chain, fake_imds)
    rv = role_vars(host_swtpm, fake_imds, guest_attestation_on_failure="quarantine",
                   guest_attestation_vm_resource_group="rg-cvm", guest_attestation_vm_name="cvm1",
                   guest_attestation_quarantine_deallocate=True)
    rc, out, rec = runner.run(guarded_role_play(rv), env=sim.env)
    res = rec["result0-localhost"]
    assert res["verdict"] == "fail" and res.get("quarantined") is True, (res, out)
    assert "snp.vcek_chain" in res["failing_checks"]
    assert "quarantined" in rec["failure0-localhost"]["msg"]

    vm = sim.call("GET", vm_path + "?$expand=instanceView", api_version="2026-04-01")
    assert vm[0] == 200, vm
    body = vm[2]
    tags = body["tags"]
    assert tags["attestation"] == "failed"
    assert "snp.vcek_chain" in tags["attestation-check"]
    assert tags["env"] == "test"   # existing tags kept
    statuses = [s["code"] for s in body["properties"]["instanceView"]["statuses"]]
    assert "PowerState/deallocated" in statuses


def test_role_quarantine_without_a_vm_to_tag_still_fails_the_host(host_swtpm, fake_imds, runner, test_chain):
    provision(host_swtpm, test_chain, fake_imds)
    rv = role_vars(host_swtpm, fake_imds, guest_attestation_on_failure="quarantine")
    rc, out, rec = runner.run(guarded_role_play(rv))
    assert "cannot quarantine" in rec["failure0-localhost"]["msg"]
    assert rec["result0-localhost"]["verdict"] == "fail"


def test_role_requires_provenance_by_default_and_records_the_insecure_opt_out(
        host_swtpm, fake_imds, runner, test_chain):
    # a vTPM without an AK certificate, and no MAA: nothing proves the evidence comes from an Azure CVM
    vm_id = str(uuid.uuid4()).upper()
    material = hcl_testchain.provision(host_swtpm.tcti, chain=test_chain, vm_unique_id=vm_id)
    fake_imds.thim = material["thim"]
    fake_imds.compute = {"vmId": vm_id, "location": "westeurope"}
    amd_only = {"extra_amd_roots": [material["ark_pem"]]}
    rc, out, rec = runner.run(guarded_role_play(role_vars(host_swtpm, fake_imds, guest_attestation_trust=amd_only)))
    res = rec["result0-localhost"]
    assert res["verdict"] == "fail" and res["failing_checks"] == ["provenance"], res
    assert "no AK certificate" in res["reason"]
    rv = role_vars(host_swtpm, fake_imds, guest_attestation_trust=amd_only,
                   guest_attestation_insecure_skip_provenance=True)
    rc, out, rec = runner.run(guarded_role_play(rv))
    res = rec["result0-localhost"]
    assert res["verdict"] == "pass", res
    assert res["insecure_skip_provenance"] is True and res["provenance"] == []


def test_role_fetches_crls_on_the_controller_and_a_revoked_ak_certificate_fails(
        host_swtpm, fake_imds, runner, test_chain):
    from cryptography import x509
    material = provision(host_swtpm, test_chain, fake_imds)
    ca = ak_testca.shared_ca()
    serial = x509.load_der_x509_certificate(material["ak_cert_der"]).serial_number
    for revoked, expected in (((), "pass"), ((serial,), "fail")):
        fake_imds.files = dict(("/crl/%d.crl" % i, der) for i, der in enumerate(ak_testca.make_crls(ca, revoked)))
        rv = role_vars(host_swtpm, fake_imds, guest_attestation_trust=material["trust"],
                       guest_attestation_crl_urls=[fake_imds.url() + "/crl/0.crl", fake_imds.url() + "/crl/1.crl"])
        rc, out, rec = runner.run(guarded_role_play(rv))
        res = rec["result0-localhost"]
        assert res["verdict"] == expected, res
        checks = dict((c["name"], c) for c in res["checks"])
        if expected == "pass":
            assert checks["ak_cert.revocation"]["result"] == "pass", checks["ak_cert.revocation"]
        else:
            assert "ak_cert.chain" in res["failing_checks"] and "revoked" in checks["ak_cert.chain"]["reason"]
