# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api, vault

OID = "00000000-0000-0000-0000-0000000000dd"
TENANT = "00000000-0000-0000-0000-0000000000bb"


def params(**over):
    p = dict(name="kv1", resource_group="rg", location="eastus", state="present", sku=None, tenant_id=None,
             enable_purge_protection=None, soft_delete_retention_days=None, enable_rbac_authorization=None,
             enabled_for_disk_encryption=None, network_default_action=None, access_policies=None, tags=None)
    p.update(over)
    return p


def resource(**props):
    base = {"tenantId": TENANT, "sku": {"family": "A", "name": "premium"}, "enablePurgeProtection": True,
            "softDeleteRetentionInDays": 90, "enableRbacAuthorization": False, "accessPolicies": []}
    base.update(props)
    return {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1", "name": "kv1",
            "location": "East US", "tags": {}, "properties": base}


def policy(**over):
    p = dict(object_id=OID, tenant_id=None, keys=["get"], secrets=[], certificates=[])
    p.update(over)
    return p


@pytest.mark.parametrize("over, fragment", [
    (dict(name="kv"), "must be 3-24"),
    (dict(name="kv_1"), "must be 3-24"),
    (dict(resource_group="rg."), "not end with a period"),
    (dict(location="East US 2!"), "not an Azure region name"),
    (dict(soft_delete_retention_days=5), "between 7 and 90"),
    (dict(tenant_id="contoso"), "not a GUID"),
    (dict(access_policies=[policy()], enable_rbac_authorization=True), "ignored by a vault with"),
    (dict(access_policies=[policy(object_id="me")]), "must be the object id"),
    (dict(access_policies=[policy(), policy()]), "listed twice"),
    (dict(access_policies=[policy(keys=["fly"])]), "unknown key permission"),
    (dict(access_policies=[policy(keys=[])]), "at least one of keys"),
    (dict(tags=dict(("t%d" % i, "v") for i in range(51))), "at most 50"),
])
def test_validate_rejects(over, fragment):
    assert any(fragment in e for e in vault.validate(params(**over))), vault.validate(params(**over))


def test_validate_ok_and_absent_skips_present_checks():
    assert vault.validate(params(access_policies=[policy()])) == []
    assert vault.validate(params(state="absent", soft_delete_retention_days=1)) == []


def test_create_body_defaults_and_purge_protection_off_means_unset():
    body = vault.create_body(params(), TENANT)
    props = body["properties"]
    assert props["sku"] == {"family": "A", "name": "premium"} and props["enablePurgeProtection"] is True
    assert props["accessPolicies"] == [] and props["tenantId"] == TENANT and body["location"] == "eastus"
    off = vault.create_body(params(enable_purge_protection=False, sku="standard"), TENANT)["properties"]
    assert "enablePurgeProtection" not in off and off["sku"]["name"] == "standard"


def test_compare_only_given_options_and_location_spelling():
    plan = vault.compare(resource(enableRbacAuthorization=True), params(location="East US"))
    assert not plan.changed and not plan.errors


@pytest.mark.parametrize("over, fragment", [
    (dict(location="westeurope"), "cannot move"),
    (dict(soft_delete_retention_days=30), "cannot be changed after"),
    (dict(enable_purge_protection=False), "cannot be turned off"),
])
def test_compare_refuses_impossible_changes(over, fragment):
    plan = vault.compare(resource(), params(**over))
    assert any(fragment in e for e in plan.errors)


def test_compare_patch_and_access_policy_merge():
    have = resource(accessPolicies=[{"tenantId": TENANT, "objectId": OID.upper(), "permissions": {"keys": ["Get"]}}])
    plan = vault.compare(have, params(sku="standard", access_policies=[policy(keys=["get", "list"])]))
    assert plan.patch == {"sku": "standard"}
    assert plan.access == [{"tenantId": TENANT, "objectId": OID, "permissions": {"keys": ["list"]}}]
    assert vault.patch_body(plan) == {"properties": {"sku": {"family": "A", "name": "standard"}}}
    assert plan.diff()["after"]["access_policies"] == [{"object_id": OID, "keys": ["list"]}]


def test_access_policies_not_compared_on_rbac_vault():
    plan = vault.compare(resource(enableRbacAuthorization=True), params(access_policies=[policy()]))
    assert plan.access == []


def test_to_result_shape():
    result = vault.to_result(resource(vaultUri="https://kv1.vault.azure.net/"))
    assert result["resource_group"] == "rg" and result["location"] == "eastus"
    assert result["vault_uri"] == "https://kv1.vault.azure.net/" and result["network_default_action"] == "Allow"


def test_tags_merge_unless_append_tags_is_false():
    have = dict(resource(), tags={"owner": "me"})
    assert not vault.compare(have, params(tags={"owner": "me"})).changed
    merged = vault.compare(have, params(tags={"env": "t"}))
    assert merged.patch == {"tags": {"owner": "me", "env": "t"}}
    replaced = vault.compare(have, params(tags={"env": "t"}, append_tags=False))
    assert replaced.patch == {"tags": {"env": "t"}}


@pytest.mark.parametrize("code, message, fragment", [
    ("BadParameter", "AKV.SKR.1004: Exportable keys must have a release policy", "set release_policy"),
    ("BadParameter", "AKV.SKR.1005: Non-exportable keys must not have release policy", "remove release_policy"),
    ("BadParameter", "AKV.SKR.1001: Exportable keys are only supported in Premium SKU", "Premium vault"),
    ("BadParameter", "Hardware key operation not allowed on standard vault", "sku to premium"),
    ("Conflict", "Key cmk is currently in a deleted but recoverable state", "soft-delete bin"),
    ("Forbidden", "The user does not have keys create permission on key vault", "Key Vault Crypto Officer"),
])
def test_key_vault_error_hints(code, message, fragment):
    assert fragment in api.hint_for(code, message)


def test_hint_appended_once():
    from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError
    exc = AzureApiError(400, "BadParameter", "AKV.SKR.1004: x")
    api.with_hint(api.with_hint(exc))
    assert exc.message.count("Hint:") == 1
