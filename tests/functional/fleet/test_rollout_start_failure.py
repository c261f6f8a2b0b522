# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VM whose start is refused does not stop the rest of the fleet, is reported with the reason, and the
rollout does not end green."""
from __future__ import annotations

from fleet_helpers import run_rollout, vm_puts


def test_a_refused_vm_is_reported_and_fails_the_rollout(fresh_simulator, tmp_path):
    sim = fresh_simulator
    out, summary, log, dummy = run_rollout(sim, tmp_path, "rg-fail", forks=5, rollout_vms=[
        {"name": "good-1", "size": "Standard_DC2as_v5"},
        # an Intel TDX size asserted as SEV-SNP: the vm module refuses it before any request
        {"name": "bad-1", "size": "Standard_DC2es_v5", "tee": "SNP"}])
    assert out.rc != 0
    vms = {vm["name"]: vm for vm in summary["vms"]}
    assert vms["good-1"]["provisioning_state"] == "Succeeded" and vms["good-1"]["status"] == "not_attempted"
    bad = vms["bad-1"]
    assert bad["status"] == "start_failed" and "tee" in bad["reason"].lower(), bad
    assert [e["path"].rsplit("/", 1)[-1] for e in vm_puts(log, "rg-fail")] == ["good-1"]
    assert "these VMs were not created: bad-1" in out.stdout
