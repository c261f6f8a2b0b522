"""The real, unpatched Azure SDKs against the simulator (also run in the low-end sdk_range venv)."""
from __future__ import annotations

import json

import pytest

import azsim_testlib as T

pytestmark = pytest.mark.sdk_range


def prop(model, name):
    """Read a property of an SDK model for both SDK generations (flat <= 37, under .properties >= 38)."""
    props = getattr(model, "properties", None)
    if props is not None and hasattr(props, name):
        return getattr(props, name)
    return getattr(model, name)


def test_client_secret_credential_token_and_wrong_secret(simulator):
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential
    arm = simulator.info["cloud_environment"]["arm_endpoint"]
    tok = T.credential(simulator).get_token(arm + ".default")
    assert tok.token.count(".") == 2 and tok.expires_on > 0
    i = simulator.info
    bad = ClientSecretCredential(i["tenant_id"], i["client_id"], "not-the-secret",
                                 authority=i["cloud_environment"]["authority_host"],
                                 disable_instance_discovery=True, connection_verify=simulator.ca_bundle)
    with pytest.raises(ClientAuthenticationError) as err:
        bad.get_token(arm + ".default")
    assert "AADSTS7000215" in str(err.value)


def test_wrong_secret_error_shape(simulator):
    i = simulator.info
    status, _h, body = simulator.call("POST", "/%s/oauth2/v2.0/token" % i["tenant_id"], auth=False,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                                      raw=("grant_type=client_credentials&client_id=%s&client_secret=nope&scope="
                                           "https%%3A%%2F%%2Fx%%2F.default" % i["client_id"]).encode())
    assert status == 401
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)


def test_full_confidential_vm_flow_with_cmk(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-sdk")
    nic = T.network(sim, "rg-sdk", "sdk")
    chain = T.cmk_chain(sim, "rg-sdk", "kvsdk1")
    cc = T.compute(sim)
    des = cc.disk_encryption_sets.get("rg-sdk", "kvsdk1-des")
    assert prop(des, "encryption_type") == "ConfidentialVmEncryptedWithCustomerKey"
    assert des.identity.principal_id == chain["des"]["identity"]["principalId"]

    body = T.cvm_body(nic, des_id=des.id)
    body["properties"]["storageProfile"]["osDisk"]["deleteOption"] = "Detach"
    vm = cc.virtual_machines.begin_create_or_update("rg-sdk", "cvm1", body).result()
    assert prop(vm, "provisioning_state") == "Succeeded"
    sec = prop(vm, "security_profile")
    assert sec.security_type == "ConfidentialVM" and sec.uefi_settings.v_tpm_enabled
    osd = prop(vm, "storage_profile").os_disk
    assert osd.managed_disk.security_profile.disk_encryption_set.id.lower() == des.id.lower()
    assert prop(vm, "os_profile").admin_password is None      # secrets are never returned

    got = cc.virtual_machines.get("rg-sdk", "cvm1", expand="instanceView")
    assert prop(got, "vm_id") == prop(vm, "vm_id")
    codes = [s.code for s in prop(got, "instance_view").statuses]
    assert codes == ["ProvisioningState/succeeded", "PowerState/running"]
    assert [v.name for v in cc.virtual_machines.list("rg-sdk")] == ["cvm1"]
    assert "cvm1" in [v.name for v in cc.virtual_machines.list_all()]

    disk = cc.disks.get("rg-sdk", osd.name)
    assert disk.managed_by.lower() == vm.id.lower()
    assert prop(disk, "security_profile").security_type == "ConfidentialVM_DiskEncryptedWithCustomerKey"

    for op, state in (("begin_power_off", "stopped"), ("begin_start", "running"), ("begin_restart", "running"),
                      ("begin_deallocate", "deallocated")):
        getattr(cc.virtual_machines, op)("rg-sdk", "cvm1").result()
        assert cc.virtual_machines.instance_view("rg-sdk", "cvm1").statuses[1].code == "PowerState/" + state

    cc.virtual_machines.begin_delete("rg-sdk", "cvm1").result()
    assert [v.name for v in cc.virtual_machines.list("rg-sdk")] == []
    left = cc.disks.get("rg-sdk", osd.name)          # deleteOption Detach keeps the OS disk
    assert left.managed_by is None and prop(left, "disk_state") == "Unattached"
    cc.disks.begin_delete("rg-sdk", osd.name).result()
    assert [d.name for d in cc.disks.list_by_resource_group("rg-sdk")] == []
    cc.disk_encryption_sets.begin_delete("rg-sdk", "kvsdk1-des").result()
    assert list(cc.disk_encryption_sets.list_by_resource_group("rg-sdk")) == []


def test_os_disk_deleted_with_vm_when_delete_option_is_delete(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-del")
    nic = T.network(sim, "rg-del", "del")
    cc = T.compute(sim)
    body = T.cvm_body(nic, enc="VMGuestStateOnly")
    body["properties"]["storageProfile"]["osDisk"]["deleteOption"] = "Delete"
    vm = cc.virtual_machines.begin_create_or_update("rg-del", "vm", body).result()
    name = prop(vm, "storage_profile").os_disk.name
    assert cc.disks.get("rg-del", name).name == name
    cc.virtual_machines.begin_delete("rg-del", "vm").result()
    assert list(cc.disks.list_by_resource_group("rg-del")) == []


def test_resource_skus_catalogue(simulator):
    cc = T.compute(simulator)
    skus = [s for s in cc.resource_skus.list(filter="location eq 'eastus'") if s.resource_type == "virtualMachines"]
    caps = {s.name: {c.name: c.value for c in s.capabilities} for s in skus}
    assert caps["Standard_DC2as_v5"]["ConfidentialComputingType"] == "SNP"
    assert caps["Standard_DC2es_v5"]["ConfidentialComputingType"] == "TDX"
    assert caps["Standard_DC2as_v6"]["ConfidentialComputingType"] == "SNP"
    assert caps["Standard_DC2as_v5"]["MaxResourceVolumeMB"] == "0"
    assert int(caps["Standard_DC2ads_v5"]["MaxResourceVolumeMB"]) > 0
    assert "ConfidentialComputingType" not in caps["Standard_D2s_v5"]
    assert caps["Standard_EC4as_v5"]["MemoryGB"] == "32" and caps["Standard_EC4as_v5"]["vCPUs"] == "4"
    restricted = [s for s in skus if s.restrictions]
    assert any(r.reason_code == "NotAvailableForSubscription" for s in restricted for r in s.restrictions)
    assert all(s.location_info[0].zones == ["1", "2", "3"] for s in skus)


def test_key_client_lifecycle(fresh_simulator):
    from azure.keyvault.keys import KeyReleasePolicy
    sim = fresh_simulator
    T.group(sim, "rg-kv")
    v = T.vault(sim, "rg-kv", "kvlife1")
    kc = T.key_client(sim, v["properties"]["vaultUri"])
    key = T.cmk_key(sim, v["properties"]["vaultUri"], "k1")
    assert key.key_type == "RSA-HSM" and key.properties.exportable is True
    assert len(key.key.n) == 384                              # 3072-bit modulus
    assert json.loads(key.properties.release_policy.encoded_policy)["anyOf"][0]["authority"] == \
        sim.info["cloud_environment"]["attestation_endpoint"]
    assert kc.get_key("k1").id == key.id
    assert kc.get_key("k1", key.properties.version).id == key.id
    updated = kc.update_key_properties("k1", key.properties.version, tags={"env": "test"},
                                       key_operations=["wrapKey"])
    assert updated.properties.tags == {"env": "test"} and updated.key_operations == ["wrapKey"]
    rotated = kc.rotate_key("k1")
    assert rotated.properties.version != key.properties.version
    versions = [p.version for p in kc.list_properties_of_key_versions("k1")]
    assert versions == [key.properties.version, rotated.properties.version]
    assert kc.get_key("k1").properties.version == rotated.properties.version
    policy = kc.get_key_rotation_policy("k1")
    assert policy.lifetime_actions[0].action.lower() == "notify"
    from azure.keyvault.keys import KeyRotationLifetimeAction, KeyRotationPolicy, KeyRotationPolicyAction
    kc.update_key_rotation_policy("k1", KeyRotationPolicy(lifetime_actions=[KeyRotationLifetimeAction(
        KeyRotationPolicyAction.rotate, time_after_create="P90D")], expires_in="P1Y"))
    assert kc.get_key_rotation_policy("k1").lifetime_actions[0].time_after_create == "P90D"
    immutable = kc.create_rsa_key("k2", size=2048, hardware_protected=True, exportable=True,
                                  release_policy=KeyReleasePolicy(json.dumps(T.cvm_policy(sim)).encode(),
                                                                  immutable=True))
    from azure.core.exceptions import HttpResponseError
    with pytest.raises(HttpResponseError) as err:
        kc.update_key_properties("k2", immutable.properties.version,
                                 release_policy=KeyReleasePolicy(b'{"version":"1.0.0","anyOf":[]}'))
    assert "immutable" in err.value.message
    deleted = kc.begin_delete_key("k1").result()
    assert deleted.recovery_id.endswith("/deletedkeys/k1")
    assert kc.get_deleted_key("k1").name == "k1"
    with pytest.raises(HttpResponseError) as err:
        kc.create_rsa_key("k1", size=2048)
    assert err.value.status_code == 409
    kc.begin_recover_deleted_key("k1").result()
    assert kc.get_key("k1").properties.version == rotated.properties.version
    assert sorted(p.name for p in kc.list_properties_of_keys()) == ["k1", "k2"]
