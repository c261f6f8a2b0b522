"""Request-body validation of the local Azure simulator against the official OpenAPI documents.

The simulator answers 400 to a body the real service would refuse; these tests pin what is refused
(typos, wrong enum values, wrong types, missing required fields) and what must keep working
(the official examples, bodies read back with GET, open enums such as vmSize, tags maps).
"""
from __future__ import annotations

import copy
import glob
import json
import os
import re
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SIM = os.path.join(REPO, "tests", "simulator")
if SIM not in sys.path:
    sys.path.insert(0, SIM)

from azsim import schema  # noqa: E402  (path set up above)

SPECS = os.path.join(REPO, "..", "shared", "specs")
SPEC = os.path.join(SPECS, "specification")
COMPUTE = os.path.join(SPEC, "compute", "resource-manager", "Microsoft.Compute")
VM_EXAMPLES = os.path.join(COMPUTE, "Compute", "stable", "2026-04-01", "examples", "virtualMachineExamples")
CVM_EXAMPLES = [
    "VirtualMachine_Create_WithSecurityTypeConfidentialVM.json",
    "VirtualMachine_Create_WithSecurityTypeConfidentialVMWithCustomerManagedKeys.json",
    "VirtualMachine_Create_WithSecurityTypeConfidentialVMWithNonPersistedTPM.json",
]
DES_EXAMPLE = os.path.join(COMPUTE, "Compute", "stable", "2026-03-02", "examples", "diskEncryptionSetExamples",
                           "DiskEncryptionSet_Create.json")
DISK_CREATE_EXAMPLE = os.path.join(COMPUTE, "DiskRP", "stable", "2025-01-02", "examples", "diskExamples",
                                   "Disk_Create_ConfidentialVMSupportedDiskEncryptedWithCMK.json")
DISK_GET_EXAMPLE = os.path.join(COMPUTE, "Compute", "stable", "2026-03-02", "examples", "diskExamples",
                                "Disk_Get_WithConfidentialVMVersion.json")

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-cvm"
VM_PATH = SUB + "/providers/Microsoft.Compute/virtualMachines/cvm1"
DES_PATH = SUB + "/providers/Microsoft.Compute/diskEncryptionSets/des1"
DISK_PATH = SUB + "/providers/Microsoft.Compute/disks/disk1"
VM_VERSIONS = ("2026-04-01", "2024-07-01")
DES_VERSIONS = ("2026-03-02", "2024-03-02")


def _load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _example_operations():
    """basename of an example file -> [(METHOD, raw path template)] from the specs' x-ms-examples."""
    index = {}
    for path in glob.glob(os.path.join(SPEC, "**", "*.json"), recursive=True):
        if "/examples/" in path.replace(os.sep, "/"):
            continue
        doc = _load(path)
        for raw_path, item in (doc.get("paths") or {}).items():
            for method, op in item.items():
                if isinstance(op, dict):
                    for ref in (op.get("x-ms-examples") or {}).values():
                        index.setdefault(os.path.basename(ref["$ref"]), set()).add((method.upper(), raw_path))
    return index


EXAMPLE_OPS = _example_operations()


def _request(example_path):
    """(method, concrete path, api-version, body) of an official example, resolved via its operation."""
    example = _load(example_path)
    params = example["parameters"]
    ops = sorted(EXAMPLE_OPS[os.path.basename(example_path)])
    method, raw = ops[0]
    path = re.sub(r"\{([^}]+)\}", lambda m: params[m.group(1)].strip("{}"), raw)
    version = params["api-version"]
    # the operation for the example's api-version or, when the specs here lack it, the same operation
    # of another api-version (the body parameter keeps its name across versions)
    op = schema.find_operation(method, path, version) or max(
        schema.load().operations_for(method, path).values(), key=lambda o: o.api_version)
    assert op.body_name in params, "example has no body parameter %r" % op.body_name
    return method, path, version, copy.deepcopy(params[op.body_name])


def _cvm_body(name=CVM_EXAMPLES[1]):
    return _request(os.path.join(VM_EXAMPLES, name))[3]


def _des_body():
    return _request(DES_EXAMPLE)[3]


def _vm_issues(body, version="2026-04-01", **kw):
    return schema.validate_body("PUT", VM_PATH, version, body, **kw)


def _paths(issues):
    return [i.path for i in issues]


# --------------------------------------------------------------------------- official examples accepted

@pytest.mark.parametrize("name", CVM_EXAMPLES)
def test_official_confidential_vm_examples_are_accepted(name):
    method, path, version, body = _request(os.path.join(VM_EXAMPLES, name))
    assert (method, version) == ("PUT", "2026-04-01")
    assert schema.validate_body(method, path, version, body) == []


@pytest.mark.parametrize("name", CVM_EXAMPLES)
def test_confidential_vm_examples_are_accepted_by_the_older_vm_api(name):
    # clients pinned to azure-mgmt-compute 33 send the same shape with api-version 2024-07-01
    body = _request(os.path.join(VM_EXAMPLES, name))[3]
    assert _vm_issues(body, "2024-07-01") == []


def test_official_disk_encryption_set_example_is_accepted():
    method, path, version, body = _request(DES_EXAMPLE)
    assert schema.validate_body(method, path, version, body) == []
    assert schema.validate_body(method, path, "2024-03-02", body) == []


def test_official_confidential_disk_example_is_accepted_by_the_disk_api_present():
    method, path, version, body = _request(DISK_CREATE_EXAMPLE)
    # the example was written for 2025-01-02, which the specs here do not carry: reported as such ...
    issues = schema.validate_body(method, path, version, body)
    assert [(i.code, i.kind) for i in issues] == [("NoRegisteredProviderFound", "api-version")]
    assert "2026-03-02" in issues[0].message
    # ... and its body is valid for the disk api-version that is present
    assert body["properties"]["securityProfile"]["securityType"] == "ConfidentialVM_DiskEncryptedWithCustomerKey"
    assert schema.validate_body(method, path, "2026-03-02", body) == []


@pytest.mark.parametrize("name", CVM_EXAMPLES)
def test_vm_bodies_returned_by_get_can_be_sent_back_with_put(name):
    example = _load(os.path.join(VM_EXAMPLES, name))
    for status in ("200", "201"):
        returned = example["responses"][status]["body"]
        assert "provisioningState" in returned["properties"]
        assert _vm_issues(copy.deepcopy(returned)) == []


def test_disk_and_des_bodies_returned_by_get_can_be_sent_back_with_put():
    disk = _load(DISK_GET_EXAMPLE)["responses"]["200"]["body"]
    # upstream inconsistency: this (orphan) example shows securityProfile.confidentialVMVersion, which
    # DiskRP.json 2026-03-02 does not define; by the spec it is an unknown member
    issues = schema.validate_body("PUT", DISK_PATH, "2026-03-02", disk)
    assert [(i.path, i.kind) for i in issues] == [("properties.securityProfile.confidentialVMVersion", "unknown")]
    del disk["properties"]["securityProfile"]["confidentialVMVersion"]
    assert disk["properties"]["provisioningState"] == "Succeeded"
    assert schema.validate_body("PUT", DISK_PATH, "2026-03-02", disk) == []
    des = _load(DES_EXAMPLE)["responses"]["200"]["body"]
    for version in DES_VERSIONS:
        assert schema.validate_body("PUT", DES_PATH, version, des) == []


def test_read_only_vm_fields_are_accepted_and_ignored():
    body = _cvm_body()
    body.update({"id": VM_PATH, "name": "cvm1", "type": "Microsoft.Compute/virtualMachines", "etag": "\"1\"",
                 "resources": [{"bogus": True}],
                 "systemData": {"createdBy": "someone"}})
    body["properties"].update({
        "provisioningState": "Succeeded",
        "vmId": "0f0e0d0c-0000-4000-8000-000000000001",
        "timeCreated": "2026-01-01T00:00:00+00:00",
        # ARM drops read-only values, contents included: nothing inside is checked
        "instanceView": {"statuses": [{"code": "PowerState/running"}], "notAField": 1},
    })
    for version in VM_VERSIONS:
        assert _vm_issues(copy.deepcopy(body), version) == []


# --------------------------------------------------------------------------- mistakes rejected

SEC = "properties.storageProfile.osDisk.managedDisk.securityProfile"


def _rename(dct, old, new):
    dct[new] = dct.pop(old)


MUTATIONS = {
    "misspelled securityEncryptionType": (
        lambda b: _rename(b["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"],
                          "securityEncryptionType", "securityEncrytionType"),
        SEC + ".securityEncrytionType", "unknown"),
    "misspelled diskEncryptionSet": (
        lambda b: _rename(b["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"],
                          "diskEncryptionSet", "diskEncryptionSets"),
        SEC + ".diskEncryptionSets", "unknown"),
    "misspelled vTpmEnabled": (
        lambda b: _rename(b["properties"]["securityProfile"]["uefiSettings"], "vTpmEnabled", "vTpmEnabld"),
        "properties.securityProfile.uefiSettings.vTpmEnabld", "unknown"),
    "flattened properties (x-ms-client-flatten is not a wire rule)": (
        lambda b: b.update(hardwareProfile=b["properties"].pop("hardwareProfile")),
        "hardwareProfile", "unknown"),
    "wrong securityEncryptionType": (
        lambda b: b["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"].update(
            securityEncryptionType="DiskWithVmGuestStat"),
        SEC + ".securityEncryptionType", "enum"),
    "wrong securityType": (
        lambda b: b["properties"]["securityProfile"].update(securityType="Confidential"),
        "properties.securityProfile.securityType", "enum"),
    "string for a boolean": (
        lambda b: b["properties"]["securityProfile"]["uefiSettings"].update(secureBootEnabled="true"),
        "properties.securityProfile.uefiSettings.secureBootEnabled", "type"),
    "object for a string": (
        lambda b: b["properties"]["storageProfile"]["osDisk"].update(name={"value": "osdisk"}),
        "properties.storageProfile.osDisk.name", "type"),
    "string for an array": (
        lambda b: b.update(zones="1"), "zones", "type"),
    "missing location": (lambda b: b.pop("location"), "location", "required"),
    "missing osDisk.createOption": (
        lambda b: b["properties"]["storageProfile"]["osDisk"].pop("createOption"),
        "properties.storageProfile.osDisk.createOption", "required"),
    "null for a required property": (
        lambda b: b["properties"]["storageProfile"]["osDisk"].update(createOption=None),
        "properties.storageProfile.osDisk.createOption", "required"),
    "integer out of int32 range": (
        lambda b: b["properties"]["storageProfile"]["osDisk"].update(diskSizeGB=2 ** 31),
        "properties.storageProfile.osDisk.diskSizeGB", "range"),
    "unknown property in an array item": (
        lambda b: b["properties"]["networkProfile"]["networkInterfaces"][0]["properties"].update(primry=True),
        "properties.networkProfile.networkInterfaces[0].properties.primry", "unknown"),
}


@pytest.mark.parametrize("version", VM_VERSIONS)
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_vm_body_mistakes_are_rejected_with_the_json_path(mutation, version):
    change, path, kind = MUTATIONS[mutation]
    body = _cvm_body()
    change(body)
    issues = _vm_issues(body, version)
    assert [(i.path, i.kind) for i in issues] == [(path, kind)]


def test_unknown_property_message_names_the_member_and_the_type():
    body = _cvm_body()
    _rename(body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"],
            "securityEncryptionType", "securityEncrytionType")
    (issue,) = _vm_issues(body)
    assert issue.code == "InvalidRequestContent"
    assert "Could not find member 'securityEncrytionType' on object of type 'VMDiskSecurityProfile'" in issue.message


def test_unknown_enum_value_is_a_json_conversion_error():
    """An unknown enum value is Json.NET's conversion error, answered as BadRequest (issue 11, "Different from
    Azure": Azure says BadRequest "Error converting value ...")."""
    body = _cvm_body()
    body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"][
        "securityEncryptionType"] = "DiskWithVmGuestStat"
    (issue,) = _vm_issues(body)
    assert issue.code == "BadRequest"
    assert issue.message.startswith('Error converting value "DiskWithVmGuestStat" to type ')
    assert "properties.storageProfile.osDisk.managedDisk.securityProfile.securityEncryptionType" in issue.message


def test_enum_values_bind_case_insensitively_and_are_stored_canonically():
    """Json.NET's StringEnumConverter (what ARM RPs bind with) matches enum names case-insensitively."""
    body = _cvm_body()
    body["properties"]["securityProfile"]["securityType"] = "confidentialvm"
    body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"][
        "securityEncryptionType"] = "diskwithvmgueststate"
    assert _vm_issues(body) == []
    assert body["properties"]["securityProfile"]["securityType"] == "ConfidentialVM"
    assert body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"][
        "securityEncryptionType"] == "DiskWithVMGuestState"


@pytest.mark.parametrize("version", DES_VERSIONS)
def test_des_wrong_encryption_type_is_rejected(version):
    body = _des_body()
    body["properties"]["encryptionType"] = "Confidential"
    issues = schema.validate_body("PUT", DES_PATH, version, body)
    assert [(i.path, i.kind) for i in issues] == [("properties.encryptionType", "enum")]


@pytest.mark.parametrize("version", DES_VERSIONS)
def test_des_mistakes_are_rejected(version):
    body = _des_body()
    _rename(body["properties"]["activeKey"], "keyUrl", "keyURL")
    body["identity"]["type"] = "SystemAssignedd"
    issues = schema.validate_body("PUT", DES_PATH, version, body)
    assert sorted((i.path, i.kind) for i in issues) == [
        ("identity.type", "enum"),
        ("properties.activeKey.keyURL", "unknown"),
        ("properties.activeKey.keyUrl", "required"),
    ]


# --------------------------------------------------------------------------- what must keep working

@pytest.mark.parametrize("version", DES_VERSIONS)
def test_confidential_des_with_customer_key_is_accepted(version):
    body = _des_body()
    body["properties"]["encryptionType"] = "ConfidentialVmEncryptedWithCustomerKey"
    body["properties"]["rotationToLatestKeyVersionEnabled"] = False
    assert schema.validate_body("PUT", DES_PATH, version, body) == []


@pytest.mark.parametrize("size", ["Standard_DC4as_v5", "Standard_EC8es_v6", "Standard_DC2es_v6"])
def test_vm_size_is_an_open_enum(size):
    body = _cvm_body()
    body["properties"]["hardwareProfile"]["vmSize"] = size
    for version in VM_VERSIONS:
        assert _vm_issues(copy.deepcopy(body), version) == []


def test_tags_and_identity_maps_accept_any_key_but_check_values():
    body = _cvm_body()
    uai = SUB + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
    body["tags"] = {"env": "test", "cost center": "42", "x.y/z": ""}
    body["identity"] = {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uai: {}}}
    assert _vm_issues(copy.deepcopy(body)) == []
    body["tags"]["cost center"] = 42
    assert [(i.path, i.kind) for i in _vm_issues(body)] == [("tags['cost center']", "type")]


def test_null_means_not_specified_for_optional_properties():
    body = _cvm_body()
    body["zones"] = None
    body["properties"]["osProfile"]["linuxConfiguration"] = None
    body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"]["diskEncryptionSet"] = None
    assert _vm_issues(body) == []
    body["zones"] = [None]
    assert [(i.path, i.kind) for i in _vm_issues(body)] == [("zones[0]", "type")]
    assert [i.kind for i in _vm_issues(None)] == ["required"]


def test_sdk_shaped_vm_body_with_all_top_level_members_is_accepted():
    body = _cvm_body()
    body.update({
        "tags": {"role": "cvm"},
        "zones": ["1"],
        "plan": {"name": "p", "publisher": "pub", "product": "prod"},
        "identity": {"type": "SystemAssigned"},
        "extendedLocation": {"name": "edge1", "type": "EdgeZone"},
    })
    body["properties"]["osProfile"] = {
        "computerName": "cvm1", "adminUsername": "azureuser",
        "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
            {"path": "/home/azureuser/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAA"}]}},
    }
    body["properties"]["diagnosticsProfile"] = {"bootDiagnostics": {"enabled": True}}
    body["properties"]["securityProfile"]["encryptionAtHost"] = False
    for version in VM_VERSIONS:
        assert _vm_issues(copy.deepcopy(body), version) == []


def test_lenient_mode_follows_json_net_leniency():
    body = _cvm_body()
    body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"][
        "securityEncryptionType"] = "diskwithvmgueststate"
    body["Location"] = body.pop("location")
    # enum values bind case-insensitively in both modes (Json.NET); member names only in lenient mode
    assert {i.kind for i in _vm_issues(copy.deepcopy(body))} == {"unknown", "required"}
    assert _vm_issues(body, strict=False) == []
    # a real typo is still a typo
    body["properties"]["hardwareProfil"] = body["properties"].pop("hardwareProfile")
    assert _paths(_vm_issues(body, strict=False)) == ["properties.hardwareProfil"]


# --------------------------------------------------------------------------- the other services

RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-cvm"
KV = RG + "/providers/Microsoft.KeyVault/vaults/kv1"
NET = RG + "/providers/Microsoft.Network"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PRINCIPAL = "aa11bb22-0000-4000-8000-000000000002"
SKR_POLICY = {"version": "1.0.0", "anyOf": [{"authority": "https://sharedeus.eus.attest.azure.net", "allOf": [
    {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"}]}]}
SKR_POLICY_B64 = "eyJ2ZXJzaW9uIjoiMS4wLjAifQ"

VALID_BODIES = [
    ("PUT", "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-cvm", "2025-04-01",
     {"location": "eastus", "tags": {"owner": "ci"}}),
    ("PUT", KV, "2024-11-01", {"location": "eastus", "properties": {
        "tenantId": TENANT, "sku": {"family": "A", "name": "premium"}, "enablePurgeProtection": True,
        "enableRbacAuthorization": False, "softDeleteRetentionInDays": 7,
        "accessPolicies": [{"tenantId": TENANT, "objectId": PRINCIPAL, "permissions": {
            "keys": ["get", "wrapKey", "unwrapKey", "release"]}}]}}),
    ("PUT", KV + "/accessPolicies/add", "2024-11-01", {"properties": {"accessPolicies": [
        {"tenantId": TENANT, "objectId": PRINCIPAL, "permissions": {"keys": ["get", "wrapKey", "unwrapKey"]}}]}}),
    ("PUT", KV + "/providers/Microsoft.Authorization/roleAssignments/0b1c2d3e-0000-4000-8000-000000000003",
     "2022-04-01", {"properties": {
         "roleDefinitionId": "/subscriptions/00000000-0000-0000-0000-000000000001/providers/"
                             "Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6",
         "principalId": PRINCIPAL, "principalType": "ServicePrincipal"}}),
    ("PUT", NET + "/virtualNetworks/vnet1", "2024-05-01", {"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}),
    ("PUT", NET + "/virtualNetworks/vnet1/subnets/default", "2024-05-01",
     {"properties": {"addressPrefix": "10.0.0.0/24",
                     "networkSecurityGroup": {"id": NET + "/networkSecurityGroups/nsg1"}}}),
    ("PUT", NET + "/publicIPAddresses/pip1", "2024-05-01", {"location": "eastus", "sku": {"name": "Standard"},
                                                            "properties": {"publicIPAllocationMethod": "Static"}}),
    ("PUT", NET + "/networkSecurityGroups/nsg1", "2024-05-01", {"location": "eastus", "properties": {
        "securityRules": [{"name": "ssh", "properties": {
            "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 100,
            "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*",
            "destinationPortRange": "22"}}]}}),
    ("PUT", NET + "/networkInterfaces/nic1", "2024-05-01", {"location": "eastus", "properties": {
        "ipConfigurations": [{"name": "ipconfig1", "properties": {
            "subnet": {"id": NET + "/virtualNetworks/vnet1/subnets/default"},
            "privateIPAllocationMethod": "Dynamic",
            "publicIPAddress": {"id": NET + "/publicIPAddresses/pip1"},
            # a type from a spec file not copied here (loadBalancer.json): an open object
            "loadBalancerBackendAddressPools": [{"id": "/x", "anything": {"goes": 1}}]}}],
        "networkSecurityGroup": {"id": NET + "/networkSecurityGroups/nsg1"}}}),
    ("POST", "/keys/cvm-cmk/create", "2025-07-01", {
        "kty": "RSA-HSM", "key_size": 3072, "key_ops": ["wrapKey", "unwrapKey"],
        "attributes": {"enabled": True, "exportable": True}, "tags": {"purpose": "cvm"},
        "release_policy": {"contentType": "application/json; charset=utf-8", "data": SKR_POLICY_B64,
                           "immutable": False}}),
    ("PATCH", "/keys/cvm-cmk/0123456789abcdef0123456789abcdef", "2025-07-01",
     {"release_policy": {"data": SKR_POLICY_B64}}),
    ("PUT", RG + "/providers/Microsoft.Attestation/attestationProviders/attest1", "2020-10-01",
     {"location": "eastus", "properties": {}}),
]


@pytest.mark.parametrize("method,path,version,body", VALID_BODIES, ids=[
    "%s %s" % (v[0], v[1].rsplit("/providers/", 1)[-1]) for v in VALID_BODIES])
def test_bodies_of_the_other_services_are_accepted(method, path, version, body):
    assert schema.find_operation(method, path, version) is not None
    assert schema.validate_body(method, path, version, copy.deepcopy(body)) == []


def test_other_services_reject_typos_and_bad_values():
    key = copy.deepcopy(VALID_BODIES[9][3])
    key["release_polcy"] = key.pop("release_policy")
    key["kty"] = "RSA-HMS"
    key["key_size"] = "3072"
    assert sorted((i.path, i.kind) for i in schema.validate_body("POST", "/keys/k1/create", "2025-07-01", key)) == [
        ("key_size", "type"), ("kty", "enum"), ("release_polcy", "unknown")]
    role = copy.deepcopy(VALID_BODIES[3][3])
    del role["properties"]["principalId"]
    role["properties"]["principalType"] = "Robot"
    issues = schema.validate_body("PUT", VALID_BODIES[3][1], "2022-04-01", role)
    assert sorted((i.path, i.kind) for i in issues) == [
        ("properties.principalId", "required"), ("properties.principalType", "enum")]
    vault = copy.deepcopy(VALID_BODIES[1][3])
    vault["properties"]["sku"]["name"] = "premium_hsm"
    issues = schema.validate_body("PUT", KV, "2024-11-01", vault)
    assert [(i.path, i.kind) for i in issues] == [("properties.sku.name", "enum")]


# --------------------------------------------------------------------------- operations and api-versions

def test_api_versions_of_the_confidential_vm_resource_types():
    assert {"2026-04-01", "2024-07-01"} <= schema.api_versions("PUT", VM_PATH)
    assert {"2026-03-02", "2024-03-02"} <= schema.api_versions("PUT", DES_PATH)
    assert {"2026-04-01", "2024-07-01"} <= schema.api_versions_for_type("Microsoft.Compute/virtualMachines")
    assert {"2026-03-02", "2024-03-02"} <= schema.api_versions_for_type("microsoft.compute/diskencryptionsets")
    types = schema.load().resource_types()
    assert types["Microsoft.Compute/virtualMachines"] == {"2026-04-01", "2024-07-01"}
    assert types["Microsoft.KeyVault/vaults"] == {"2024-11-01"}
    assert types["Microsoft.Network/networkInterfaces"] == {"2024-05-01"}
    assert schema.api_versions("GET", "/subscriptions/s1/providers/Microsoft.Compute/skus") == {"2021-07-01"}
    assert schema.api_versions("POST", "/keys/k1/create") == {"2025-07-01"}
    assert schema.api_versions("POST", "/attest/SevSnpVm") == {"2025-06-01"}


def test_path_matching_is_case_insensitive_on_fixed_segments_and_ignores_the_query():
    path = VM_PATH.replace("resourceGroups", "RESOURCEGROUPS").replace("Microsoft.Compute", "microsoft.compute")
    op = schema.find_operation("put", path + "?api-version=2026-04-01", "2026-04-01")
    assert op is not None and op.operation_id == "VirtualMachines_CreateOrUpdate"
    assert op.resource_type == "Microsoft.Compute/virtualMachines"
    assert op.body_name == "parameters" and op.body_required
    url = "https://kv1.vault.azure.net/keys/k1/create?api-version=2025-07-01"
    assert schema.find_operation("POST", url, "2025-07-01").operation_id == "CreateKey"


def test_the_most_specific_template_wins():
    # '/{roleAssignmentId}' (PUT) matches every path; a VM path still resolves to the VM operation
    assert schema.find_operation("PUT", VM_PATH, "2026-04-01").operation_id == "VirtualMachines_CreateOrUpdate"
    ra = schema.find_operation("PUT", VALID_BODIES[3][1], "2022-04-01")
    assert ra.operation_id == "RoleAssignments_Create"
    assert schema.find_operation("POST", VM_PATH + "/start", "2026-04-01").operation_id == "VirtualMachines_Start"
    assert schema.find_operation("POST", "/policies/SevSnpVm:reset", "2025-06-01").operation_id.endswith("Reset")


def test_unknown_operations_and_api_versions():
    assert schema.find_operation("PUT", VM_PATH, "2019-01-01") is None
    (issue,) = schema.validate_body("PUT", VM_PATH, "2019-01-01", _cvm_body())
    assert issue.code == "NoRegisteredProviderFound"
    assert "2024-07-01" in issue.message and "2026-04-01" in issue.message
    # a real MAA version the specs here lack: reported, or checked against the closest version present
    snp = {"report": "eyJ9", "runtimeData": {"data": "eyJ9", "dataType": "JSON"}, "nonce": "n1"}
    (issue,) = schema.validate_body("POST", "/attest/SevSnpVm", "2022-08-01", snp)
    assert (issue.code, issue.kind) == ("BadParameter", "api-version") and "2025-06-01" in issue.message
    assert schema.validate_body("POST", "/attest/SevSnpVm", "2022-08-01", snp, unknown_api_version="closest") == []
    snp["runtimeDta"] = snp.pop("runtimeData")
    assert _paths(schema.validate_body("POST", "/attest/SevSnpVm", "2022-08-01", snp,
                                       unknown_api_version="closest")) == ["runtimeDta"]
    assert schema.validate_body("POST", "/attest/SevSnpVm", "2022-08-01", snp, unknown_api_version="ignore") == []
    assert schema.find_operation("GET", "/_sim/requests", "x") is None
    assert schema.api_versions("GET", "/_sim/requests") == set()
    assert schema.validate_body("POST", "/_sim/reset", "x", {"anything": 1}) == []
    assert schema.validate_body("POST", VM_PATH + "/start", "2026-04-01", None) == []


def test_arm_error_envelope():
    body = _cvm_body()
    body["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"][
        "securityEncryptionType"] = "DiskWithVmGuestStat"
    body["properties"]["securityProfile"]["uefiSettings"]["vTpmEnabld"] = True
    issues = _vm_issues(body)
    err = schema.to_arm_error(issues)["error"]
    assert set(err) == {"code", "message", "target", "details"}
    # deserialization problems come first, as ARM reports them before any value check
    assert err["code"] == "InvalidRequestContent"
    assert err["target"] == "properties.securityProfile.uefiSettings.vTpmEnabld"
    assert sorted(d["target"] for d in err["details"]) == sorted(i.path for i in issues)
    assert {d["code"] for d in err["details"]} == {"InvalidRequestContent", "BadRequest"}
    with pytest.raises(schema.ValidationError) as info:
        schema.check_body("PUT", VM_PATH, "2026-04-01", body)
    assert info.value.status == 400
    assert info.value.to_arm_error() == schema.to_arm_error(issues)
    assert schema.check_body("PUT", VM_PATH, "2026-04-01", _cvm_body()) is None
