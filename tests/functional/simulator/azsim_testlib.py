"""Helpers shared by the simulator test modules: SDK clients and the CMK / network building blocks."""
from __future__ import annotations

import importlib.util
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ORCHESTRATOR = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
JAMMY_CVM = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm",
             "version": "latest"}
FOCAL_CVM = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-focal", "sku": "20_04-lts-cvm",
             "version": "latest"}
JAMMY_PLAIN = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2",
               "version": "latest"}
VM_API = "2026-04-01"
DISK_API = "2026-03-02"
NET_API = "2024-05-01"
KV_API = "2024-11-01"
RG_API = "2025-04-01"
RELEASE_USER = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"
ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


def credential(sim):
    from azure.identity import ClientSecretCredential
    i = sim.info
    return ClientSecretCredential(i["tenant_id"], i["client_id"], i["client_secret"],
                                  authority=i["cloud_environment"]["authority_host"],
                                  disable_instance_discovery=True, connection_verify=sim.ca_bundle)


def compute(sim, **kw):
    from azure.mgmt.compute import ComputeManagementClient
    arm = sim.info["cloud_environment"]["arm_endpoint"]
    return ComputeManagementClient(credential(sim), sim.subscription_id, base_url=arm,
                                   credential_scopes=[arm + ".default"], connection_verify=sim.ca_bundle,
                                   polling_interval=0, **kw)


def key_client(sim, vault_uri, grant=True, **kw):
    """A KeyClient for the test principal; unless ``grant=False`` it first grants itself every key permission on
    the vault (nobody holds data-plane rights implicitly) and waits out the propagation delay."""
    from azure.keyvault.keys import KeyClient
    if grant:
        grant_self(sim, vault_uri)
    return KeyClient(vault_uri, credential(sim), verify_challenge_resource=False, connection_verify=sim.ca_bundle,
                     **kw)


def caller_object_id(sim) -> str:
    import base64
    payload = sim.token().split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["oid"]


def _vault_by_uri(sim, vault_uri):
    listing = ok(sim.call("GET", "/subscriptions/%s/resources" % sim.subscription_id, api_version=RG_API))
    for item in listing["value"]:
        if item["type"].lower() == "microsoft.keyvault/vaults":
            v = ok(sim.call("GET", item["id"], api_version=KV_API))
            if v["properties"].get("vaultUri", "").rstrip("/") == vault_uri.rstrip("/"):
                return v
    raise AssertionError("no vault with URI %s" % vault_uri)


def grant_self(sim, *vault_uris, timeout=30.0):
    """Access policy "all" keys (or Key Vault Crypto Officer on an RBAC vault) for the test principal on each
    vault, then wait until the data plane honours them (the grants propagate together)."""
    import time
    import uuid
    oid = caller_object_id(sim)
    for vault_uri in vault_uris:
        v = _vault_by_uri(sim, vault_uri)
        if v["properties"].get("enableRbacAuthorization"):
            ok(sim.call("PUT", v["id"] + "/providers/Microsoft.Authorization/roleAssignments/%s" % uuid.uuid4(),
                        {"properties": {"roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/"
                                                            "roleDefinitions/14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
                                                            % sim.subscription_id,
                                        "principalId": oid, "principalType": "ServicePrincipal"}},
                        api_version="2022-04-01"), 201, 409)
        else:
            ok(sim.call("PUT", v["id"] + "/accessPolicies/add", {"properties": {"accessPolicies": [{
                "tenantId": sim.info["tenant_id"], "objectId": oid, "permissions": {"keys": ["all"]}}]}}, KV_API))
    resource = "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    deadline = time.monotonic() + timeout
    for vault_uri in vault_uris:
        while True:
            status = sim.call("GET", vault_uri.rstrip("/") + "/keys?api-version=7.4", resource=resource)[0]
            if status != 403 or time.monotonic() > deadline:
                assert status == 200, status
                break
            time.sleep(0.25)


def ok(result, *statuses):
    status, _h, body = result
    assert status in (statuses or (200, 201, 202)), (status, body)
    return body


def group(sim, rg, location="eastus"):
    return ok(sim.call("PUT", sim.rg_path(rg), {"location": location}, RG_API))


def network(sim, rg, prefix="n", location="eastus", accelerated=False) -> str:
    base = sim.rg_path(rg) + "/providers/Microsoft.Network"
    ok(sim.call("PUT", base + "/virtualNetworks/%s-vnet" % prefix, {
        "location": location, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                             "subnets": [{"name": "default",
                                                          "properties": {"addressPrefix": "10.0.0.0/24"}}]}}, NET_API))
    nic = ok(sim.call("PUT", base + "/networkInterfaces/%s-nic" % prefix, {
        "location": location, "properties": {
            "enableAcceleratedNetworking": accelerated,
            "ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {
                "id": base + "/virtualNetworks/%s-vnet/subnets/default" % prefix}}}]}}, NET_API))
    return nic["id"]


def vault(sim, rg, name, sku="premium", location="eastus", rbac=False, purge_protection=True, policies=None):
    return ok(sim.call("PUT", sim.rg_path(rg) + "/providers/Microsoft.KeyVault/vaults/" + name, {
        "location": location, "properties": {
            "tenantId": sim.info["tenant_id"], "sku": {"family": "A", "name": sku},
            "accessPolicies": policies or [], "enableRbacAuthorization": rbac,
            "enablePurgeProtection": purge_protection or None, "enableSoftDelete": True}}, KV_API))


def cvm_policy(sim) -> dict:
    return {"version": "1.0.0", "anyOf": [{
        "authority": sim.info["cloud_environment"]["attestation_endpoint"],
        "allOf": [{"claim": "x-ms-compliance-status", "equals": "azure-compliant-cvm"}]}]}


def cmk_key(sim, vault_uri, name="cmk", policy=None):
    from azure.keyvault.keys import KeyReleasePolicy
    kc = key_client(sim, vault_uri)
    return kc.create_rsa_key(name, size=3072, hardware_protected=True, exportable=True,
                             key_operations=["wrapKey", "unwrapKey"],
                             release_policy=KeyReleasePolicy(json.dumps(policy or cvm_policy(sim)).encode()))


def orchestrator_object_id(sim) -> str:
    return ok(sim.call("GET", "/v1.0/servicePrincipals(appId='%s')" % ORCHESTRATOR))["id"]


def grant(sim, rg, vault_name, object_id, perms):
    return ok(sim.call("PUT", sim.rg_path(rg) + "/providers/Microsoft.KeyVault/vaults/%s/accessPolicies/add"
                       % vault_name, {"properties": {"accessPolicies": [{
                           "tenantId": sim.info["tenant_id"], "objectId": object_id,
                           "permissions": {"keys": perms}}]}}, KV_API))


def des(sim, rg, name, key_id, vault_id=None, enc="ConfidentialVmEncryptedWithCustomerKey"):
    active = {"keyUrl": key_id}
    if vault_id:
        active["sourceVault"] = {"id": vault_id}
    return ok(sim.call("PUT", sim.rg_path(rg) + "/providers/Microsoft.Compute/diskEncryptionSets/" + name, {
        "location": "eastus", "identity": {"type": "SystemAssigned"},
        "properties": {"encryptionType": enc, "activeKey": active}}, DISK_API))


def cmk_chain(sim, rg, vault_name, grant_orchestrator=True, grant_des=True, sku="premium"):
    """Vault + exportable RSA-HSM key with release policy + DES (+ the two grants). Returns a dict."""
    v = vault(sim, rg, vault_name, sku=sku)
    key = cmk_key(sim, v["properties"]["vaultUri"])
    d = des(sim, rg, vault_name + "-des", key.id, v["id"])
    if grant_orchestrator:
        grant(sim, rg, vault_name, orchestrator_object_id(sim), ["get", "release"])
    if grant_des:
        grant(sim, rg, vault_name, d["identity"]["principalId"], ["get", "wrapKey", "unwrapKey"])
    return {"vault": v, "key": key, "des": d}


def cvm_body(nic_id, size="Standard_DC2as_v5", enc="DiskWithVMGuestState", des_id=None, image=None,
             vtpm=True, secure_boot=True, location="eastus", security_type="ConfidentialVM", **extra_props):
    md = {"storageAccountType": "Premium_LRS"}
    if enc or des_id:
        md["securityProfile"] = {}
        if enc:
            md["securityProfile"]["securityEncryptionType"] = enc
        if des_id:
            md["securityProfile"]["diskEncryptionSet"] = {"id": des_id}
    props = {
        "hardwareProfile": {"vmSize": size},
        "storageProfile": {"imageReference": image or JAMMY_CVM,
                           "osDisk": {"createOption": "FromImage", "managedDisk": md}},
        "osProfile": {"computerName": "cvm", "adminUsername": "azureuser", "adminPassword": "Sup3r-Secret-Pw!"},
        "networkProfile": {"networkInterfaces": [{"id": nic_id}]}}
    if security_type:
        props["securityProfile"] = {"securityType": security_type,
                                    "uefiSettings": {"secureBootEnabled": secure_boot, "vTpmEnabled": vtpm}}
    props.update(extra_props)
    return {"location": location, "properties": props}


def load_by_path(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def snp_attestation_request():
    """A real Azure SEV-SNP CVM evidence (public vectors) as an MAA /attest/SevSnpVm request body."""
    from oracle_vectors import snp_attestation_request as build
    return build(nonce="azsim-test")
