"""Resource behaviours beyond the CVM path: PATCH, network references, standalone disks, vault rules, MAA admin."""
from __future__ import annotations

import datetime

import pytest

import azsim_testlib as T

NET = "/providers/Microsoft.Network/"


@pytest.mark.sdk_range
def test_vm_patch_merges_tags_and_size(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-p")
    nic = T.network(sim, "rg-p", "p")
    cc = T.compute(sim)
    cc.virtual_machines.begin_create_or_update("rg-p", "vm", T.cvm_body(nic, enc="VMGuestStateOnly")).result()
    vm = cc.virtual_machines.begin_update("rg-p", "vm", {"tags": {"owner": "team"},
                                                         "properties": {"hardwareProfile": {
                                                             "vmSize": "Standard_DC4as_v5"}}}).result()
    assert vm.tags == {"owner": "team"}
    got = T.ok(sim.call("GET", sim.rg_path("rg-p") + "/providers/Microsoft.Compute/virtualMachines/vm",
                        api_version=T.VM_API))
    assert got["properties"]["hardwareProfile"]["vmSize"] == "Standard_DC4as_v5"
    assert got["properties"]["securityProfile"]["securityType"] == "ConfidentialVM"     # untouched by the PATCH


def test_network_references_and_nic_in_use(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-n")
    base = sim.rg_path("rg-n") + NET
    nsg = T.ok(sim.call("PUT", base + "networkSecurityGroups/nsg", {"location": "eastus", "properties": {
        "securityRules": [{"name": "ssh", "properties": {"protocol": "Tcp", "sourcePortRange": "*",
                                                         "destinationPortRange": "22", "sourceAddressPrefix": "*",
                                                         "destinationAddressPrefix": "*", "access": "Allow",
                                                         "priority": 100, "direction": "Inbound"}}]}}, T.NET_API))
    assert len(nsg["properties"]["defaultSecurityRules"]) == 6
    pip_body = {"location": "eastus", "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static"}}
    pip = T.ok(sim.call("PUT", base + "publicIPAddresses/pip", pip_body, T.NET_API))
    assert pip["properties"]["ipAddress"].count(".") == 3
    T.ok(sim.call("PUT", base + "virtualNetworks/vnet", {"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}, T.NET_API))
    sub = T.ok(sim.call("PUT", base + "virtualNetworks/vnet/subnets/s1",
                        {"properties": {"addressPrefix": "10.1.2.0/24"}}, T.NET_API))
    assert sub["id"].endswith("/virtualNetworks/vnet/subnets/s1")
    assert [s["name"] for s in T.ok(sim.call("GET", base + "virtualNetworks/vnet/subnets",
                                             api_version=T.NET_API))["value"]] == ["s1"]
    missing = {"location": "eastus", "properties": {"ipConfigurations": [{"name": "ip", "properties": {
        "subnet": {"id": base + "virtualNetworks/vnet/subnets/nope"}}}]}}
    st, _h, err = sim.call("PUT", base + "networkInterfaces/bad", missing, T.NET_API)
    assert st == 400 and err["error"]["code"] == "InvalidResourceReference"
    nic = T.ok(sim.call("PUT", base + "networkInterfaces/nic", {"location": "eastus", "properties": {
        "networkSecurityGroup": {"id": nsg["id"]},
        "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": sub["id"]},
                                                           "publicIPAddress": {"id": pip["id"]}}}]}}, T.NET_API))
    assert nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "10.1.2.4"
    T.ok(sim.call("PUT", sim.rg_path("rg-n") + "/providers/Microsoft.Compute/virtualMachines/vm",
                  T.cvm_body(nic["id"], enc="VMGuestStateOnly"), T.VM_API))
    st, _h, err = sim.call("DELETE", base + "networkInterfaces/nic", api_version=T.NET_API)
    assert st == 400 and err["error"]["code"] == "NicInUse"
    other = T.network(sim, "rg-n", "other")
    body = T.cvm_body(nic["id"], enc="VMGuestStateOnly")
    st, _h, err = sim.call("PUT", sim.rg_path("rg-n") + "/providers/Microsoft.Compute/virtualMachines/vm2", body,
                           T.VM_API)
    assert st == 400 and err["error"]["code"] == "NicInUse"
    assert other


def test_standalone_disk_and_attached_disk_delete(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-d")
    disk_path = sim.rg_path("rg-d") + "/providers/Microsoft.Compute/disks/data1"
    st, h, disk = sim.call("PUT", disk_path, {"location": "eastus", "sku": {"name": "Premium_LRS"}, "properties": {
        "creationData": {"createOption": "Empty"}, "diskSizeGB": 64}}, T.DISK_API)
    assert st == 202 and "azure-asyncoperation" in h and "location" in h
    got = T.ok(sim.call("GET", disk_path, api_version=T.DISK_API))
    assert got["properties"]["diskState"] == "Unattached" and got["properties"]["diskSizeBytes"] == 64 * 1024 ** 3
    nic = T.network(sim, "rg-d", "d")
    body = T.cvm_body(nic, enc="VMGuestStateOnly")
    body["properties"]["storageProfile"]["dataDisks"] = [{"lun": 0, "createOption": "Attach",
                                                          "managedDisk": {"id": got["id"]}}]
    T.ok(sim.call("PUT", sim.rg_path("rg-d") + "/providers/Microsoft.Compute/virtualMachines/vm", body, T.VM_API))
    st, _h, err = sim.call("DELETE", disk_path, api_version=T.DISK_API)
    assert st == 409 and err["error"]["code"] == "OperationNotAllowed"


def test_zone_restrictions(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-z")
    nic = T.network(sim, "rg-z", "z")
    body = T.cvm_body(nic, size="Standard_DC64es_v5", enc="VMGuestStateOnly")
    body["zones"] = ["3"]
    st, _h, err = sim.call("PUT", sim.rg_path("rg-z") + "/providers/Microsoft.Compute/virtualMachines/z3", body,
                           T.VM_API)
    assert st == 409 and err["error"]["code"] == "SkuNotAvailable"
    body["zones"] = ["1"]
    assert sim.call("PUT", sim.rg_path("rg-z") + "/providers/Microsoft.Compute/virtualMachines/z1", body,
                    T.VM_API)[0] == 201


def test_vault_rules(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-v")
    T.group(sim, "rg-v2")
    v = T.vault(sim, "rg-v", "kvrules1")
    assert v["properties"]["enablePurgeProtection"] is True and v["properties"]["vaultUri"].startswith("https://127.")
    body = {"location": "eastus", "properties": {"tenantId": sim.info["tenant_id"], "sku": {"family": "A",
            "name": "premium"}, "accessPolicies": [], "enablePurgeProtection": False}}
    st, _h, err = sim.call("PUT", v["id"], body, T.KV_API)
    assert st == 400 and "irreversible" in err["error"]["message"]
    st, _h, err = sim.call("PUT", sim.rg_path("rg-v2") + "/providers/Microsoft.KeyVault/vaults/kvrules1",
                           dict(body, properties=dict(body["properties"], enablePurgeProtection=True)), T.KV_API)
    assert st == 409 and err["error"]["code"] == "VaultAlreadyExists"
    st, _h, err = sim.call("PUT", sim.rg_path("rg-v") + "/providers/Microsoft.KeyVault/vaults/1bad", body, T.KV_API)
    assert st == 400 and err["error"]["code"] == "VaultNameNotValid"
    pol = T.grant(sim, "rg-v", "kvrules1", T.orchestrator_object_id(sim), ["get", "release"])
    assert pol["properties"]["accessPolicies"][0]["permissions"]["keys"] == ["get", "release"]
    pol = T.ok(sim.call("PUT", v["id"] + "/accessPolicies/remove", {"properties": {"accessPolicies": [{
        "tenantId": sim.info["tenant_id"], "objectId": T.orchestrator_object_id(sim),
        "permissions": {"keys": ["release"]}}]}}, T.KV_API))
    assert pol["properties"]["accessPolicies"][0]["permissions"]["keys"] == ["get"]
    assert sim.call("DELETE", v["id"], api_version=T.KV_API)[0] == 200
    assert sim.call("GET", v["id"], api_version=T.KV_API)[0] == 404


def test_attestation_trust_root_admin_route(simulator):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ARK")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA384()))
    added = simulator.add_trust_root(cert.public_bytes(serialization.Encoding.PEM))
    assert added["trust_roots_added"] >= 1
    st, _h, err = simulator.call("POST", "/_sim/attestation/trust-roots", raw=b"not a pem", auth=False)
    assert st == 400 and err["error"]["code"] == "InvalidCertificate"
