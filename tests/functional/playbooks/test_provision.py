# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/provision.yml on an empty simulated subscription, then a second run that changes nothing."""
from __future__ import annotations

from collections import Counter

from helpers import REPO, run_playbook

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"
PLAYBOOK = REPO / "playbooks" / "provision.yml"


def azure(entries):
    """Requests to Azure services (no token endpoint, no simulator admin)."""
    return [e for e in entries if e.get("service") in ("arm", "keyvault", "graph", "attestation")
            and not e["path"].startswith("/_sim")]


def test_provision_creates_the_chain_then_converges(fresh_simulator):
    sim = fresh_simulator
    env = dict(sim.env, CVM_SSH_PUBLIC_KEY=KEY)
    sim.set_delay(2, pattern="virtualMachines")

    first = run_playbook(PLAYBOOK, env, extra_vars={"cvm_wait_delay": 1})
    assert first.rc == 0, first.stdout[-4000:]
    assert first.stats["failures"] == 0 and first.stats["changed"] >= 6, first.stats
    started = first.result("Confidential VMs (AMD SEV-SNP and Intel TDX) with the customer-managed key, started in "
                           "parallel")["results"]
    assert all(r["changed"] and r["operation"]["poll_url"] for r in started), started
    vms = first.result("Wait once for all confidential VMs")["vms"]
    des_id = first.result("Confidential disk encryption set, its identity granted on the vault")[
        "disk_encryption_set"]["id"]
    assert sorted(v["confidential"]["tee"] for v in vms) == ["SNP", "TDX"]
    for vm in vms:
        conf = vm["confidential"]
        assert conf["security_type"] == "ConfidentialVM"
        assert conf["security_encryption_type"] == "DiskWithVMGuestState"
        assert conf["disk_encryption_set"].lower() == des_id.lower()
        assert conf["secure_boot"] and conf["vtpm"] and vm["provisioning_state"] == "Succeeded"
    key = first.result("Customer-managed key with the default CVM release policy, granted to the Confidential VM "
                       "Orchestrator")["key"]
    assert key["exportable"] and key["kty"] == "RSA-HSM" and key["release_policy"]

    mark = sim.mark()
    second = run_playbook(PLAYBOOK, env, extra_vars={"cvm_wait_delay": 1})
    assert second.rc == 0, second.stdout[-4000:]
    assert second.stats["changed"] == 0, [(n, r.get("changed")) for n, r in second.tasks()]
    requests = azure(sim.requests(since=mark))
    writes = [(r["method"], r["path"]) for r in requests if r["method"] != "GET"]
    assert writes == []
    per_path = Counter(r["path"].lower() for r in requests)
    # one GET per resource and task that manages it: the vault is read by the vault task and, for the grants,
    # by keyvault_key and disk_encryption_set; every other resource exactly once
    vault_paths = [p for p in per_path if p.endswith("/providers/microsoft.keyvault/vaults/%s" % p.rsplit("/", 1)[-1])
                   and "/vaults/" in p]
    for path, count in per_path.items():
        expected = 3 if path in vault_paths else 1
        assert count == expected, (path, count, sorted(per_path.items()))
    kinds = sorted(set(p.split("/providers/")[-1].split("/")[1] if "/providers/" in p else p.split("/")[1]
                       for p in per_path))
    assert "virtualMachines".lower() in kinds and "diskencryptionsets" in kinds and "virtualnetworks" in kinds
