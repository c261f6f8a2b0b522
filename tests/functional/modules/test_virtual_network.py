# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.virtual_network against the simulator."""
from __future__ import annotations

from cvm_common import arm_since
from helpers import run_module

ARGS = {"resource_group": "rg-net", "name": "vnet1", "address_prefixes": ["10.1.0.0/16"],
        "subnets": [{"name": "default", "address_prefix": "10.1.1.0/24"}]}


def test_vnet_create_idempotent_check_diff_update_absent_and_faults(fresh_simulator):
    sim = fresh_simulator
    assert not run_module("resource_group", {"name": "rg-net", "location": "eastus"}, sim.env).get("failed")

    mark = sim.mark()
    out = run_module("virtual_network", ARGS, sim.env, check=True)
    assert out["changed"] and arm_since(sim, mark, writes_only=True) == []

    sim.fault("status", method="PUT", path=r"/virtualNetworks/vnet1$", status=429, retry_after=0, count=1)
    out = run_module("virtual_network", ARGS, sim.env)
    assert out["changed"] and not out.get("failed"), out
    assert out["virtual_network"]["location"] == "eastus"  # from the resource group
    assert [s["name"] for s in out["virtual_network"]["subnets"]] == ["default"]

    mark = sim.mark()
    out = run_module("virtual_network", ARGS, sim.env)
    assert out["changed"] is False
    assert [r["method"] for r in arm_since(sim, mark)] == ["GET"]

    bigger = dict(ARGS, subnets=ARGS["subnets"] + [{"name": "second", "address_prefix": "10.1.2.0/24"}])
    out = run_module("virtual_network", bigger, sim.env, diff=True)
    assert out["changed"] and out["diff"] == {
        "before": {"subnets": {"default": "10.1.1.0/24"}},
        "after": {"subnets": {"default": "10.1.1.0/24", "second": "10.1.2.0/24"}}}, out["diff"]
    # without purge_subnets, listing fewer subnets keeps the others
    out = run_module("virtual_network", ARGS, sim.env)
    assert out["changed"] is False

    sim.fault("lro_fail", method="DELETE", path=r"/virtualNetworks/vnet1$",
              error={"code": "InUseSubnetCannotBeDeleted", "message": "Subnet default is in use."})
    out = run_module("virtual_network", {"resource_group": "rg-net", "name": "vnet1", "state": "absent"}, sim.env)
    assert out["failed"] and out["azure_error"]["code"] == "InUseSubnetCannotBeDeleted", out
    out = run_module("virtual_network", {"resource_group": "rg-net", "name": "vnet1", "state": "absent"}, sim.env)
    assert out["changed"] and not out.get("failed"), out
    out = run_module("virtual_network", {"resource_group": "rg-net", "name": "vnet1", "state": "absent"}, sim.env)
    assert out["changed"] is False
