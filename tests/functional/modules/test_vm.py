# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.vm / vm_info against the simulator, run through ansible-playbook."""
from __future__ import annotations

from cvm_common import arm_since, network, vm_args
from helpers import run_module


def test_vm_create_idempotent_check_diff_update_absent(fresh_simulator):
    sim = fresh_simulator
    network(sim)

    mark = sim.mark()
    out = run_module("vm", vm_args(sim), sim.env, check=True, diff=True)
    assert out["changed"] and not out.get("failed"), out
    assert arm_since(sim, mark, writes_only=True) == []
    assert out["diff"]["before"] == {} and out["diff"]["after"]["size"] == "Standard_DC2as_v5"

    out = run_module("vm", vm_args(sim), sim.env)
    assert out["changed"] and not out.get("failed"), out
    vm = out["vm"]
    assert vm["provisioning_state"] == "Succeeded" and vm["power_state"] == "running"
    assert vm["confidential"]["tee"] == "SNP"
    assert vm["confidential"]["security_encryption_type"] == "DiskWithVMGuestState"
    assert vm["confidential"]["secure_boot"] is True and vm["confidential"]["vtpm"] is True

    mark = sim.mark()
    out = run_module("vm", vm_args(sim), sim.env)
    assert out["changed"] is False, out
    reqs = arm_since(sim, mark)
    assert [r["method"] for r in reqs] == ["GET", "GET"], reqs
    paths = sorted(r["path"].rsplit("/", 2)[-2] for r in reqs)
    assert paths == ["networkInterfaces", "virtualMachines"]

    info = run_module("vm_info", {"resource_group": "rg-cvm", "name": "cvm1"}, sim.env)
    assert info["vms"] == [out["vm"]]

    mark = sim.mark()
    out = run_module("vm", vm_args(sim, size="Standard_DC4as_v5", tags={"owner": "me"}), sim.env, diff=True)
    assert out["changed"] and not out.get("failed"), out
    assert out["diff"] == {"before": {"size": "Standard_DC2as_v5", "tags": {"env": "test"}},
                           "after": {"size": "Standard_DC4as_v5", "tags": {"env": "test", "owner": "me"}}}
    writes = arm_since(sim, mark, writes_only=True)
    assert [w["method"] for w in writes] == ["PATCH"], writes
    assert out["vm"]["size"] == "Standard_DC4as_v5"

    out = run_module("vm", vm_args(sim, security_encryption_type="VMGuestStateOnly"), sim.env)
    assert out["failed"] and "allow_recreate" in out["msg"] and "security_encryption_type" in out["msg"]

    out = run_module("vm", {"resource_group": "rg-cvm", "name": "cvm1", "power_state": "deallocated"}, sim.env)
    assert out["changed"] and out["vm"]["power_state"] == "deallocated", out

    mark = sim.mark()
    out = run_module("vm", {"resource_group": "rg-cvm", "name": "cvm1", "state": "absent"}, sim.env, check=True)
    assert out["changed"] and arm_since(sim, mark, writes_only=True) == []
    out = run_module("vm", {"resource_group": "rg-cvm", "name": "cvm1", "state": "absent"}, sim.env)
    assert out["changed"] and not out.get("failed") and out["vm"] == {}, out
    deleted = [w["path"].rsplit("/", 2)[-2] for w in arm_since(sim, mark, writes_only=True)
               if w["method"] == "DELETE"]
    assert deleted == ["virtualMachines", "disks", "networkInterfaces"], deleted
    info = run_module("vm_info", {"resource_group": "rg-cvm"}, sim.env)
    assert info["vms"] == []
    # nothing else removed: the VNet is still there
    vnet = run_module("virtual_network", {"resource_group": "rg-cvm", "name": "vnet1",
                                          "address_prefixes": ["10.0.0.0/16"]}, sim.env)
    assert vnet["changed"] is False


def test_wait_false_returns_once_the_vm_put_is_accepted_without_waiting_for_the_nic(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    sim.set_delay(20.0, pattern=r"/providers/Microsoft\.Network/networkInterfaces/")
    try:
        mark = sim.mark()
        out = run_module("vm", vm_args(sim, wait=False), sim.env)
        assert out["changed"] and not out.get("failed"), out
        assert out["operation"]["done"] is False
        reqs = [(r["method"], r["path"].split("?")[0].rsplit("/", 2)[-2]) for r in arm_since(sim, mark)]
        nic_put = reqs.index(("PUT", "networkInterfaces"))
        # nothing polls the NIC's operation: the VM PUT follows the NIC PUT directly
        assert reqs[nic_put + 1] == ("PUT", "virtualMachines"), reqs
        assert not any(r["path"].split("?")[0].endswith("/operations") or "operationStatuses" in r["path"]
                       for r in arm_since(sim, mark)), reqs
    finally:
        sim.reset()
