# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keyvault_key, keyvault_key_info, keyvault and resource_group through real argument parsing (AnsibleModule),
with AzureModule's clients replaced by the in-memory Azure of the _keyvault unit tests."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.modules import keyvault, keyvault_key, keyvault_key_info
from ansible_collections.confidential.azure.plugins.modules import resource_group
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault.fakes import (
    FakeArm, FakeGraph, FakeKv, Log, ORCH, SUB, Session, VAULT_ID, VAULT_URL, fake_sdk)

EUS = "https://sharedeus.eus.attest.azure.net"


class Exit(Exception):
    pass


class World(object):
    def __init__(self):
        self.log = Log()
        self.kv = FakeKv(self.log)
        self.arm = FakeArm(self.log)
        self.graph = FakeGraph(self.log)
        self.arm.add_vault()


@pytest.fixture
def world(monkeypatch):
    w = World()
    monkeypatch.setattr(AzureModule, "arm", property(lambda self: w.arm))
    monkeypatch.setattr(AzureModule, "graph", property(lambda self: w.graph))
    monkeypatch.setattr(AzureModule, "subscription_id", property(lambda self: SUB))
    monkeypatch.setattr(AzureModule, "session", property(lambda self: Session()))
    sdk = fake_sdk(w.kv)
    monkeypatch.setattr(AzureModule, "sdk", property(lambda self: sdk))
    monkeypatch.delenv("AZURE_CLOUD_ENVIRONMENT", raising=False)
    return w


@pytest.fixture
def captured(monkeypatch):
    out = {}

    def fake_exit(self, **kwargs):
        out.clear()
        out.update(kwargs)
        raise Exit()

    def fake_fail(self, msg, **kwargs):
        out.clear()
        out.update(kwargs, msg=msg, failed=True)
        raise Exit()

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", fake_exit)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fake_fail)
    return out


def call(module, args, captured, check=False, diff=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(Exit):
            module.main()
    return dict(captured)


def key_args(**over):
    args = {"vault_url": VAULT_URL, "vault_id": VAULT_ID, "name": "cmk", "release_policy": "default_cvm",
            "release_policy_authorities": [EUS]}
    args.update(over)
    return args


def test_key_defaults_from_argspec_make_the_cvm_cmk(world, captured):
    out = call(keyvault_key, key_args(), captured)
    assert out["changed"] is True
    key = out["key"]
    assert (key["kty"], key["key_size"], key["exportable"]) == ("RSA-HSM", 3072, True)
    assert sorted(key["key_ops"]) == ["unwrapKey", "wrapKey"]
    assert out["orchestrator_grant"]["principal_id"] == ORCH
    again = call(keyvault_key, key_args(), captured)
    assert again["changed"] is False and again["actions"] == [] and "diff" not in again


def test_key_check_mode_and_diff_through_ansible_flags(world, captured):
    out = call(keyvault_key, key_args(), captured, check=True, diff=True)
    assert out["changed"] is True and out["key"]["version"] is None and out["key"]["name"] == "cmk"
    assert world.log.writes() == []
    assert out["diff"]["after"]["kty"] == "RSA-HSM"


def test_key_recover_deleted_through_the_argspec(world, captured):
    kid = call(keyvault_key, key_args(), captured)["key"]["kid"]
    call(keyvault_key, key_args(state="absent"), captured)
    refused = call(keyvault_key, key_args(), captured)
    assert refused["failed"] and "recover_deleted: true" in refused["msg"]
    start = len(world.log)
    planned = call(keyvault_key, key_args(recover_deleted=True), captured, check=True)
    assert planned["changed"] is True and planned["actions"] == ["recover deleted key cmk"]
    assert [e for e in world.log[start:] if e[0] not in ("GET", "LIST")] == [] and "cmk" in world.kv.deleted
    recovered = call(keyvault_key, key_args(recover_deleted=True), captured)
    assert recovered["actions"] == ["recover deleted key cmk"] and recovered["key"]["kid"] == kid
    again = call(keyvault_key, key_args(recover_deleted=True), captured)
    assert again["changed"] is False


def test_key_argspec_rejects_before_any_request(world, captured):
    out = call(keyvault_key, key_args(key_size=1024), captured)
    assert out["failed"] and "key_size" in out["msg"]
    out = call(keyvault_key, key_args(vault_resource_group="rg"), captured)
    assert out["failed"] and "mutually exclusive" in out["msg"]
    out = call(keyvault_key, key_args(key_type="RSA"), captured)
    assert out["failed"] and "key_type RSA cannot be exportable" in out["msg"]
    assert out["errors"] and list(world.log) == []


def test_key_rotation_policy_suboptions_are_typed(world, captured):
    out = call(keyvault_key, key_args(rotation_policy={"expiry_time": "P1Y", "lifetime_actions": [
        {"action": "rotate", "time_after_create": "P90D", "color": "red"}]}), captured)
    assert out["failed"] and "color" in out["msg"]
    assert list(world.log) == []


def test_secrets_are_no_log(world, captured):
    with patch_module_args(dict(key_args(), secret="hunter2", password="pw")):
        module = AzureModule(argument_spec=keyvault_key.argument_spec())
    assert "hunter2" in module.module.no_log_values and "pw" in module.module.no_log_values


def test_key_info_same_shape_as_key(world, captured):
    created = call(keyvault_key, key_args(), captured)
    info = call(keyvault_key_info, {"vault_url": VAULT_URL, "name": "cmk"}, captured)
    assert info["exists"] is True and info["key"] == created["key"]
    missing = call(keyvault_key_info, {"vault_url": VAULT_URL, "name": "nope"}, captured)
    assert missing["exists"] is False and missing["key"] == {}


def test_vault_requires_location_when_present(world, captured):
    out = call(keyvault, {"name": "kv2", "resource_group": "rg"}, captured)
    assert out["failed"] and "location" in out["msg"]
    assert list(world.log) == []


def test_vault_create_and_access_policy_suboptions(world, captured):
    oid = "00000000-0000-0000-0000-0000000000dd"
    out = call(keyvault, {"name": "kv2", "resource_group": "rg", "location": "eastus",
                          "access_policies": [{"object_id": oid, "keys": ["get", "wrapKey"]}]}, captured)
    assert out["changed"] and out["vault"]["sku"] == "premium"
    assert out["vault"]["access_policies"][0]["object_id"] == oid
    assert sorted(out["vault"]["access_policies"][0]["keys"]) == ["get", "wrapKey"]
    again = call(keyvault, {"name": "kv2", "resource_group": "rg", "location": "eastus",
                            "access_policies": [{"object_id": oid, "keys": ["get"]}]}, captured)
    assert again["changed"] is False


def test_resource_group_through_main(world, captured):
    out = call(resource_group, {"name": "rg-x", "location": "East US", "tags": {"a": "b"}}, captured)
    assert out["changed"] and out["resource_group"]["location"] == "eastus"
    out = call(resource_group, {"name": "rg-x", "location": "eastus", "tags": {"a": "b"}}, captured)
    assert out["changed"] is False
