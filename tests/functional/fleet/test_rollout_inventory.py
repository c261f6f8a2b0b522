# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/rollout_inventory.yml with a confidential.azure.cvm inventory of the simulator: VMs whose guest cannot
be reached are reported unreachable - never passed, never tagged in service - and VMs that are not running are
reported and left alone."""
from __future__ import annotations

import json
import subprocess

import yaml

from helpers import REPO, _bin, ansible_env, run_playbook

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 inv@test"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}


def _vm(name, size, **extra):
    args = {"resource_group": "rg-inv", "name": name, "size": size, "image": JAMMY, "admin_username": "azureuser",
            "ssh_public_keys": [KEY], "tags": {"fleet": "inv"}, "subnet_id": "{{ net.virtual_network.subnets[0].id }}"}
    args.update(extra)
    return {"name": "vm " + name, "confidential.azure.vm": args}


def test_unreachable_guests_are_reported_not_passed(fresh_simulator, tmp_path):
    sim = fresh_simulator
    setup = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "rg", "confidential.azure.resource_group": {"name": "rg-inv", "location": "eastus"}},
        {"name": "net", "confidential.azure.virtual_network": {
            "resource_group": "rg-inv", "name": "vnet", "address_prefixes": ["10.77.0.0/16"],
            "subnets": [{"name": "default", "address_prefix": "10.77.1.0/24"}]}, "register": "net"},
        _vm("inv-snp-1", "Standard_DC2ads_v5"),
        _vm("inv-tdx-1", "Standard_DC2eds_v5", power_state="deallocated"),
        _vm("inv-tdx-2", "Standard_DC2es_v5"),
    ]}]
    book = tmp_path / "setup.yml"
    book.write_text(yaml.safe_dump(setup))
    out = run_playbook(book, sim.env)
    assert out.rc == 0, out.stdout[-3000:]

    inv = tmp_path / "fleet.cvm.yml"
    inv.write_text(yaml.safe_dump({"plugin": "confidential.azure.cvm", "tags": ["fleet:inv"],
                                   "keyed_groups": [{"key": "azure_tee", "prefix": "tee"}]}))
    summary_path = tmp_path / "summary.json"
    evars = {"rollout_name": "inv", "rollout_connect_timeout": 5, "rollout_summary_path": str(summary_path),
             # data disks on for the fleet: reported per disk, never opened on a guest that was not reached
             "rollout_data_disks": True, "rollout_data_disk_key_id": "https://kv-inv.vault.azure.net/keys/datadisk",
             "rollout_data_disk_maa_url": "https://sharedeus.eus.attest.azure.net"}
    env = ansible_env(dict(sim.env, ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1"))
    proc = subprocess.run([_bin("ansible-playbook"), "-i", str(inv), str(REPO / "playbooks" / "rollout_inventory.yml"),
                           "-e", json.dumps(evars)], env=env, capture_output=True, text=True, timeout=600, check=False)
    # the unreachable guest fails its host: the run does not end green
    assert proc.returncode != 0, proc.stdout[-3000:]
    summary = json.loads(summary_path.read_text())
    vms = {vm["name"]: vm for vm in summary["vms"]}
    assert set(vms) == {"inv-snp-1", "inv-tdx-1", "inv-tdx-2"}, proc.stdout[-3000:]
    snp, tdx = vms["inv-snp-1"], vms["inv-tdx-1"]
    assert snp["status"] == "unreachable" and snp["guest_reachable"] is False, snp
    assert snp["attestation"]["verdict"] == "not_run" and snp["temp_disk"] == "not run"
    assert snp["tee"] == "SNP" and snp["vm_id"]
    assert tdx["status"] == "not_attempted" and "deallocated" in tdx["reason"], tdx
    # a running TDX VM with data disks is left alone: the guest agent attests with SEV-SNP evidence only
    assert vms["inv-tdx-2"]["status"] == "not_attempted" and "Intel TDX" in vms["inv-tdx-2"]["reason"], vms["inv-tdx-2"]
    assert summary["counts"] == {"unreachable": 1, "not_attempted": 2}
    for vm in (snp, tdx, vms["inv-tdx-2"]):
        (disk,) = vm["data_disks"]
        assert disk["lun"] == 0 and disk["name"] == "cvm_data_lun0" and disk["state"] == "not_run", disk
        assert disk["reason"] == "not run: " + vm["reason"] and disk["key_id"] is None
    # nothing was put into service (no tag written by the rollout)
    for name in vms:
        status, dummy, vm = sim.call("GET", sim.rg_path("rg-inv") + "/providers/Microsoft.Compute/virtualMachines/" + name,
                                     api_version="2026-04-01")
        assert status == 200 and "confidential-rollout-state" not in (vm.get("tags") or {}), vm.get("tags")
