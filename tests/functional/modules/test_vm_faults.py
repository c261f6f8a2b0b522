# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm under injected faults (429, 503, LRO Failed, LRO timeout) and the no-wait fleet mode."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from cvm_common import arm_since, network, vm_args
from helpers import run_module, run_playbook

VM_PATH = r"/virtualMachines/cvm1$"


def count_in_state(sim, kind):
    state = json.dumps(sim.admin("GET", "/_sim/state")).lower()
    ids = set()
    marker = "/providers/microsoft.%s/" % kind.lower()
    for chunk in state.split('"')[1::2]:
        if marker in chunk and chunk.startswith("/subscriptions/") and chunk.count("/") == 8:
            ids.add(chunk)
    return ids


def test_throttling_and_unavailable_are_retried(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    sim.fault("status", method="PUT", path=VM_PATH, status=429, retry_after=0, count=2)
    sim.fault("status", method="GET", path=VM_PATH, status=503, retry_after=0, count=1)
    mark = sim.mark()
    out = run_module("vm", vm_args(sim), sim.env)
    assert out["changed"] and not out.get("failed"), out
    statuses = [(r["method"], r["status"]) for r in arm_since(sim, mark) if r["path"].endswith("/virtualMachines/cvm1")]
    assert statuses[:2] == [("GET", 503), ("GET", 404)], statuses
    assert [s for m, s in statuses if m == "PUT"][:3] == [429, 429, 201] or \
        [s for m, s in statuses if m == "PUT"][:3] == [429, 429, 200], statuses


def test_lro_failed_reports_azure_code_and_rerun_converges_without_duplicates(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    sim.fault("lro_fail", method="PUT", path=VM_PATH,
              error={"code": "AllocationFailed", "message": "Allocation failed. Please try again."})
    out = run_module("vm", vm_args(sim), sim.env)
    assert out["failed"] and out["azure_error"]["code"] == "AllocationFailed", out
    assert "Allocation failed" in out["msg"] and out["changed"] is True
    out = run_module("vm", vm_args(sim), sim.env)
    assert out["changed"] and not out.get("failed"), out
    assert out["vm"]["provisioning_state"] == "Succeeded"
    out = run_module("vm", vm_args(sim), sim.env)
    assert out["changed"] is False
    assert len(count_in_state(sim, "compute/virtualmachines")) == 1
    assert len(count_in_state(sim, "network/networkinterfaces")) == 1
    assert len(count_in_state(sim, "compute/disks")) == 1


def test_lro_timeout_returns_operation_and_a_waiting_rerun_converges(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    sim.set_delay(8, pattern="virtualMachines/cvm1")
    out = run_module("vm", vm_args(sim, wait_timeout=1), sim.env)
    assert out["failed"] and out["operation"]["poll_url"], out
    assert "still" in out["msg"]
    out = run_module("vm", vm_args(sim, wait_timeout=120), sim.env)
    assert not out.get("failed"), out
    assert out["vm"]["provisioning_state"] == "Succeeded" and out["changed"] is False
    assert len(count_in_state(sim, "compute/virtualmachines")) == 1


def test_hung_operation_fails_cleanly(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    sim.fault("lro_hang", method="PUT", path=VM_PATH)
    out = run_module("vm", vm_args(sim, wait_timeout=2), sim.env)
    assert out["failed"] and out["operation"]["poll_url"] and "\n" not in out["msg"], out


def test_fleet_started_without_waiting_then_waited_once(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    sim.set_delay(3, pattern="virtualMachines/fleet")
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "start",
         "confidential.azure.vm": dict(vm_args(sim, name="{{ item }}", wait=False, tags={"fleet": "web"})),
         "loop": ["fleet1", "fleet2", "fleet3"], "register": "started"},
        {"name": "wait", "confidential.azure.vm_info": {"resource_group": "rg-cvm", "tags": ["fleet:web"]},
         "register": "fleet", "retries": 30, "delay": 1,
         "until": "fleet.vms | rejectattr('provisioning_state', 'equalto', 'Succeeded') | list | length == 0"},
        {"name": "converge", "confidential.azure.vm": dict(vm_args(sim, name="{{ item }}", tags={"fleet": "web"})),
         "loop": ["fleet1", "fleet2", "fleet3"]},
    ]}]
    path = Path(tempfile.mkdtemp()) / "fleet.json"
    path.write_text(json.dumps(play))
    result = run_playbook(path, sim.env)
    assert result.rc == 0, result.stdout[-2000:]
    started = result.result("start")["results"]
    assert all(r["changed"] and r["operation"]["poll_url"] for r in started), started
    assert all(r["vm"]["provisioning_state"] != "Succeeded" for r in started)
    fleet = result.result("wait")["vms"]
    assert sorted(v["name"] for v in fleet) == ["fleet1", "fleet2", "fleet3"]
    assert all(v["confidential"]["tee"] == "SNP" for v in fleet)
    converge = result.result("converge")
    assert converge["changed"] is False, converge
