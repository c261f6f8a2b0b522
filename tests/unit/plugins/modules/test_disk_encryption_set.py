# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disk_encryption_set through real argument parsing against an in-memory ARM and Key Vault."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import subprocess
import sys

from ansible_collections.confidential.azure.plugins.modules import disk_encryption_set as des_module
from ansible_collections.confidential.azure.tests.unit.plugins.modules.cvm_harness import SUB, run  # noqa: F401 pylint: disable=unused-import

RG = "/subscriptions/%s/resourceGroups/rg" % SUB
VAULT = RG + "/providers/Microsoft.KeyVault/vaults/kv1"
KEY_URL = "https://kv1.vault.azure.net/keys/cvm-key/0123456789abcdef0123456789abcdef"
GOOD_KEY = {"key": {"kid": KEY_URL, "kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]},
            "attributes": {"enabled": True, "exportable": True},
            "release_policy": {"contentType": "application/json; charset=utf-8", "data": "e30"}}


class FakeKv(object):
    """One key version's answer (or error) to the KeyClient's requests; ``challenges`` counts the 401 round trips."""

    def __init__(self, bundle, status=200):
        self.bundle = bundle
        self.status = status
        self.calls = []
        self.challenges = 0

    def request(self, method, path, api_version=None, body=None, params=None, headers=None):
        self.calls.append((method, path))
        return self.status, {}, self.bundle


import pytest  # noqa: E402 pylint: disable=wrong-import-position


def vault(arm, purge_protection=True):
    arm.store[VAULT.lower()] = {"id": VAULT, "name": "kv1", "location": "eastus", "properties": {
        "enableSoftDelete": True, "enablePurgeProtection": purge_protection, "accessPolicies": []}}


@pytest.fixture(autouse=True)
def _vault(run):
    vault(run.arm)


def args(**over):
    out = dict(resource_group="rg", name="des1", location="eastus", key_url=KEY_URL, source_vault="kv1")
    out.update(over)
    return out


def test_create_checks_key_then_puts_confidential_des(run):
    run.kv = FakeKv(GOOD_KEY)
    result = run(des_module, args())
    assert result["changed"] and not result.get("failed"), result
    # the KeyClient reads the key version, handed the cloud's challenge: no 401 round trip
    assert run.kv.calls == [("GET", "/keys/cvm-key/0123456789abcdef0123456789abcdef")] and run.kv.challenges == 0
    body = run.arm.writes()[0][2]
    assert body["properties"]["encryptionType"] == "ConfidentialVmEncryptedWithCustomerKey"
    assert body["properties"]["activeKey"] == {"keyUrl": KEY_URL, "sourceVault": {"id": VAULT}}
    assert body["identity"] == {"type": "SystemAssigned"}
    assert result["disk_encryption_set"]["identity"]["principal_id"]


def test_rerun_is_one_get_no_key_read_no_write(run):
    run.kv = FakeKv(GOOD_KEY)
    run(des_module, args())
    run.kv.calls = []
    result = run(des_module, args())
    assert result["changed"] is False and run.arm.writes() == [] and len(run.arm.gets()) == 1
    assert run.kv.calls == []


def test_non_exportable_key_without_policy_is_refused_with_reasons(run):
    run.kv = FakeKv({"key": {"kid": KEY_URL, "kty": "RSA", "key_ops": ["wrapKey", "unwrapKey"]},
                     "attributes": {"exportable": False}})
    result = run(des_module, args())
    assert result["failed"] and run.arm.writes() == []
    for reason in ("HSM-protected", "not exportable", "no release policy"):
        assert reason in result["msg"]


def test_missing_key_is_reported(run):
    run.kv = FakeKv({"error": {"code": "KeyNotFound"}}, status=404)
    result = run(des_module, args())
    assert result["failed"] and result["msg"] == ("key_url: key cvm-key version 0123456789abcdef0123456789abcdef "
                                                  "does not exist in https://kv1.vault.azure.net/"), result
    assert run.arm.writes() == []


def test_no_permission_to_read_the_key_names_the_permission_and_azures_message(run):
    run.kv = FakeKv({"error": {"code": "Forbidden", "message": "The user, group or application 'appid=x' does not "
                               "have keys get permission on key vault 'kv1'.", "innererror": {
                                   "code": "AccessDenied"}}}, status=403)
    result = run(des_module, args())
    assert result["failed"] and result["msg"].startswith(
        "key_url: no permission to read key cvm-key in https://kv1.vault.azure.net/ (needs key permission get) - "
        "The user, group or application 'appid=x' does not have keys get permission on key vault 'kv1'."), result
    assert result["azure_error"]["status"] == 403 and run.arm.writes() == []


def test_other_key_read_errors_say_status_code_and_message(run):
    run.kv = FakeKv({"error": {"code": "BadParameter", "message": "The request URI contains an invalid name"}},
                    status=400)
    result = run(des_module, args())
    assert result["failed"] and result["msg"] == ("key_url: reading the key failed with 400 BadParameter: The "
                                                  "request URI contains an invalid name"), result
    assert run.arm.writes() == []


def test_the_module_imports_no_key_vault_sdk_until_it_checks_a_key():
    code = ("import sys\n"
            "from ansible_collections.confidential.azure.plugins.modules import disk_encryption_set\n"
            "assert not [m for m in sys.modules if m.startswith('azure.keyvault')], 'azure.keyvault imported'\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_unversioned_key_url_rejected_before_any_request(run):
    result = run(des_module, args(key_url="https://kv1.vault.azure.net/keys/cvm-key"))
    assert result["failed"] and "versioned" in result["msg"] and run.arm.log == []


def test_rotation_flag_updated_in_place_with_diff(run):
    run.kv = FakeKv(GOOD_KEY)
    run(des_module, args())
    result = run(des_module, args(rotation_to_latest_key_version=True), diff=True)
    assert result["changed"]
    assert result["diff"] == {"before": {"rotation_to_latest_key_version": False},
                              "after": {"rotation_to_latest_key_version": True}}


def test_encryption_type_change_is_refused(run):
    run.kv = FakeKv(GOOD_KEY)
    run(des_module, args())
    result = run(des_module, args(encryption_type="EncryptionAtRestWithCustomerKey"))
    assert result["failed"] and "cannot change" in result["msg"] and run.arm.writes() == []


def test_grant_adds_access_policy_for_des_identity(run):
    run.kv = FakeKv(GOOD_KEY)
    run.arm.store[VAULT.lower()] = {"id": VAULT, "name": "kv1", "properties": {
        "tenantId": "22222222-2222-2222-2222-222222222222", "accessPolicies": [],
        "enablePurgeProtection": True}}
    result = run(des_module, args(grant_key_permissions=True))
    assert result["changed"] and result["grant"]["mode"] == "access_policy", result
    puts = [w for w in run.arm.writes() if w[1].endswith("/accessPolicies/add")]
    assert len(puts) == 1
    entry = puts[0][2]["properties"]["accessPolicies"][0]
    assert sorted(entry["permissions"]["keys"]) == ["get", "unwrapKey", "wrapKey"]
    assert entry["objectId"] == "11111111-1111-1111-1111-111111111111"


def test_check_mode_create_writes_nothing(run):
    run.kv = FakeKv(GOOD_KEY)
    result = run(des_module, args(), check=True)
    assert result["changed"] and run.arm.writes() == []


def test_absent(run):
    run.kv = FakeKv(GOOD_KEY)
    run(des_module, args())
    result = run(des_module, {"resource_group": "rg", "name": "des1", "state": "absent"})
    assert result["changed"] and [w[0] for w in run.arm.writes()] == ["DELETE"]
    assert result["disk_encryption_set"] == {}
    again = run(des_module, {"resource_group": "rg", "name": "des1", "state": "absent"})
    assert again["changed"] is False and again["disk_encryption_set"] == {}


def test_vault_without_purge_protection_is_refused_before_anything_is_written(run):
    run.kv = FakeKv(GOOD_KEY)
    vault(run.arm, purge_protection=False)
    result = run(des_module, args())
    assert result["failed"] and "source_vault: key vault kv1 has no purge protection" in result["msg"], result
    assert "enable_purge_protection: true" in result["msg"]
    assert run.arm.writes() == [] and run.kv.calls == []


NEW_KEY = "https://kv1.vault.azure.net/keys/cvm-key/fedcba9876543210fedcba9876543210"


def _vm_on_des(arm, name, power):
    rid = RG + "/providers/Microsoft.Compute/virtualMachines/" + name
    des_id = RG + "/providers/Microsoft.Compute/diskEncryptionSets/des1"
    arm.store[rid.lower()] = {"id": rid, "name": name, "location": "eastus", "properties": {
        "storageProfile": {"osDisk": {"managedDisk": {"securityProfile": {
            "securityEncryptionType": "DiskWithVMGuestState", "diskEncryptionSet": {"id": des_id}}}}},
        "instanceView": {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/" + power}]}}}


def test_key_change_of_a_confidential_set_fails_naming_the_vms_that_run(run):
    run.kv = FakeKv(GOOD_KEY)
    run(des_module, args())
    _vm_on_des(run.arm, "cvm-a", "running")
    _vm_on_des(run.arm, "cvm-b", "deallocated")
    result = run(des_module, args(key_url=NEW_KEY))
    assert result["failed"] and "cvm-a" in result["msg"] and "cvm-b" not in result["msg"], result
    assert "deallocate_for_key_change: true" in result["msg"] and run.arm.writes() == []


def test_deallocate_for_key_change_deallocates_changes_key_and_starts_what_ran(run):
    run.kv = FakeKv(GOOD_KEY)
    run(des_module, args())
    _vm_on_des(run.arm, "cvm-a", "running")
    _vm_on_des(run.arm, "cvm-b", "stopped")
    _vm_on_des(run.arm, "cvm-c", "deallocated")
    result = run(des_module, args(key_url=NEW_KEY, deallocate_for_key_change=True))
    assert result["changed"] and not result.get("failed"), result
    steps = [(w[0], w[1].rsplit("/", 1)[-1]) for w in run.arm.writes()]
    assert steps == [("POST", "deallocate"), ("POST", "deallocate"), ("PUT", "des1"), ("POST", "start")]
    assert [w[1].split("/")[-2] for w in run.arm.writes() if w[0] == "POST"] == ["cvm-a", "cvm-b", "cvm-a"]
    assert result["actions"] == ["deallocate VM cvm-a (key change)", "deallocate VM cvm-b (key change)",
                                 "update key_url", "start VM cvm-a (key change)"]
