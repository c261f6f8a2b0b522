# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/tasks/data_disk_record.yml, the one place the rollout reads the data_disk_encryption role's result:
per-disk records (opened with the key version released, closed with stage and reason, no status) and the error
that keeps a VM with a closed disk out of service. No Azure and no guest: the role's result is given as the role
publishes it (roles/data_disk_encryption/tasks/main.yml, "Publish the result")."""
from __future__ import annotations

import json

from helpers import REPO, run_playbook

KID = "https://kv.vault.azure.net/keys/cvm-rollout-datadisk/0123456789abcdef0123456789abcdef"
MAA = {"iss": "https://sharedeus.eus.attest.azure.net", "tee_type": "sevsnpvm",
       "compliance_status": "azure-compliant-cvm", "secureboot": True, "vm_id": "vm-1", "exp": 1765000000,
       "attestation_type": "azurevm"}
DISKS = [{"lun": 0, "name": "cvm_data_lun0", "mount_point": "/data"},
         {"lun": 1, "name": "cvm_data_lun1", "mount_point": "/logs"},
         {"lun": 2, "name": "scratch"}]


def record(tmp_path, result):
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars": {"rollout_vm": {"data_disks": DISKS}, "data_disk_encryption_result": result,
                      "rollout_guest": {"reachable": True, "attestation": "pass", "data_disks": [], "error": ""}},
             "tasks": [{"name": "record", "ansible.builtin.include_tasks":
                        str(REPO / "playbooks" / "tasks" / "data_disk_record.yml")},
                       {"name": "show", "ansible.builtin.debug": {"var": "rollout_guest"}}]}]
    book = tmp_path / "record.json"
    book.write_text(json.dumps(play))
    out = run_playbook(book, {})
    assert out.rc == 0, out.stdout[-3000:]
    return out.result("show")["rollout_guest"]


def test_opened_closed_and_silent_disks_are_recorded_and_keep_the_vm_out_of_service(tmp_path):
    guest = record(tmp_path, {"key_id": KID, "planned": [], "disks": [
        {"name": "cvm_data_lun0", "lun": 0, "mount_point": "/data", "state": "opened", "opened": True, "mounted": True,
         "device": "/dev/disk/azure/data/by-lun/0", "key_id": KID, "key_version": "0123456789abcdef0123456789abcdef",
         "maa": MAA, "stage": None, "reason": None, "time": 1},
        {"name": "cvm_data_lun1", "lun": 1, "mount_point": "/logs", "state": "closed", "opened": False,
         "mounted": False, "device": "/dev/disk/azure/data/by-lun/1", "key_id": None, "key_version": None,
         "stage": "release", "reason": "Key Vault answered 403 ForbiddenByRbac", "maa": MAA, "time": 1}]})
    opened, closed, silent = guest["data_disks"]
    assert opened == {"lun": 0, "name": "cvm_data_lun0", "mount_point": "/data", "state": "opened", "key_id": KID,
                      "key_version": "0123456789abcdef0123456789abcdef", "maa": MAA, "stage": None,
                      "reason": "opened after attestation"}
    assert closed["state"] == "closed" and closed["stage"] == "release" and "403" in closed["reason"]
    assert closed["key_id"] is None and closed["key_version"] is None
    assert silent["state"] == "unknown" and silent["mount_point"] is None and silent["reason"]
    assert guest["error"] == "data disks closed: cvm_data_lun1, scratch"


def test_all_disks_opened_leaves_no_error(tmp_path):
    status = {"state": "opened", "opened": True, "mounted": True, "key_id": KID,
              "key_version": "0123456789abcdef0123456789abcdef", "maa": MAA, "stage": None, "reason": None}
    guest = record(tmp_path, {"key_id": KID, "planned": [], "disks": [dict(status, **d) for d in DISKS]})
    assert [d["state"] for d in guest["data_disks"]] == ["opened"] * 3 and guest["error"] == ""
