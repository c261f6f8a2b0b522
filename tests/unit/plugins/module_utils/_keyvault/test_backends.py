# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keyvault_key / keyvault flows against in-memory Azure: idempotency, check and diff mode,
request counts, grants, error hints."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError, LroTimeout
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import backends, facts, grants
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import release_policy as rp
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault.fakes import (
    AUTOMATION, FakeModule, Failed, ORCH, SUB, TENANT, VAULT_ID, VAULT_URL)

EUS = "https://sharedeus.eus.attest.azure.net"


def key_params(**over):
    p = dict(vault_url=VAULT_URL, name="cmk", state="present", key_type="RSA-HSM", key_size=3072,
             key_ops=["wrapKey", "unwrapKey"], exportable=True, release_policy="default_cvm",
             release_policy_authorities=None, location="eastus", release_policy_immutable=False, enabled=None,
             tags=None, append_tags=True, rotate=False, rotation_policy=None, grant_confidential_vm_orchestrator=True,
             orchestrator_object_id=None, vault_id=None, vault_resource_group="rg", include_versions=False,
             cloud_environment="AzureCloud")
    p.update(over)
    return p


def rerun(m, **over):
    """A second module run against the same fake Azure."""
    n = FakeModule(dict(m.params, **over))
    n.kv, n.arm, n.graph, n.log = m.kv, m.arm, m.graph, m.log
    return n


def writes(log):
    return [e for e in log if e[0] not in ("GET", "LIST")]


def run1(m):
    return run(m)[0]


def run(m):
    start = len(m.log)
    result = backends.run_key(m)
    return result, m.log[start:]


# ------------------------------------------------------------------------------------------ keyvault_key

def test_creates_cmk_with_default_cvm_policy_and_grants_orchestrator():
    m = FakeModule(key_params())
    result, log = run(m)
    assert result["changed"] is True
    key = result["key"]
    assert key["kty"] == "RSA-HSM" and key["key_size"] == 3072 and key["exportable"] is True
    assert sorted(key["key_ops"]) == ["unwrapKey", "wrapKey"]
    assert key["release_policy"] == rp.default_cvm([EUS])
    assert key["key_url"].startswith(VAULT_URL + "keys/cmk/")
    create = [e for e in log if e[0] == "POST"][0]
    assert create[2]["release_policy"]["contentType"] == "application/json; charset=utf-8"
    assert rp.decode(create[2]["release_policy"]) == rp.default_cvm([EUS])
    vault = m.arm.store[VAULT_ID.lower()]
    entry = [p for p in vault["properties"]["accessPolicies"] if p["objectId"] == ORCH][0]
    assert sorted(entry["permissions"]["keys"]) == ["get", "release"]
    assert result["orchestrator_grant"]["mode"] == "access_policy"


def test_result_never_carries_key_material():
    m = FakeModule(key_params())
    result = run1(m)
    text = repr(result)
    assert "'n'" not in text and "'e'" not in text and m.kv.keys["cmk"][-1]["key"]["n"] not in text


def test_second_run_is_unchanged_with_one_get_per_resource_and_no_write():
    m = FakeModule(key_params())
    run(m)
    result, log = run(rerun(m))
    assert result["changed"] is False
    assert writes(log) == []
    reads = [(e[0], e[1]) for e in log]
    assert reads.count(("GET", "kv:/keys/cmk")) == 1
    assert reads.count(("GET", VAULT_ID)) == 1
    assert sum(1 for e in reads if e[1].endswith("/defaultProvider")) == 1
    assert sum(1 for e in reads if e[1].startswith("graph:")) == 1
    assert len(reads) == 4


def test_given_authorities_and_object_id_leave_two_gets():
    m = FakeModule(key_params(release_policy_authorities=[EUS], location=None, orchestrator_object_id=ORCH))
    run(m)
    result, log = run(rerun(m))
    assert result["changed"] is False
    assert [(e[0], e[1]) for e in log] == [("GET", "kv:/keys/cmk"), ("GET", VAULT_ID)]


# ------------------------------------------------------------------ the play's facts (token cache on)

def _poison(path, kind, value):
    data = json.loads(path.read_text())
    hits = [k for k in data if k.startswith(kind + " ")]
    assert hits, data
    for k in hits:
        data[k]["value"] = value
    path.write_text(json.dumps(data))
    os.chmod(str(path), 0o600)


def test_with_the_plays_facts_a_rerun_reads_only_the_key(tmp_path):
    m = FakeModule(key_params(token_cache=str(tmp_path / "tokens.json")))
    first = run1(m)
    result, log = run(rerun(m))
    assert result["changed"] is False and result["key"] == first["key"]
    assert [(e[0], e[1]) for e in log] == [("GET", "kv:/keys/cmk")]
    grant = result["orchestrator_grant"]
    assert grant["missing"] == [] and grant["before"] == grant["after"] == ["get", "release"]
    assert grant["principal_id"] == ORCH
    assert oct(os.stat(str(tmp_path / "tokens.json.facts")).st_mode & 0o777) == "0o600"


def test_a_key_change_reads_the_vault_and_the_grant_again(tmp_path):
    m = FakeModule(key_params(token_cache=str(tmp_path / "tokens.json")))
    run(m)
    m.arm.store[VAULT_ID.lower()]["properties"]["accessPolicies"] = []  # the grant was removed behind our back
    result, log = run(rerun(m, tags={"a": "b"}))
    assert result["changed"] and result["orchestrator_grant"]["missing"] == ["get", "release"]
    assert ("GET", VAULT_ID) in [(e[0], e[1]) for e in log]


def test_a_cached_authority_that_does_not_confirm_the_key_is_read_again(tmp_path):
    cache = tmp_path / "tokens.json"
    m = FakeModule(key_params(token_cache=str(cache)))
    run(m)
    _poison(tmp_path / "tokens.json.facts", "attestation-default", "https://attacker.example.net")
    result, log = run(rerun(m))
    assert result["changed"] is False and result["key"]["release_policy"] == rp.default_cvm([EUS])
    assert sum(1 for e in log if e[1].endswith("/defaultProvider")) == 1
    # a new key is built from a fresh read, never from the cache
    _poison(tmp_path / "tokens.json.facts", "attestation-default", "https://attacker.example.net")
    result, log = run(rerun(m, name="cmk2"))
    assert result["changed"] and result["key"]["release_policy"] == rp.default_cvm([EUS])
    assert sum(1 for e in log if e[1].endswith("/defaultProvider")) == 1


def test_a_facts_file_others_can_write_is_ignored(tmp_path):
    m = FakeModule(key_params(token_cache=str(tmp_path / "tokens.json")))
    run(m)
    os.chmod(str(tmp_path / "tokens.json.facts"), 0o666)
    _result, log = run(rerun(m))
    assert sum(1 for e in log if e[1].endswith("/defaultProvider")) == 1
    assert ("GET", VAULT_ID) in [(e[0], e[1]) for e in log]


def test_facts_off_without_the_token_cache_and_grants_settle(monkeypatch):
    monkeypatch.delenv(facts.TOKEN_CACHE_ENV, raising=False)
    store = facts.Facts.of_params({"token_cache": None})
    store.put("k", ("a",), "v")
    assert store.path is None and store.get("k", ("a",), 10) is None
    assert facts.settled({"changed": True, "before": [], "after": ["get"], "missing": ["get"], "mode": "x"}) == \
        {"before": ["get"], "after": ["get"], "missing": [], "mode": "x"}


def test_facts_ttl(tmp_path):
    clock = [1000.0]
    store = facts.Facts(str(tmp_path / "t.json"), now=lambda: clock[0])
    store.put("k", ("a", None), "v")
    assert store.get("k", ("a", None), 10) == "v" and store.get("k", ("b", None), 10) is None
    clock[0] += 11
    assert store.get("k", ("a", None), 10) is None
    store.forget("k", ("a", None))
    assert store.get("k", ("a", None), 1000) is None


def test_a_known_challenge_saves_the_401_round_trip_and_a_seen_one_is_kept():
    from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api
    from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault.fakes import (
        FakeKv, Log, fake_sdk)

    kv = FakeKv(Log())
    seeded, elicited = "https://kvseeded.vault.azure.net/", "https://kvelicited.vault.azure.net/"
    header = api.expected_challenge("https://login.microsoftonline.com", TENANT, "https://vault.azure.net/.default",
                                    seeded)
    assert header == 'Bearer authorization="https://login.microsoftonline.com/%s", ' \
        'resource="https://vault.azure.net"' % TENANT
    assert api.seed_challenge(seeded, header)
    assert api.get_key(fake_sdk(kv).keys(seeded), "cmk") is None and kv.challenges == 0
    assert api.get_key(fake_sdk(kv).keys(elicited), "cmk") is None and kv.challenges == 1
    assert api.challenge_seen(elicited).startswith("Bearer authorization=")
    # a vault outside the cloud's Key Vault domain gets no made-up challenge
    assert api.expected_challenge("https://login.microsoftonline.com", TENANT, "https://vault.azure.net/.default",
                                  "https://127.0.0.1:8443/") is None
    # ... unless the cloud serves its vaults off that domain (the KeyClient cannot check a 401's resource there):
    # the cloud's own Key Vault resource, never one a server names
    assert api.expected_challenge("https://login.example.test", TENANT, "https://vault.azsim.local/.default",
                                  "https://127.0.0.1:8443/", any_host=True) == \
        'Bearer authorization="https://login.example.test/%s", resource="https://vault.azsim.local"' % TENANT


def test_check_mode_on_new_key_writes_nothing_and_diffs_everything():
    m = FakeModule(key_params(), check_mode=True, diff_mode=True)
    result, log = run(m)
    assert result["changed"] is True
    assert writes(log) == []
    assert result["actions"] == ["create key cmk", "grant the Confidential VM Orchestrator %s get, release on key cmk "
                                 "(access_policy)" % ORCH]
    assert result["diff"]["before"].get("kty") is None
    assert result["diff"]["after"]["kty"] == "RSA-HSM"
    assert result["diff"]["after"]["orchestrator_grant"] == ["get", "release"]
    key = result["key"]  # the key it would create; Key Vault names the version on creation
    assert key["kid"] == key["key_url"] == VAULT_URL + "keys/cmk" and key["version"] is None
    assert (key["name"], key["kty"], key["key_size"], key["exportable"]) == ("cmk", "RSA-HSM", 3072, True)
    assert key["release_policy"]["anyOf"][0]["authority"] == EUS


def test_diff_shows_only_changed_properties():
    m = FakeModule(key_params())
    run(m)
    n = rerun(m, tags={"env": "prod"})
    n.diff_mode = True
    result, log = run(n)
    assert result["changed"] is True
    assert result["diff"] == {"before": {"tags": {}}, "after": {"tags": {"env": "prod"}}}
    patch = [e for e in log if e[0] == "PATCH"][0]
    assert patch[1].startswith("kv:/keys/cmk/") and patch[2] == {"tags": {"env": "prod"}}


def test_result_shape_actions_always_diff_only_in_diff_mode():
    m = FakeModule(key_params())
    first = run1(m)
    assert "diff" not in first and first["actions"][0] == "create key cmk"
    again = run1(rerun(m))
    assert again["changed"] is False and again["actions"] == [] and "diff" not in again
    gone = run1(rerun(m, state="absent"))
    assert gone["actions"] == ["delete key cmk"] and gone["key"] == {} and "diff" not in gone
    none = rerun(m, state="absent")
    none.diff_mode = True
    assert run1(none) == {"changed": False, "actions": [], "key": {}, "diff": {"before": {}, "after": {}}}


def test_tags_merge_by_default_and_replace_with_append_tags_false():
    m = FakeModule(key_params(tags={"env": "prod"}))
    run(m)
    merged = run1(rerun(m, tags={"team": "cvm"}))
    assert merged["key"]["tags"] == {"env": "prod", "team": "cvm"}
    assert merged["actions"] == ["update key cmk: tags"]
    assert run1(rerun(m, tags={"env": "prod"}))["changed"] is False
    replaced = run1(rerun(m, tags={"team": "cvm"}, append_tags=False))
    assert replaced["changed"] and replaced["key"]["tags"] == {"team": "cvm"}
    assert run1(rerun(m, tags={"team": "cvm"}, append_tags=False))["changed"] is False


def test_merged_tags_over_the_key_limit_are_refused_before_any_write():
    m = FakeModule(key_params(tags=dict(("t%d" % i, "v") for i in range(10))))
    run(m)
    n = rerun(m, tags=dict(("u%d" % i, "v") for i in range(10)))
    start = len(n.log)
    with pytest.raises(Failed) as exc:
        run(n)
    assert "tags:" in exc.value.msg and "append_tags: false" in exc.value.msg and writes(n.log[start:]) == []


def test_policy_change_is_updated_in_place():
    m = FakeModule(key_params())
    run(m)
    west = "https://sharedweu.weu.attest.azure.net"
    result, log = run(rerun(m, release_policy_authorities=[EUS, west]))
    assert result["changed"] is True
    assert rp.authorities(result["key"]["release_policy"]) == [EUS, west]
    assert [e[0] for e in log if e[0] not in ("GET", "LIST")] == ["PATCH"]


def test_immutable_policy_change_needs_rotate():
    m = FakeModule(key_params(release_policy_immutable=True))
    run(m)
    with pytest.raises(Failed) as exc:
        run(rerun(m, release_policy_authorities=["https://sharedweu.weu.attest.azure.net"]))
    assert "immutable" in exc.value.msg and "rotate: true" in exc.value.msg


def test_key_size_change_needs_rotate_and_rotate_creates_new_version():
    m = FakeModule(key_params())
    first = run1(m)
    with pytest.raises(Failed) as exc:
        run(rerun(m, key_size=4096))
    assert "key_size" in exc.value.msg and "rotate: true" in exc.value.msg
    n = rerun(m, key_size=4096, rotate=True)
    n.diff_mode = True
    result, log = run(n)
    assert result["changed"] and result["key"]["key_size"] == 4096
    assert result["key"]["version"] != first["key"]["version"]
    assert result["diff"]["before"]["key_size"] == 3072 and result["actions"] == ["create a new version of key cmk"]


def test_rotate_without_changes_still_creates_a_version():
    m = FakeModule(key_params())
    run(m)
    result = run1(rerun(m, rotate=True, include_versions=True))
    assert result["changed"] is True
    assert len(result["key"]["versions"]) == 2


def test_rbac_vault_gets_release_user_role_at_key_scope_once():
    m = FakeModule(key_params(), rbac=True)
    result = run1(m)
    assert result["orchestrator_grant"]["mode"] == "rbac"
    assert len(m.arm.assignments) == 1
    a = m.arm.assignments[0]
    assert a["properties"]["scope"] == VAULT_ID + "/keys/cmk"
    assert a["properties"]["roleDefinitionId"].endswith(grants.ROLE_RELEASE_USER)
    assert a["properties"]["principalId"] == ORCH
    again, log = run(rerun(m))
    assert again["changed"] is False and len(m.arm.assignments) == 1
    lists = [e for e in log if e[0] == "LIST"]
    assert len(lists) == 1 and lists[0][2] == {"$filter": "principalId eq '%s'" % ORCH}


def test_rbac_role_at_vault_scope_already_covers_the_key():
    m = FakeModule(key_params(), rbac=True)
    m.arm.assignments.append({"id": VAULT_ID + "/providers/Microsoft.Authorization/roleAssignments/x", "properties": {
        "scope": VAULT_ID, "principalId": ORCH,
        "roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                            % (SUB, grants.ROLE_RELEASE_USER)}})
    result = run1(m)
    assert result["orchestrator_grant"]["missing"] == []
    assert len(m.arm.assignments) == 1


def test_missing_orchestrator_says_how_to_create_it():
    m = FakeModule(key_params(), orchestrator=None)
    with pytest.raises(Failed) as exc:
        run(m)
    assert "az ad sp create --id bf7b6499-ff71-4aa2-97a4-f372087be7f0" in exc.value.msg
    assert writes(m.log) == []


def test_standard_vault_is_refused_before_creating_the_key():
    m = FakeModule(key_params(), sku="standard")
    with pytest.raises(Failed) as exc:
        run(m)
    assert "standard vault" in exc.value.msg and "premium" in exc.value.msg
    assert writes(m.log) == []


def test_key_vault_error_gets_a_hint():
    m = FakeModule(key_params(grant_confidential_vm_orchestrator=False), sku="standard")
    with pytest.raises(AzureApiError) as exc:
        run(m)
    assert "Premium vault" in exc.value.summary()


def test_vault_discovered_by_name_when_no_vault_id_or_group():
    m = FakeModule(key_params(vault_resource_group=None))
    result, log = run(m)
    assert result["changed"] is True
    lists = [e for e in log if e[0] == "LIST"]
    assert lists[0][1] == "/subscriptions/%s/resources" % SUB
    assert "name eq 'kv1'" in lists[0][2]["$filter"]


def test_unknown_vault_fails_with_fix():
    m = FakeModule(key_params(vault_resource_group=None), with_vault=False)
    with pytest.raises(Failed) as exc:
        run(m)
    assert "vault_id" in exc.value.msg


def test_absent_deletes_and_is_idempotent():
    m = FakeModule(key_params())
    run(m)
    result, log = run(rerun(m, state="absent"))
    assert result["changed"] is True and result["key"] == {}
    assert [e[0] for e in log if e[0] not in ("GET", "LIST")] == ["DELETE"]
    again, log = run(rerun(m, state="absent"))
    assert again["changed"] is False and writes(log) == []


def _deleted_cmk(**over):
    """A key created, then deleted into the soft-delete bin; a module for the next run with ``over``."""
    m = FakeModule(key_params())
    kid = run1(m)["key"]["kid"]
    run(rerun(m, state="absent"))
    assert "cmk" in m.kv.deleted and "cmk" not in m.kv.keys
    return rerun(m, **over), kid


def test_a_deleted_key_without_recover_deleted_fails_naming_the_option():
    m, _kid = _deleted_cmk()
    with pytest.raises(AzureApiError) as exc:
        run(m)
    assert exc.value.status == 409 and "recover_deleted: true" in exc.value.summary()
    assert not any("deletedkeys" in e[1] for e in m.log)
    assert "cmk" not in m.kv.keys and "cmk" in m.kv.deleted


def test_recover_deleted_in_check_mode_reports_the_recovery_and_writes_nothing():
    m, kid = _deleted_cmk(recover_deleted=True)
    m.check_mode = m.diff_mode = True
    result, log = run(m)
    assert result["changed"] is True and result["actions"] == ["recover deleted key cmk"]
    assert result["diff"] == {"before": {"state": "deleted"}, "after": {"state": "present"}}
    assert result["key"]["kid"] == kid
    assert writes(log) == []
    assert [e[1] for e in log if e[1].startswith("kv:")] == ["kv:/keys/cmk", "kv:/deletedkeys/cmk"]
    assert "cmk" in m.kv.deleted


def test_recover_deleted_recovers_the_same_key_updates_what_differs_then_is_unchanged():
    m, kid = _deleted_cmk(recover_deleted=True, tags={"env": "prod"}, key_ops=["wrapKey", "unwrapKey", "decrypt"])
    m.diff_mode = True
    result, log = run(m)
    assert result["changed"] is True
    assert result["actions"] == ["recover deleted key cmk", "update key cmk: key_ops, tags"]
    assert result["key"]["kid"] == kid and result["key"]["tags"] == {"env": "prod"}
    assert result["diff"]["before"]["state"] == "deleted" and result["diff"]["after"]["tags"] == {"env": "prod"}
    assert [(e[0], e[1]) for e in writes(log)] == [("POST", "kv:/deletedkeys/cmk/recover"),
                                                   ("PATCH", "kv:/keys/cmk/" + kid.rsplit("/", 1)[1])]
    assert "cmk" in m.kv.keys and "cmk" not in m.kv.deleted
    again, log = run(rerun(m))
    assert again["changed"] is False and writes(log) == []
    assert [e[1] for e in log if e[1].startswith("kv:")] == ["kv:/keys/cmk"]


def test_recover_deleted_refuses_a_property_the_version_cannot_change_before_recovering():
    m, _kid = _deleted_cmk(recover_deleted=True, key_size=4096)
    with pytest.raises(Failed) as exc:
        run(m)
    assert exc.value.msg.startswith("deleted key cmk was not recovered: key_size") and "rotate: true" in exc.value.msg
    assert writes(m.log[-3:]) == [] and "cmk" in m.kv.deleted


def test_recover_deleted_without_a_deleted_key_creates_it():
    m = FakeModule(key_params(recover_deleted=True))
    result, log = run(m)
    assert result["actions"][0] == "create key cmk"
    assert [e[1] for e in log if e[1].startswith("kv:")][:3] == ["kv:/keys/cmk", "kv:/deletedkeys/cmk",
                                                                 "kv:/keys/cmk/create"]


def test_a_recovery_key_vault_does_not_finish_in_time_is_an_lro_timeout():
    m, _kid = _deleted_cmk()
    from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api

    m.kv.recovering = 1  # the first GET after the recover still answers 404; the poller then sleeps 2 s
    with pytest.raises(LroTimeout) as exc:
        api.recover_deleted_key(m.sdk.keys(VAULT_URL), "cmk", timeout=0.01)
    assert "re-run" in str(exc.value) and exc.value.to_dict()["resource_url"] == VAULT_URL + "keys/cmk"


def test_a_recovery_that_outlasts_the_wait_fails_saying_it_was_sent(monkeypatch):
    from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api

    m, _kid = _deleted_cmk(recover_deleted=True, tags={"env": "prod"})
    m.kv.recovering = 1
    monkeypatch.setattr(api, "RECOVER_TIMEOUT", 0.01)
    with pytest.raises(Failed) as exc:
        run(m)
    assert "did not serve the key" in exc.value.msg
    assert exc.value.kwargs["changed"] is True and exc.value.kwargs["actions"] == ["recover deleted key cmk"]
    assert exc.value.kwargs["operation"]["resource_url"] == VAULT_URL + "keys/cmk"
    assert writes(m.log)[-1][1] == "kv:/deletedkeys/cmk/recover"  # and no update after it


def test_rotation_policy_is_set_then_unchanged():
    rotation = {"expiry_time": "P2Y", "lifetime_actions": [
        {"action": "rotate", "time_after_create": "P1Y", "time_before_expiry": None},
        {"action": "notify", "time_after_create": None, "time_before_expiry": "P30D"}]}
    m = FakeModule(key_params(rotation_policy=rotation))
    result, log = run(m)
    assert result["key"]["rotation_policy"]["expiry_time"] == "P2Y"
    assert m.kv.rotation["cmk"]["lifetimeActions"][0]["action"]["type"] == "Rotate"
    again, log = run(rerun(m))
    assert again["changed"] is False
    assert writes(log) == []


def test_invalid_policy_fails_before_any_request():
    bad = {"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": [{"claim": "svn", "greater": 3}]}]}
    m = FakeModule(key_params(release_policy=bad, location=None))
    with pytest.raises(Failed) as exc:
        run(m)
    assert "anyOf[0].allOf[0]" in exc.value.msg and "equals" in exc.value.msg
    assert list(m.log) == []


# ------------------------------------------------------------------------------------------ keyvault

def vault_params(**over):
    p = dict(name="kv2", resource_group="rg", location="eastus", state="present", sku=None, tenant_id=None,
             enable_purge_protection=None, soft_delete_retention_days=None, enable_rbac_authorization=None,
             enabled_for_disk_encryption=None, network_default_action=None, access_policies=None, tags=None,
             wait=True, wait_timeout=600, grant_automation_principal=True, allow_unfit_for_confidential_disks=False)
    p.update(over)
    return p


def vault_run(m):
    start = len(m.log)
    return backends.run_vault(m), m.log[start:]


def test_vault_created_with_cvm_defaults():
    m = FakeModule(vault_params())
    result, log = vault_run(m)
    assert result["changed"]
    body = [e for e in log if e[0] == "PUT"][0][2]
    assert body["properties"]["sku"] == {"family": "A", "name": "premium"}
    assert body["properties"]["enablePurgeProtection"] is True
    assert body["properties"]["softDeleteRetentionInDays"] == 90
    assert body["properties"]["enableRbacAuthorization"] is False
    assert body["properties"]["tenantId"] == TENANT
    assert result["vault"]["sku"] == "premium" and result["vault"]["enable_purge_protection"] is True


def test_vault_rerun_one_get_no_write_and_keeps_unmanaged_settings():
    m = FakeModule(vault_params(enable_rbac_authorization=True))
    vault_run(m)
    n = FakeModule(vault_params())  # rbac not given: must not flip it back
    n.arm, n.log = m.arm, m.log
    result, log = vault_run(n)
    assert result["changed"] is False and result["actions"] == [] and "diff" not in result
    # the vault, and on an RBAC vault the automation principal's role assignments
    assert [(e[0]) for e in log] == ["GET", "LIST"]


def test_vault_update_patches_only_the_change_and_diffs_it():
    m = FakeModule(vault_params())
    vault_run(m)
    n = FakeModule(vault_params(network_default_action="Deny"), diff_mode=True)
    n.arm, n.log = m.arm, m.log
    result, log = vault_run(n)
    assert result["diff"] == {"before": {"network_default_action": "Allow"}, "after": {"network_default_action": "Deny"}}
    patch = [e for e in log if e[0] == "PATCH"][0][2]
    assert patch == {"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}}


def test_vault_access_policy_added_without_dropping_others():
    m = FakeModule(vault_params())
    vault_run(m)
    rid = "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv2" % SUB
    m.arm.store[rid.lower()]["properties"]["accessPolicies"].append(
        {"tenantId": TENANT, "objectId": ORCH, "permissions": {"keys": ["get", "release"]}})
    oid = "00000000-0000-0000-0000-0000000000dd"
    n = FakeModule(vault_params(access_policies=[{"object_id": oid, "tenant_id": None, "keys": ["get", "create"],
                                                  "secrets": [], "certificates": []}]))
    n.arm, n.log = m.arm, m.log
    result, log = vault_run(n)
    assert result["changed"]
    puts = [e for e in log if e[0] == "PUT"]
    assert len(puts) == 1 and puts[0][1] == rid + "/accessPolicies/add"
    ids = sorted(p["object_id"] for p in result["vault"]["access_policies"])
    assert ids == sorted([AUTOMATION, ORCH, oid])


def test_vault_location_change_is_refused():
    m = FakeModule(vault_params())
    vault_run(m)
    n = FakeModule(vault_params(location="westeurope"))
    n.arm, n.log = m.arm, m.log
    with pytest.raises(Failed) as exc:
        vault_run(n)
    assert "cannot move" in exc.value.msg


def test_vault_check_mode_absent_writes_nothing():
    m = FakeModule(vault_params())
    vault_run(m)
    n = FakeModule(vault_params(state="absent"), check_mode=True)
    n.arm, n.log = m.arm, m.log
    result, log = vault_run(n)
    assert result["changed"] and [e for e in log if e[0] != "GET"] == []


def _unreachable(m):
    """The vault's DNS name does not resolve: what the KeyClient's transport raises then, through the real SDK."""
    import requests  # pylint: disable=import-outside-toplevel

    def refuse(method, path, *_args):
        m.log.append((method, "kv:" + path, None))
        raise requests.exceptions.ConnectionError("Failed to resolve 'kv1.vault.azure.net' ([Errno -2] Name or "
                                                  "service not known)")
    m.kv.request = refuse
    return m


def test_check_mode_key_in_a_vault_an_earlier_task_would_create_is_a_create():
    # first.yml --check on a fresh resource group: the vault's name does not resolve and ARM has no such vault
    m = _unreachable(FakeModule(key_params(vault_id=VAULT_ID, vault_resource_group=None), check_mode=True,
                                diff_mode=True, with_vault=False))
    result, log = run(m)
    assert result["changed"] is True and writes(log) == [] and m.warnings == []
    assert result["actions"] == ["create key cmk", "grant the Confidential VM Orchestrator %s get, release on key "
                                 "cmk (once the vault exists)" % ORCH]
    assert result["key"]["kid"] == VAULT_URL + "keys/cmk" and result["key"]["version"] is None
    assert result["orchestrator_grant"]["scope"] == VAULT_ID and "does not exist yet" in \
        result["orchestrator_grant"]["note"]
    assert ("GET", VAULT_ID, None) in log  # ARM asked once, on the failure path only


def test_check_mode_release_grant_in_a_vault_to_be_created_is_planned():
    vm = "11111111-2222-3333-4444-555555555555"
    m = _unreachable(FakeModule(key_params(vault_id=VAULT_ID, vault_resource_group=None, release_policy="guest_cvm",
                                           release_principal_ids=[vm], grant_confidential_vm_orchestrator=False,
                                           key_ops=None),
                                check_mode=True, with_vault=False))
    result, log = run(m)
    assert writes(log) == [] and result["release_grant"]["missing"] == [vm]
    assert result["release_grant"]["scope"] == VAULT_ID + "/keys/cmk"
    assert result["actions"][-1] == "grant %s Key Vault Crypto Service Release User on key cmk" % vm


@pytest.mark.parametrize("check_mode", [True, False])
def test_an_existing_vault_that_does_not_answer_fails_naming_vault_url(check_mode):
    m = _unreachable(FakeModule(key_params(), check_mode=check_mode))
    with pytest.raises(Failed) as exc:
        run(m)
    assert "vault_url %s does not answer" % VAULT_URL in exc.value.msg and "Failed to resolve" in exc.value.msg
    assert "vault %s exists" % VAULT_ID in exc.value.msg and "DNS" in exc.value.msg
    assert exc.value.kwargs["azure_error"]["code"] == "ConnectionError"


def test_outside_check_mode_a_missing_vault_that_does_not_answer_says_so():
    m = _unreachable(FakeModule(key_params(), with_vault=False))
    with pytest.raises(Failed) as exc:
        run(m)
    assert "vault_url %s does not answer" % VAULT_URL in exc.value.msg
    assert "the vault does not exist (%s)" % VAULT_ID in exc.value.msg and "confidential.azure.keyvault" in \
        exc.value.msg
    assert writes(m.log) == []


def test_a_vault_arm_cannot_tell_about_may_not_exist(monkeypatch):
    m = _unreachable(FakeModule(key_params(vault_resource_group=None), with_vault=False))

    def refused(*_args, **_kwargs):
        raise AzureApiError(403, "AuthorizationFailed", "no read on the subscription")
    monkeypatch.setattr(m.arm, "list", refused)
    with pytest.raises(Failed) as exc:
        run(m)
    assert "the vault may not exist" in exc.value.msg and "vault_url %s" % VAULT_URL in exc.value.msg


def test_no_region_warning_for_a_key_released_to_the_guest():
    # the "vault in the VM's region" rule is the OS disk CMK's (a disk encryption set's); not a guest-released key
    m = FakeModule(key_params(location="westeurope", release_policy="guest_cvm"))
    run(m)
    assert not any("own region" in w for w in m.warnings)  # release_principal_ids: test_release_grants.py


def test_warns_about_purge_protection_and_vault_region():
    m = FakeModule(key_params(location="westeurope"))
    m.arm.store[VAULT_ID.lower()]["properties"]["enablePurgeProtection"] = False
    run(m)
    assert any("purge protection off" in w for w in m.warnings)
    assert any("is in eastus but location is westeurope" in w for w in m.warnings)
    quiet = FakeModule(key_params())
    run(quiet)
    assert quiet.warnings == []


# ------------------------------------------------------------------------------------------ automation self-grant

AUTOMATION_KEYS = ["create", "delete", "get", "getrotationpolicy", "import", "list", "recover", "rotate",
                   "setrotationpolicy", "update"]
VAULT2 = "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv2" % SUB


def test_new_access_policy_vault_carries_the_automation_principals_access_policy():
    # Azure gives the creator of a vault no data-plane rights: without this entry the key task gets 403.
    m = FakeModule(vault_params())
    result, log = vault_run(m)
    puts = [e for e in log if e[0] == "PUT"]
    assert len(puts) == 1  # in the create body, no second request
    policies = puts[0][2]["properties"]["accessPolicies"]
    assert policies == [{"tenantId": TENANT, "objectId": AUTOMATION, "permissions": {"keys": AUTOMATION_KEYS}}]
    grant = result["automation_grant"]
    assert (grant["mode"], grant["principal_id"], grant["before"], grant["missing"]) == (
        "access_policy", AUTOMATION, [], AUTOMATION_KEYS)


def test_automation_grant_merges_with_its_own_access_policies_entry():
    m = FakeModule(vault_params(access_policies=[{"object_id": AUTOMATION, "tenant_id": None, "keys": ["release"],
                                                  "secrets": ["get"], "certificates": []}]))
    vault_run(m)
    entries = m.arm.store[VAULT2.lower()]["properties"]["accessPolicies"]
    assert len(entries) == 1 and entries[0]["permissions"]["keys"] == sorted(AUTOMATION_KEYS + ["release"])
    assert entries[0]["permissions"]["secrets"] == ["get"]


def test_existing_vault_without_the_grant_gets_it_shown_in_check_mode_and_diff():
    m = FakeModule(vault_params(grant_automation_principal=False))
    vault_run(m)
    check = rerun_vault(m, check_mode=True, grant_automation_principal=True)
    result, log = vault_run(check)
    assert result["changed"] and writes(log) == []
    assert result["diff"]["before"]["automation_grant"] == [] and result["diff"]["after"]["automation_grant"] == \
        AUTOMATION_KEYS
    real = rerun_vault(m, grant_automation_principal=True)
    result, log = vault_run(real)
    puts = [e for e in log if e[0] == "PUT"]
    assert [p[1] for p in puts] == [VAULT2 + "/accessPolicies/add"]
    again, log = vault_run(rerun_vault(m, grant_automation_principal=True))
    assert again["changed"] is False and [e[0] for e in log] == ["GET"]


def test_grant_automation_principal_false_grants_nothing():
    m = FakeModule(vault_params(grant_automation_principal=False))
    result, log = vault_run(m)
    assert "automation_grant" not in result
    assert [e for e in log if e[0] == "PUT"][0][2]["properties"]["accessPolicies"] == []


def test_new_rbac_vault_gets_crypto_officer_at_vault_scope_once():
    m = FakeModule(vault_params(enable_rbac_authorization=True))
    result, log = vault_run(m)
    role_puts = [e for e in log if e[0] == "PUT" and "/roleAssignments/" in e[1]]
    assert len(role_puts) == 1
    path, body = role_puts[0][1], role_puts[0][2]
    assert path.startswith(VAULT2 + "/providers/Microsoft.Authorization/roleAssignments/")
    assert body["properties"]["roleDefinitionId"].endswith(grants.ROLE_CRYPTO_OFFICER)
    assert body["properties"]["principalId"] == AUTOMATION
    assert result["automation_grant"]["after"] == ["Key Vault Crypto Officer"]
    again, log = vault_run(rerun_vault(m))
    assert again["changed"] is False and writes(log) == []


def test_new_rbac_vault_in_check_mode_shows_the_role_and_writes_nothing():
    m = FakeModule(vault_params(enable_rbac_authorization=True), check_mode=True, diff_mode=True)
    result, log = vault_run(m)
    assert writes(log) == []
    assert result["actions"][0] == "create key vault kv2" and "automation principal" in result["actions"][-1]
    assert result["diff"]["after"]["automation_grant"] == ["Key Vault Crypto Officer"]


@pytest.mark.parametrize("rbac", [False, True])
def test_vault_check_mode_returns_the_vault_it_would_create(rbac):
    # what a next task templates from it (vault.vault.id, vault.vault.vault_uri) is known before the vault exists
    m = FakeModule(vault_params(enable_rbac_authorization=rbac, tags={"env": "dev"}), check_mode=True,
                   with_vault=False)
    result, log = vault_run(m)
    vault = result["vault"]
    assert writes(log) == [] and result["changed"] is True
    assert vault["id"] == VAULT2 and vault["vault_uri"] == "https://kv2.vault.azure.net/"
    assert (vault["name"], vault["resource_group"], vault["location"], vault["sku"]) == ("kv2", "rg", "eastus",
                                                                                         "premium")
    assert vault["enable_purge_protection"] is True and vault["soft_delete_retention_days"] == 90
    assert vault["enable_rbac_authorization"] is rbac and vault["tenant_id"] == TENANT
    assert vault["tags"] == {"env": "dev"} and vault["provisioning_state"] is None
    assert [p["object_id"] for p in vault["access_policies"]] == ([] if rbac else [AUTOMATION])
    created = vault_run(FakeModule(vault_params(enable_rbac_authorization=rbac), with_vault=False))[0]["vault"]
    assert sorted(vault) == sorted(created)  # one result shape


def test_vault_check_mode_uses_the_clouds_key_vault_domain():
    m = FakeModule(vault_params(cloud_environment="AzureChinaCloud"), check_mode=True, with_vault=False)
    assert vault_run(m)[0]["vault"]["vault_uri"] == "https://kv2.vault.azure.cn/"


def test_user_principal_gets_a_user_role_assignment():
    m = FakeModule(vault_params(enable_rbac_authorization=True))
    m.session = type(m.session)(AUTOMATION, "User")
    vault_run(m)
    body = [e for e in m.log if e[0] == "PUT" and "/roleAssignments/" in e[1]][0][2]
    assert body["properties"]["principalType"] == "User"


@pytest.mark.parametrize("over, fragment", [
    ({"enable_purge_protection": False}, "enable_purge_protection: false"),
    ({"sku": "standard"}, "sku: standard"),
])
def test_vault_a_confidential_des_cannot_use_is_refused_before_any_request(over, fragment):
    m = FakeModule(vault_params(**over), with_vault=False)
    with pytest.raises(Failed) as exc:
        vault_run(m)
    assert fragment in exc.value.msg and "allow_unfit_for_confidential_disks: true" in exc.value.msg
    assert list(m.log) == []


def test_allow_unfit_for_confidential_disks_creates_it_without_purge_protection():
    m = FakeModule(vault_params(enable_purge_protection=False, allow_unfit_for_confidential_disks=True))
    vault_run(m)
    body = [e for e in m.log if e[0] == "PUT"][0][2]
    assert "enablePurgeProtection" not in body["properties"]


def test_existing_vault_without_purge_protection_is_named_in_a_warning():
    m = FakeModule(vault_params())
    vault_run(m)
    m.arm.store[VAULT2.lower()]["properties"]["enablePurgeProtection"] = False
    n = rerun_vault(m)
    vault_run(n)
    assert any("purge protection off" in w and "enable_purge_protection: true" in w for w in n.warnings)


def rerun_vault(m, check_mode=False, **over):
    n = FakeModule(dict(m.params, **over), check_mode=check_mode, diff_mode=True, with_vault=False)
    n.arm, n.log = m.arm, m.log
    return n
