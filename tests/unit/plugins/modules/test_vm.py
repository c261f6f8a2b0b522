# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm / vm_info through real argument parsing against an in-memory ARM."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64

import pytest

from ansible_collections.confidential.azure.plugins.modules import vm, vm_info

from ansible_collections.confidential.azure.tests.unit.plugins.modules.cvm_harness import SUB, run  # noqa: F401 pylint: disable=unused-import
from ansible_collections.confidential.azure.tests.unit.plugins.modules.fake_arm import api_error

RG = "/subscriptions/%s/resourceGroups/rg" % SUB
SUBNET = RG + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"
DES = RG + "/providers/Microsoft.Compute/diskEncryptionSets/des1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"
VM_PATH = RG.lower() + "/providers/microsoft.compute/virtualmachines/cvm1"
NIC_PATH = RG.lower() + "/providers/microsoft.network/networkinterfaces/cvm1-nic"


VAULT = RG + "/providers/Microsoft.KeyVault/vaults/cvm-keys"
SKUS = "/subscriptions/%s/providers/Microsoft.Compute/skus" % SUB


def sku(name, location="eastus", zones=("1", "2", "3"), restrictions=()):
    return {"resourceType": "virtualMachines", "name": name, "locations": [location],
            "locationInfo": [{"location": location, "zones": list(zones)}], "restrictions": list(restrictions)}


def seed(arm, purge_protection=True, des_type="ConfidentialVmEncryptedWithCustomerKey", des_location="eastus",
         vnet_location="eastus"):
    """What a VM needs to exist already: VNet with its subnet, a confidential DES on a vault, the resource SKUs."""
    vnet = SUBNET.split("/subnets/", maxsplit=1)[0]
    arm.store[vnet.lower()] = {"id": vnet, "name": "vnet", "location": vnet_location,
                               "properties": {"subnets": [{"name": "default", "id": SUBNET}]}}
    arm.store[DES.lower()] = {"id": DES, "name": "des1", "location": des_location, "properties": {
        "encryptionType": des_type, "provisioningState": "Succeeded",
        "activeKey": {"keyUrl": "https://cvm-keys.vault.azure.net/keys/cmk/" + "a" * 32, "sourceVault": {"id": VAULT}}}}
    arm.store[VAULT.lower()] = {"id": VAULT, "name": "cvm-keys", "location": "eastus",
                                "properties": {"enableSoftDelete": True, "enablePurgeProtection": purge_protection}}
    for name in ("Standard_DC2as_v5", "Standard_DC4as_v5", "Standard_DC2es_v5", "Standard_DC2ads_v5"):
        arm.store[(SKUS + "/" + name).lower()] = sku(name)


@pytest.fixture(autouse=True)
def _seeded(run):
    seed(run.arm)


def args(**over):
    out = dict(resource_group="rg", name="cvm1", location="eastus", size="Standard_DC2as_v5",
               image=dict(publisher="Canonical", offer="0001-com-ubuntu-confidential-vm-jammy", sku="22_04-lts-cvm"),
               admin_username="azureuser", ssh_public_keys=[KEY], subnet_id=SUBNET, disk_encryption_set="des1",
               tags={"env": "test"})
    out.update(over)
    return out


def test_create_puts_confidential_body_with_cmk_in_disk_security_profile(run):
    result = run(vm, args(custom_data="#cloud-config\n"))
    assert result["changed"] and not result.get("failed"), result
    put = [e for e in run.arm.writes() if e[0] == "PUT" and "virtualMachines" in e[1]][0][2]
    props = put["properties"]
    assert props["securityProfile"]["securityType"] == "ConfidentialVM"
    assert props["securityProfile"]["uefiSettings"] == {"secureBootEnabled": True, "vTpmEnabled": True}
    managed = props["storageProfile"]["osDisk"]["managedDisk"]
    assert managed["securityProfile"] == {"securityEncryptionType": "DiskWithVMGuestState",
                                          "diskEncryptionSet": {"id": DES}}
    assert "diskEncryptionSet" not in managed
    assert props["osProfile"]["customData"] == base64.b64encode(b"#cloud-config\n").decode()
    assert props["networkProfile"]["networkInterfaces"][0]["properties"]["deleteOption"] == "Delete"
    nic = [e for e in run.arm.writes() if e[0] == "PUT" and "networkInterfaces" in e[1]][0][2]
    assert nic["properties"]["enableAcceleratedNetworking"] is False
    assert result["vm"]["confidential"]["tee"] == "SNP"
    assert result["vm"]["confidential"]["disk_encryption_set"] == DES
    assert result["vm"]["power_state"] == "running"


def test_second_run_makes_one_get_per_resource_and_no_write(run):
    run(vm, args())
    result = run(vm, args())
    assert result["changed"] is False, result
    assert run.arm.writes() == []
    paths = sorted(e[1].lower() for e in run.arm.gets())
    assert paths == sorted([VM_PATH, NIC_PATH])
    vm_get = [e for e in run.arm.gets() if e[1].lower() == VM_PATH][0]
    assert vm_get[2] == {"$expand": "instanceView"}


def test_check_mode_create_writes_nothing_and_predicts(run):
    result = run(vm, args(), check=True, diff=True)
    assert result["changed"] and run.arm.writes() == []
    assert result["vm"]["confidential"]["security_encryption_type"] == "DiskWithVMGuestState"
    assert result["diff"]["before"] == {}


def test_resize_within_tee_is_patched_in_place_with_exact_diff(run):
    run(vm, args())
    result = run(vm, args(size="Standard_DC4as_v5"), diff=True)
    assert result["changed"]
    assert result["diff"] == {"before": {"size": "Standard_DC2as_v5"}, "after": {"size": "Standard_DC4as_v5"}}
    writes = run.arm.writes()
    assert [w[0] for w in writes] == ["PATCH"]
    assert writes[0][2] == {"properties": {"hardwareProfile": {"vmSize": "Standard_DC4as_v5"}}}


def test_check_mode_update_shows_diff_and_writes_nothing(run):
    run(vm, args())
    result = run(vm, args(tags={"owner": "me"}, append_tags=False), check=True, diff=True)
    assert result["changed"] and run.arm.writes() == []
    assert result["diff"] == {"before": {"tags": {"env": "test"}}, "after": {"tags": {"owner": "me"}}}


def test_append_tags_merges(run):
    run(vm, args())
    result = run(vm, args(tags={"owner": "me"}))
    assert result["vm"]["tags"] == {"env": "test", "owner": "me"}


def test_changing_encryption_type_fails_without_allow_recreate(run):
    run(vm, args())
    result = run(vm, args(security_encryption_type="VMGuestStateOnly", disk_encryption_set=None))
    assert result["failed"] and "allow_recreate" in result["msg"]
    assert "security_encryption_type" in result["msg"] and run.arm.writes() == []


def test_resize_across_tee_fails_without_allow_recreate(run):
    run(vm, args())
    result = run(vm, args(size="Standard_DC2es_v5"))
    assert result["failed"] and "TEE" in result["msg"] and run.arm.writes() == []


def test_allow_recreate_deletes_and_recreates(run):
    run(vm, args())
    result = run(vm, args(security_encryption_type="VMGuestStateOnly", disk_encryption_set=None, allow_recreate=True))
    assert result["changed"], result
    kinds = [(w[0], w[1].rsplit("/", 2)[-2]) for w in run.arm.writes()]
    assert ("DELETE", "virtualMachines") in kinds and ("PUT", "virtualMachines") in kinds
    assert result["vm"]["confidential"]["security_encryption_type"] == "VMGuestStateOnly"


def test_power_state_deallocate_then_start(run):
    run(vm, args())
    result = run(vm, {"resource_group": "rg", "name": "cvm1", "power_state": "deallocated"})
    assert result["changed"] and result["vm"]["power_state"] == "deallocated"
    assert [w[0] for w in run.arm.writes()] == ["POST"] and run.arm.writes()[0][1].endswith("/deallocate")
    again = run(vm, {"resource_group": "rg", "name": "cvm1", "power_state": "deallocated"})
    assert again["changed"] is False and run.arm.writes() == []


def test_secure_boot_change_needs_deallocated(run):
    run(vm, args(security_encryption_type="VMGuestStateOnly", disk_encryption_set=None))
    result = run(vm, args(security_encryption_type="VMGuestStateOnly", disk_encryption_set=None, secure_boot=False))
    assert result["failed"] and "deallocated" in result["msg"]
    ok = run(vm, args(security_encryption_type="VMGuestStateOnly", disk_encryption_set=None, secure_boot=False,
                      power_state="deallocated"))
    assert ok["changed"] and ok["vm"]["confidential"]["secure_boot"] is False
    assert [w[0] for w in run.arm.writes()] == ["POST", "PATCH"]


def test_absent_removes_vm_os_disk_and_created_nic_only(run):
    run(vm, args(data_disks=[{"lun": 0, "size_gb": 8}]))
    result = run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})
    assert result["changed"]
    deleted = [w[1].rsplit("/", 1)[-1] for w in run.arm.writes() if w[0] == "DELETE"]
    assert deleted == ["cvm1", "cvm1-osdisk", "cvm1-data-0", "cvm1-nic"]
    assert result["vm"] == {}
    again = run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})
    assert again["changed"] is False and run.arm.writes() == [] and again["vm"] == {}


def test_absent_keeps_user_nic(run):
    nic = RG + "/providers/Microsoft.Network/networkInterfaces/mine"
    run.arm.store[nic.lower()] = {"id": nic, "name": "mine", "properties": {}}
    run(vm, args(subnet_id=None, network_interfaces=["mine"]))
    run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})
    assert nic.lower() in run.arm.store


def test_new_data_disk_attached_in_place_and_removed_disk_deleted(run):
    run(vm, args(data_disks=[{"lun": 0, "size_gb": 8}]))
    result = run(vm, args(data_disks=[{"lun": 0, "size_gb": 8}, {"lun": 1, "size_gb": 16}]))
    assert result["changed"] and [w[0] for w in run.arm.writes()] == ["PATCH"]
    disks = run.arm.writes()[0][2]["properties"]["storageProfile"]["dataDisks"]
    assert disks[0]["createOption"] == "Attach" and disks[1]["createOption"] == "Empty"
    result = run(vm, args(data_disks=[{"lun": 1, "size_gb": 16}]))
    assert [w[0] for w in run.arm.writes()] == ["PATCH", "DELETE"]


def test_wait_false_returns_operation_for_a_fleet(run):
    result = run(vm, args(wait=False))
    assert result["changed"] and result["operation"]["poll_url"] == "https://poll/cvm1"
    assert result["vm"]["provisioning_state"] == "Creating"


def test_refused_vm_create_removes_the_nic_it_created(run):
    run.arm.fail_next[("PUT", "virtualMachines")] = api_error(409, "OperationNotAllowed", "quota exceeded")
    result = run(vm, args(public_ip=True))
    assert result["failed"] and result["azure_error"]["code"] == "OperationNotAllowed"
    assert result["changed"] is False and "left_behind" not in result, result
    deleted = [w[1].rsplit("/", 1)[-1] for w in run.arm.writes() if w[0] == "DELETE"]
    assert deleted == ["cvm1-nic", "cvm1-pip"]
    assert NIC_PATH not in run.arm.store
    rerun = run(vm, args())
    assert rerun["changed"] and [w[1].rsplit("/", 2)[-2] for w in run.arm.writes()] == [
        "networkInterfaces", "virtualMachines"]


def test_invalid_input_makes_no_request(run):
    result = run(vm, args(size="Standard_D2s_v5", priority="Spot"))
    assert result["failed"] and run.arm.log == []
    assert len(result["errors"]) == 2


def test_secrets_are_not_returned(run):
    result = run(vm, args(admin_password="Sup3r-Secret-pw!", custom_data="token=abc"), check=True, diff=True)
    text = repr(result)
    assert "Sup3r-Secret-pw!" not in text and "token=abc" not in text


def test_vm_info_returns_same_shape_as_vm(run):
    created = run(vm, args())
    info = run(vm_info, {"resource_group": "rg", "name": "cvm1"})
    assert info["vms"] == [created["vm"]]
    assert len(run.arm.log) == 1
    listed = run(vm_info, {"resource_group": "rg", "tags": ["env:test"]})
    assert [v["name"] for v in listed["vms"]] == ["cvm1"]
    none = run(vm_info, {"resource_group": "rg", "tags": ["env:prod"]})
    assert none["vms"] == []


def test_refused_create_reports_no_change_when_nothing_was_written(run):
    nic = RG + "/providers/Microsoft.Network/networkInterfaces/cvm1-nic"
    run.arm.store[nic.lower()] = {"id": nic, "name": "cvm1-nic", "location": "eastus", "properties": {
        "ipConfigurations": [{"properties": {"subnet": {"id": SUBNET}}}]}}
    run.arm.fail_next[("PUT", "virtualMachines")] = api_error(400, "InvalidParameter", "bad")
    result = run(vm, args())
    assert result["failed"] and result["changed"] is False
    assert [w[0] for w in run.arm.writes()] == ["PUT"]


def test_public_ip_created_with_nic_and_removed_with_vm(run):
    result = run(vm, args(public_ip=True))
    assert result["changed"] and not result.get("failed"), result
    kinds = [w[1].rsplit("/", 2)[-2] for w in run.arm.writes()]
    assert kinds == ["publicIPAddresses", "networkInterfaces", "virtualMachines"]
    nic_body = run.arm.writes()[1][2]
    assert nic_body["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]["id"].endswith("cvm1-pip")
    again = run(vm, args(public_ip=True))
    assert again["changed"] is False and len(run.arm.gets()) == 3
    run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})
    assert [w[1].rsplit("/", 1)[-1] for w in run.arm.writes() if w[0] == "DELETE"][-1] == "cvm1-pip"


def writes_of(run):
    return [(w[0], w[1].rsplit("/", 2)[-2]) for w in run.arm.writes()]


@pytest.mark.parametrize("setup, over, param", [
    (lambda arm: arm.store.pop((SKUS + "/Standard_DC2as_v5").lower()), {}, "size: Standard_DC2as_v5 is not offered"),
    (lambda arm: arm.store.__setitem__((SKUS + "/Standard_DC2as_v5").lower(), sku(
        "Standard_DC2as_v5", restrictions=[{"type": "Location", "reasonCode": "NotAvailableForSubscription",
                                            "restrictionInfo": {"locations": ["eastus"]}}])), {}, "restricted"),
    (lambda arm: arm.store.__setitem__((SKUS + "/Standard_DC2as_v5").lower(), sku(
        "Standard_DC2as_v5", restrictions=[{"type": "Zone", "reasonCode": "NotAvailableForSubscription",
                                            "restrictionInfo": {"locations": ["eastus"], "zones": ["3"]}}])),
     {"zone": "3"}, "zone: Standard_DC2as_v5 is not available in zone 3"),
    (lambda arm: arm.store.pop(DES.lower()), {}, "disk_encryption_set: " + DES + " does not exist"),
    (lambda arm: seed(arm, des_type="EncryptionAtRestWithCustomerKey"), {}, "has encryptionType"),
    (lambda arm: seed(arm, des_location="westus"), {}, "des1 is in westus"),
    (lambda arm: seed(arm, purge_protection=False), {}, "has no purge protection"),
    (lambda arm: seed(arm, vnet_location="westus"), {}, "subnet_id: virtual network vnet is in westus"),
])
def test_preflight_refuses_before_any_write(run, setup, over, param):
    """Each of these used to be found by Azure only after the NIC was written (and left it orphaned)."""
    setup(run.arm)
    result = run(vm, args(**over))
    assert result["failed"] and param in result["msg"], result
    assert run.arm.writes() == [] and result["changed"] is False
    if "size" in param or "zone" in param:
        assert "sku_info" in result["msg"]


def test_nic_in_another_region_is_never_reused(run):
    nic = RG + "/providers/Microsoft.Network/networkInterfaces/cvm1-nic"
    run.arm.store[nic.lower()] = {"id": nic, "name": "cvm1-nic", "location": "westus", "properties": {
        "ipConfigurations": [{"properties": {"subnet": {"id": SUBNET}}}]}}
    result = run(vm, args())
    assert result["failed"] and "nic_name: NIC cvm1-nic exists in westus" in result["msg"]
    assert run.arm.writes() == []


def test_absent_removes_own_nic_and_public_ip_when_vm_was_never_created(run):
    run.arm.fail_next[("PUT", "virtualMachines")] = api_error(500, "InternalError", "boom")
    run.arm.fail_next[("DELETE", "networkInterfaces")] = api_error(500, "InternalError", "still boom")
    result = run(vm, args(public_ip=True))
    assert result["failed"] and result["left_behind"][0]["id"].endswith("cvm1-nic"), result
    assert NIC_PATH in run.arm.store
    gone = run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})
    assert gone["changed"], gone
    assert [w[1].rsplit("/", 1)[-1] for w in run.arm.writes() if w[0] == "DELETE"] == ["cvm1-nic", "cvm1-pip"]
    assert run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})["changed"] is False


def test_absent_without_vm_keeps_a_nic_the_module_did_not_create(run):
    nic = RG + "/providers/Microsoft.Network/networkInterfaces/cvm1-nic"
    run.arm.store[nic.lower()] = {"id": nic, "name": "cvm1-nic", "location": "eastus", "properties": {}}
    result = run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})
    assert result["changed"] is False and nic.lower() in run.arm.store


def test_wait_false_does_not_wait_for_the_nic(run):
    result = run(vm, args(wait=False))
    assert result["changed"] and result["operation"]["done"] is False
    assert run.arm.store[NIC_PATH]["properties"]["provisioningState"] == "Creating"  # PUT without waiting


@pytest.mark.parametrize("option, value, message", [
    ("os_disk_type", "StandardSSD_LRS", "cannot change os_disk_type on an existing VM"),
    ("tee", "TDX", "cannot change tee on an existing VM"),
    ("location", "westeurope", "cannot change location on an existing VM"),
    ("security_encryption_type", "VMGuestStateOnly", "cannot change security_encryption_type"),
    ("admin_username", "other", "cannot change admin_username"),
])
def test_options_without_size_and_image_are_compared_not_ignored(run, option, value, message):
    run(vm, args())
    result = run(vm, {"resource_group": "rg", "name": "cvm1", option: value})
    assert result["failed"] and message in result["msg"] and "allow_recreate" in result["msg"], result
    assert run.arm.writes() == []


def test_secure_boot_without_size_and_image_is_applied_while_deallocated(run):
    run(vm, args(security_encryption_type="VMGuestStateOnly", disk_encryption_set=None))
    refused = run(vm, {"resource_group": "rg", "name": "cvm1", "secure_boot": False})
    assert refused["failed"] and "secure_boot can only change while the VM is deallocated" in refused["msg"]
    done = run(vm, {"resource_group": "rg", "name": "cvm1", "secure_boot": False, "power_state": "deallocated"})
    assert done["changed"] and done["vm"]["confidential"]["secure_boot"] is False, done
    same = run(vm, {"resource_group": "rg", "name": "cvm1", "secure_boot": False, "os_disk_type": "Premium_LRS",
                    "tee": "SNP", "location": "East US"})
    assert same["changed"] is False and run.arm.writes() == [], same


def test_every_vm_option_is_in_the_managed_properties_table():
    from ansible_collections.confidential.azure.plugins.module_utils._cvm import vm_args, vm_properties
    assert set(vm_args.vm_argument_spec()) == set(vm_properties.VM_OPTIONS)


def test_system_assigned_identity_returns_principal_id_and_user_assigned_is_added_in_place(run):
    uai = RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/disk-reader"
    result = run(vm, args(identity={"type": "SystemAssigned"}))
    put = [w for w in run.arm.writes() if "virtualMachines" in w[1]][0][2]
    assert put["identity"] == {"type": "SystemAssigned"}
    assert result["vm"]["identity"]["type"] == "SystemAssigned"
    assert result["vm"]["identity"]["principal_id"] == "33333333-3333-3333-3333-333333333333"
    both = run(vm, args(identity={"type": "SystemAssigned, UserAssigned", "user_assigned_identities": {"id": [uai]}}))
    assert both["changed"] and [w[0] for w in run.arm.writes()] == ["PATCH"], both
    assert run.arm.writes()[0][2] == {"identity": {"type": "SystemAssigned, UserAssigned",
                                                   "userAssignedIdentities": {uai.lower(): {}}}}
    again = run(vm, {"resource_group": "rg", "name": "cvm1", "identity": {
        "type": "SystemAssigned, UserAssigned", "user_assigned_identities": {"id": [uai]}}})
    assert again["changed"] is False and run.arm.writes() == []
