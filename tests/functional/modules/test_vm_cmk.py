# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Confidential VMs with a customer-managed key end to end: vault, key, DES, SNP + TDX VMs.

The grants are made through the vault's own access policies (confidential.azure.keyvault access_policies) so this
test exercises the VM's CMK path independently of the grant helpers (tested in the Key Vault and DES suites)."""
from __future__ import annotations

from cvm_common import JAMMY, KEY, arm_since, network
from helpers import run_module

ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
RG = "rg-cvm"


def ok(out):
    assert not out.get("failed"), out.get("msg")
    return out


def test_snp_and_tdx_vms_with_cmk(fresh_simulator):
    sim = fresh_simulator
    subnet = network(sim)
    orchestrator = sim.admin("POST", "/_sim/graph/servicePrincipals/%s" % ORCHESTRATOR_APP_ID,
                             {"displayName": "Confidential VM Orchestrator"})["id"]
    policies = [{"object_id": orchestrator, "keys": ["get", "release"]}]
    vault = ok(run_module("keyvault", {"resource_group": RG, "name": "kv-cvm-cmk", "location": "eastus",
                                       "access_policies": policies}, sim.env))["vault"]
    key = ok(run_module("keyvault_key", {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": "cmk",
                                         "release_policy": "default_cvm", "location": "eastus",
                                         "grant_confidential_vm_orchestrator": False}, sim.env))["key"]
    des = ok(run_module("disk_encryption_set", {"resource_group": RG, "name": "des1", "key_url": key["kid"],
                                                "source_vault": vault["id"]}, sim.env))["disk_encryption_set"]
    policies.append({"object_id": des["identity"]["principal_id"], "keys": ["get", "wrapKey", "unwrapKey"]})
    ok(run_module("keyvault", {"resource_group": RG, "name": "kv-cvm-cmk", "location": "eastus",
                               "access_policies": policies}, sim.env))

    for name, size, tee in (("cvm-snp", "Standard_DC2as_v5", "SNP"), ("cvm-tdx", "Standard_DC2es_v5", "TDX")):
        args = {"resource_group": RG, "name": name, "size": size, "image": dict(JAMMY), "admin_username": "azureuser",
                "ssh_public_keys": [KEY], "subnet_id": subnet, "disk_encryption_set": "des1",
                "data_disks": [{"lun": 0, "size_gb": 16}]}
        mark = sim.mark()
        out = ok(run_module("vm", args, sim.env))
        put = [r for r in arm_since(sim, mark, writes_only=True) if r["path"].endswith("/virtualMachines/" + name)][0]
        managed = put["body"]["properties"]["storageProfile"]["osDisk"]["managedDisk"]
        assert managed["securityProfile"]["diskEncryptionSet"]["id"].lower() == des["id"].lower()
        assert "diskEncryptionSet" not in managed
        conf = out["vm"]["confidential"]
        assert conf["tee"] == tee and conf["customer_managed_key"] and conf["security_type"] == "ConfidentialVM"
        mark = sim.mark()
        again = ok(run_module("vm", args, sim.env))
        assert again["changed"] is False and arm_since(sim, mark, writes_only=True) == []

    # the OS disk the platform created is confidential and bound to the DES
    state = sim.admin("GET", "/_sim/state")
    text = repr(state)
    assert "ConfidentialVM_DiskEncryptedWithCustomerKey" in text

    # changing the DES of an existing VM is refused without allow_recreate
    out = run_module("vm", {"resource_group": RG, "name": "cvm-snp", "size": "Standard_DC2as_v5", "image": dict(JAMMY),
                            "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": subnet,
                            "data_disks": [{"lun": 0, "size_gb": 16}]}, sim.env)
    assert out["failed"] and "disk_encryption_set" in out["msg"] and "allow_recreate" in out["msg"]

    # a new key version for the confidential DES: refused while its VMs run, then done with deallocate_for_key_change
    new_kid = ok(run_module("keyvault_key", {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": "cmk",
                                             "release_policy": "default_cvm", "location": "eastus", "rotate": True,
                                             "grant_confidential_vm_orchestrator": False}, sim.env))["key"]["kid"]
    assert new_kid != key["kid"]
    des_args = {"resource_group": RG, "name": "des1", "key_url": new_kid, "source_vault": vault["id"]}
    mark = sim.mark()
    out = run_module("disk_encryption_set", des_args, sim.env)
    assert out["failed"] and "cvm-snp, cvm-tdx" in out["msg"] and "deallocate_for_key_change" in out["msg"], out
    assert arm_since(sim, mark, writes_only=True) == []
    out = ok(run_module("disk_encryption_set", dict(des_args, deallocate_for_key_change=True), sim.env))
    assert out["changed"] and out["disk_encryption_set"]["key_url"] == new_kid
    assert out["actions"] == ["deallocate VM cvm-snp (key change)", "deallocate VM cvm-tdx (key change)",
                              "update key_url", "start VM cvm-snp (key change)", "start VM cvm-tdx (key change)"]
    for name in ("cvm-snp", "cvm-tdx"):
        info = ok(run_module("vm_info", {"resource_group": RG, "name": name}, sim.env))["vms"][0]
        assert info["power_state"] == "running", info
