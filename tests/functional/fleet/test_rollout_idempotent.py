# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/rollout.yml from a fresh (strict) simulator passes the first time; the second run changes nothing; a
--check run that adds a VM to the fleet neither creates nor waits for it and says it would be created."""
from __future__ import annotations

from fleet_helpers import run_rollout, vm_puts


def test_rollout_passes_first_time_and_second_run_changes_nothing(fresh_simulator, tmp_path):
    sim = fresh_simulator
    first, summary, log, _wall = run_rollout(sim, tmp_path, "rg-twice", forks=5, rollout_vm_count=2,
                                             rollout_vm_prefix="twice")
    assert first.rc == 0, first.stdout[-3000:]
    assert sorted(vm["name"] for vm in summary["vms"]) == ["twice-1", "twice-2"]
    assert all(vm["provisioning_state"] == "Succeeded" for vm in summary["vms"]), summary
    assert summary["data_disk_key_id"] is None and summary["data_disk_maa_url"] is None  # no data disks
    assert len(vm_puts(log, "rg-twice")) == 2
    second, _summary, log, _wall = run_rollout(sim, tmp_path, "rg-twice", forks=5, rollout_vm_count=2,
                                               rollout_vm_prefix="twice",
                                               rollout_vault_name=first.result("Settle the rollout settings")[
                                                   "ansible_facts"]["rollout_plan"]["vault_name"])
    assert second.rc == 0, second.stdout[-3000:]
    stats = second.data["stats"]
    changed = [(name, result.get("actions") or result.get("msg")) for name, result in second.tasks()
               if result.get("changed")]
    assert all(host_stats["changed"] == 0 for host_stats in stats.values()), (stats, changed)
    assert vm_puts(log, "rg-twice") == []

    # --check with one more VM: it is not created, so not waited for (a wait would last rollout_wait_timeout and fail)
    wait_timeout = 40
    check, summary, log, wall = run_rollout(sim, tmp_path, "rg-twice", forks=5, check=True, rollout_vm_count=3,
                                            rollout_vm_prefix="twice", rollout_wait_timeout=wait_timeout,
                                            rollout_vault_name=first.result("Settle the rollout settings")[
                                                "ansible_facts"]["rollout_plan"]["vault_name"])
    assert check.rc == 0, check.stdout[-3000:]
    assert [e for e in log if e.get("service") == "arm" and e["method"] in ("PUT", "PATCH", "DELETE", "POST")
            and "/_sim" not in e["path"]] == []
    vms = {vm["name"]: vm for vm in summary["vms"]}
    assert vms["twice-1"]["provisioning_state"] == vms["twice-2"]["provisioning_state"] == "Succeeded"
    added = vms["twice-3"]
    assert added["status"] == "not_attempted" and added["provisioning_state"] is None, added
    assert "would be created" in added["reason"] and added["reason"].startswith("check mode"), added
    assert wall < wait_timeout + 60, wall
