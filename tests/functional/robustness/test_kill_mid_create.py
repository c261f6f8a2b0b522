# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Killing a playbook mid-create: ansible-playbook (its whole process group: controller, worker, module) gets
SIGKILL while the VM's long-running create is in progress (20 s simulated provisioning delay). Re-running the same
playbook converges: the VM ends Succeeded, and the simulator holds exactly one VM, one NIC and one OS disk - no
duplicate, no orphan - and a third run changes nothing."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from helpers import REPO, _bin, ansible_env, run_module, run_playbook

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 robust@test"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
RG = "rg-kill"


def ids_of(sim, kind):
    text = json.dumps(sim.admin("GET", "/_sim/state")).lower()
    marker = "/providers/microsoft.%s/" % kind
    return sorted(set(c for c in text.split('"')[1::2] if marker in c and c.startswith("/subscriptions/")
                      and c.count("/") == 8 and "/resourcegroups/%s/" % RG in c))


def test_sigkill_mid_create_then_rerun_converges_without_duplicates(fresh_simulator):
    sim = fresh_simulator
    for module, args in (("resource_group", {"name": RG, "location": "eastus"}),
                         ("virtual_network", {"resource_group": RG, "name": "vnet1",
                                              "address_prefixes": ["10.0.0.0/16"],
                                              "subnets": [{"name": "default", "address_prefix": "10.0.1.0/24"}]})):
        assert not run_module(module, args, sim.env).get("failed")
    subnet = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default" \
        % (sim.subscription_id, RG)
    vm = {"resource_group": RG, "name": "cvm-kill", "size": "Standard_DC2as_v5", "image": JAMMY,
          "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": subnet}
    play = Path(tempfile.mkdtemp(prefix="cazure-kill-")) / "create.json"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                 "tasks": [{"name": "create", "confidential.azure.vm": vm, "register": "out"}]}]))
    sim.set_delay(20, pattern=r"/virtualMachines/cvm-kill")
    try:
        mark = sim.mark()
        proc = subprocess.Popen([_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)],
                                env=ansible_env(sim.env), cwd=str(REPO), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        put_seen = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            log = sim.requests(since=mark)
            puts = [e for e in log if e["method"] == "PUT" and re.search(r"/virtualMachines/cvm-kill$",
                                                                         e["path"].split("?")[0])]
            if puts:
                put_seen = True
                # let it poll the operation once, so the kill lands inside the LRO wait
                time.sleep(3)
                break
            time.sleep(0.5)
        assert put_seen and proc.poll() is None, "the VM create did not start while the playbook was running"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        state = sim.admin("GET", "/_sim/state")
        assert len(ids_of(sim, "compute/virtualmachines")) == 1, "the create request was accepted before the kill"
        assert state is not None

        again = run_playbook(play, sim.env)
        out = again.result("create")
        assert not out.get("failed"), out.get("msg")
        assert out["vm"]["provisioning_state"] == "Succeeded"
        third = run_playbook(play, sim.env).result("create")
        assert not third.get("failed") and third["changed"] is False, third
    finally:
        sim.set_delay(0, pattern=r"/virtualMachines/cvm-kill")
    assert len(ids_of(sim, "compute/virtualmachines")) == 1, ids_of(sim, "compute/virtualmachines")
    assert len(ids_of(sim, "network/networkinterfaces")) == 1, ids_of(sim, "network/networkinterfaces")
    assert len(ids_of(sim, "compute/disks")) == 1, ids_of(sim, "compute/disks")
