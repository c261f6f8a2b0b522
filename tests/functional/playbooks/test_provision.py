# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/provision.yml on an empty simulated subscription, then a second run that changes nothing."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

from helpers import REPO, PlaybookResult, ansible_env, run_playbook

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"
PLAYBOOK = REPO / "playbooks" / "provision.yml"


def azure(entries):
    """Requests to Azure services (no token endpoint, no simulator admin)."""
    return [e for e in entries if e.get("service") in ("arm", "keyvault", "graph", "attestation")
            and not e["path"].startswith("/_sim")]


def documented_command():
    """The ansible-playbook line of provision.yml's header, exactly as written there."""
    lines = [line[1:].strip() for line in PLAYBOOK.read_text().splitlines() if line.startswith("#")]
    (command,) = [line for line in lines if line.startswith("ansible-playbook ")]
    return command


def run_documented_command(env, home, extra=""):
    """Run the header's line through bash (its quoting and $(cat ...) as a user's shell does them), with HOME
    holding the SSH key it cats; ``extra`` appends arguments that do not touch the key."""
    ssh = home / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    (ssh / "id_ed25519.pub").write_text(KEY + "\n")
    run_env = dict(ansible_env(env), HOME=str(home),
                   PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(["bash", "-c", documented_command() + " " + extra], env=run_env, capture_output=True,
                          text=True, timeout=900, cwd=str(home), check=False)
    start = proc.stdout.find("{")
    assert start >= 0, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return PlaybookResult(proc, json.loads(proc.stdout[start:]))


def vm_ssh_keys(sim, name):
    status, _headers, body = sim.call("GET", sim.rg_path("cvm-demo-rg") + "/providers/Microsoft.Compute/"
                                      "virtualMachines/" + name, api_version="2024-07-01")
    assert status == 200, body
    return [k["keyData"] for k in body["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]]


def test_provision_creates_the_chain_then_converges(fresh_simulator, tmp_path):
    sim = fresh_simulator
    env = dict(sim.env, CVM_SSH_PUBLIC_KEY=KEY)
    sim.set_delay(2, pattern="virtualMachines")

    # The first run is the header's documented line, verbatim, from a principal with only Contributor + UAA.
    assert re.search(r'-e cvm_ssh_public_key="\$\(cat ~/\.ssh/id_ed25519\.pub\)"', documented_command())
    first = run_documented_command(sim.env, tmp_path / "home", extra="-e cvm_wait_delay=1")
    assert first.rc == 0, first.stdout[-4000:]
    assert vm_ssh_keys(sim, "cvm-snp-1") == [KEY]
    grant = first.result("Premium Key Vault with purge protection")["automation_grant"]
    assert grant["mode"] == "access_policy" and "create" in grant["missing"]
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
