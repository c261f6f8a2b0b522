# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._cvm import limits

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers"
SUBNET = SUB + "/Microsoft.Network/virtualNetworks/vnet/subnets/default"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
FOCAL = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-focal", "sku": "20_04-lts-cvm"}
WIN = {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-smalldisk-g2"}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"
KEY_URL = "https://kv1.vault.azure.net/keys/cvm-key/0123456789abcdef0123456789abcdef"


def vm(**over):
    params = dict(state="present", name="cvm1", size="Standard_DC2as_v5", image=dict(JAMMY), admin_username="azureuser",
                  ssh_public_keys=[KEY], subnet_id=SUBNET, security_encryption_type="DiskWithVMGuestState",
                  secure_boot=None, vtpm=True, priority="Regular", data_disks=[], tags={})
    params.update(over)
    return params


def only(errors, param):
    assert len(errors) == 1, errors
    assert errors[0].startswith(param), errors
    return errors[0]


def test_valid_snp_and_tdx_vms_pass():
    assert limits.validate_vm(vm()) == []
    assert limits.validate_vm(vm(size="Standard_DC4es_v5", disk_encryption_set="des1")) == []


def test_absent_skips_validation():
    assert limits.validate_vm({"state": "absent", "name": "x"}) == []


def test_non_confidential_size_rejected_with_families():
    msg = only(limits.validate_vm(vm(size="Standard_D4s_v5")), "size:")
    assert "DCasv5" in msg and "DCesv5" in msg


def test_tee_option_must_match_size_family():
    msg = only(limits.validate_vm(vm(tee="TDX")), "tee:")
    assert "DCesv5" in msg


def test_ubuntu_2004_on_tdx_rejected():
    msg = only(limits.validate_vm(vm(size="Standard_DC2es_v5", image=dict(FOCAL))), "image:")
    assert "AMD SEV-SNP only" in msg and "22.04" in msg


def test_rhel_on_tdx_rejected():
    image = {"publisher": "RedHat", "offer": "rhel-cvm", "sku": "9_3_cvm_sev_snp"}
    only(limits.validate_vm(vm(size="Standard_EC4es_v5", image=image)), "image:")


def test_non_cvm_image_rejected():
    image = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
    msg = only(limits.validate_vm(vm(image=image)), "image:")
    assert "not a confidential VM image" in msg


def test_image_required():
    only(limits.validate_vm(vm(image=None)), "image:")


def test_vtpm_required():
    only(limits.validate_vm(vm(vtpm=False)), "vtpm:")


def test_disk_with_guest_state_needs_secure_boot_but_guest_state_only_does_not():
    only(limits.validate_vm(vm(secure_boot=False)), "secure_boot:")
    assert limits.validate_vm(vm(secure_boot=False, security_encryption_type="VMGuestStateOnly")) == []


@pytest.mark.parametrize("etype", ["VMGuestStateOnly", "NonPersistedTPM"])
def test_des_only_with_disk_with_vm_guest_state(etype):
    msg = only(limits.validate_vm(vm(security_encryption_type=etype, disk_encryption_set="des1")),
               "disk_encryption_set:")
    assert "DiskWithVMGuestState" in msg


def test_non_persisted_tpm_without_secure_boot_is_allowed():
    assert limits.validate_vm(vm(security_encryption_type="NonPersistedTPM", secure_boot=False)) == []


@pytest.mark.parametrize("priority", ["Spot", "Low"])
def test_spot_rejected(priority):
    only(limits.validate_vm(vm(priority=priority)), "priority:")


def test_accelerated_networking_and_ephemeral_os_disk_rejected():
    only(limits.validate_vm(vm(accelerated_networking=True)), "accelerated_networking:")
    only(limits.validate_vm(vm(os_disk_ephemeral=True)), "os_disk_ephemeral:")


def test_ultra_and_shared_data_disks_rejected():
    errors = limits.validate_vm(vm(data_disks=[{"lun": 0, "size_gb": 8, "storage_account_type": "UltraSSD_LRS"},
                                               {"lun": 1, "size_gb": 8, "max_shares": 2}]))
    assert [e.split(":")[0] for e in errors] == ["data_disks[0].storage_account_type", "data_disks[1].max_shares"]


def test_duplicate_lun_rejected():
    errors = limits.validate_vm(vm(data_disks=[{"lun": 0, "size_gb": 8}, {"lun": 0, "size_gb": 9}]))
    only(errors, "data_disks[1].lun")


def test_network_needs_exactly_one_source():
    only(limits.validate_vm(vm(subnet_id=None)), "network_interfaces / subnet_id")
    only(limits.validate_vm(vm(network_interfaces=["nic1"])), "network_interfaces / subnet_id")


def test_reserved_admin_name_rejected():
    only(limits.validate_vm(vm(admin_username="root")), "admin_username:")


def test_windows_rules():
    errors = limits.validate_vm(vm(image=dict(WIN), name="averyveryverylongname"))
    keys = sorted(e.split(":")[0] for e in errors)
    assert keys == ["admin_password", "computer_name", "ssh_public_keys"]
    assert limits.validate_vm(vm(image=dict(WIN), ssh_public_keys=[], admin_password="Sup3r-Secret-pw!")) == []


def test_linux_needs_credentials_and_valid_key():
    only(limits.validate_vm(vm(ssh_public_keys=[])), "ssh_public_keys / admin_password")
    only(limits.validate_vm(vm(ssh_public_keys=["not a key"])), "ssh_public_keys[0]")


def test_weak_password_rejected():
    only(limits.validate_vm(vm(admin_password="abc")), "admin_password:")


def test_custom_data_size_limit():
    only(limits.validate_vm(vm(custom_data="x" * 70000)), "custom_data:")


def test_every_message_names_a_parameter_and_says_what_to_do():
    errors = limits.validate_vm(vm(size="Standard_D2s_v5", vtpm=False, priority="Spot", accelerated_networking=True,
                                   secure_boot=False))
    assert sorted(m.split(":")[0] for m in errors) == ["accelerated_networking", "priority", "secure_boot", "size",
                                                       "vtpm"]
    for message in errors:
        assert any(word in message for word in ("use", "set", "remove", "choose")), message


def test_key_url_must_be_versioned():
    errors, parts = limits.validate_key_url("https://kv1.vault.azure.net/keys/cvm-key")
    assert parts is None and "no key version" in errors[0] and errors[0].startswith("key_url:")
    errors, parts = limits.validate_key_url(KEY_URL)
    assert errors == [] and parts["vault_url"] == "https://kv1.vault.azure.net/" and parts["name"] == "cvm-key"
    assert limits.validate_key_url("https://kv1.vault.azure.net/keys/k/xyz")[0]
    assert limits.validate_key_url("http://kv1/secrets/k")[0]


def des(**over):
    params = dict(state="present", key_url=KEY_URL, identity="SystemAssigned", encryption_type=None, tags={})
    params.update(over)
    return params


def test_des_validation():
    assert limits.validate_des(des())[0] == []
    assert limits.validate_des(des(identity="UserAssigned"))[0][0].startswith("user_assigned_identity:")
    assert limits.validate_des(des(federated_client_id="x"))[0][0].startswith("federated_client_id:")
    assert limits.validate_des(des(grant_key_permissions=True, wait=False))[0][0].startswith("grant_key_permissions:")


def test_vnet_validation():
    good = dict(state="present", address_prefixes=["10.0.0.0/16"], subnets=[{"name": "a", "address_prefix": "10.0.1.0/24"}])
    assert limits.validate_vnet(good) == []
    bad = dict(good, subnets=[{"name": "a", "address_prefix": "10.1.0.0/24"}])
    assert limits.validate_vnet(bad)[0].startswith("subnets[0].address_prefix")
    overlap = dict(good, subnets=[{"name": "a", "address_prefix": "10.0.1.0/24"},
                                  {"name": "b", "address_prefix": "10.0.1.0/25"}])
    assert "overlaps" in limits.validate_vnet(overlap)[0]
    assert limits.validate_vnet(dict(good, address_prefixes=["10.0.0.1/16"]))[0].startswith("address_prefixes")


def _rsa_line(bits):
    import base64
    import struct

    def field(data):
        return struct.pack(">I", len(data)) + data
    modulus = b"\x00" + (b"\xc3" + b"\x11" * (bits // 8 - 1))
    blob = field(b"ssh-rsa") + field(b"\x01\x00\x01") + field(modulus)
    return "ssh-rsa " + base64.b64encode(blob).decode() + " me@host"


@pytest.mark.parametrize("line, problem", [
    ("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87"
     "uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= me@host", "ecdsa-sha2-nistp256 keys are not supported by Azure"),
    ("ssh-dss AAAAB3NzaC1kc3MAAACBAP1 me@host", "ssh-dss keys are not supported"),
    (_rsa_line(1024), "the RSA key has 1024 bits; Azure needs at least 2048"),
    ("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 x", "does not hold a ssh-rsa key"),
    ("ssh-ed25519 AAAAB3NzaC1yc2E=", "does not hold a ssh-ed25519 key"),
])
def test_ssh_keys_azure_refuses_are_refused_before_any_request(line, problem):
    errors = limits.validate_vm(vm(ssh_public_keys=[line]))
    assert len(errors) == 1 and errors[0].startswith("ssh_public_keys[0]: ") and problem in errors[0], errors
    assert "ed25519" in errors[0]


def test_rsa_2048_and_ed25519_keys_are_accepted():
    assert limits.validate_vm(vm(ssh_public_keys=[_rsa_line(2048), _rsa_line(4096), KEY])) == []


@pytest.mark.parametrize("image", [
    {"publisher": "MicrosoftWindowsServer", "offer": "windows-cvm", "sku": "2022-datacenter-cvm"},
    {"publisher": "MicrosoftWindowsServer", "offer": "windows-cvm", "sku": "2019-datacenter-cvm"},
    {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-azure-edition"},
    {"publisher": "MicrosoftWindowsDesktop", "offer": "windows-11", "sku": "win11-22h2-ent"},
    {"publisher": "MicrosoftWindowsDesktop", "offer": "windows-11", "sku": "win11-22h2-avd"},
])
@pytest.mark.parametrize("size", ["Standard_DC2as_v5", "Standard_DC2es_v5"])
def test_windows_rows_of_the_os_table_are_accepted_on_both_tees(image, size):
    assert limits.validate_vm(vm(image=image, size=size, name="win1", ssh_public_keys=[],
                                 admin_password="Sup3r-Secret-pw!")) == []


def test_windows_cvm_reference_with_offer_and_sku_swapped_is_refused_with_the_fix():
    image = {"publisher": "MicrosoftWindowsServer", "offer": "2022-datacenter-cvm", "sku": "windows-cvm"}
    errors = limits.validate_vm(vm(image=image, name="win1", ssh_public_keys=[], admin_password="Sup3r-Secret-pw!"))
    assert errors == ["image: offer and sku are swapped; Windows Server CVM images are offer: windows-cvm, "
                      "sku: 2022-datacenter-cvm"]


def test_identity_user_assigned_ids_must_be_identity_resource_ids():
    bad = {"type": "UserAssigned", "user_assigned_identities": {"id": ["not-an-id"], "append": True}}
    only(limits.validate_vm(vm(identity=bad)), "identity.user_assigned_identities.id[0]")
    wrong = {"type": "SystemAssigned", "user_assigned_identities": {"id": [SUBNET], "append": True}}
    assert len(limits.validate_vm(vm(identity=wrong))) == 2
