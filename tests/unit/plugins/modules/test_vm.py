# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm / vm_info through real argument parsing against an in-memory ARM."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64

from ansible_collections.confidential.azure.plugins.modules import vm, vm_info

from ansible_collections.confidential.azure.tests.unit.plugins.modules.cvm_harness import SUB, run  # noqa: F401 pylint: disable=unused-import
from ansible_collections.confidential.azure.tests.unit.plugins.modules.fake_arm import api_error

RG = "/subscriptions/%s/resourceGroups/rg" % SUB
SUBNET = RG + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"
DES = RG + "/providers/Microsoft.Compute/diskEncryptionSets/des1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"
VM_PATH = RG.lower() + "/providers/microsoft.compute/virtualmachines/cvm1"
NIC_PATH = RG.lower() + "/providers/microsoft.network/networkinterfaces/cvm1-nic"


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
    again = run(vm, {"resource_group": "rg", "name": "cvm1", "state": "absent"})
    assert again["changed"] is False and run.arm.writes() == []


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


def test_azure_error_fails_cleanly_with_code(run):
    run.arm.fail_next[("PUT", "virtualMachines")] = api_error(409, "OperationNotAllowed", "quota exceeded")
    result = run(vm, args())
    assert result["failed"] and result["azure_error"]["code"] == "OperationNotAllowed"
    assert result["changed"] is True  # the NIC was created before the VM PUT failed
    rerun = run(vm, args())
    assert rerun["changed"] and [w[1].rsplit("/", 2)[-2] for w in run.arm.writes()] == ["virtualMachines"]


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
    run.arm.store[nic.lower()] = {"id": nic, "name": "cvm1-nic", "properties": {"ipConfigurations": [
        {"properties": {"subnet": {"id": SUBNET}}}]}}
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
