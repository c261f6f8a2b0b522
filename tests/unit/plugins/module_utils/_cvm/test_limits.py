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
