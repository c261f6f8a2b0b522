# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input for the compute modules: each case fails before any request reaches Azure (the simulator's request
log stays empty, tokens included), with a message naming the parameter.

All cases run as tasks of ONE playbook (ignore_errors) to keep the suite fast; an empty log for the whole playbook
means no case sent anything."""
from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import pytest

from cvm_common import FOCAL, JAMMY, KEY
from helpers import run_playbook

SUBNET = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/" \
         "virtualNetworks/vnet/subnets/default"
RHEL = {"publisher": "RedHat", "offer": "rhel-cvm", "sku": "9_3_cvm_sev_snp"}
WIN = {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-smalldisk-g2"}
PLAIN_UBUNTU = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
KEY_URL = "https://kv1.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef"
ECDSA_KEY = ("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5"
             "YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= me@host")


def _rsa_key(bits):
    def field(data):
        return len(data).to_bytes(4, "big") + data
    blob = field(b"ssh-rsa") + field(b"\x01\x00\x01") + field(b"\x00\xc3" + b"\x11" * (bits // 8 - 1))
    return "ssh-rsa " + base64.b64encode(blob).decode() + " me@host"


RSA_1024_KEY = _rsa_key(1024)


def vm(**over):
    args = {"resource_group": "rg", "name": "cvm1", "location": "eastus", "size": "Standard_DC2as_v5",
            "image": dict(JAMMY), "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": SUBNET}
    args.update(over)
    return ("vm", args)


def des(**over):
    args = {"resource_group": "rg", "name": "des1", "location": "eastus", "key_url": KEY_URL, "source_vault": "kv1"}
    args.update(over)
    return ("disk_encryption_set", args)


def vnet(**over):
    args = {"resource_group": "rg", "name": "vnet1", "location": "eastus", "address_prefixes": ["10.0.0.0/16"],
            "subnets": [{"name": "default", "address_prefix": "10.0.1.0/24"}]}
    args.update(over)
    return ("virtual_network", args)


# (case id, (module, args), text the failure message must contain)
CASES = [
    ("non_confidential_size", vm(size="Standard_D4s_v5"), "size: Standard_D4s_v5"),
    ("garbage_size", vm(size="big"), "size: 'big' is not an Azure VM size"),
    ("tee_assertion_mismatch", vm(tee="TDX"), "tee: TDX"),
    ("ubuntu_2004_on_tdx", vm(size="Standard_DC2es_v5", image=dict(FOCAL)), "AMD SEV-SNP only"),
    ("rhel_on_tdx", vm(size="Standard_EC4es_v5", image=dict(RHEL)), "AMD SEV-SNP only"),
    ("non_cvm_image", vm(image=dict(PLAIN_UBUNTU)), "not a confidential VM image"),
    ("image_missing_with_size", vm(image=None), "image: is required"),
    ("image_half_reference", vm(image={"publisher": "Canonical", "offer": "x"}), "image: a marketplace reference"),
    ("image_id_and_reference",
     vm(image=dict(JAMMY, id="/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i")),
     "not both"),
    ("vtpm_off", vm(vtpm=False), "vtpm: confidential VMs require a vTPM"),
    ("secure_boot_off_with_disk_encryption", vm(secure_boot=False), "secure_boot: DiskWithVMGuestState"),
    ("des_with_guest_state_only", vm(security_encryption_type="VMGuestStateOnly", disk_encryption_set="des1"),
     "disk_encryption_set:"),
    ("des_with_non_persisted_tpm", vm(security_encryption_type="NonPersistedTPM", disk_encryption_set="des1"),
     "disk_encryption_set:"),
    ("spot", vm(priority="Spot"), "priority: Spot"),
    ("low_priority", vm(priority="Low"), "priority: Low"),
    ("accelerated_networking", vm(accelerated_networking=True), "accelerated_networking:"),
    ("ephemeral_os_disk", vm(os_disk_ephemeral=True), "os_disk_ephemeral:"),
    ("ultra_os_disk", vm(os_disk_type="UltraSSD_LRS"), "os_disk_type: UltraSSD_LRS"),
    ("ultra_data_disk", vm(data_disks=[{"lun": 0, "size_gb": 8, "storage_account_type": "UltraSSD_LRS"}]),
     "data_disks[0].storage_account_type"),
    ("shared_data_disk", vm(data_disks=[{"lun": 0, "size_gb": 8, "max_shares": 2}]), "data_disks[0].max_shares"),
    ("duplicate_lun", vm(data_disks=[{"lun": 1, "size_gb": 8}, {"lun": 1, "size_gb": 8}]), "data_disks[1].lun"),
    ("lun_out_of_range", vm(data_disks=[{"lun": 64, "size_gb": 8}]), "data_disks[0].lun"),
    ("os_disk_too_big", vm(os_disk_size_gb=5000), "os_disk_size_gb:"),
    ("no_network", vm(subnet_id=None), "network_interfaces / subnet_id"),
    ("nic_and_subnet", vm(network_interfaces=["nic1"]), "mutually exclusive"),
    ("subnet_not_an_id", vm(subnet_id="default"), "subnet_id: 'default'"),
    ("public_ip_without_created_nic", vm(subnet_id=None, network_interfaces=["nic1"], public_ip=True),
     "public_ip:"),
    ("reserved_admin_name", vm(admin_username="administrator"), "admin_username: 'administrator'"),
    ("no_credentials", vm(ssh_public_keys=None), "ssh_public_keys / admin_password"),
    ("bad_ssh_key", vm(ssh_public_keys=["AAAAB3NzaC1yc2E"]), "ssh_public_keys[0]"),
    ("weak_password", vm(admin_password="weakpass1"), "admin_password: must be"),
    ("windows_with_ssh_key", vm(image=dict(WIN), admin_password="Sup3r-Secret-pw!"), "ssh_public_keys: Windows"),
    ("windows_long_computer_name", vm(image=dict(WIN), name="cvm-with-a-long-name", ssh_public_keys=None,
                                      admin_password="Sup3r-Secret-pw!"), "computer_name:"),
    ("custom_data_too_large", vm(custom_data="x" * 70000), "custom_data:"),
    ("bad_vm_name", vm(name="-cvm"), "name: '-cvm'"),
    ("too_many_tags", vm(tags=dict(("t%d" % i, "v") for i in range(51))), "tags: Azure allows at most 50"),
    ("half_definition", ("vm", {"resource_group": "rg", "name": "cvm1", "subnet_id": SUBNET}),
     "subnet_id: needs the full VM definition"),
    ("ecdsa_ssh_key", vm(ssh_public_keys=[ECDSA_KEY]), "ssh_public_keys[0]: ecdsa-sha2-nistp256 keys are not supported"),
    ("rsa_1024_ssh_key", vm(ssh_public_keys=[RSA_1024_KEY]), "ssh_public_keys[0]: the RSA key has 1024 bits"),
    ("windows_cvm_offer_sku_swapped",
     vm(image={"publisher": "MicrosoftWindowsServer", "offer": "2022-datacenter-cvm", "sku": "windows-cvm"},
        ssh_public_keys=None, admin_password="Sup3r-Secret-pw!"), "image: offer and sku are swapped"),
    ("identity_not_an_identity_id",
     vm(identity={"type": "UserAssigned", "user_assigned_identities": {"id": ["mine"]}}),
     "identity.user_assigned_identities.id[0]"),
    ("bad_zone", vm(zone="4"), "zone"),
    ("bad_security_encryption_type", vm(security_encryption_type="Full"), "security_encryption_type"),
    ("des_unversioned_key", des(key_url="https://kv1.vault.azure.net/keys/cmk"), "key_url:"),
    ("des_bad_key_version", des(key_url="https://kv1.vault.azure.net/keys/cmk/v1"), "key_url: key version"),
    ("des_not_a_key_url", des(key_url="https://kv1.vault.azure.net/secrets/s/0123456789abcdef0123456789abcdef"),
     "is not a Key Vault key URL"),
    ("des_missing_key_url", des(key_url=None), "key_url: is required"),
    ("des_user_assigned_without_identity", des(identity="UserAssigned"), "user_assigned_identity:"),
    ("des_federated_without_user_assigned", des(federated_client_id="00000000-0000-0000-0000-000000000001"),
     "federated_client_id:"),
    ("des_grant_without_vault", des(source_vault=None, grant_key_permissions=True), "grant_key_permissions: needs"),
    ("des_grant_without_wait", des(grant_key_permissions=True, wait=False), "grant_key_permissions: the grant"),
    ("des_bad_encryption_type", des(encryption_type="Confidential"), "encryption_type"),
    ("vnet_bad_prefix", vnet(address_prefixes=["10.0.0.1/16"]), "address_prefixes:"),
    ("vnet_subnet_outside", vnet(subnets=[{"name": "a", "address_prefix": "192.168.0.0/24"}]), "outside"),
    ("vnet_subnets_overlap", vnet(subnets=[{"name": "a", "address_prefix": "10.0.1.0/24"},
                                           {"name": "b", "address_prefix": "10.0.1.128/25"}]), "overlaps"),
    ("sku_info_bad_tee", ("sku_info", {"location": "eastus", "tee": "SGX"}), "tee"),
]


def _clean(args):
    return dict((k, v) for k, v in args.items() if v is not None)


@pytest.fixture(scope="module")
def bad_input_run(simulator):
    simulator.reset()
    tasks = [{"name": case_id, "confidential.azure.%s" % module: _clean(args), "ignore_errors": True}
             for case_id, (module, args), _text in CASES]
    path = Path(tempfile.mkdtemp()) / "bad_input.json"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    mark = simulator.mark()
    result = run_playbook(path, simulator.env)
    return result, simulator.requests(since=mark)


def test_at_least_forty_cases():
    assert len(CASES) >= 40 and len(set(c[0] for c in CASES)) == len(CASES)


def test_no_request_reached_the_simulator(bad_input_run):
    _result, requests = bad_input_run
    assert [(r["service"], r["method"], r["path"]) for r in requests] == []


@pytest.mark.parametrize("case_id, call, text", CASES, ids=[c[0] for c in CASES])
def test_case_fails_naming_the_parameter(bad_input_run, case_id, call, text):
    result, _requests = bad_input_run
    out = result.result(case_id)
    assert out.get("failed"), out
    assert text in out["msg"], out["msg"]
    assert out.get("changed") is False
