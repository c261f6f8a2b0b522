# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout run AS AWX RUNS A JOB TEMPLATE: ansible-runner with a private data dir.

  env/envvars     the variables AWX's "Microsoft Azure Resource Manager" credential injects
                  (AZURE_SUBSCRIPTION_ID, AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT) + AZURE_CLOUD_ENVIRONMENT
  env/extravars   the job template's extra vars / survey answers
  project/        the project checkout: a site.yml importing the collection's playbook confidential.azure.rollout
  inventory/      the job's inventory (localhost)

against the simulator. The guest phase is off here (rollout_guest_phase: false, a survey answer): the control
phase creates the CMK chain and the VMs; the guest phase is covered by `make demo` with the qemu guest.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ansible_runner
import yaml

from helpers import REPO, arm_requests, collections_path

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 awx@test"


def private_data_dir(base: Path, sim) -> Path:
    pdd = base / "awx-job"
    for sub in ("env", "project", "inventory", "artifacts"):
        (pdd / sub).mkdir(parents=True)
    info = sim.info
    # what the credential injects; the custom cloud file (with the simulator's CA) is the only non-AWX-default
    envvars = {"AZURE_SUBSCRIPTION_ID": info["subscription_id"], "AZURE_CLIENT_ID": info["client_id"],
               "AZURE_SECRET": info["client_secret"], "AZURE_TENANT": info["tenant_id"],
               "AZURE_CLOUD_ENVIRONMENT": sim.cloud_env_file,
               # the execution environment has the collection installed; here: this tree + its dependencies
               "ANSIBLE_COLLECTIONS_PATH": collections_path() + ":" + str(REPO / ".build"),
               "ANSIBLE_HOST_KEY_CHECKING": "False"}
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    survey = {"rollout_name": "awx", "rollout_resource_group": "rg-awx", "rollout_location": "westeurope",
              "rollout_vault_name": "kv-awx-job", "rollout_vm_count": 2, "rollout_vm_prefix": "awx",
              "rollout_vm_size": "Standard_DC2ads_v5", "rollout_ssh_public_keys": [KEY],
              "rollout_guest_phase": False, "rollout_poll_delay": 2,
              "rollout_summary_path": str(pdd / "artifacts" / "rollout-summary.json")}
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(survey))
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 900, "suppress_ansible_output": True}))
    (pdd / "project" / "site.yml").write_text(yaml.safe_dump([
        {"name": "Confidential VM fleet", "ansible.builtin.import_playbook": "confidential.azure.rollout"}]))
    (pdd / "inventory" / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    return pdd


def test_rollout_through_ansible_runner_like_awx(fresh_simulator, tmp_path, monkeypatch):
    sim = fresh_simulator
    # ansible-runner finds ansible-playbook on PATH, as in an execution environment
    monkeypatch.setenv("PATH", "%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")))
    pdd = private_data_dir(tmp_path, sim)
    mark = sim.mark()
    run = ansible_runner.run(private_data_dir=str(pdd), playbook="site.yml", forks=10, quiet=True)
    stdout = run.stdout.read()
    assert run.status == "successful" and run.rc == 0, stdout[-4000:]

    # the job's events say what a job template's output would show
    events = list(run.events)
    ok_tasks = {e["event_data"].get("task") for e in events if e["event"] == "runner_on_ok"}
    for task in ("Premium key vault with purge protection",
                 "Customer-managed key with the default confidential VM release policy (Orchestrator granted)",
                 "Confidential disk encryption set with its grant on the vault",
                 "Start every confidential VM without waiting (one task for the fleet)",
                 "Wait once for the whole fleet", "Print the rollout summary"):
        assert task in ok_tasks, (task, sorted(t for t in ok_tasks if t))
    assert run.stats["failures"] == {} and run.stats["dark"] == {}

    # the secret AWX injected never shows in the job output or its events
    secret = sim.info["client_secret"]
    assert secret not in stdout
    assert secret not in json.dumps(events)

    summary = json.loads((pdd / "artifacts" / "rollout-summary.json").read_text())
    assert summary["rollout"] == "awx" and summary["location"] == "westeurope"
    assert sorted(vm["name"] for vm in summary["vms"]) == ["awx-1", "awx-2"]
    for vm in summary["vms"]:
        assert vm["provisioning_state"] == "Succeeded" and vm["tee"] == "SNP"
        assert vm["disk_encryption_set"].lower().endswith("/diskencryptionsets/cvm-rollout-des")
        assert vm["status"] == "not_attempted" and vm["attestation"]["verdict"] == "not_run"

    # the job really created them in the simulator, authenticated with the injected service principal
    reqs = sim.requests(since=mark)
    tokens = [r for r in reqs if r.get("service") == "entra" and r["method"] == "POST"]
    assert tokens and all(sim.info["client_id"] in json.dumps(r) for r in tokens)
    writes = arm_requests(reqs, writes_only=True)
    created = {r["path"].rsplit("/", 1)[-1] for r in writes if r["method"] == "PUT"}
    assert {"rg-awx", "kv-awx-job", "cvm-rollout-des", "cvm-rollout-vnet", "awx-1", "awx-2"} <= created, sorted(created)
    for name in ("awx-1", "awx-2"):
        status, dummy, vm = sim.call("GET", sim.rg_path("rg-awx") + "/providers/Microsoft.Compute/virtualMachines/" + name,
                                     api_version="2026-04-01")
        assert status == 200 and vm["properties"]["securityProfile"]["securityType"] == "ConfidentialVM"
        assert vm["tags"]["confidential-rollout"] == "awx"
