# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet rollout rides through Azure's throttling: 429s happen and the fleet still converges.

The simulator runs with --throttle-scale 60: ARM's per-principal token buckets and Compute's call-rate windows
are 60 times smaller (sustained rates unchanged), so the burst of a parallel rollout reaches them in seconds.
Sources: Microsoft docs "Understand how Azure Resource Manager throttles requests" (token buckets, 429 with
Retry-After) and "Troubleshooting API throttling errors" (Compute's PutVM3Min/PutVM30Min policies)."""
from __future__ import annotations

import collections

import pytest

from fleet_helpers import run_rollout, vm_puts
from simctl import start_simulator, stop_simulator

FLEET = 6
SCALE = 60


@pytest.fixture
def throttled_simulator(tmp_path):
    sim = start_simulator(str(tmp_path / "azsim"), ["--throttle-scale", str(SCALE)])
    yield sim
    stop_simulator(sim)


def test_fleet_converges_through_429s(throttled_simulator, tmp_path):
    sim = throttled_simulator
    out, summary, log, wall = run_rollout(sim, tmp_path, "rg-throttled", forks=FLEET, rollout_vm_count=FLEET,
                                          rollout_vm_prefix="thr", rollout_poll_delay=2)
    assert out.rc == 0, out.stdout[-4000:]
    throttled = [e for e in log if e.get("status") == 429]
    assert throttled, "the rollout never reached a throttling limit: the test proves nothing"
    kinds = collections.Counter((e["error"] or {}).get("error", {}).get("code") for e in throttled)
    print("\n%d requests, %d answered 429 %s, %.1f s" % (len(log), len(throttled), dict(kinds), wall))
    # every VM exists and finished provisioning, each created by one accepted PUT at least
    assert len(summary["vms"]) == FLEET
    for vm in summary["vms"]:
        assert vm["provisioning_state"] == "Succeeded", vm
    accepted = {e["path"].split("?")[0].rsplit("/", 1)[-1] for e in vm_puts(log, "rg-throttled")
                if e.get("status") in (200, 201)}
    assert accepted == {vm["name"] for vm in summary["vms"]}
