# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/tasks/rollout_summary.yml on its own, from control-phase records (no Azure needed): a reason with line
breaks (SSH's "banner exchange\\r\\nConnection ... timed out") stays on its row of the printed table, and the
fleet's data-disk key id (version-less) and attestation provider are at the top of the JSON (null without data
disks), what rollout_inventory.yml takes as rollout_data_disk_key_id / rollout_data_disk_maa_url."""
from __future__ import annotations

import json

from helpers import REPO, run_playbook

SUMMARY_TASKS = REPO / "playbooks" / "tasks" / "rollout_summary.yml"
KEY_ID = "https://kv-fleet.vault.azure.net/keys/cvm-rollout-datadisk"
MAA = "https://sharedeus.eus.attest.azure.net"
SSH_ERROR = ("timed out waiting for ping module test: Failed to connect to the host via ssh: Connection timed out "
             "during banner exchange\r\nConnection to 10.60.1.4 port 22 timed out")


def _record(name, data_disks=False, **over):
    rec = {"name": name, "resource_group": "rg-sum", "id": "/subscriptions/x/vm/" + name, "vm_id": None,
           "size": "Standard_DC2as_v5", "tee": "SNP", "has_temp_disk": False, "security_encryption_type": None,
           "disk_encryption_set": None, "provisioning_state": "Succeeded", "start_error": "", "power_state": None,
           "data_disks": [{"lun": 0, "name": "cvm_data_lun0", "mount_point": "/data"}] if data_disks else []}
    if data_disks:
        rec["data_disk"] = {"key_id": KEY_ID, "maa_url": MAA, "vault_resource": "https://vault.azure.net"}
    rec.update(over)
    return rec


def _summary(tmp_path, control):
    path = tmp_path / "summary.json"
    plan = {"summary_path": str(path), "tags": {"confidential-rollout": "sum"}, "resource_group": "rg-sum",
            "location": "eastus", "guest_phase": True}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "records", "ansible.builtin.set_fact": {"rollout_plan": plan, "rollout_control": control}},
        {"name": "summary", "ansible.builtin.include_tasks": str(SUMMARY_TASKS),
         "vars": {"rollout_summary_stage": "final"}}]}]
    book = tmp_path / "summary.yml"
    book.write_text(json.dumps(play))
    out = run_playbook(book, {})
    assert out.rc == 0, out.stdout[-3000:]
    return json.loads(path.read_text()), out.result("Print the rollout summary")["msg"]


def test_a_multi_line_reason_stays_on_its_row_and_the_data_disk_key_is_at_the_top(tmp_path):
    summary, table = _summary(tmp_path, {"a": _record("a", data_disks=True, start_error=SSH_ERROR),
                                         "b": _record("b", provisioning_state="Failed")})
    rows = table[2:]
    assert len(rows) == 2 and all("\n" not in row and "\r" not in row for row in rows), rows
    assert rows[0].startswith("a |") and rows[0].endswith(
        "during banner exchange / Connection to 10.60.1.4 port 22 timed out"), rows[0]
    assert summary["vms"][0]["reason"] == SSH_ERROR  # the JSON keeps the message as it came
    assert summary["data_disk_key_id"] == KEY_ID and summary["data_disk_maa_url"] == MAA


def test_without_data_disks_the_data_disk_fields_are_null(tmp_path):
    summary, _table = _summary(tmp_path, {"a": _record("a")})
    assert summary["data_disk_key_id"] is None and summary["data_disk_maa_url"] is None
