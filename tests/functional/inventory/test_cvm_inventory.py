# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The confidential.azure.cvm inventory plugin against the simulator, through `ansible-inventory --list` as users
run it: VMs made by the collection's modules (SEV-SNP, TDX, two resource groups and regions) plus a
non-confidential VM created through the ARM REST API directly (the vm module only makes confidential VMs)."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from helpers import _bin, ansible_env, arm_requests, run_playbook

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 inv@test"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
VM_API = "2026-04-01"


def _vm(rg, name, size, tags):
    return {"name": "vm " + name, "confidential.azure.vm": {
        "resource_group": rg, "name": name, "size": size, "image": JAMMY, "admin_username": "azureuser",
        "ssh_public_keys": [KEY], "tags": tags,
        "subnet_id": "{{ nets['%s'].virtual_network.subnets[0].id }}" % rg}}


def _net(rg, location, prefix):
    return [{"name": "rg " + rg, "confidential.azure.resource_group": {"name": rg, "location": location}},
            {"name": "net " + rg, "confidential.azure.virtual_network": {
                "resource_group": rg, "name": "vnet", "address_prefixes": [prefix + ".0.0/16"],
                "subnets": [{"name": "default", "address_prefix": prefix + ".1.0/24"}]}, "register": "net"},
            {"name": "keep " + rg, "ansible.builtin.set_fact": {
                "nets": "{{ nets | default({}) | combine({'%s': net}) }}" % rg}}]


@pytest.fixture(scope="module")
def fleet(simulator, tmp_path_factory):
    """rga (eastus): snp-1 (web), tdx-1 (db), plain-1 (not confidential); rgb (westeurope): snp-2 (web)."""
    sim = simulator
    sim.reset()
    tasks = _net("rga", "eastus", "10.20") + _net("rgb", "westeurope", "10.30") + [
        _vm("rga", "snp-1", "Standard_DC2as_v5", {"role": "web", "env": "prod"}),
        _vm("rga", "tdx-1", "Standard_DC2es_v5", {"role": "db", "env": "prod"}),
        _vm("rgb", "snp-2", "Standard_DC2as_v5", {"role": "web", "env": "test"}),
    ]
    work = tmp_path_factory.mktemp("inv")
    book = work / "fleet.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    out = run_playbook(book, sim.env)
    assert out.rc == 0, out.stdout[-3000:]
    _plain_vm(sim)
    return sim


def _plain_vm(sim):
    """A standard (non-confidential) VM with its NIC, straight through the ARM REST API."""
    rg = sim.rg_path("rga")
    subnet = rg + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"
    nic = rg + "/providers/Microsoft.Network/networkInterfaces/plain-1-nic"
    status, dummy, body = sim.call("PUT", nic, {"location": "eastus", "properties": {"ipConfigurations": [
        {"name": "ipconfig1", "properties": {"subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic"}}]}},
        api_version="2024-05-01")
    assert status in (200, 201), body
    vm = {"location": "eastus", "tags": {"role": "web"}, "properties": {
        "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                                              "sku": "22_04-lts-gen2", "version": "latest"},
                           "osDisk": {"createOption": "FromImage", "managedDisk": {"storageAccountType": "Premium_LRS"}}},
        "osProfile": {"computerName": "plain-1", "adminUsername": "azureuser", "linuxConfiguration": {
            "disablePasswordAuthentication": True,
            "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": KEY}]}}},
        "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": True}}]}}}
    status, dummy, body = sim.call("PUT", rg + "/providers/Microsoft.Compute/virtualMachines/plain-1", vm,
                                   api_version=VM_API)
    assert status in (200, 201), body
    for dummy in range(100):
        status, dummy, body = sim.call("GET", rg + "/providers/Microsoft.Compute/virtualMachines/plain-1",
                                       api_version=VM_API)
        if body["properties"]["provisioningState"] == "Succeeded":
            return
    raise AssertionError("plain-1 did not finish provisioning: %s" % body)


def inventory(sim, tmp_path, config: dict, name="fleet.cvm.yml", extra_env=None):
    """`ansible-inventory -i <name> --list` -> (parsed JSON, ARM requests it made)."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict({"plugin": "confidential.azure.cvm"}, **config)))
    env = ansible_env(sim.env)
    env.update({"ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1", "ANSIBLE_INVENTORY_ENABLED":
                "confidential.azure.cvm"}, **(extra_env or {}))
    mark = sim.mark()
    proc = subprocess.run([_bin("ansible-inventory"), "-i", str(path), "--list"], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout), sim.requests(since=mark)


def hosts_of(data, group):
    return sorted((data.get(group) or {}).get("hosts") or [])


def plain(value):
    """ansible-inventory marks values from the cloud as unsafe ({"__ansible_unsafe": ...}); compare the values."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def hostvars(data):
    return plain(data["_meta"]["hostvars"])


CONSTRUCTED = {
    "keyed_groups": [{"key": "azure_tee", "prefix": "tee"},
                     {"key": "azure_resource_group", "prefix": "rg"},
                     {"key": "azure_tags.role | default('none')", "prefix": "role"},
                     {"key": "azure_location", "prefix": "region"}],
    "groups": {"cmk_or_pmk_confidential": "azure_security_encryption_type == 'DiskWithVMGuestState'",
               "snp_web": "azure_tee == 'SNP' and azure_tags.role == 'web'",
               "prod": "azure_tags.env | default('') == 'prod'"},
    "compose": {"ansible_user": "azure_admin_username", "fleet_label": "azure_name ~ '@' ~ azure_location"},
}


def test_confidential_vms_with_keyed_groups_groups_and_compose(fleet, tmp_path):
    data, reqs = inventory(fleet, tmp_path, CONSTRUCTED)
    assert hosts_of(data, "tee_SNP") == ["snp-1", "snp-2"]
    assert hosts_of(data, "tee_TDX") == ["tdx-1"]
    assert hosts_of(data, "rg_rga") == ["snp-1", "tdx-1"]
    assert hosts_of(data, "rg_rgb") == ["snp-2"]
    assert hosts_of(data, "role_web") == ["snp-1", "snp-2"]
    assert hosts_of(data, "role_db") == ["tdx-1"]
    assert hosts_of(data, "region_westeurope") == ["snp-2"]
    assert hosts_of(data, "snp_web") == ["snp-1", "snp-2"]
    assert hosts_of(data, "prod") == ["snp-1", "tdx-1"]
    assert hosts_of(data, "cmk_or_pmk_confidential") == ["snp-1", "snp-2", "tdx-1"]
    hv = hostvars(data)
    assert "plain-1" not in hv, "confidential_only (default true) must leave the standard VM out"
    snp = hv["snp-1"]
    assert snp["azure_tee"] == "SNP" and snp["azure_security_type"] == "ConfidentialVM"
    assert snp["ansible_host"] == snp["azure_private_ips"][0] and snp["ansible_host"].startswith("10.20.1.")
    assert snp["ansible_user"] == "azureuser" and snp["fleet_label"] == "snp-1@eastus"
    assert snp["azure_vm_id"] and snp["azure_resource_group"] == "rga" and snp["azure_power_state"] == "running"
    assert hv["tdx-1"]["azure_tee"] == "TDX" and hv["snp-2"]["ansible_host"].startswith("10.30.1.")
    # three list calls per run (VMs with instance view, NICs, public IPs), whatever the number of VMs
    arm = arm_requests(reqs)
    assert len(arm) == 3 and all(r["method"] == "GET" for r in arm), [r["path"] for r in arm]
    paths = sorted(r["path"].rsplit("/", 1)[-1] for r in arm)
    assert paths == ["networkInterfaces", "publicIPAddresses", "virtualMachines"]
    assert all(r["path"].startswith("/subscriptions/%s/providers/" % fleet.subscription_id) for r in arm)


def test_confidential_only_false_lists_the_standard_vm_too(fleet, tmp_path):
    data, dummy = inventory(fleet, tmp_path, dict(CONSTRUCTED, confidential_only=False))
    hv = hostvars(data)
    assert sorted(hv) == ["plain-1", "snp-1", "snp-2", "tdx-1"]
    assert hv["plain-1"]["azure_tee"] is None and hv["plain-1"]["azure_security_type"] in (None, "Standard")
    assert "plain-1" not in hosts_of(data, "tee_SNP") + hosts_of(data, "tee_TDX")
    assert hosts_of(data, "role_web") == ["plain-1", "snp-1", "snp-2"]


@pytest.mark.parametrize("config, expected", [
    ({"resource_groups": ["rgb"]}, ["snp-2"]),
    ({"tags": ["role:web"]}, ["snp-1", "snp-2"]),
    ({"tags": ["env:prod", "role"]}, ["snp-1", "tdx-1"]),
    ({"locations": ["westeurope"]}, ["snp-2"]),
    ({"locations": ["eastus"], "tags": ["role:db"]}, ["tdx-1"]),
], ids=["resource_groups", "tag_value", "tag_key_and_value", "locations", "location_and_tag"])
def test_filters(fleet, tmp_path, config, expected):
    data, reqs = inventory(fleet, tmp_path, config)
    assert sorted(hostvars(data)) == expected
    arm = arm_requests(reqs)
    if "resource_groups" in config:
        # listed per resource group, not the whole subscription
        assert len(arm) == 3 and all("/resourceGroups/rgb/" in r["path"] for r in arm), [r["path"] for r in arm]


def test_inventory_cache_serves_the_second_run(fleet, tmp_path):
    cache_dir = tmp_path / "cache"
    config = dict(CONSTRUCTED, cache=True, cache_plugin="ansible.builtin.jsonfile",
                  cache_connection=str(cache_dir), cache_timeout=3600)
    first, reqs1 = inventory(fleet, tmp_path, config)
    assert len(arm_requests(reqs1)) == 3
    assert any(cache_dir.iterdir()), "the jsonfile cache plugin wrote nothing"
    second, reqs2 = inventory(fleet, tmp_path, config)
    # served from the cache: not one request reached the simulator (no token, no list)
    assert reqs2 == [], [(r["service"], r["method"], r["path"]) for r in reqs2]
    assert second == first
    # --flush-cache goes back to Azure
    path = tmp_path / "fleet.cvm.yml"
    env = ansible_env(fleet.env)
    mark = fleet.mark()
    proc = subprocess.run([_bin("ansible-inventory"), "-i", str(path), "--list", "--flush-cache"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(arm_requests(fleet.requests(since=mark))) == 3


def test_bare_inventory_file_groups_by_tee_without_configuration(fleet, tmp_path):
    data, dummy = inventory(fleet, tmp_path, {})
    assert hosts_of(data, "tee_snp") == ["snp-1", "snp-2"]
    assert hosts_of(data, "tee_tdx") == ["tdx-1"]
    assert hosts_of(data, "ungrouped") == []
    data, dummy = inventory(fleet, tmp_path, {"confidential_only": False})
    assert "plain-1" in hosts_of(data, "ungrouped")
    assert "plain-1" not in hosts_of(data, "tee_snp") + hosts_of(data, "tee_tdx")


def test_tee_groups_can_be_switched_off_and_keyed_groups_still_work(fleet, tmp_path):
    data, dummy = inventory(fleet, tmp_path, {"tee_groups": False, "keyed_groups": CONSTRUCTED["keyed_groups"]})
    assert hosts_of(data, "tee_snp") == [] and hosts_of(data, "tee_tdx") == []
    assert hosts_of(data, "tee_SNP") == ["snp-1", "snp-2"]
    data, dummy = inventory(fleet, tmp_path, {"tee_groups": False})
    assert hosts_of(data, "ungrouped") == ["snp-1", "snp-2", "tdx-1"]
