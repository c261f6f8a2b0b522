# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy

from ansible_collections.confidential.azure.plugins.module_utils._cvm import (des_body, diff, network_body, summary,
                                                                              vm_body)

NIC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/cvm1-nic"
DES = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"


def params(**over):
    out = dict(name="cvm1", size="Standard_DC2as_v5", admin_username="azureuser", ssh_public_keys=[KEY],
               image=dict(publisher="Canonical", offer="ubuntu-24_04-lts", sku="cvm", version="latest"),
               security_encryption_type="DiskWithVMGuestState", secure_boot=None, encryption_at_host=None,
               os_disk_size_gb=None, os_disk_type=None, data_disks=None, zone=None, tags={"a": "1"})
    out.update(over)
    return out


def body(**over):
    return vm_body.build_vm_body(params(**over), "eastus", [(NIC, True)], DES if "des" not in over else None)


def test_cmk_goes_into_disk_security_profile_not_managed_disk():
    managed = body()["properties"]["storageProfile"]["osDisk"]["managedDisk"]
    assert managed["securityProfile"]["diskEncryptionSet"] == {"id": DES}
    assert "diskEncryptionSet" not in managed


def test_body_defaults_secure_boot_vtpm_and_ssh_only_login():
    props = body()["properties"]
    assert props["securityProfile"] == {"securityType": "ConfidentialVM",
                                        "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True}}
    linux = props["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert linux["ssh"]["publicKeys"][0]["path"] == "/home/azureuser/.ssh/authorized_keys"
    assert props["priority"] == "Regular"


def test_windows_body_has_no_linux_configuration():
    props = vm_body.build_vm_body(params(admin_password="x", ssh_public_keys=[]), "eastus", [(NIC, False)], None,
                                  "Windows")["properties"]
    assert "windowsConfiguration" in props["osProfile"] and "linuxConfiguration" not in props["osProfile"]
    assert props["networkProfile"]["networkInterfaces"][0]["properties"]["deleteOption"] == "Detach"


def test_redact_body_hides_secrets():
    out = vm_body.redact_body(vm_body.build_vm_body(params(admin_password="pw", custom_data="secret"), "eastus",
                                                    [(NIC, True)]))
    assert "pw" not in repr(out) and "c2VjcmV0" not in repr(out)


def as_current(desired):
    """What a GET returns for the desired body: ids, version resolved, extra read-only fields."""
    cur = copy.deepcopy(desired)
    cur["properties"]["storageProfile"]["imageReference"]["exactVersion"] = "1.2.3"
    cur["properties"]["storageProfile"]["osDisk"]["diskSizeGB"] = 30
    cur["properties"]["osProfile"].pop("adminPassword", None)
    cur["properties"]["provisioningState"] = "Succeeded"
    cur["properties"]["securityProfile"]["uefiSettings"]["secureBootEnabled"] = True
    cur["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"]["diskEncryptionSet"]["id"] = \
        DES.upper()
    return cur


def test_no_changes_against_own_get_answer():
    desired = body()
    assert diff.compare_vm(diff.vm_view(desired), diff.vm_view(as_current(desired))) == {}


def test_resize_in_place_and_across_tee_recreate():
    current = diff.vm_view(as_current(body()))
    changes = diff.compare_vm(diff.vm_view(body(size="Standard_DC4as_v5")), current)
    assert changes["size"]["kind"] == diff.IN_PLACE
    changes = diff.compare_vm(diff.vm_view(body(size="Standard_DC4es_v5")), current)
    assert changes["size"]["kind"] == diff.RECREATE and "TEE" in changes["size"]["reason"]


def test_encryption_type_and_des_changes_need_recreate():
    current = diff.vm_view(as_current(body()))
    want = diff.vm_view(vm_body.build_vm_body(params(security_encryption_type="VMGuestStateOnly"), "eastus",
                                              [(NIC, True)], None))
    changes = diff.compare_vm(want, current)
    assert changes["security_encryption_type"]["kind"] == diff.RECREATE
    assert changes["disk_encryption_set"]["kind"] == diff.RECREATE


def test_removing_des_is_a_change():
    current = diff.vm_view(as_current(body()))
    want = diff.vm_view(vm_body.build_vm_body(params(), "eastus", [(NIC, True)], None))
    assert list(diff.compare_vm(want, current)) == ["disk_encryption_set"]


def test_os_disk_shrink_is_refused_and_grow_needs_deallocation():
    current = diff.vm_view(as_current(body()))
    assert diff.compare_vm(diff.vm_view(body(os_disk_size_gb=20)), current)["os_disk_size_gb"]["kind"] == \
        diff.RECREATE
    assert diff.compare_vm(diff.vm_view(body(os_disk_size_gb=64)), current)["os_disk_size_gb"]["kind"] == \
        diff.DEALLOCATED


def test_pinned_image_version_compared_latest_not():
    current = diff.vm_view(as_current(body()))
    pinned = params(image=dict(publisher="Canonical", offer="ubuntu-24_04-lts", sku="cvm", version="9.9.9"))
    changes = diff.compare_vm(diff.vm_view(vm_body.build_vm_body(pinned, "eastus", [(NIC, True)], DES)), current)
    assert list(changes) == ["image"] and changes["image"]["kind"] == diff.RECREATE


def test_data_disks_added_in_place_resized_refused():
    base = body(data_disks=[{"lun": 0, "size_gb": 8}])
    current = diff.vm_view(as_current(base))
    grow = diff.compare_vm(diff.vm_view(body(data_disks=[{"lun": 0, "size_gb": 8}, {"lun": 1, "size_gb": 4}])),
                           current)
    assert grow["data_disks"]["kind"] == diff.IN_PLACE and grow["data_disks"]["added"] == [1]
    resized = diff.compare_vm(diff.vm_view(body(data_disks=[{"lun": 0, "size_gb": 16}])), current)
    assert resized["data_disks"]["kind"] == diff.RECREATE and "LUN 0" in resized["data_disks"]["reason"]


def test_diff_output_has_only_changed_properties():
    out = diff.diff_output({"size": {"before": "a", "after": "b", "kind": "in_place", "reason": None}})
    assert out == {"before": {"size": "a"}, "after": {"size": "b"}}


def test_build_patch_only_carries_changes():
    changes = {"size": {"after": "Standard_DC4as_v5"}, "tags": {"after": {"x": "y"}}}
    patch = vm_body.build_patch(changes, as_current(body()), {"name": "cvm1"})
    assert patch == {"tags": {"x": "y"}, "properties": {"hardwareProfile": {"vmSize": "Standard_DC4as_v5"}}}


def test_build_patch_carries_os_disk_caching_boot_diagnostics_and_identity():
    changes = {"os_disk_caching": {"after": "ReadOnly"}, "boot_diagnostics": {"after": True},
               "identity": {"before": {"type": "UserAssigned", "user_assigned_identities": ["/x/a", "/x/b"]},
                            "after": {"type": "UserAssigned", "user_assigned_identities": ["/x/a"]}}}
    patch = vm_body.build_patch(changes, as_current(body()), {"name": "cvm1"})
    assert patch == {"identity": {"type": "UserAssigned", "userAssignedIdentities": {"/x/a": {}, "/x/b": None}},
                     "properties": {"diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
                                    "storageProfile": {"osDisk": {"caching": "ReadOnly"}}}}


def test_summary_from_get_answer():
    cur = as_current(body())
    cur["properties"]["instanceView"] = {"statuses": [{"code": "ProvisioningState/succeeded"},
                                                      {"code": "PowerState/deallocated"}]}
    conf = summary.confidential_summary(cur)
    assert conf["tee"] == "SNP" and conf["power_state"] == "deallocated" and conf["customer_managed_key"]
    assert conf["secure_boot"] is True and conf["vtpm"] is True
    assert conf["security_encryption_type"] == "DiskWithVMGuestState"
    tdx = as_current(body(size="Standard_EC4eds_v5"))
    assert summary.confidential_summary(tdx)["tee"] == "TDX" and summary.confidential_summary(tdx)["temp_disk"]


def test_tag_filters():
    res = {"tags": {"env": "prod", "fleet": ""}}
    assert summary.matches_tags(res, ["env:prod", "fleet"])
    assert not summary.matches_tags(res, ["env:dev"])
    assert not summary.matches_tags(res, ["missing"])


def test_des_body_and_view():
    p = {"key_url": "https://kv/keys/k/0123456789abcdef0123456789abcdef", "identity": "UserAssigned",
         "user_assigned_identity": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
                                   "userAssignedIdentities/id1", "rotation_to_latest_key_version": True,
         "federated_client_id": "abc"}
    b = des_body.des_body(p, "eastus", None, {})
    assert "sourceVault" not in b["properties"]["activeKey"]
    assert b["properties"]["federatedClientId"] == "abc"
    assert list(b["identity"]["userAssignedIdentities"]) == [p["user_assigned_identity"]]
    view = des_body.des_view(b)
    assert view["rotation_to_latest_key_version"] is True and view["source_vault"] is None


def test_key_problems():
    good = {"key": {"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]}, "attributes": {"exportable": True},
            "release_policy": {"data": "e30"}}
    assert des_body.key_problems(good) == []
    assert des_body.key_problems(good, "EncryptionAtRestWithCustomerKey") == []
    bad = {"key": {"kty": "RSA", "key_ops": ["sign"]}, "attributes": {"exportable": False, "enabled": False}}
    assert len(des_body.key_problems(bad)) == 5


def test_nic_and_vnet_bodies():
    nic = network_body.nic_body("eastus", "/sub/x/subnets/default", "/pip/1")
    assert nic["properties"]["enableAcceleratedNetworking"] is False
    view = network_body.nic_view(dict(nic, id="n"))
    assert view["subnet_id"] == "/sub/x/subnets/default" and view["public_ip_id"] == "/pip/1"
    vnet = network_body.vnet_body({"address_prefixes": ["10.0.0.0/16"],
                                   "subnets": [{"name": "a", "address_prefix": "10.0.1.0/24"}]}, "eastus", {})
    assert network_body.vnet_view(vnet)["subnets"] == {"a": "10.0.1.0/24"}
