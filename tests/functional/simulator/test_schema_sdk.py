"""Bodies serialized by the real azure-mgmt-compute SDK pass the simulator's request validation.

The SDK is run up to its HTTP transport; the request it would send is captured and validated for
the api-version the SDK itself puts in the URL (azure-mgmt-compute 39: VM 2026-04-01; the lowest
supported 33.0.0, run by `make compat` through the sdk_range marker: VM 2024-07-01, DES 2024-03-02).
"""
from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SIM = os.path.join(REPO, "tests", "simulator")
if SIM not in sys.path:
    sys.path.insert(0, SIM)

from azsim import schema  # noqa: E402

SUB_ID = "00000000-0000-0000-0000-000000000001"
RG_ID = "/subscriptions/%s/resourceGroups/rg-cvm" % SUB_ID
DES_ID = RG_ID + "/providers/Microsoft.Compute/diskEncryptionSets/des1"
VAULT_ID = RG_ID + "/providers/Microsoft.KeyVault/vaults/kv1"
NIC_ID = RG_ID + "/providers/Microsoft.Network/networkInterfaces/nic1"
VM_PATH = RG_ID + "/providers/Microsoft.Compute/virtualMachines/cvm1"
EXAMPLE = os.path.join(REPO, "..", "shared", "specs", "specification", "compute", "resource-manager",
                       "Microsoft.Compute", "Compute", "stable", "2026-04-01", "examples", "virtualMachineExamples",
                       "VirtualMachine_Create_WithSecurityTypeConfidentialVMWithCustomerManagedKeys.json")


class _Captured(Exception):
    def __init__(self, request):
        Exception.__init__(self, "captured")
        self.request = request


class _CaptureTransport(HttpTransport):
    def send(self, request, **kwargs):
        raise _Captured(request)

    def open(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        pass


class _Credential(object):
    def get_token(self, *scopes, **kwargs):
        return AccessToken("not-a-token", int(time.time()) + 3600)


@pytest.fixture(scope="module")
def client():
    return ComputeManagementClient(_Credential(), SUB_ID, transport=_CaptureTransport())


def _capture(call):
    with pytest.raises(_Captured) as info:
        call()
    request = info.value.request
    url = urlsplit(request.url)
    version = parse_qs(url.query)["api-version"][0]
    body = request.body if request.body is not None else request.data
    return request.method, url.path, version, json.loads(body)


def _check(method, path, version, body):
    assert schema.find_operation(method, path, version) is not None, (
        "the SDK uses api-version %s for %s %s; the specs here have %s"
        % (version, method, path, sorted(schema.api_versions(method, path))))
    return schema.validate_body(method, path, version, body)


def _cvm_model(**extra):
    # flattened keyword arguments: accepted by the msrest models (azure-mgmt-compute 33) and by the
    # TypeSpec models (39+), which both put them under "properties" on the wire
    return models.VirtualMachine(
        location="eastus", tags={"role": "cvm"}, zones=["1"],
        identity=models.VirtualMachineIdentity(type="SystemAssigned"),
        hardware_profile=models.HardwareProfile(vm_size="Standard_DC4as_v5"),
        security_profile=models.SecurityProfile(
            security_type="ConfidentialVM",
            uefi_settings=models.UefiSettings(secure_boot_enabled=True, v_tpm_enabled=True)),
        storage_profile=models.StorageProfile(
            image_reference=models.ImageReference(
                publisher="Canonical", offer="0001-com-ubuntu-confidential-vm-jammy",
                sku="22_04-lts-cvm", version="latest"),
            os_disk=models.OSDisk(
                create_option="FromImage", delete_option="Delete",
                managed_disk=models.ManagedDiskParameters(
                    storage_account_type="Premium_LRS",
                    security_profile=models.VMDiskSecurityProfile(
                        security_encryption_type="DiskWithVMGuestState",
                        disk_encryption_set=models.DiskEncryptionSetParameters(id=DES_ID))))),
        os_profile=models.OSProfile(
            computer_name="cvm1", admin_username="azureuser",
            linux_configuration=models.LinuxConfiguration(
                disable_password_authentication=True,
                ssh=models.SshConfiguration(public_keys=[models.SshPublicKey(
                    path="/home/azureuser/.ssh/authorized_keys", key_data="ssh-ed25519 AAAA")]))),
        network_profile=models.NetworkProfile(network_interfaces=[models.NetworkInterfaceReference(
            id=NIC_ID, primary=True)]),
        diagnostics_profile=models.DiagnosticsProfile(boot_diagnostics=models.BootDiagnostics(enabled=True)),
        **extra)


def _from_wire(cls, data):
    """The model the SDK hands back from a GET (msrest: deserialize(); TypeSpec models: cls(dict))."""
    return cls.deserialize(data) if hasattr(cls, "deserialize") else cls(data)


@pytest.mark.sdk_range
def test_sdk_confidential_vm_put_body_is_accepted(client):
    method, path, version, body = _capture(
        lambda: client.virtual_machines.begin_create_or_update("rg-cvm", "cvm1", _cvm_model()))
    assert method == "PUT"
    assert body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"][
        "securityEncryptionType"] == "DiskWithVMGuestState"
    assert _check(method, path, version, body) == []


@pytest.mark.sdk_range
def test_sdk_vm_put_with_plan_is_accepted(client):
    vm = _cvm_model(plan=models.Plan(name="p", publisher="pub", product="prod"))
    assert _check(*_capture(lambda: client.virtual_machines.begin_create_or_update("rg-cvm", "cvm1", vm))) == []


@pytest.mark.sdk_range
def test_sdk_vm_read_back_from_get_and_sent_with_put_is_accepted(client):
    with open(EXAMPLE, encoding="utf-8") as fh:
        returned = json.load(fh)["responses"]["200"]["body"]
    vm = _from_wire(models.VirtualMachine, returned)  # what the SDK returns from GET
    method, path, version, body = _capture(
        lambda: client.virtual_machines.begin_create_or_update("rg-cvm", "cvm1", vm))
    assert _check(method, path, version, body) == []


@pytest.mark.sdk_range
def test_sdk_body_with_a_typo_is_rejected(client):
    # what the SDK sent, with one member misspelled on the way (a raw-dict caller, a proxy...)
    _m, _p, version, body = _capture(
        lambda: client.virtual_machines.begin_create_or_update("rg-cvm", "cvm1", _cvm_model()))
    body["properties"]["securityProfile"]["uefiSettings"]["vTpmEnabld"] = True
    issues = _check("PUT", VM_PATH, version, body)
    assert [i.path for i in issues] == ["properties.securityProfile.uefiSettings.vTpmEnabld"]


@pytest.mark.sdk_range
def test_sdk_confidential_disk_encryption_set_body_is_accepted(client):
    des = models.DiskEncryptionSet(
        location="eastus", identity=models.EncryptionSetIdentity(type="SystemAssigned"),
        encryption_type="ConfidentialVmEncryptedWithCustomerKey",
        active_key=models.KeyForDiskEncryptionSet(
            source_vault=models.SourceVault(id=VAULT_ID),
            key_url="https://kv1.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef"),
        rotation_to_latest_key_version_enabled=False)
    method, path, version, body = _capture(
        lambda: client.disk_encryption_sets.begin_create_or_update("rg-cvm", "des1", des))
    assert body["properties"]["encryptionType"] == "ConfidentialVmEncryptedWithCustomerKey"
    assert _check(method, path, version, body) == []


@pytest.mark.sdk_range
def test_sdk_vm_patch_body_is_accepted(client):
    update = models.VirtualMachineUpdate(tags={"role": "cvm", "stage": "2"},
                                         hardware_profile=models.HardwareProfile(vm_size="Standard_DC8as_v5"))
    method, path, version, body = _capture(
        lambda: client.virtual_machines.begin_update("rg-cvm", "cvm1", update))
    assert method == "PATCH"
    assert _check(method, path, version, body) == []
