"""Confidential-VM platform rules: each rejection with its code and message, and that nothing was created."""
from __future__ import annotations

import pytest

import azsim_testlib as T

VM = "/providers/Microsoft.Compute/virtualMachines/"


@pytest.fixture
def env(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-c")
    nic = T.network(sim, "rg-c", "c")
    return sim, nic


def put(sim, body, name="cvm"):
    path = sim.rg_path("rg-c") + VM + name
    st, _h, res = sim.call("PUT", path, body, T.VM_API)
    if st >= 400:
        assert sim.call("GET", path, api_version=T.VM_API)[0] == 404, "a rejected PUT must not create the VM"
    return st, res


def rejected(sim, body, status, code, message=None, contains=None):
    st, res = put(sim, body)
    assert st == status, res
    assert res["error"]["code"] == code, res
    if message is not None:
        assert res["error"]["message"] == message
    if contains is not None:
        assert contains in res["error"]["message"], res["error"]["message"]
    return res["error"]


def test_accepted_snp_tdx_and_nonpersisted(env):
    sim, nic = env
    for i, (size, enc) in enumerate((("Standard_DC2as_v5", "DiskWithVMGuestState"),
                                     ("Standard_DC4es_v5", "VMGuestStateOnly"),
                                     ("Standard_EC8ads_v5", "NonPersistedTPM"),
                                     ("Standard_DC2as_v6", "DiskWithVMGuestState"))):
        nic_i = T.network(sim, "rg-c", "ok%d" % i)
        st, res = put(sim, T.cvm_body(nic_i, size=size, enc=enc), name="ok%d" % i)
        assert st == 201, res
    disk = sim.call("GET", sim.rg_path("rg-c") + "/providers/Microsoft.Compute/disks", api_version=T.DISK_API)[2]
    types = sorted(d["properties"]["securityProfile"]["securityType"] for d in disk["value"])
    assert types == ["ConfidentialVM_DiskEncryptedWithPlatformKey", "ConfidentialVM_DiskEncryptedWithPlatformKey",
                     "ConfidentialVM_NonPersistedTPM", "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey"]


def test_missing_security_encryption_type(env):
    sim, nic = env
    rejected(sim, T.cvm_body(nic, enc=None), 400, "BadRequest",
             "Required parameter for Confidential VMs 'managedDisk.securityProfile.securityEncryptionType' is "
             "missing (null).")


def test_vtpm_required(env):
    sim, nic = env
    err = rejected(sim, T.cvm_body(nic, vtpm=False), 400, "BadRequest", contains="vTPM")
    assert err["target"] == "securityProfile.uefiSettings.vTpmEnabled"


def test_secure_boot_required_for_full_disk_encryption(env):
    sim, nic = env
    rejected(sim, T.cvm_body(nic, secure_boot=False), 400, "BadRequest", contains="Secure Boot must be enabled")
    st, _res = put(sim, T.cvm_body(nic, secure_boot=False, enc="VMGuestStateOnly"), name="nosb")
    assert st == 201


def test_size_without_confidential_computing(env):
    sim, nic = env
    rejected(sim, T.cvm_body(nic, size="Standard_D2s_v5", enc="VMGuestStateOnly"), 400, "BadRequest",
             "The VM size 'Standard_D2s_v5' is not supported for creation of VMs and Virtual Machine Scale Set with "
             "'ConfidentialVM' security type and managedDisk.securityProfile.securityEncryptionType set as "
             "'VMGuestStateOnly'")


def test_confidential_size_without_confidential_security_type(env):
    sim, nic = env
    rejected(sim, T.cvm_body(nic, enc=None, security_type=None, image=T.JAMMY_PLAIN), 400, "BadRequest",
             "The VM size 'Standard_DC2as_v5' is not supported for creation of VMs and Virtual Machine Scale Set with "
             "'<NULL>' security type.")


def test_region_and_size_availability(env):
    sim, _nic = env
    T.group(sim, "rg-w3", "westus3")
    nic_w3 = T.network(sim, "rg-w3", "w3", location="westus3")
    st, _h, res = sim.call("PUT", sim.rg_path("rg-w3") + VM + "v", T.cvm_body(nic_w3, location="westus3"), T.VM_API)
    assert st == 400 and res["error"]["message"] == ("Creation of VMs and Virtual Machine Scale Sets with "
                                                     "ConfidentialVM security type is not supported in this region.")
    T.group(sim, "rg-wus", "westus")
    nic_wus = T.network(sim, "rg-wus", "wus", location="westus")
    body = T.cvm_body(nic_wus, size="Standard_DC2es_v5", location="westus")
    st, _h, res = sim.call("PUT", sim.rg_path("rg-wus") + VM + "v", body, T.VM_API)
    # a size the region does not offer: 409 SkuNotAvailable (issue 11, "Different from Azure"), not a CVM message
    assert st == 409 and res["error"]["code"] == "SkuNotAvailable"
    assert "Standard_DC2es_v5' is currently not available in location 'westus'" in res["error"]["message"]
    T.group(sim, "rg-weu", "westeurope")
    nic_weu = T.network(sim, "rg-weu", "weu", location="westeurope")
    st, _h, res = sim.call("PUT", sim.rg_path("rg-weu") + VM + "v", T.cvm_body(
        nic_weu, size="Standard_DC96as_v5", location="westeurope"), T.VM_API)
    assert st == 409 and res["error"]["code"] == "SkuNotAvailable"
    assert "Standard_DC96as_v5' is currently not available in location 'westeurope'" in res["error"]["message"]


def test_image_must_support_confidential_vm(env):
    sim, nic = env
    rejected(sim, T.cvm_body(nic, image=T.JAMMY_PLAIN), 400, "InvalidParameter",
             "SecurityType 'ConfidentialVM_DiskEncryptedWithPlatformKey' is not supported by given image.")
    # Ubuntu 20.04 CVM images are SEV-SNP only
    rejected(sim, T.cvm_body(nic, image=T.FOCAL_CVM, size="Standard_DC2es_v5", enc="VMGuestStateOnly"), 400,
             "InvalidParameter", "SecurityType 'ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey' is not "
             "supported by given image.")
    st, _res = put(sim, T.cvm_body(nic, image=T.FOCAL_CVM, size="Standard_DC2as_v5"), name="focal")
    assert st == 201
    unknown = dict(T.JAMMY_CVM, sku="99_04-lts-cvm")
    err = rejected(sim, T.cvm_body(nic, image=unknown), 404, "PlatformImageNotFound")
    assert err["message"].startswith("The platform image 'Canonical:0001-com-ubuntu-confidential-vm-jammy:"
                                     "99_04-lts-cvm:latest' is not available.")


def test_unsupported_features(env):
    sim, nic = env
    rejected(sim, T.cvm_body(nic, priority="Spot", evictionPolicy="Delete"), 400, "InvalidParameter",
             contains="Spot")
    accel = T.network(sim, "rg-c", "accel", accelerated=True)
    rejected(sim, T.cvm_body(accel), 400, "VMSizeIsNotPermittedToEnableAcceleratedNetworking",
             contains="Standard_DC2as_v5")
    body = T.cvm_body(nic)
    body["properties"]["storageProfile"]["dataDisks"] = [{"lun": 0, "createOption": "Empty", "diskSizeGB": 64,
                                                          "managedDisk": {"storageAccountType": "UltraSSD_LRS"}}]
    rejected(sim, body, 400, "InvalidParameter", contains="Ultra disks")


def test_des_rules(env):
    sim, nic = env
    chain = T.cmk_chain(sim, "rg-c", "kvcvm1")
    des_id = chain["des"]["id"]
    rejected(sim, T.cvm_body(nic, enc="VMGuestStateOnly", des_id=des_id), 400, "InvalidParameter",
             contains="can only be set when 'managedDisk.securityProfile.securityEncryptionType' is "
                      "'DiskWithVMGuestState'")
    sse = T.des(sim, "rg-c", "sse-des", chain["key"].id, chain["vault"]["id"], enc="EncryptionAtRestWithCustomerKey")
    rejected(sim, T.cvm_body(nic, des_id=sse["id"]), 400, "InvalidParameter",
             contains="'ConfidentialVmEncryptedWithCustomerKey'")
    wrong_place = T.cvm_body(nic)
    wrong_place["properties"]["storageProfile"]["osDisk"]["managedDisk"]["diskEncryptionSet"] = {"id": des_id}
    rejected(sim, wrong_place, 400, "InvalidParameter", contains="must be set in "
             "'managedDisk.securityProfile.diskEncryptionSet'")
    st, res = put(sim, T.cvm_body(nic, des_id=des_id))
    assert st == 201, res


def test_des_key_must_be_exportable_hsm_with_policy(env):
    sim, nic = env
    v = T.vault(sim, "rg-c", "kvweak1")
    kc = T.key_client(sim, v["properties"]["vaultUri"])
    soft = kc.create_rsa_key("soft", size=2048)
    hsm = kc.create_rsa_key("hsm", size=2048, hardware_protected=True)
    for key, needle in ((soft, "HSM-protected"), (hsm, "exportable and have a release policy")):
        d = T.des(sim, "rg-c", "des-" + key.name, key.id, v["id"])
        rejected(sim, T.cvm_body(nic, des_id=d["id"]), 400, "InvalidParameter", contains=needle)


def test_orchestrator_and_des_identity_grants(env):
    sim, nic = env
    chain = T.cmk_chain(sim, "rg-c", "kvgrant1", grant_orchestrator=False, grant_des=False)
    body = T.cvm_body(nic, des_id=chain["des"]["id"])
    err = rejected(sim, body, 403, "KeyVaultAccessForbidden", contains="Confidential VM Orchestrator")
    assert "'get' and 'release'" in err["message"]
    T.grant(sim, "rg-c", "kvgrant1", T.orchestrator_object_id(sim), ["get"])
    rejected(sim, body, 403, "KeyVaultAccessForbidden", contains="Confidential VM Orchestrator")
    T.grant(sim, "rg-c", "kvgrant1", T.orchestrator_object_id(sim), ["release"])
    rejected(sim, body, 403, "KeyVaultAccessForbidden", contains="grant get, wrap key and unwrap key permissions")
    T.grant(sim, "rg-c", "kvgrant1", chain["des"]["identity"]["principalId"], ["get", "wrapKey", "unwrapKey"])
    sim.remove_principal(T.ORCHESTRATOR)
    rejected(sim, body, 400, "ConfidentialVMOrchestratorNotFound")
    sim.admin("PUT", "/_sim/graph/servicePrincipals/" + T.ORCHESTRATOR, {"displayName": "Confidential VM Orchestrator"})
    st, res = put(sim, body)
    assert st == 201, res


def test_rbac_vault_grants_via_role_assignments(env):
    sim, nic = env
    v = T.vault(sim, "rg-c", "kvrole1", rbac=True)
    key = T.cmk_key(sim, v["properties"]["vaultUri"])
    d = T.des(sim, "rg-c", "des-role", key.id, v["id"])
    body = T.cvm_body(nic, des_id=d["id"])
    rejected(sim, body, 403, "KeyVaultAccessForbidden", contains="Confidential VM Orchestrator")

    def assign(scope, role, principal, n):
        path = scope + "/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-%012d" % n
        T.ok(sim.call("PUT", path, {"properties": {
            "roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                                % (sim.subscription_id, role), "principalId": principal}}, "2022-04-01"))
    assign(v["id"] + "/keys/cmk", T.RELEASE_USER, T.orchestrator_object_id(sim), 1)
    rejected(sim, body, 403, "KeyVaultAccessForbidden", contains="grant get, wrap key and unwrap key permissions")
    assign(v["id"], T.ENCRYPTION_USER, d["identity"]["principalId"], 2)
    st, res = put(sim, body)
    assert st == 201, res
