# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 7 proof: the rollout starts a fleet in parallel and waits once.

With a simulated provisioning time of 20 s per VM, playbooks/rollout.yml (control phase; the guest phase is off)
is run for 1 VM and for 20 VMs. The VM phase - from the first VM create request to the wait's last list call, both
read from the simulator's request log - must take less than 1.5 x as long for 20 VMs as for one. This is a
performance test of parallelism (the issue asks for this number as its proof); the measured figures are printed
and written to tests/output/bench/fleet_parallel.json.
"""
from __future__ import annotations

import json

import pytest

from fleet_helpers import REPO, run_rollout, vm_list_gets, vm_puts

DELAY = 20.0
FLEET = 20


@pytest.fixture
def fleet_simulator(fresh_simulator):
    """The session simulator, reset before and after (the test changes its provisioning delay)."""
    yield fresh_simulator
    fresh_simulator.reset()


def vm_phase(entries, rg):
    puts = vm_puts(entries, rg)
    lists = vm_list_gets(entries, rg)
    assert puts and lists, "no VM create or no wait in the request log"
    first_put = min(e["time"] for e in puts)
    return {"vm_creates": len(puts), "wait_polls": len(lists),
            "start_window_s": round(max(e["time"] for e in puts) - first_put, 2),
            "vm_phase_s": round(max(e["time"] for e in lists) - first_put, 2)}


def test_twenty_vms_take_less_than_one_and_a_half_times_one_vm(fleet_simulator, tmp_path):
    sim = fleet_simulator
    # every VM create/update operation takes 20 s before it reports Succeeded (NICs and the CMK chain do not)
    sim.set_delay(DELAY, pattern=r"/providers/Microsoft\.Compute/virtualMachines/")

    one, one_summary, one_log, one_wall = run_rollout(sim, tmp_path, "rg-fleet-one", rollout_vm_count=1,
                                                      rollout_vm_prefix="one")
    assert one.rc == 0, one.stdout[-3000:]
    many, many_summary, many_log, many_wall = run_rollout(sim, tmp_path, "rg-fleet-many", rollout_vm_count=FLEET,
                                                          rollout_vm_prefix="many")
    assert many.rc == 0, many.stdout[-3000:]

    # every VM exists, with the CMK disk encryption set, provisioned once
    for summary, count in ((one_summary, 1), (many_summary, FLEET)):
        assert len(summary["vms"]) == count
        for vm in summary["vms"]:
            assert vm["provisioning_state"] == "Succeeded", vm
            assert vm["security_encryption_type"] == "DiskWithVMGuestState"
            assert vm["disk_encryption_set"], vm
            # the guest phase is off: nobody claims these VMs were attested
            assert vm["status"] == "not_attempted" and vm["attestation"]["verdict"] == "not_run"

    single = vm_phase(one_log, "rg-fleet-one")
    fleet = vm_phase(many_log, "rg-fleet-many")
    assert single["vm_creates"] == 1 and fleet["vm_creates"] == FLEET
    # all 20 creates were sent before the first VM could have finished: they provision at the same time
    assert fleet["start_window_s"] < DELAY, fleet
    ratio = fleet["vm_phase_s"] / single["vm_phase_s"]
    result = {"provisioning_delay_s": DELAY, "fleet_size": FLEET, "one_vm": dict(single, playbook_wall_s=round(
        one_wall, 1)), "fleet": dict(fleet, playbook_wall_s=round(many_wall, 1)), "ratio_vm_phase": round(ratio, 3),
        "ratio_playbook_wall": round(many_wall / one_wall, 3)}
    out = REPO / "tests" / "output" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fleet_parallel.json").write_text(json.dumps(result, indent=1) + "\n")
    print("\nfleet parallelism: " + json.dumps(result))
    assert ratio < 1.5, result
    # and the whole rollout (CMK chain included, the same for both) as a user times it
    assert many_wall / one_wall < 1.5, result
