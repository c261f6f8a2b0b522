# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults, for every control-plane module at once: a dropped connection, 429 with Retry-After, 503 (retried to
success), a persistent 500 (failed cleanly with Azure's code and message), and - for the long-running writes
(virtual_network, disk_encryption_set; vm's are in test_vm_faults.py) - LRO Failed and LRO timeout,
each followed by a re-run that converges with no duplicate.

The per-module suites in tests/functional/modules cover 429/503/LRO for vm, keyvault_key, virtual_network and
disk_encryption_set; none covers a dropped connection, and several modules (resource_group, keyvault,
keyvault_key_info, vm_info, sku_info) had no fault test at all. Each fault kind is ONE playbook in which every
module reads its own existing resource while a fault waits on that module's own request path."""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from helpers import run_module, run_playbook

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 robust@test"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
RG = "rg-robust"
VAULT = "kvrobust01"


def ok(out):
    assert not out.get("failed"), out.get("msg")
    return out


@pytest.fixture(scope="module")
def chain(simulator):
    """rg, vnet, vault, CMK key, DES (with grant) and a CMK VM, created once through the modules."""
    sim = simulator
    sim.reset()
    sim.admin("POST", "/_sim/graph/servicePrincipals/%s" % ORCHESTRATOR_APP_ID,
              {"displayName": "Confidential VM Orchestrator"})
    subnet = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default" \
        % (sim.subscription_id, RG)
    args = {
        "resource_group": {"name": RG, "location": "eastus"},
        "virtual_network": {"resource_group": RG, "name": "vnet1", "address_prefixes": ["10.0.0.0/16"],
                            "subnets": [{"name": "default", "address_prefix": "10.0.1.0/24"}]},
        "keyvault": {"resource_group": RG, "name": VAULT, "location": "eastus"},
    }
    for module in ("resource_group", "virtual_network", "keyvault"):
        out = ok(run_module(module, args[module], sim.env))
    vault = out["vault"]
    args["keyvault_key"] = {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": "cmk",
                            "release_policy": "default_cvm", "location": "eastus"}
    key = ok(run_module("keyvault_key", args["keyvault_key"], sim.env))["key"]
    args["keyvault_key_info"] = {"vault_url": vault["vault_uri"], "name": "cmk"}
    args["disk_encryption_set"] = {"resource_group": RG, "name": "des1", "key_url": key["kid"],
                                   "source_vault": vault["id"], "grant_key_permissions": True}
    ok(run_module("disk_encryption_set", args["disk_encryption_set"], sim.env))
    args["vm"] = {"resource_group": RG, "name": "cvm1", "size": "Standard_DC2as_v5", "image": dict(JAMMY),
                  "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": subnet,
                  "disk_encryption_set": "des1"}
    ok(run_module("vm", args["vm"], sim.env))
    args["vm_info"] = {"resource_group": RG}
    args["sku_info"] = {"location": "eastus", "tee": "SNP"}
    sim.clear_faults()
    return sim, args


# module -> (service, regex on the URL path of the GET that module makes for its resource)
READ_PATHS = {
    "resource_group": ("arm", r"/resourcegroups/%s$" % RG),
    "virtual_network": ("arm", r"/virtualNetworks/vnet1$"),
    "keyvault": ("arm", r"/vaults/%s$" % VAULT),
    "keyvault_key": ("keyvault", r"/keys/cmk/?$"),
    "keyvault_key_info": ("keyvault", r"/keys/cmk/?$"),
    "disk_encryption_set": ("arm", r"/diskEncryptionSets/des1$"),
    "vm": ("arm", r"/virtualMachines/cvm1$"),
    "vm_info": ("arm", r"/resourceGroups/%s/providers/Microsoft\.Compute/virtualMachines$" % RG),
    "sku_info": ("arm", r"/providers/Microsoft\.Compute/skus$"),
}
MODULES = list(READ_PATHS)


def run_all(sim, args, modules=None):
    modules = MODULES if modules is None else modules
    tasks = [{"name": m, "confidential.azure." + m: args[m], "ignore_errors": True} for m in modules]
    path = Path(tempfile.mkdtemp()) / "faults.json"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return run_playbook(path, sim.env)


def inject_reads(sim, **fault):
    """One fault per module on that module's read path (modules sharing a path share a rule with a higher count)."""
    rules = {}
    for module, (service, path) in READ_PATHS.items():
        rules.setdefault((service, path), []).append(module)
    for (service, path), users in rules.items():
        count = fault.get("count", 1)
        sim.fault(method="GET", path=path, service=service, **dict(fault, count=count * len(users) if count else None))


@pytest.mark.parametrize("kind, fault", [
    ("dropped_connection", {"action": "drop"}),
    ("429_retry_after", {"action": "status", "status": 429, "retry_after": 1}),
    ("503", {"action": "status", "status": 503, "retry_after": 0}),
    ("500", {"action": "status", "status": 500, "retry_after": 0}),
], ids=["dropped_connection", "429_retry_after", "503", "500"])
def test_transient_fault_is_retried_for_every_module(chain, kind, fault):
    sim, args = chain
    sim.clear_faults()
    inject_reads(sim, **fault)
    result = run_all(sim, args)
    try:
        left = sim.admin("GET", "/_sim/faults")["faults"]
    finally:
        sim.clear_faults()
    failed = dict((m, result.result(m).get("msg")) for m in MODULES if result.result(m).get("failed"))
    assert failed == {}, failed
    # every fault was met (a consumed rule disappears), so each module did see the fault and retried past it
    assert left == [], left
    for m in MODULES:
        assert result.result(m).get("changed") is False, (m, result.result(m))


def test_persistent_500_fails_cleanly_with_azure_code_and_message(chain):
    sim, args = chain
    sim.clear_faults()
    inject_reads(sim, action="status", status=500, retry_after=0, count=None)
    mark = sim.mark()
    try:
        result = run_all(sim, args)
        log = sim.requests(since=mark)
    finally:
        sim.clear_faults()
    for m in MODULES:
        out = result.result(m)
        assert out.get("failed") and out.get("changed") is False, (m, out)
        assert out["azure_error"]["code"] == "InternalServerError", (m, out)
        assert "Encountered internal server error" in out["azure_error"]["message"], (m, out)
        assert "InternalServerError" in out["msg"] and "\n" not in out["msg"], (m, out["msg"])
        assert "Traceback" not in json.dumps(out), m
    # retried before giving up (several attempts on each failing path), never a write
    for m, (service, path) in READ_PATHS.items():
        hits = [e for e in log if e.get("service") == service and re.search(path, e["path"].split("?")[0], re.I)]
        assert len(hits) > 1, (m, len(hits))
    assert [e for e in log if e["method"] not in ("GET", "POST") and not e["path"].startswith("/_sim")] == []


def _write_args(args, module, stamp):
    """The module's args with one tag changed, so the run writes (a PUT and its long-running operation)."""
    return dict(args[module], tags={"robustness": stamp}, wait_timeout=4)


WRITE_METHODS = ("PUT", "PATCH")
# Key Vault's vault update is synchronous (no long-running operation to fail or hang), so it is not here.
WRITE_PATHS = {"virtual_network": r"/virtualNetworks/vnet1$", "disk_encryption_set": r"/diskEncryptionSets/des1$"}


@pytest.mark.parametrize("module", sorted(WRITE_PATHS))
def test_lro_failed_then_rerun_converges(chain, module):
    sim, args = chain
    sim.clear_faults()
    for method in WRITE_METHODS:  # whichever write the module makes (PUT create/update or PATCH tags)
        sim.fault("lro_fail", method=method, path=WRITE_PATHS[module],
                  error={"code": "RobustnessInjectedFailure", "message": "Injected by the robustness suite."})
    out = run_module(module, _write_args(args, module, "lro-failed"), sim.env)
    left = sim.admin("GET", "/_sim/faults")["faults"]
    sim.clear_faults()
    assert len(left) == len(WRITE_METHODS) - 1, "the module never started a long-running operation: %s" % left
    assert out.get("failed") and out["azure_error"]["code"] == "RobustnessInjectedFailure", out
    assert "Injected by the robustness suite." in out["msg"]
    again = ok(run_module(module, _write_args(args, module, "lro-failed"), sim.env))
    assert ok(run_module(module, _write_args(args, module, "lro-failed"), sim.env))["changed"] is False
    assert again is not None
    _assert_single(sim, module)


@pytest.mark.parametrize("module", sorted(WRITE_PATHS))
def test_lro_timeout_fails_cleanly_then_rerun_converges(chain, module):
    sim, args = chain
    sim.clear_faults()
    for method in WRITE_METHODS:
        sim.fault("lro_hang", method=method, path=WRITE_PATHS[module])
    out = run_module(module, _write_args(args, module, "lro-timeout"), sim.env)
    left = sim.admin("GET", "/_sim/faults")["faults"]
    sim.clear_faults()
    assert len(left) == len(WRITE_METHODS) - 1, "the module never started a long-running operation: %s" % left
    assert out.get("failed") and "\n" not in out["msg"], out
    assert "Traceback" not in json.dumps(out)
    assert (out.get("operation") or {}).get("poll_url") or "timed out" in out["msg"] or "still" in out["msg"], out
    ok(run_module(module, dict(_write_args(args, module, "lro-timeout"), wait_timeout=60), sim.env))
    assert ok(run_module(module, dict(_write_args(args, module, "lro-timeout"), wait_timeout=60),
                         sim.env))["changed"] is False
    _assert_single(sim, module)


def _assert_single(sim, module):
    kind = {"virtual_network": "microsoft.network/virtualnetworks/",
            "disk_encryption_set": "microsoft.compute/diskencryptionsets/"}[module]
    text = json.dumps(sim.admin("GET", "/_sim/state")).lower()
    ids = set(c for c in text.split('"')[1::2] if kind in c and c.startswith("/subscriptions/")
              and c.count("/") == 8)
    assert len(ids) == 1, ids
