"""Rules Azure enforces that the simulator once let through (or answered differently): issue 11, items 2 and 3.

Each test's docstring names the public source of the rule it checks."""
from __future__ import annotations

import base64
import json
import time

import pytest

import azsim_testlib as T

VM = "/providers/Microsoft.Compute/virtualMachines/"
DES = "/providers/Microsoft.Compute/diskEncryptionSets/"
KV = "/providers/Microsoft.KeyVault/vaults/"


@pytest.fixture
def sim(fresh_simulator):
    T.group(fresh_simulator, "rg-s")
    return fresh_simulator


def _grant(sim, vault):
    grant_self = getattr(T, "grant_self", None)
    if grant_self is not None:
        grant_self(sim, vault["properties"]["vaultUri"])


def _des_body(sim, key_url, vault_id, enc="ConfidentialVmEncryptedWithCustomerKey", **props):
    return {"location": "eastus", "identity": {"type": "SystemAssigned"},
            "properties": dict({"encryptionType": enc,
                                "activeKey": {"keyUrl": key_url, "sourceVault": {"id": vault_id}}}, **props)}


def _kv(sim, method, uri, path, body=None, api_version="7.4"):
    resource = "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    return sim.call(method, uri.rstrip("/") + path, body, api_version, resource=resource)


def _vault_with_key(sim, name, purge_protection=True, **key):
    v = T.vault(sim, "rg-s", name, purge_protection=purge_protection)
    _grant(sim, v)
    body = dict({"kty": "RSA-HSM", "key_size": 2048, "key_ops": ["wrapKey", "unwrapKey"]}, **key)
    st, _h, k = _kv(sim, "POST", v["properties"]["vaultUri"], "/keys/k/create", body)
    assert st == 200, k
    return v, k["key"]["kid"]


# ------------------------------------------------------------------------------------------- disk encryption sets
def test_des_refuses_a_vault_without_purge_protection(sim):
    """Microsoft doc "Server-side encryption of Azure Disk Storage": the key vault of a disk encryption set must have
    soft delete and purge protection enabled."""
    v, kid = _vault_with_key(sim, "kvnopp1", purge_protection=False)
    st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + DES + "d", _des_body(sim, kid, v["id"],
                                                                             "EncryptionAtRestWithCustomerKey"),
                           T.DISK_API)
    assert st == 400 and err["error"]["code"] == "InvalidParameter", err
    assert "purge protection" in err["error"]["message"]


def test_des_key_must_be_rsa_with_wrap_and_unwrap(sim):
    """Microsoft doc "Server-side encryption of Azure Disk Storage": only software and HSM RSA keys (2048, 3072,
    4096 bits); the disk encryption set wraps and unwraps with it (get, wrapKey, unwrapKey)."""
    v = T.vault(sim, "rg-s", "kvdeskey1")
    _grant(sim, v)
    uri = v["properties"]["vaultUri"]
    ec = _kv(sim, "POST", uri, "/keys/ec/create", {"kty": "EC-HSM", "crv": "P-256"})[2]["key"]["kid"]
    sign_only = _kv(sim, "POST", uri, "/keys/so/create", {"kty": "RSA-HSM", "key_size": 2048,
                                                          "key_ops": ["sign", "verify"]})[2]["key"]["kid"]
    for kid, needle in ((ec, "key type 'EC-HSM'"), (sign_only, "wrapKey, unwrapKey")):
        st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + DES + "d", _des_body(sim, kid, v["id"]), T.DISK_API)
        assert st == 400 and err["error"]["code"] == "InvalidParameter", err
        assert needle in err["error"]["message"]


def test_des_key_url_needs_its_version_even_with_auto_rotation(sim):
    """specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-03-02/DiskRP.json,
    KeyForDiskEncryptionSet.keyUrl: "Version segment of the Url is required regardless of
    rotationToLatestKeyVersionEnabled value"."""
    v, kid = _vault_with_key(sim, "kvver1")
    versionless = kid.rsplit("/", 1)[0]
    st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + DES + "d", _des_body(
        sim, versionless, v["id"], rotationToLatestKeyVersionEnabled=True), T.DISK_API)
    assert st == 400 and err["error"]["target"] == "activeKey.keyUrl", err
    assert "version segment is required" in err["error"]["message"]
    assert T.ok(sim.call("PUT", sim.rg_path("rg-s") + DES + "d", _des_body(
        sim, kid, v["id"], rotationToLatestKeyVersionEnabled=True), T.DISK_API))


def test_confidential_des_key_changes_only_while_its_vms_are_deallocated(sim):
    """Microsoft confidential computing doc on key rotation for confidential VMs with customer-managed keys:
    deallocate the VMs that use the disk encryption set, change its key, then start them."""
    chain = T.cmk_chain(sim, "rg-s", "kvrot1")
    nic = T.network(sim, "rg-s", "rot")
    vm_path = sim.rg_path("rg-s") + VM + "cvm-rot"
    T.ok(sim.call("PUT", vm_path, T.cvm_body(nic, des_id=chain["des"]["id"]), T.VM_API))
    new_kid = T.cmk_key(sim, chain["vault"]["properties"]["vaultUri"], name="cmk2").id
    body = _des_body(sim, new_kid, chain["vault"]["id"])
    des_path = chain["des"]["id"]
    st, _h, err = sim.call("PUT", des_path, body, T.DISK_API)
    assert st == 409 and err["error"]["code"] == "OperationNotAllowed", err
    assert "cvm-rot" in err["error"]["message"]
    st, _h, err = sim.call("PATCH", des_path, {"properties": {"activeKey": {"keyUrl": new_kid}}}, T.DISK_API)
    assert st == 409 and err["error"]["code"] == "OperationNotAllowed", err      # PATCH: the same rule
    T.ok(sim.call("POST", vm_path + "/deallocate", None, T.VM_API))
    T.ok(sim.call("PUT", des_path, body, T.DISK_API))


# ------------------------------------------------------------------------------------------- virtual machines
def test_ephemeral_os_disk_is_refused_on_confidential_vms_and_sizes_without_support(sim):
    """Microsoft docs "About Azure confidential VMs" (ephemeral OS disks are not supported) and "Ephemeral OS disks
    for Azure VMs" (the size's resource SKU must have EphemeralOSDiskSupported=True, which the simulator's SKUs say
    False)."""
    nic = T.network(sim, "rg-s", "eph")
    body = T.cvm_body(nic, enc="VMGuestStateOnly")
    body["properties"]["storageProfile"]["osDisk"]["diffDiskSettings"] = {"option": "Local"}
    st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + VM + "v", body, T.VM_API)
    assert st == 400 and "ConfidentialVM" in err["error"]["message"], err
    plain = T.cvm_body(nic, size="Standard_D2ads_v5", enc=None, security_type=None, image=T.JAMMY_PLAIN)
    plain["properties"]["storageProfile"]["osDisk"]["diffDiskSettings"] = {"option": "Local"}
    st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + VM + "v", plain, T.VM_API)
    assert st == 400 and "does not support Ephemeral OS disk" in err["error"]["message"], err


def _ssh_line(kind):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    key = {"ecdsa": lambda: ec.generate_private_key(ec.SECP256R1()), "ed25519": ed25519.Ed25519PrivateKey.generate,
           "rsa1024": lambda: rsa.generate_private_key(65537, 1024),
           "rsa2048": lambda: rsa.generate_private_key(65537, 2048)}[kind]()
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode() + " test@azsim"


def test_ssh_keys_are_rsa_2048_or_ed25519(sim):
    """Microsoft doc "Detailed steps: Create and manage SSH keys for authentication to a Linux VM in Azure"
    (SSH-2 RSA of at least 2048 bits and ED25519; ECDSA not supported); Azure's message is public record
    (Azure/azure-quickstart-templates issue #680)."""
    nic = T.network(sim, "rg-s", "ssh")
    for kind, accepted in (("ecdsa", False), ("rsa1024", False), ("ed25519", True), ("rsa2048", True)):
        body = T.cvm_body(nic, enc="VMGuestStateOnly")
        body["properties"]["osProfile"] = {"computerName": "v", "adminUsername": "azureuser", "linuxConfiguration": {
            "disablePasswordAuthentication": True, "ssh": {"publicKeys": [{
                "path": "/home/azureuser/.ssh/authorized_keys", "keyData": _ssh_line(kind)}]}}}
        st, _h, res = sim.call("PUT", sim.rg_path("rg-s") + VM + "v-" + kind, body, T.VM_API)
        if accepted:
            assert st == 201, (kind, res)
            T.ok(sim.call("DELETE", sim.rg_path("rg-s") + VM + "v-" + kind, None, T.VM_API))
            while sim.call("GET", sim.rg_path("rg-s") + VM + "v-" + kind, api_version=T.VM_API)[0] != 404:
                time.sleep(0.05)
        else:
            assert st == 400, (kind, res)
            assert res["error"] == {"code": "InvalidParameter", "target": "linuxConfiguration.ssh.publicKeys.keyData",
                                    "message": "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is "
                                               "invalid."}


def test_security_profile_on_a_non_confidential_size(sim):
    """Issue 11 ("Different from Azure") quotes Azure's answer: BadRequest "The parameter
    'managedDisk.securityProfile' can only be set for Confidential VMs."."""
    nic = T.network(sim, "rg-s", "np")
    body = T.cvm_body(nic, size="Standard_D2s_v5", enc="VMGuestStateOnly", security_type=None, image=T.JAMMY_PLAIN)
    st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + VM + "v", body, T.VM_API)
    assert st == 400 and err["error"]["code"] == "BadRequest"
    assert err["error"]["message"] == "The parameter 'managedDisk.securityProfile' can only be set for Confidential VMs."


def test_size_not_offered_in_the_region_is_sku_not_available(sim):
    """Microsoft doc "Resolve errors for SKU not available": 409 SkuNotAvailable, "The requested VM size for resource
    'Following SKUs have failed for Capacity Restrictions: ...' is currently not available in location ..."."""
    T.group(sim, "rg-e2", "eastus2")
    nic = T.network(sim, "rg-e2", "e2", location="eastus2")
    st, _h, err = sim.call("PUT", sim.rg_path("rg-e2") + VM + "v", T.cvm_body(nic, location="eastus2"), T.VM_API)
    assert st == 409 and err["error"]["code"] == "SkuNotAvailable", err
    assert err["error"]["message"].startswith("The requested VM size for resource 'Following SKUs have failed for "
                                              "Capacity Restrictions: Standard_DC2as_v5' is currently not available "
                                              "in location 'eastus2'.")


def test_enum_values_in_another_case_are_accepted_and_unknown_ones_are_conversion_errors(sim):
    """Json.NET's StringEnumConverter (ARM resource providers' binder) reads enum names case-insensitively; an
    unknown name is its conversion error, which Azure answers as BadRequest "Error converting value ..." (public
    record: Azure/azure-sdk-for-python issue #28818)."""
    nic = T.network(sim, "rg-s", "enum")
    body = T.cvm_body(nic, enc="vmgueststateonly", security_type="confidentialVM")
    vm = T.ok(sim.call("PUT", sim.rg_path("rg-s") + VM + "v", body, T.VM_API))
    assert vm["properties"]["securityProfile"]["securityType"] == "ConfidentialVM"
    assert vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"][
        "securityEncryptionType"] == "VMGuestStateOnly"
    body = T.cvm_body(nic, enc="DISK_WITH_VM_GUEST_STATE")
    st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + VM + "v2", body, T.VM_API)
    assert st == 400 and err["error"]["code"] == "BadRequest", err
    assert err["error"]["message"].startswith('Error converting value "DISK_WITH_VM_GUEST_STATE" to type ')


# ------------------------------------------------------------------------------------------- network
def test_nic_must_be_in_the_region_of_its_subnet(sim):
    """Microsoft doc "Create, change, or delete a network interface" (the virtual network must be in the NIC's
    location); Azure's InvalidResourceReference text is public record ("... both resources are in the same
    region.")."""
    nic = T.network(sim, "rg-s", "reg")
    subnet = T.ok(sim.call("GET", nic, api_version=T.NET_API))["properties"]["ipConfigurations"][0]["properties"][
        "subnet"]["id"]
    st, _h, err = sim.call("PUT", sim.rg_path("rg-s") + "/providers/Microsoft.Network/networkInterfaces/far", {
        "location": "westeurope", "properties": {"ipConfigurations": [{"name": "c", "properties": {
            "subnet": {"id": subnet}}}]}}, T.NET_API)
    assert st == 400 and err["error"]["code"] == "InvalidResourceReference", err
    assert "both resources are in the same region" in err["error"]["message"]


# ------------------------------------------------------------------------------------------- key vault
def test_deleted_vault_name_is_taken_until_purged_and_purge_protection_forbids_purge(sim):
    """Microsoft doc "Azure Key Vault soft-delete overview": a soft-deleted vault's name cannot be reused until it
    is purged, and purge protection forbids purging before the retention period ends; recovery
    (createMode: recover) brings the vault and its keys back. VaultAlreadyExists text: public record
    (Azure/azure-powershell issue #15115)."""
    v, kid = _vault_with_key(sim, "kvsoft1")
    path = sim.rg_path("rg-s") + KV + "kvsoft1"
    T.ok(sim.call("DELETE", path, api_version=T.KV_API))
    st, _h, err = sim.call("PUT", path, {"location": "eastus", "properties": {
        "tenantId": sim.info["tenant_id"], "sku": {"family": "A", "name": "premium"}, "accessPolicies": []}}, T.KV_API)
    assert st == 409 and err["error"]["code"] == "VaultAlreadyExists", err
    deleted = "/subscriptions/%s/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/kvsoft1" % \
        sim.subscription_id
    got = T.ok(sim.call("GET", deleted, api_version=T.KV_API))
    assert got["properties"]["purgeProtectionEnabled"] is True and got["properties"]["vaultId"] == v["id"]
    st, _h, err = sim.call("POST", deleted + "/purge", None, T.KV_API)
    assert st == 409, err
    back = T.ok(sim.call("PUT", path, {"location": "eastus", "properties": {
        "tenantId": sim.info["tenant_id"], "sku": {"family": "A", "name": "premium"}, "createMode": "recover"}},
        T.KV_API))
    assert back["properties"]["enablePurgeProtection"] is True
    st, _h, key = _kv(sim, "GET", back["properties"]["vaultUri"], "/keys/k")
    assert st == 200 and key["key"]["kid"].rsplit("/", 1)[1] == kid.rsplit("/", 1)[1]
    # without purge protection the name comes back after a purge
    T.vault(sim, "rg-s", "kvsoft2", purge_protection=False)
    path2 = sim.rg_path("rg-s") + KV + "kvsoft2"
    T.ok(sim.call("DELETE", path2, api_version=T.KV_API))
    assert sim.call("PUT", path2, {"location": "eastus", "properties": {
        "tenantId": sim.info["tenant_id"], "sku": {"family": "A", "name": "premium"}, "accessPolicies": []}},
        T.KV_API)[0] == 409
    T.ok(sim.call("POST", deleted.replace("kvsoft1", "kvsoft2") + "/purge", None, T.KV_API), 202)
    T.vault(sim, "rg-s", "kvsoft2", purge_protection=False)


def test_key_release_without_a_version_releases_the_latest(sim):
    """specification/keyvault/data-plane/Microsoft.KeyVault/stable/2025-07-01/keys.json (release: "Adding the version
    parameter retrieves a specific version"); the Azure SDK for Python's recorded release test omits the version."""
    from test_sim_keyvault import _attest
    token = _attest(sim)
    v = T.vault(sim, "rg-s", "kvrel1")
    _grant(sim, v)
    uri = v["properties"]["vaultUri"]
    policy = T.cvm_policy(sim)
    data = base64.urlsafe_b64encode(json.dumps(policy).encode()).rstrip(b"=").decode()
    created = _kv(sim, "POST", uri, "/keys/rel/create", {"kty": "RSA-HSM", "key_size": 2048, "attributes": {
        "exportable": True}, "release_policy": {"data": data}})[2]
    for path in ("/keys/rel/release", "/keys/rel//release"):
        st, _h, rel = _kv(sim, "POST", uri, path, {"target": token})
        assert st == 200, rel
        payload = json.loads(base64.urlsafe_b64decode(rel["value"].split(".")[1] + "=="))
        assert payload["response"]["key"]["key"]["kid"] == created["key"]["kid"]


# ------------------------------------------------------------------------------------------- api-versions
def test_api_versions_are_the_ones_the_specs_define(sim):
    """Every api-version the official specs define for a resource type is served (stable and preview:
    ../shared/specs plus the upstream spec files listed in tests/simulator/spec_index.json, e.g.
    specification/compute/resource-manager/Microsoft.Compute/Skus/stable/2019-04-01/skus.json and the KeyVault
    readme's preview tags); any other is ARM's NoRegisteredProviderFound / InvalidApiVersionParameter."""
    skus = "/subscriptions/%s/providers/Microsoft.Compute/skus" % sim.subscription_id
    for version in ("2019-04-01", "2021-07-01"):
        assert sim.call("GET", skus, api_version=version)[0] == 200
    T.vault(sim, "rg-s", "kvapi1")
    vault = sim.rg_path("rg-s") + KV + "kvapi1"
    for version in ("2026-02-01", "2024-12-01-preview", "2019-09-01"):
        assert sim.call("GET", vault, api_version=version)[0] == 200, version
    st, _h, err = sim.call("GET", vault, api_version="2024-11-02")
    assert st == 400 and err["error"]["code"] == "NoRegisteredProviderFound"
    assert err["error"]["message"].startswith("No registered resource provider found for location 'eastus' and API "
                                              "version '2024-11-02' for type 'vaults'. The supported api-versions "
                                              "are '")
    assert "2026-02-01" in err["error"]["message"] and "2024-12-01-preview" in err["error"]["message"]
    st, _h, err = sim.call("GET", sim.rg_path("rg-s") + VM + "x", api_version="2019-04-01")    # a skus version
    assert st == 400 and err["error"]["code"] == "NoRegisteredProviderFound"
    st, _h, err = sim.call("GET", sim.rg_path("rg-s"), api_version="2099-01-01")
    assert st == 400 and err["error"]["code"] == "InvalidApiVersionParameter"
    assert err["error"]["message"].startswith("The api-version '2099-01-01' is invalid. The supported versions are '")


def test_every_routed_resource_type_has_spec_versions():
    """No hand-kept api-version list: each type a route serves gets its versions from specdata."""
    import os
    import sys
    import tempfile
    sys.path.insert(0, os.path.join(T.REPO, "tests", "simulator"))
    from azsim.app import Simulator
    arm = Simulator(tempfile.mkdtemp()).arm
    routed = {r.rtype for r in arm.table.routes if r.rtype}
    assert routed and all(arm.allowed_versions("GET", "/", t) for t in routed
                          if not t.lower().startswith("microsoft.resources/")), routed
    assert "2019-04-01" in arm.allowed_versions("GET", "/", "Microsoft.Compute/skus")


def test_key_vault_data_plane_versions_are_the_ones_the_specs_define(sim):
    """The keys data plane serves the api-versions of its spec files (specification/keyvault/data-plane/
    Microsoft.KeyVault/{stable,preview}/<version>/keys.json, listed in tests/simulator/spec_index.json, and
    stable/2025-07-01 in ../shared/specs); any other is BadParameter."""
    v = T.vault(sim, "rg-s", "kvdpv1")
    _grant(sim, v)
    uri = v["properties"]["vaultUri"]
    for version in ("7.3", "7.6-preview.2", "2025-07-01"):
        assert _kv(sim, "GET", uri, "/keys", api_version=version)[0] == 200, version
    st, _h, err = _kv(sim, "GET", uri, "/keys", api_version="7.7")
    assert st == 400 and err["error"]["code"] == "BadParameter"
    assert err["error"]["message"] == ("The specified version (7.7) is not recognized. Consider using the latest "
                                       "supported version (2025-07-01).")


def test_vm_identities_get_their_principal_ids(sim):
    """Microsoft Learn "Configure managed identities for Azure resources on an Azure VM using REST API calls": the
    response carries principalId and tenantId of the system-assigned identity and principalId/clientId of each
    user-assigned one (Compute spec VirtualMachineIdentity: readOnly principalId, tenantId)."""
    nic = T.network(sim, "rg-s", "mi")
    uai = "/subscriptions/%s/resourceGroups/rg-s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1" % (
        sim.subscription_id)
    body = T.cvm_body(nic, enc="VMGuestStateOnly")
    body["identity"] = {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uai: {}}}
    vm = T.ok(sim.call("PUT", sim.rg_path("rg-s") + VM + "mi", body, T.VM_API), 200, 201)
    ident = vm["identity"]
    assert ident["tenantId"] == sim.info["tenant_id"] and len(ident["principalId"]) == 36
    assert set(ident["userAssignedIdentities"][uai]) == {"principalId", "clientId"}
    again = T.ok(sim.call("GET", sim.rg_path("rg-s") + VM + "mi", api_version=T.VM_API))
    assert again["identity"]["principalId"] == ident["principalId"]


def test_windows_cvm_images_exist(sim):
    """Microsoft's CVM quickstart templates (Azure/azure-quickstart-templates, quickstarts/microsoft.compute/vm-cvm)
    use MicrosoftWindowsServer:windows-cvm:2022-datacenter-cvm; the seed's OS table lists Windows 11 and Windows
    Server 2022 Azure Edition as confidential-VM images."""
    nic = T.network(sim, "rg-s", "win")
    for name, image in (("w1", {"publisher": "MicrosoftWindowsServer", "offer": "windows-cvm",
                                "sku": "2022-datacenter-cvm", "version": "latest"}),
                        ("w2", {"publisher": "MicrosoftWindowsDesktop", "offer": "windows-11",
                                "sku": "win11-22h2-pro", "version": "latest"})):
        body = T.cvm_body(nic if name == "w1" else T.network(sim, "rg-s", "win2"), enc="VMGuestStateOnly",
                          image=image)
        T.ok(sim.call("PUT", sim.rg_path("rg-s") + VM + name, body, T.VM_API), 200, 201)
