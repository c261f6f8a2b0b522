# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.vm_batch against the simulator: many VMs in one task, each exactly as the vm module would."""
from __future__ import annotations

from cvm_common import JAMMY, KEY, arm_since, network, subnet_id
from helpers import run_module

TOKEN_PATHS = ("/oauth2/", "/token")


def defaults(sim, **over):
    out = {"resource_group": "rg-cvm", "size": "Standard_DC2as_v5", "image": dict(JAMMY),
           "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": subnet_id(sim),
           "tags": {"fleet": "b"}}
    out.update(over)
    return out


def vm_puts(reqs):
    return sorted(r["path"].rsplit("/", 1)[-1] for r in reqs
                  if r["method"] == "PUT" and "/virtualMachines/" in r["path"])


def test_batch_creates_in_check_mode_nothing_then_all_then_nothing_and_reports_each_vm(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    names = ["b%d" % i for i in range(6)]
    args = {"defaults": defaults(sim, wait=False), "vms": [{"name": n} for n in names[:5]]
            + [{"name": names[5], "size": "Standard_DC2es_v5", "tee": "TDX",
                "image": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "cvm"}}],
            "parallel": 4}

    mark = sim.mark()
    out = run_module("vm_batch", args, sim.env, check=True, diff=True)
    assert out["changed"] and not out.get("failed"), out
    assert arm_since(sim, mark, writes_only=True) == []
    assert [v["name"] for v in out["vms"]] == names
    assert all(v["actions"][-1].startswith("create VM") for v in out["vms"]), out["vms"]
    assert [d["after_header"] for d in out["diff"]] == names

    mark = sim.mark()
    out = run_module("vm_batch", args, sim.env)
    assert out["changed"] and not out.get("failed"), out
    assert vm_puts(arm_since(sim, mark, writes_only=True)) == names
    by_name = {v["name"]: v for v in out["vms"]}
    assert by_name["b5"]["vm"]["confidential"]["tee"] == "TDX" and by_name["b0"]["vm"]["confidential"]["tee"] == "SNP"
    assert all(v["operation"]["done"] is False for v in out["vms"]), out["vms"]
    # one token for the batch, not one per VM; what every new VM reads alike is read once
    tokens = [r for r in sim.requests(since=mark) if any(t in r["path"] for t in TOKEN_PATHS)]
    assert len(tokens) <= 1, tokens
    gets = [r["path"] for r in arm_since(sim, mark) if r["method"] == "GET"]
    assert sum(1 for g in gets if g.lower().endswith("/skus")) == 1, sorted(set(g.rsplit("/", 2)[-2] for g in gets))
    assert sum(1 for g in gets if g.endswith("/virtualNetworks/vnet1")) == 1, gets

    # the task's admin_password is for the VMs it may create: an item managing an existing VM does not get it
    out = run_module("vm_batch", {"defaults": {"resource_group": "rg-cvm"}, "admin_password": "Secret-1234!x",
                                  "vms": [{"name": "b0", "tags": {"owner": "ops"}}]}, sim.env)
    assert out["changed"] and not out.get("failed"), out
    assert "Secret-1234!x" not in repr(out)

    info = run_module("vm_info", {"resource_group": "rg-cvm", "tags": ["fleet:b"]}, sim.env)
    assert sorted(v["name"] for v in info["vms"]) == names

    # the same batch once the VMs exist: nothing to do, one GET of each VM and of its NIC
    mark = sim.mark()
    out = run_module("vm_batch", dict(args, defaults=defaults(sim, wait=True)), sim.env)
    assert out["changed"] is False and not out.get("failed"), out
    reqs = arm_since(sim, mark)
    assert {r["method"] for r in reqs} == {"GET"} and len(reqs) == 2 * len(names), reqs

    out = run_module("vm_batch", {"defaults": {"resource_group": "rg-cvm", "state": "absent"},
                                  "vms": [{"name": n} for n in names]}, sim.env)
    assert out["changed"] and not out.get("failed"), out
    info = run_module("vm_info", {"resource_group": "rg-cvm", "tags": ["fleet:b"]}, sim.env)
    assert info["vms"] == []


def test_a_bad_vm_is_refused_before_any_request_and_the_others_are_created(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    mark = sim.mark()
    out = run_module("vm_batch", {"defaults": defaults(sim), "vms": [
        {"name": "good"},
        {"name": "bad-tee", "size": "Standard_DC2es_v5", "tee": "SNP"},
        {"name": "bad-option", "colour": "blue"}]}, sim.env)
    assert out.get("failed") and out["changed"], out
    by_name = {v["name"]: v for v in out["vms"]}
    assert not by_name["good"]["failed"] and by_name["good"]["vm"]["provisioning_state"] == "Succeeded"
    assert by_name["bad-tee"]["failed"] and "tee" in by_name["bad-tee"]["msg"], by_name["bad-tee"]
    assert by_name["bad-option"]["failed"] and "colour" in by_name["bad-option"]["msg"], by_name["bad-option"]
    assert by_name["bad-tee"]["vm"] == {} and by_name["bad-tee"]["actions"] == []
    assert out["msg"].startswith("2 of 3 VMs failed: ") and "bad-tee: " in out["msg"], out["msg"]
    assert vm_puts(arm_since(sim, mark, writes_only=True)) == ["good"]


def test_batch_problems_stop_every_vm_before_any_request(fresh_simulator):
    sim = fresh_simulator
    mark = sim.mark()
    out = run_module("vm_batch", {"defaults": defaults(sim, admin_password="Secret-1234!", secret="Client-Secret-9"),
                                  "parallel": 99,
                                  "vms": [{"name": "x", "subscription_id": "00000000-0000-0000-0000-000000000001",
                                           "password": "User-Password-7"},
                                          {"name": "X"}]}, sim.env)
    assert out.get("failed") and out["changed"] is False, out
    msg = out["msg"]
    for text in ("defaults: admin_password is a secret", "parallel 99", "vms[0] (x): subscription_id is an "
                 "authentication option", "vms[1] (X): the same VM as vms[0]"):
        assert text in msg, msg
    for secret in ("Secret-1234!", "Client-Secret-9", "User-Password-7"):
        assert secret not in repr(out)
    assert arm_since(sim, mark) == []
