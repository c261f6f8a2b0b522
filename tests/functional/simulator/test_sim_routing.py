"""Route tables: spec path templates, the ARM action / Key Vault key operation each route carries (the contract of
dispatch.authorize), and the answers for paths no route serves."""
from __future__ import annotations

import os
import sys
import tempfile

import pytest

import azsim_testlib as T

sys.path.insert(0, os.path.join(T.REPO, "tests", "simulator"))
from azsim.app import Simulator  # noqa: E402
from azsim.routing import RouteTable, arm_action, resource_type_of  # noqa: E402

SUB = "/subscriptions/%s" % ("0" * 8 + "-0000-0000-0000-" + "0" * 12)
RG = SUB + "/resourceGroups/rg"


@pytest.fixture(scope="module")
def sim():
    return Simulator(tempfile.mkdtemp())


@pytest.mark.parametrize("method,path,action,rtype", [
    ("PUT", RG + "/providers/Microsoft.Compute/virtualMachines/vm1", "Microsoft.Compute/virtualMachines/write",
     "Microsoft.Compute/virtualMachines"),
    ("GET", RG + "/providers/Microsoft.Compute/virtualMachines/vm1", "Microsoft.Compute/virtualMachines/read",
     "Microsoft.Compute/virtualMachines"),
    ("DELETE", RG + "/providers/Microsoft.Compute/virtualMachines/vm1", "Microsoft.Compute/virtualMachines/delete",
     "Microsoft.Compute/virtualMachines"),
    ("POST", RG + "/providers/Microsoft.Compute/virtualMachines/vm1/deallocate",
     "Microsoft.Compute/virtualMachines/deallocate/action", "Microsoft.Compute/virtualMachines"),
    ("GET", RG + "/providers/Microsoft.Compute/virtualMachines/vm1/instanceView",
     "Microsoft.Compute/virtualMachines/instanceView/read", "Microsoft.Compute/virtualMachines"),
    ("PUT", RG + "/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
     "Microsoft.Network/virtualNetworks/subnets/write", "Microsoft.Network/virtualNetworks/subnets"),
    ("PUT", RG + "/providers/Microsoft.KeyVault/vaults/kv/accessPolicies/add",
     "Microsoft.KeyVault/vaults/accessPolicies/write", "Microsoft.KeyVault/vaults/accessPolicies"),
    ("PUT", RG + "/providers/Microsoft.KeyVault/vaults/kv/providers/Microsoft.Authorization/roleAssignments/"
     "1b2c3d4e-0000-4000-8000-000000000001", "Microsoft.Authorization/roleAssignments/write", ""),
    ("GET", "/providers/Microsoft.Authorization/roleDefinitions", "Microsoft.Authorization/roleDefinitions/read", ""),
    ("PUT", SUB + "/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourcegroups/write",
     "Microsoft.Resources/subscriptions/resourcegroups"),
    ("GET", SUB + "/providers/Microsoft.Compute/skus", "Microsoft.Compute/skus/read", "Microsoft.Compute/skus"),
])
def test_arm_routes_carry_their_action_and_type(sim, method, path, action, rtype):
    m = sim.arm.table.match(method, path)
    assert m is not None and m.action == action and m.rtype == rtype, m


def test_authorization_routes_take_any_scope(sim):
    path = RG + "/providers/Microsoft.KeyVault/vaults/kv/keys/cmk/providers/Microsoft.Authorization/roleAssignments"
    m = sim.arm.table.match("GET", path)
    assert m.params["scope"] == RG + "/providers/Microsoft.KeyVault/vaults/kv/keys/cmk"
    assert sim.arm.table.match("GET", "/providers/Microsoft.Authorization/roleDefinitions").params["scope"] == ""


@pytest.mark.parametrize("method,path,op,name", [
    ("POST", "/keys/cmk/create", "create", "cmk"), ("GET", "/keys/cmk", "get", "cmk"),
    ("GET", "/keys/cmk/0123abcd", "get", "cmk"), ("GET", "/keys", "list", None),
    ("POST", "/keys/cmk/0123abcd/release", "release", "cmk"), ("POST", "/keys/cmk/release", "release", "cmk"),
    ("PUT", "/keys/cmk/rotationpolicy", "setrotationpolicy", "cmk"),
    ("GET", "/keys/cmk/rotationpolicy", "getrotationpolicy", "cmk"), ("POST", "/keys/cmk/rotate", "rotate", "cmk"),
    ("DELETE", "/deletedkeys/cmk", "purge", "cmk"), ("POST", "/deletedkeys/cmk/recover", "recover", "cmk"),
    ("PATCH", "/keys/cmk/0123abcd", "update", "cmk"), ("DELETE", "/keys/cmk", "delete", "cmk"),
])
def test_key_vault_routes_carry_their_key_operation(sim, method, path, op, name):
    m = sim.kv.table.match(method, path)
    assert m is not None and m.key_op == op and m.get("key-name") == name


def test_templates_match_literals_case_insensitively_and_prefer_the_most_specific():
    t = RouteTable("t")
    t.add("GET", "/a/{x}/{y}", "generic")
    t.add("GET", "/a/{x}/versions", "versions")
    assert t.match("GET", "/A/k/VERSIONS").route.handler == "versions"
    assert t.match("GET", "/a/k/v1").route.handler == "generic"
    assert t.match("POST", "/a/k/v1") is None and t.methods_for("/a/k/v1") == ["GET"]
    assert arm_action("/subscriptions/{s}/providers/Microsoft.Compute/locations/{l}/operations/{o}", "GET") == \
        "Microsoft.Compute/locations/operations/read"
    assert resource_type_of("/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Compute/virtualMachines/{n}/"
                            "start", "POST") == "Microsoft.Compute/virtualMachines"


def test_unrouted_paths_answer_as_arm(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-r")
    st, _h, err = sim.call("GET", sim.rg_path("rg-r") + "/providers/Microsoft.Compute/galaxies/g",
                           api_version="2024-07-01")
    assert st == 400 and err["error"]["code"] == "InvalidResourceType"
    st, _h, err = sim.call("POST", sim.rg_path("rg-r") + "/providers/Microsoft.Compute/virtualMachines/v",
                           api_version=T.VM_API)
    assert st == 405 and err["error"]["code"] == "MethodNotAllowed"
    st, _h, err = sim.call("GET", "/nowhere", api_version="2024-07-01")
    assert st == 404 and err["error"]["code"] == "NotFound"
