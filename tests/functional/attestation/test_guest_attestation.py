# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 6 proof in the qemu + swtpm guest.

Before boot the guest's swtpm is provisioned (harness hook, tpm2-tools over swtpm TCP) like an Azure SEV-SNP
vTPM: an RSA-2048 restricted signing AK persisted at 0x81000003 and a 2048-byte (older format) HCL report at
NV 0x01400001 whose SNP report is signed by a TEST AMD chain made here, with HCLAkPub = that AK and the
runtime claims' user-data = the nonce this module will use (a real HCL regenerates the report when the guest
writes 0x01400002; swtpm does not, so the nonce is bound at provisioning time), plus an AK certificate from a TEST
vTPM CA (ak_testca.py) in NV 0x01C101D0 - the provenance signal - which the verifying plays trust explicitly.

The guest reaches a fake IMDS on the host (qemu user networking: 10.0.2.2) for the VCEK chain (THIM) and the
compute metadata. attestation_evidence runs in the guest over ssh (ansible-playbook, the collection from this
working tree); attestation_verify runs on the controller.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
import uuid

import pytest

import ak_testca
from ga_helpers import REPO, FakeImds, hcl_testchain, record_task, swtpm_tcti

sys.path.insert(0, str(REPO / "tests" / "guest"))

from harness import Guest, HarnessError  # noqa: E402

GUEST_IMDS_HOST = "10.0.2.2"   # the host as seen from a qemu user-networking guest


class AttestedGuest(object):
    def __init__(self, chain):
        self.nonce = secrets.token_hex(32)
        self.vm_id = str(uuid.uuid4()).upper()
        self.chain = chain
        self.material = None
        self.imds = FakeImds()
        self.guest = Guest(name="attest-%d" % os.getpid(), temp_disk_size="64M", tpm_setup=self._provision)

    def _provision(self, ctx):
        with swtpm_tcti(ctx) as tcti:
            self.material = ak_testca.provision(tcti, ak_testca.shared_ca(), nonce_hex=self.nonce, chain=self.chain,
                                                vm_unique_id=self.vm_id)
        self.trust = ak_testca.trust(ak_testca.shared_ca(), self.material)
        self.imds.thim = self.material["thim"]
        self.imds.compute = {"vmId": self.vm_id, "location": "westeurope"}

    @property
    def imds_url(self):
        return self.imds.url(GUEST_IMDS_HOST)

    def close(self):
        try:
            self.guest.down()
        finally:
            self.imds.close()


@pytest.fixture(scope="module")
def attested_guest(test_chain):
    ag = AttestedGuest(test_chain)
    try:
        ag.guest.up(register_teardown=True)
    except HarnessError as exc:
        ag.close()
        pytest.fail("guest harness could not boot the test guest: %s" % exc, pytrace=False)
    try:
        yield ag
    finally:
        ag.close()


def failed(result):
    return [c["name"] for c in result["checks"] if c["result"] == "fail"]


def evidence_tasks(ag, nonce):
    return [
        {"name": "collect in the guest", "confidential.azure.attestation_evidence": {
            "nonce": nonce, "imds_endpoint": ag.imds_url, "wait_seconds": 1}, "register": "collected"},
        record_task("collected", "collected", host_specific=False),
    ]


def verify_task(name, nonce, trust, **extra):
    args = {"evidence": "{{ collected.evidence }}", "nonce": nonce, "require_nonce_binding": True,
            "trust": trust, "expected_tee": "snp", "fail_on_fail": False}
    args.update(extra)
    return [{"name": "verify " + name, "confidential.azure.attestation_verify": args,
             "delegate_to": "localhost", "register": name},
            record_task(name, name, host_specific=False)]


def test_evidence_collected_over_ssh_passes_with_the_test_root_and_fails_the_ark_pin_with_real_roots(
        attested_guest, runner):
    ag = attested_guest
    set_report(ag, bound=True)
    plays = [{"hosts": "all", "gather_facts": False,
              "tasks": evidence_tasks(ag, ag.nonce)
              + verify_task("with_test_root", ag.nonce, ag.trust)
              + verify_task("real_roots_only", ag.nonce, {})}]
    rc, out, rec = runner.run(plays, inventory=ag.guest.inventory_path,
                              extra_vars={"test_ark": ag.material["ark_pem"]})
    assert rc == 0, out

    collected = rec["collected"]
    ev = collected["evidence"]
    assert collected["changed"] is False and collected["report_type"] == "sevsnp"
    assert base64.b64decode(ev["hcl_report"]) == ag.material["hcl_report"]
    assert ev["vm_id"] == ag.vm_id and ev["location"] == "westeurope"
    assert sorted(ev["tpm_quote"]["pcrs"], key=int) == [str(i) for i in range(8)]
    assert any(r["path"] == "/metadata/THIM/amd/certification" and r["metadata"] == "true"
               for r in ag.imds.requests)

    # the nonce really went into the guest's vTPM report-data index (zero padded to 64 bytes)
    nv = ag.guest.ssh("tpm2_nvread -C o 0x01400002 | od -An -v -tx1 | tr -d ' \\n'").stdout.strip()
    assert nv == ag.nonce + "00" * 32
    # and the private temp dir is gone
    assert ag.guest.ssh("ls -d /tmp/attestation-evidence-* 2>/dev/null | wc -l").stdout.strip() == "0"

    ok = rec["with_test_root"]
    assert ok["verdict"] == "pass", failed(ok)
    assert ok["tee"] == "snp" and ok["nonce_bound"] is True
    assert ok["provenance"] == ["ak_cert"]
    results = dict((c["name"], c["result"]) for c in ok["checks"])
    for name in ("hcl.claims_binding", "hcl.nonce_binding", "tpm.quote_signature", "tpm.quote_nonce",
                 "tpm.pcr_digest", "snp.vcek_chain", "snp.signature", "snp.chip_id", "snp.reported_tcb",
                 "snp.debug", "snp.vmpl", "ak_cert.chain", "ak_cert.key_match", "provenance"):
        assert results[name] == "pass", (name, ok["checks"])

    real = rec["real_roots_only"]
    assert real["verdict"] == "fail"
    assert "snp.vcek_chain" in real["failed_checks"]


def test_replayed_report_is_rejected_for_a_new_nonce(attested_guest, runner):
    """The report in the vTPM is bound to the provisioning nonce; evidence for a new nonce must not pass."""
    ag = attested_guest
    set_report(ag, bound=True)
    fresh = secrets.token_hex(32)
    plays = [{"hosts": "all", "gather_facts": False,
              "tasks": evidence_tasks(ag, fresh)
              + verify_task("with_test_root", fresh, ag.trust)}]
    rc, out, rec = runner.run(plays, inventory=ag.guest.inventory_path,
                              extra_vars={"test_ark": ag.material["ark_pem"]})
    assert rc == 0, out
    res = rec["with_test_root"]
    assert res["verdict"] == "fail"
    assert res["failed_checks"] == ["hcl.nonce_binding"]


def set_report(ag, bound):
    """Make the guest's HCL report carry ``ag.nonce`` as user-data (bound) or no user-data (like an older HCL).

    Written from inside the guest (owner auth over /dev/tpmrm0), with the same AK and test chain. The role draws
    its own random nonce, which no pre-provisioned report can carry, and a report whose non-zero user-data is
    another nonce is (rightly) always rejected; so role runs use a report without user-data.
    """
    if getattr(ag, "bound", True) == bound:
        return
    material = hcl_testchain.build_material(ag.material["ak_public_key"], nonce_hex=ag.nonce if bound else None,
                                            chain=ag.chain, vm_unique_id=ag.vm_id)
    script = ("set -e; base64 -d > /root/hcl.bin; tpm2_nvundefine -C o 0x01400001; "
              "tpm2_nvdefine 0x01400001 -C o -s 2048 -a 'ownerread|ownerwrite|authread|authwrite'; "
              "tpm2_nvwrite -C o 0x01400001 -i /root/hcl.bin; rm -f /root/hcl.bin")
    ag.guest.ssh(script, input=base64.b64encode(material["hcl_report"]).decode())
    ag.material["hcl_report"] = material["hcl_report"]
    ag.bound = bound


def test_maa_token_for_the_guest_evidence_from_the_simulator(attested_guest, runner, fresh_simulator):
    ag, sim = attested_guest, fresh_simulator
    set_report(ag, bound=True)
    sim.add_trust_root(ag.material["ark_pem"].encode())
    plays = [{"hosts": "all", "gather_facts": False,
              "tasks": evidence_tasks(ag, ag.nonce) + verify_task(
                  "with_maa", ag.nonce, ag.trust,
                  maa={"use": True, "endpoint": sim.info["cloud_environment"]["attestation_endpoint"],
                       "ca_bundle": sim.ca_bundle})}]
    rc, out, rec = runner.run(plays, inventory=ag.guest.inventory_path,
                              extra_vars={"test_ark": ag.material["ark_pem"]}, env=sim.env)
    assert rc == 0, out
    res = rec["with_maa"]
    assert res["verdict"] == "pass", [c for c in res["checks"] if c["result"] != "pass"]
    assert dict((c["name"], c["result"]) for c in res["checks"])["maa.token"] == "pass"
    assert res["provenance"] == ["ak_cert", "maa"]
    claims = res["maa_token_claims"]
    assert claims["x-ms-attestation-type"] == "sevsnpvm"
    assert claims["iss"].rstrip("/") == sim.info["cloud_environment"]["attestation_endpoint"].rstrip("/")


def role_play(ag, role_vars, guard=True):
    set_report(ag, bound=False)
    base = {"guest_attestation_imds_endpoint": ag.imds_url, "guest_attestation_wait_seconds": 1,
            # swtpm does not regenerate the HCL report for the role's random nonce (see module docstring);
            # the TPM quote still has to carry it.
            "guest_attestation_require_nonce_binding": False}
    base.update(role_vars)
    inner = [{"name": "the role", "ansible.builtin.include_role": {"name": "confidential.azure.guest_attestation"},
              "vars": base}]
    if not guard:
        return [{"hosts": "all", "gather_facts": False, "tasks": inner}]
    return [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "attest", "block": inner,
         "rescue": [record_task("failure", "ansible_failed_result", host_specific=False)],
         "always": [record_task("result", "guest_attestation_result | default(none)", host_specific=False)]}]}]


def test_role_passes_the_guest_with_the_test_root(attested_guest, runner):
    ag = attested_guest
    rc, out, rec = runner.run(role_play(ag, {
        "guest_attestation_trust": ag.trust,
        "guest_attestation_expected_tee": "snp",
        "guest_attestation_expected_vm_id": ag.vm_id}), inventory=ag.guest.inventory_path)
    assert rc == 0, out
    assert "failure" not in rec, rec.get("failure")
    res = rec["result"]
    assert res["verdict"] == "pass" and res["tee"] == "snp" and res["failing_checks"] == []
    assert res["vm_id"] == ag.vm_id and res["nonce"] != ag.nonce


def test_role_fails_the_guest_when_only_the_real_amd_roots_are_trusted(attested_guest, runner):
    ag = attested_guest
    rc, out, rec = runner.run(role_play(ag, {}, guard=False), inventory=ag.guest.inventory_path)
    assert rc != 0
    assert "snp.vcek_chain" in out
    rc, out, rec = runner.run(role_play(ag, {}), inventory=ag.guest.inventory_path)
    assert rec["result"]["verdict"] == "fail"
    assert "snp.vcek_chain" in rec["result"]["failing_checks"]


def test_role_quarantines_the_guest_vm_when_attestation_fails(attested_guest, runner, fresh_simulator):
    ag, sim = attested_guest, fresh_simulator
    sys.path.insert(0, str(REPO / "tests" / "functional" / "modules"))
    import cvm_common
    from helpers import run_module
    cvm_common.network(sim)
    out = run_module("vm", cvm_common.vm_args(sim), sim.env)
    assert not out.get("failed"), out
    role_vars = {"guest_attestation_on_failure": "quarantine", "guest_attestation_vm_resource_group": "rg-cvm",
                 "guest_attestation_vm_name": "cvm1",
                 "guest_attestation_quarantine_tags": {"attestation": "failed", "quarantine": "true"}}
    rc, out, rec = runner.run(role_play(ag, role_vars), inventory=ag.guest.inventory_path, env=sim.env)
    res = rec["result"]
    assert res["verdict"] == "fail" and res.get("quarantined") is True, out
    assert "quarantined" in rec["failure"]["msg"]
    vm_path = "/subscriptions/%s/resourceGroups/rg-cvm/providers/Microsoft.Compute/virtualMachines/cvm1" % (
        sim.subscription_id)
    status, dummy, vm = sim.call("GET", vm_path, api_version="2026-04-01")
    assert status == 200
    assert vm["tags"]["attestation"] == "failed" and vm["tags"]["quarantine"] == "true"
    assert "snp.vcek_chain" in vm["tags"]["attestation-check"]
