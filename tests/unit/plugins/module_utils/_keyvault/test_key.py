# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._keyvault import key
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import release_policy as rp

EUS = "https://sharedeus.eus.attest.azure.net"
URL = "https://kv1.vault.azure.net/"


def params(**over):
    p = dict(vault_url=URL, name="cmk", state="present", key_type="RSA-HSM", key_size=3072,
             key_ops=["wrapKey", "unwrapKey"], exportable=True, release_policy="default_cvm",
             release_policy_authorities=None, location="eastus", release_policy_immutable=False)
    p.update(over)
    return p


# ------------------------------------------------------------------ vault_url

@pytest.mark.parametrize("url, expected", [
    ("https://kv1.vault.azure.net", ("https://kv1.vault.azure.net/", "kv1")),
    ("https://KV1.Vault.Azure.Net/", ("https://kv1.vault.azure.net/", "kv1")),
    ("  https://my-vault-01.vault.azure.net/  ", ("https://my-vault-01.vault.azure.net/", "my-vault-01")),
])
def test_parse_vault_url_normalizes(url, expected):
    assert key.parse_vault_url(url, "vault.azure.net") == expected


@pytest.mark.parametrize("url, fragment", [
    ("http://kv1.vault.azure.net/", "must start with https://"),
    ("https://kv1.vault.azure.net/keys/cmk", "without a path"),
    ("https://kv1.vault.azure.cn/", "not in this cloud's Key Vault domain"),
    ("https:///", "has no host"),
    ("https://kv1.vault.azure.net.evil.example/x", "without a path"),
    ("https://1kv.vault.azure.net/", "must be 3-24"),
    ("https://k--v.vault.azure.net/", "must be 3-24"),
    ("https://hsm1.managedhsm.azure.net/", "Managed HSM"),
    ("", "vault_url is required"),
])
def test_parse_vault_url_rejects_with_fix(url, fragment):
    with pytest.raises(ValueError) as exc:
        key.parse_vault_url(url, "vault.azure.net")
    assert fragment in str(exc.value)


def test_vault_url_outside_the_dns_suffix_has_no_vault_name():
    assert key.parse_vault_url("https://127.1.0.1:8443", "vault.azsim.local") == ("https://127.1.0.1:8443/", None)
    assert key.parse_vault_url("https://kv1.privatelink.example/", None) == ("https://kv1.privatelink.example/", None)


def test_unnamed_vault_url_needs_vault_id_for_the_grant():
    p = params(vault_url="https://127.1.0.1:8443/")
    errors = key.validate(p, "vault.azsim.local")
    assert any("set vault_id" in e for e in errors)
    vid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
    assert key.validate(dict(p, vault_id=vid), "vault.azsim.local") == []
    assert key.validate(dict(p, grant_confidential_vm_orchestrator=False), "vault.azsim.local") == []


# ------------------------------------------------------------------ validate

def test_valid_default_cvm_params_pass():
    assert key.validate(params()) == []
    assert key.validate(params(location=None, release_policy_authorities=[EUS])) == []


def test_a_key_the_guest_releases_cannot_be_unwrapped_in_key_vault():
    """A data disk's passphrase is RSA-OAEP-wrapped to the key: unwrapKey/decrypt in Key Vault would hand it to any
    principal with keys/unwrap on the vault, no attestation needed."""
    principals = ["11111111-1111-4111-8111-111111111111"]
    guest = params(release_policy="guest_cvm", key_ops=None)
    assert key.desired(guest, rp.guest_cvm([EUS]))["key_ops"] == ["wrapKey"]
    by_grant = params(release_policy={"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [
        {"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"}]}]},
        key_ops=None, release_principal_ids=principals)
    assert key.desired(by_grant, by_grant["release_policy"])["key_ops"] == ["wrapKey"]
    assert key.desired(params(key_ops=None), rp.default_cvm([EUS]))["key_ops"] == ["unwrapKey", "wrapKey"]
    for ops in (["wrapKey", "unwrapKey"], ["decrypt"]):
        errors = key.validate(params(release_policy="guest_cvm", key_ops=ops, release_principal_ids=principals))
        assert any(e.startswith("key_ops: ") and "set key_ops: [wrapKey]" in e for e in errors), errors
    assert key.validate(params(release_policy="guest_cvm", key_ops=["wrapKey"], release_principal_ids=principals)) == []


def test_guest_cvm_preset_with_release_principals_passes_and_resolves():
    p = params(release_policy="guest_cvm", location=None, release_policy_authorities=[EUS], key_ops=None,
               release_principal_ids=["11111111-1111-4111-8111-111111111111"])
    assert key.validate(p) == []
    assert key.resolve_policy(p) == rp.guest_cvm([EUS])
    assert key.needs_authority_lookup(params(release_policy="guest_cvm"))
    assert key.resolve_policy(params(release_policy=" guest_cvm "), [EUS]) == rp.guest_cvm([EUS])


@pytest.mark.parametrize("over, fragment", [
    (dict(key_type="RSA"), "key_type RSA cannot be exportable"),
    (dict(key_size=1024), "key_size 1024 is not allowed"),
    (dict(key_ops=[]), "key_ops must name at least one"),
    (dict(name="bad_name"), "name 'bad_name' must be"),
    (dict(release_policy=None), "exportable: true needs release_policy"),
    (dict(exportable=False, key_type="RSA"), "release_policy is only allowed on exportable keys"),
    (dict(location=None), "default_cvm needs location"),
    (dict(release_policy_authorities=[]), "release_policy_authorities is empty"),
    (dict(release_policy_authorities=["http://x"]), "release_policy_authorities"),
    (dict(release_policy={"version": "1.0.0", "anyOf": [{"authority": EUS}]}), "needs allOf or anyOf"),
    (dict(release_policy="{bad json"), "release_policy is not valid JSON"),
    (dict(release_policy="defaultcvm"), "default_cvm (confidential OS disks) or guest_cvm"),
    (dict(release_policy="guest_cvm", location=None), "guest_cvm needs location"),
    (dict(release_principal_ids=["11111111-1111-4111-8111-111111111111"]), "use release_policy: guest_cvm"),
    (dict(release_policy=["x"]), "got 'a list'"),
    (dict(release_policy={"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [{"claim": "a", "exists": True}]}]}),
     "accepts only 'equals'"),
    (dict(release_policy={"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [{"claim": "a", "equals": 1}]}]},
          release_policy_authorities=[EUS]), "only applies with release_policy: default_cvm or guest_cvm"),
    (dict(tags=dict(("t%d" % i, "v") for i in range(16))), "at most 15"),
    (dict(tags={"n": 1}), "tags.n: value must be a string"),
    (dict(vault_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/other"),
     "make them the same vault"),
    (dict(vault_id="kv1"), "is not a Key Vault resource id"),
    (dict(orchestrator_object_id="bf7b6499"), "is not an object id"),
    (dict(rotation_policy={"expiry_time": "P7D", "lifetime_actions": []}), "minimum of 28 days"),
    (dict(rotation_policy={"expiry_time": "1 year", "lifetime_actions": []}), "not an ISO 8601 duration"),
    (dict(rotation_policy={"expiry_time": "P1Y", "lifetime_actions": [
        {"action": "rotate", "time_after_create": "P1Y", "time_before_expiry": None}]}), "at least 7 days before"),
    (dict(rotation_policy={"expiry_time": None, "lifetime_actions": [
        {"action": "notify", "time_after_create": None, "time_before_expiry": "P30D"}]}), "needs rotation_policy.expiry"),
    (dict(rotation_policy={"expiry_time": "P1Y", "lifetime_actions": [
        {"action": "rotate", "time_after_create": "P90D", "time_before_expiry": "P30D"}]}), "exactly one of"),
    (dict(rotation_policy={"expiry_time": "P1Y", "lifetime_actions": [
        {"action": "notify", "time_after_create": "P90D", "time_before_expiry": None}]}), "notify takes"),
    (dict(rotation_policy={"expiry_time": "P1Y", "lifetime_actions": [
        {"action": "rotate", "time_after_create": "P90D", "time_before_expiry": None},
        {"action": "rotate", "time_after_create": "P100D", "time_before_expiry": None}]}), "a second rotate"),
    (dict(rotation_policy={"expiry_time": None, "lifetime_actions": [
        {"action": "rotate", "time_after_create": "P1D", "time_before_expiry": None}]}), "minimum of 7 days"),
])
def test_validate_rejects_with_parameter_and_fix(over, fragment):
    errors = key.validate(params(**over))
    assert any(fragment in e for e in errors), errors


def test_absent_needs_only_url_and_name():
    assert key.validate(dict(vault_url=URL, name="cmk", state="absent", key_type="RSA", release_policy=None)) == []


def test_non_exportable_software_key_without_policy_is_fine():
    assert key.validate(params(exportable=False, key_type="RSA", release_policy=None, location=None)) == []


def test_duration_days():
    assert key.duration_days("P1Y") == 365
    assert key.duration_days("P2W") == 14
    assert key.duration_days("PT48H") == 2
    assert key.duration_days("p90d") == 90
    assert key.duration_days("P") is None
    assert key.duration_days("90 days") is None


# ------------------------------------------------------------------ desired / current / compare

def bundle(**over):
    b = {
        "key": {"kid": URL + "keys/cmk/v1", "kty": "RSA-HSM", "key_ops": ["unwrapKey", "wrapKey"],
                "n": rp.b64url_encode(b"\x00" + b"\xff" * 384), "e": "AQAB"},
        "attributes": {"enabled": True, "exportable": True, "created": 1, "updated": 2, "recoveryLevel": "Recoverable"},
        "tags": {},
        "release_policy": rp.encode(rp.default_cvm([EUS]), False),
    }
    b.update(over)
    return b


def test_current_reads_size_from_modulus_and_decodes_policy():
    have = key.current(bundle())
    assert have["key_size"] == 3072
    assert have["release_policy"] == rp.default_cvm([EUS])
    assert have["release_policy_immutable"] is False


def test_no_change_when_service_returns_equivalent_policy():
    wire = rp.encode(rp.default_cvm([EUS + "/"]), False)
    want = key.desired(params(), rp.default_cvm([EUS]))
    assert not key.compare(key.current(bundle(release_policy=wire)), want).changed


def test_key_ops_order_does_not_matter():
    want = key.desired(params(key_ops=["wrapKey", "unwrapKey", "wrapKey"]), rp.default_cvm([EUS]))
    assert not key.compare(key.current(bundle()), want).changed


def test_unreported_key_size_is_not_a_change():
    b = bundle()
    del b["key"]["n"]
    assert not key.compare(key.current(b), key.desired(params(), rp.default_cvm([EUS]))).changed


def test_updatable_changes_go_to_update_body():
    want = key.desired(params(key_ops=["wrapKey", "unwrapKey", "encrypt"], tags={"a": "b"}, enabled=False),
                       rp.default_cvm([EUS]))
    plan = key.compare(key.current(bundle()), want)
    assert set(plan.update) == {"key_ops", "tags", "enabled"}
    assert plan.errors == []
    body = key.update_body(want, plan)
    assert body == {"key_ops": ["encrypt", "unwrapKey", "wrapKey"], "tags": {"a": "b"}, "attributes": {"enabled": False}}
    assert plan.diff()["before"] == {"key_ops": ["unwrapKey", "wrapKey"], "tags": {}, "enabled": True}


def test_enabled_and_tags_unmanaged_when_omitted():
    want = key.desired(params(), rp.default_cvm([EUS]))
    assert "enabled" not in want and "tags" not in want
    assert not key.compare(key.current(bundle(tags={"x": "y"})), want).changed


@pytest.mark.parametrize("over, prop", [
    (dict(key_size=4096), "key_size"),
    (dict(exportable=False, release_policy=None), "exportable"),
])
def test_version_properties_need_rotate(over, prop):
    want = key.desired(params(**over), None if over.get("release_policy", 1) is None else rp.default_cvm([EUS]))
    plan = key.compare(key.current(bundle()), want)
    assert prop in plan.new_version
    assert any("rotate: true" in e for e in plan.errors)
    assert key.compare(key.current(bundle()), want, rotate=True).errors == []


def test_immutable_policy_cannot_change_or_become_mutable():
    b = bundle(release_policy=rp.encode(rp.default_cvm([EUS]), True))
    other = key.desired(params(release_policy_immutable=True), rp.default_cvm(["https://sharedweu.weu.attest.azure.net"]))
    assert any("immutable" in e for e in key.compare(key.current(b), other).errors)
    mutable = key.desired(params(release_policy_immutable=False), rp.default_cvm([EUS]))
    assert any("cannot go back to false" in e for e in key.compare(key.current(b), mutable).errors)


def test_making_policy_immutable_is_an_in_place_update():
    want = key.desired(params(release_policy_immutable=True), rp.default_cvm([EUS]))
    plan = key.compare(key.current(bundle()), want)
    assert plan.update == {"release_policy_immutable": True} and not plan.errors
    assert key.update_body(want, plan)["release_policy"]["immutable"] is True


def test_create_body_shape():
    want = key.desired(params(tags={"a": "b"}), rp.default_cvm([EUS]))
    body = key.create_body(want)
    assert body["kty"] == "RSA-HSM" and body["key_size"] == 3072
    assert body["key_ops"] == ["unwrapKey", "wrapKey"]
    assert body["attributes"] == {"enabled": True, "exportable": True}
    assert rp.decode(body["release_policy"]) == rp.default_cvm([EUS])
    assert body["tags"] == {"a": "b"}


def test_resolve_policy_prefers_given_authorities_over_lookup():
    assert key.resolve_policy(params(release_policy_authorities=[EUS]), ["https://other.attest.azure.net"]) == \
        rp.default_cvm([EUS])
    assert key.resolve_policy(params(), ["https://other.attest.azure.net"]) == \
        rp.default_cvm(["https://other.attest.azure.net"])
    assert key.needs_authority_lookup(params()) is True
    assert key.needs_authority_lookup(params(release_policy_authorities=[EUS])) is False


def test_resolve_policy_accepts_json_string():
    text = '{"version": "1.0.0", "anyOf": [{"authority": "%s", "allOf": [{"claim": "a", "equals": "b"}]}]}' % EUS
    assert key.resolve_policy(params(release_policy=text))["anyOf"][0]["authority"] == EUS


def test_rotation_policy_compare_is_case_and_order_insensitive():
    wanted = key.rotation_policy_desired({"expiry_time": "p1y", "lifetime_actions": [
        {"action": "notify", "time_before_expiry": "P30D", "time_after_create": None},
        {"action": "rotate", "time_after_create": "P90D", "time_before_expiry": None}]})
    served = {"id": "x", "lifetimeActions": [
        {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}},
        {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}],
        "attributes": {"expiryTime": "P1Y", "created": 1}}
    assert key.rotation_policy_compared(wanted) == key.rotation_policy_compared(served)


def test_to_result_has_no_key_material_and_names_version():
    result = key.to_result(bundle(), URL, versions=[])
    assert result["name"] == "cmk" and result["version"] == "v1" and result["key_url"] == URL + "keys/cmk/v1"
    assert "n" not in result and "e" not in result
    assert bundle()["key"]["n"] not in repr(result)
    assert result["versions"] == []


def test_version_entries_sorted_oldest_first():
    items = [{"kid": URL + "keys/cmk/b", "attributes": {"created": 2, "enabled": True}},
             {"kid": URL + "keys/cmk/a", "attributes": {"created": 1, "enabled": False}}]
    assert [v["version"] for v in key.version_entries(items)] == ["a", "b"]


def test_desired_tags_merge_into_current_unless_append_tags_false():
    policy = rp.default_cvm([EUS])
    assert key.desired(params(tags={"a": "b"}), policy, {"x": "y"})["tags"] == {"x": "y", "a": "b"}
    assert key.desired(params(tags={"a": "b"}, append_tags=False), policy, {"x": "y"})["tags"] == {"a": "b"}
    assert key.desired(params(tags={"a": "b"}), policy)["tags"] == {"a": "b"}
