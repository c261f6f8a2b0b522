# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.progress enabled the way a user enables it (callbacks_enabled), with the default stdout
callback: the fleet wait against the simulator, async polls, a silent task, and the summary table."""
from __future__ import annotations

import re
import subprocess

import yaml

from helpers import _bin, ansible_env
from modules.cvm_common import network, vm_args


def run(playbook_path, env_extra, tmp_path, timeout=300):
    env = ansible_env(env_extra)
    env.pop("ANSIBLE_CALLBACK_PLUGINS")
    env.update({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_CALLBACKS_ENABLED": "confidential.azure.progress"})
    proc = subprocess.run([_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook_path)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout


def write(tmp_path, play):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def test_fleet_wait_prints_vm_counts_per_state_and_the_summary_table(fresh_simulator, tmp_path):
    sim = fresh_simulator
    network(sim)
    sim.set_delay(6)
    try:
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Start the VM", "confidential.azure.vm": dict(vm_args(sim, name="cvm-a"), wait=False)},
            {"name": "Wait once for the whole fleet", "register": "fleet",
             "confidential.azure.vm_info": {"resource_group": "rg-cvm"},
             "until": "fleet.vms | selectattr('provisioning_state', 'ne', 'Succeeded') | list | length == 0",
             "retries": 30, "delay": 2},
            {"name": "Publish the summary", "ansible.builtin.set_fact": {"rollout_summary": {
                "rollout": "t", "stage": "final",
                "vms": [{"name": "cvm-a", "size": "Standard_DC2as_v5", "tee": "SNP", "status": "in_service",
                         "attestation": {"verdict": "pass"}},
                        {"name": "cvm-b", "size": "Standard_DC2as_v5", "tee": "SNP", "status": "quarantined",
                         "attestation": {"verdict": "fail", "failing_checks": ["snp.debug"]}}]}}},
        ]}]
        out = run(write(tmp_path, play), sim.env, tmp_path)
    finally:
        sim.set_delay(0)
    waits = re.findall(r"^waiting for 1 VM: (.*) \((\d+)s\)$", out, re.M)
    assert waits, out[-3000:]
    assert any("Creating" in counts for counts, dummy in waits)
    table = out[out.index("rollout t (final)\n"):].splitlines()
    assert table[1].split()[:3] == ["VM", "size", "TEE"]
    assert table[2].split() == ["cvm-a", "Standard_DC2as_v5", "SNP", "pass", "in_service"]
    assert table[3].split() == ["cvm-b", "Standard_DC2as_v5", "SNP", "fail", "quarantined", "snp.debug"]


def test_async_polls_silent_tasks_and_retries_get_lines(tmp_path):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Slow job", "ansible.builtin.command": "sleep 3", "async": 20, "poll": 1, "changed_when": False},
        {"name": "Silent wait", "ansible.builtin.command": "sleep 3", "changed_when": False},
        {"name": "Until the third time", "ansible.builtin.shell": "echo x >> count; test $(wc -l < count) -ge 3",
         "register": "r", "until": "r.rc == 0", "retries": 5, "delay": 1, "changed_when": False},
    ]}]
    out = run(write(tmp_path, play), {"CONFIDENTIAL_AZURE_PROGRESS_INTERVAL": "1"}, tmp_path)
    assert re.search(r'^waiting for async job \S+ of "Slow job" on localhost \(\d+s\)$', out, re.M), out
    assert re.search(r'^still running: "Silent wait" \(ansible.builtin.command\) on 1 host: localhost \([12]s\)$',
                     out, re.M), out
    assert re.search(r'^waiting for "Until the third time" on localhost \(\ds, attempt 2 of \d\)$', out, re.M), out
