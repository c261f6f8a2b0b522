# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nothing silently dropped: every request body the pure builders produce round-trips through the SDK model that
sends it (azure-mgmt-compute for VMs and disk encryption sets, azure-keyvault-keys for keys).

msrest-style models (azure-mgmt-compute < 34, azure-keyvault-keys' generated models): ``Model.from_dict(body)``
serialized again must equal ``body`` (an unknown key vanishes, a misspelt one changes).  TypeSpec models
(azure-mgmt-compute >= 34) keep unknown keys, so there every key of the body must also be a field the model
knows, at every depth.  Runs in the newest and in the lowest supported SDK venv (make compat).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._cvm import des_body, vm_body
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import key
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import release_policy as rp

compute_models = pytest.importorskip("azure.mgmt.compute.models")

SUB = "/subscriptions/s/resourceGroups/rg/providers"
NIC = SUB + "/Microsoft.Network/networkInterfaces/cvm1-nic"
NIC2 = SUB + "/Microsoft.Network/networkInterfaces/extra"
DES = SUB + "/Microsoft.Compute/diskEncryptionSets/des1"
VAULT = SUB + "/Microsoft.KeyVault/vaults/kv1"
UAI = SUB + "/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"
EUS = "https://sharedeus.eus.attest.azure.net"


def keyvault_models():
    """azure-keyvault-keys' generated models (their package moved between releases)."""
    for name in ("azure.keyvault.keys._generated.models", "azure.keyvault.keys._generated.v7_3.models"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise AssertionError("azure-keyvault-keys has no generated models package this test knows")


def _is_typespec(model):
    return hasattr(type(model), "_attr_to_rest_field") and hasattr(model, "as_dict")


def _unknown_keys(model, data, path):
    """Keys of data (at any depth) the TypeSpec model has no field for."""
    fields = dict((field._rest_name, attr)  # pylint: disable=protected-access
                  for attr, field in type(model)._attr_to_rest_field.items())  # pylint: disable=protected-access
    out = []
    for name, value in data.items():
        where = "%s.%s" % (path, name)
        if name not in fields:
            out.append(where)
            continue
        out.extend(_unknown_nested(getattr(model, fields[name]), value, where))
    return out


def _unknown_nested(sub, value, where):
    if _is_typespec(sub) and isinstance(value, dict):
        return _unknown_keys(sub, value, where)
    if isinstance(value, list) and isinstance(sub, list):
        return [k for index, (m, v) in enumerate(zip(sub, value))
                for k in _unknown_nested(m, v, "%s[%d]" % (where, index))]
    if isinstance(value, dict) and isinstance(sub, dict):
        return [k for name in value for k in _unknown_nested(sub.get(name), value[name], "%s.%s" % (where, name))]
    return []


def assert_roundtrip(model_class, body):
    if not hasattr(model_class, "from_dict"):  # TypeSpec model (its field table is built on first use)
        model = model_class(body)
        assert _unknown_keys(model, body, model_class.__name__) == []
        assert model.as_dict() == body
    else:
        again = model_class.from_dict(body).serialize(keep_readonly=True)
        assert again == body, "%s dropped or changed: %r" % (model_class.__name__, _difference(body, again))


def _difference(want, got, path=""):
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for name in set(want) | set(got):
            if name not in got:
                out.append("%s.%s missing" % (path, name))
            elif name not in want:
                out.append("%s.%s added" % (path, name))
            else:
                out.extend(_difference(want[name], got[name], "%s.%s" % (path, name)))
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (a, b) in enumerate(zip(want, got)) for d in _difference(a, b, "%s[%d]" % (path, i))]
    return [] if want == got else ["%s: %r != %r" % (path, want, got)]


# ------------------------------------------------------------------------------------------------ VMs

def vm_params(**over):
    out = dict(name="cvm1", size="Standard_DC2as_v5", admin_username="azureuser", ssh_public_keys=[SSH],
               image=dict(publisher="Canonical", offer="0001-com-ubuntu-confidential-vm-jammy", sku="22_04-lts-cvm",
                          version="latest"),
               security_encryption_type="DiskWithVMGuestState", secure_boot=None, encryption_at_host=None,
               os_disk_size_gb=None, os_disk_type=None, data_disks=None, zone=None, tags={"a": "1"})
    out.update(over)
    return out


VM_VARIANTS = {
    "linux-cmk": (vm_params(), [(NIC, True)], DES, "Linux"),
    "linux-platform-key-everything": (vm_params(
        security_encryption_type="VMGuestStateOnly", secure_boot=False, encryption_at_host=True, os_disk_size_gb=64,
        os_disk_type="StandardSSD_LRS", os_disk_caching="ReadOnly", zone=2, boot_diagnostics=True,
        computer_name="host1", custom_data="#cloud-config\n",
        identity=dict(type="SystemAssigned, UserAssigned", user_assigned_identities=dict(id=[UAI], append=False)),
        data_disks=[dict(lun=1, size_gb=32, caching="None", storage_account_type="Premium_LRS", name="d1"),
                    dict(lun=0, size_gb=16)]), [(NIC, True), (NIC2, False)], None, "Linux"),
    "windows-password": (vm_params(admin_password="S3cret-Passw0rd!", ssh_public_keys=[],
                                   image=dict(publisher="MicrosoftWindowsServer", offer="windows-cvm",
                                              sku="2022-datacenter-cvm")), [(NIC, True)], DES, "Windows"),
    "image-id": (vm_params(image=dict(id=SUB + "/Microsoft.Compute/galleries/g/images/i/versions/1.0.0")),
                 [(NIC, False)], None, "Linux"),
}


@pytest.mark.parametrize("variant", sorted(VM_VARIANTS))
def test_vm_put_body_round_trips_through_virtual_machine(variant):
    params, nics, des, os_type = VM_VARIANTS[variant]
    assert_roundtrip(compute_models.VirtualMachine, vm_body.build_vm_body(params, "eastus", nics, des, os_type))


def _change(before, after):
    return {"before": before, "after": after}


CURRENT_VM = {"properties": {"storageProfile": {"dataDisks": [
    {"lun": 0, "name": "cvm1-data-0", "caching": "ReadOnly", "deleteOption": "Delete",
     "managedDisk": {"id": SUB + "/Microsoft.Compute/disks/cvm1-data-0"}}]}}}

PATCH_VARIANTS = {
    "tags": {"tags": _change({}, {"a": "b"})},
    "size-secure-boot-host-encryption": {"size": _change("Standard_DC2as_v5", "Standard_DC4as_v5"),
                                         "secure_boot": _change(True, False),
                                         "encryption_at_host": _change(False, True)},
    "disks-and-diagnostics": {"os_disk_size_gb": _change(30, 64), "os_disk_caching": _change("ReadWrite", "None"),
                              "boot_diagnostics": _change(False, True),
                              "data_disks": _change([], [0, 1])},
    "identity": {"identity": _change({"type": "UserAssigned", "user_assigned_identities": [UAI + "old"]},
                                     {"type": "SystemAssigned, UserAssigned", "user_assigned_identities": [UAI]})},
    "network": {"network_interfaces": _change([NIC], [NIC, NIC2])},
}


@pytest.mark.parametrize("variant", sorted(PATCH_VARIANTS))
def test_vm_patch_body_round_trips_through_virtual_machine_update(variant):
    params = vm_params(data_disks=[dict(lun=0, size_gb=16),
                                   dict(lun=1, size_gb=32, storage_account_type="Premium_LRS")])
    body = vm_body.build_patch(PATCH_VARIANTS[variant], CURRENT_VM, params, [(NIC, True), (NIC2, False)])
    assert body
    assert_roundtrip(compute_models.VirtualMachineUpdate, body)


# ------------------------------------------------------------------------------- disk encryption sets

DES_VARIANTS = {
    "system-assigned": dict(key_url="https://kv1.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef"),
    "user-assigned-federated-rotation": dict(
        key_url="https://kv1.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef", identity="UserAssigned",
        user_assigned_identity=UAI, federated_client_id="00000000-0000-0000-0000-000000000001",
        rotation_to_latest_key_version=True, encryption_type="EncryptionAtRestWithCustomerKey"),
}


@pytest.mark.parametrize("variant", sorted(DES_VARIANTS))
def test_des_body_round_trips_through_disk_encryption_set(variant):
    body = des_body.des_body(DES_VARIANTS[variant], "eastus", VAULT, {"team": "x"})
    assert_roundtrip(compute_models.DiskEncryptionSet, body)


# ------------------------------------------------------------------------------------------------ keys

def key_want(**over):
    want = dict(kty="RSA-HSM", key_size=3072, key_ops=["unwrapKey", "wrapKey"], exportable=True, enabled=True,
                tags={"a": "b"}, release_policy=rp.default_cvm([EUS]), release_policy_immutable=False)
    want.update(over)
    return want


@pytest.mark.parametrize("want", [key_want(), key_want(release_policy_immutable=True, tags=None),
                                  key_want(kty="RSA", key_size=2048, exportable=False, release_policy=None,
                                           enabled=False)])
def test_key_create_body_round_trips_through_key_create_parameters(want):
    assert_roundtrip(keyvault_models().KeyCreateParameters, key.create_body(want))


class _Plan:
    update = ("key_ops", "enabled", "tags", "release_policy")


def test_key_update_body_round_trips_through_key_update_parameters():
    assert_roundtrip(keyvault_models().KeyUpdateParameters, key.update_body(key_want(enabled=False), _Plan()))


@pytest.mark.parametrize("param", [
    {"expiry_time": "p1y", "lifetime_actions": [
        {"action": "rotate", "time_after_create": "p90d", "time_before_expiry": None},
        {"action": "notify", "time_after_create": None, "time_before_expiry": "P30D"}]},
    {"expiry_time": None, "lifetime_actions": []},
])
def test_rotation_policy_round_trips_through_key_rotation_policy(param):
    assert_roundtrip(keyvault_models().KeyRotationPolicy, key.rotation_policy_desired(param))


def test_an_unknown_key_fails_the_round_trip():
    body = vm_body.build_vm_body(vm_params(), "eastus", [(NIC, True)], DES)
    body["properties"]["securityProfile"]["secureBootEnabled"] = True  # belongs in uefiSettings
    with pytest.raises(AssertionError):
        assert_roundtrip(compute_models.VirtualMachine, body)


# ------------------------------------------------------------------------- keys, on the wire through KeyClient

def _sent(call):
    """What the real KeyClient put on the wire for call(keys, kv) (api.py's mapping of the built body)."""
    from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api
    from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault.fakes import (
        FakeKv, Log, VAULT_URL, fake_sdk)

    kv = FakeKv(Log())
    call(api, fake_sdk(kv).keys(VAULT_URL), kv)
    return [(method, path, body) for method, path, body in kv.log if method != "GET"]


@pytest.mark.parametrize("want", [key_want(), key_want(release_policy_immutable=True, tags=None),
                                  key_want(kty="RSA", key_size=2048, exportable=False, release_policy=None,
                                           enabled=False)])
def test_key_client_sends_the_built_create_body(want):
    body = key.create_body(want)
    sent = _sent(lambda api, keys, kv: api.create_key(keys, "cmk", body))
    assert sent == [("POST", "kv:/keys/cmk/create", body)]


def test_key_client_sends_the_built_update_body():
    body = key.update_body(key_want(enabled=False), _Plan())

    def update(api, keys, kv):
        made = api.create_key(keys, "cmk", key.create_body(key_want()))
        api.update_key(keys, "cmk", key.version_of(made["key"]["kid"]), body)
    sent = _sent(update)
    assert sent[1][0] == "PATCH" and sent[1][2] == body


@pytest.mark.parametrize("param", [
    {"expiry_time": "p1y", "lifetime_actions": [
        {"action": "rotate", "time_after_create": "p90d", "time_before_expiry": None},
        {"action": "notify", "time_after_create": None, "time_before_expiry": "P30D"}]},
])
def test_key_client_sends_the_built_rotation_policy(param):
    body = key.rotation_policy_desired(param)
    sent = _sent(lambda api, keys, kv: api.put_rotation_policy(keys, "cmk", body))
    assert sent == [("PUT", "kv:/keys/cmk/rotationpolicy", body)]


def test_a_body_field_the_key_client_has_no_parameter_for_is_refused():
    from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api

    body = dict(key.create_body(key_want()), curve="P-256")
    with pytest.raises(api.KeyArgumentError, match="curve"):
        api.key_arguments(body, creating=True)
    with pytest.raises(api.KeyArgumentError, match="exportable"):
        api.key_arguments({"attributes": {"exportable": True}}, creating=False)
