# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.resource_group / keyvault / keyvault_key / keyvault_key_info against the simulator,
run through ansible-playbook: create, idempotent re-run (request counts), check mode, diff, update, absent,
grants on access-policy and RBAC vaults, the orchestrator missing, and injected faults."""
from __future__ import annotations

from helpers import run_module
from kv_common import (ORCHESTRATOR_APP_ID, RG, VAULT, azure_requests, challenges, key_args, make_vault, ok, since,
                       vault_args, writes)

ORCH_ROLE = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"


def _b64u(data: bytes) -> str:
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_resource_group_and_vault_create_rerun_check_diff_absent(fresh_simulator):
    sim = fresh_simulator
    mark = sim.mark()
    out = run_module("resource_group", {"name": RG, "location": "eastus"}, sim.env, check=True)
    assert out["changed"] and writes(sim, mark) == [], out
    ok(run_module("resource_group", {"name": RG, "location": "eastus"}, sim.env))

    mark = sim.mark()
    out = run_module("keyvault", vault_args(), sim.env, check=True, diff=True)
    assert out["changed"] and writes(sim, mark) == []
    assert out["diff"]["after"]["sku"] == "premium" and out["diff"]["after"]["enable_purge_protection"] is True

    vault = ok(run_module("keyvault", vault_args(), sim.env))["vault"]
    assert vault["sku"] == "premium" and vault["enable_purge_protection"] and vault["vault_uri"].startswith("https://")

    mark = sim.mark()
    out = ok(run_module("keyvault", vault_args(), sim.env))
    assert out["changed"] is False
    assert [r[1] for r in since(sim, mark)] == ["GET"]
    assert out["vault"] == vault

    mark = sim.mark()
    out = ok(run_module("keyvault", vault_args(network_default_action="Deny", tags={"env": "t"}), sim.env, diff=True))
    assert out["changed"]
    assert out["diff"] == {"before": {"network_default_action": "Allow", "tags": {}},
                           "after": {"network_default_action": "Deny", "tags": {"env": "t"}}}
    assert [r[1] for r in writes(sim, mark)] == ["PATCH"]
    assert out["vault"]["network_default_action"] == "Deny"

    out = run_module("keyvault", vault_args(location="westeurope"), sim.env)
    assert out["failed"] and "cannot move" in out["msg"]

    mark = sim.mark()
    out = ok(run_module("keyvault", vault_args(state="absent"), sim.env))
    assert out["changed"] and [r[1] for r in writes(sim, mark)] == ["DELETE"]
    out = ok(run_module("keyvault", vault_args(state="absent"), sim.env))
    assert out["changed"] is False


def test_cmk_lifecycle_on_access_policy_vault(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim)

    mark = sim.mark()
    out = ok(run_module("keyvault_key", key_args(vault), sim.env, check=True, diff=True))
    assert out["changed"] and writes(sim, mark) == []
    # the key it would create: Key Vault names the version on creation
    assert out["key"]["kid"] == vault["vault_uri"] + "keys/cmk" and out["key"]["version"] is None
    assert out["actions"][0] == "create key cmk" and out["actions"][1].startswith(
        "grant the Confidential VM Orchestrator ")
    assert out["diff"]["after"]["kty"] == "RSA-HSM" and out["diff"]["after"]["orchestrator_grant"] == ["get", "release"]

    out = ok(run_module("keyvault_key", key_args(vault), sim.env))
    key = out["key"]
    assert out["changed"] and key["kty"] == "RSA-HSM" and key["key_size"] == 3072 and key["exportable"] is True
    assert sorted(key["key_ops"]) == ["unwrapKey", "wrapKey"]
    authority = key["release_policy"]["anyOf"][0]["authority"]
    assert authority == sim.info["cloud_environment"]["attestation_endpoint"].rstrip("/") or \
        authority.rstrip("/").endswith("/attestation/sharedeastus")
    assert key["release_policy"]["anyOf"][0]["allOf"] == [
        {"claim": "x-ms-compliance-status", "equals": "azure-compliant-cvm"}]
    assert key["key_url"] == key["kid"] and key["kid"].startswith(vault["vault_uri"] + "keys/cmk/")
    assert out["orchestrator_grant"]["mode"] == "access_policy"
    for secret_field in ("n", "e", "d", "key_hsm"):
        assert secret_field not in key

    vault_now = ok(run_module("keyvault", vault_args(), sim.env))["vault"]
    orch = [p for p in vault_now["access_policies"] if p["object_id"] == out["orchestrator_grant"]["principal_id"]]
    assert len(orch) == 1 and sorted(orch[0]["keys"]) == ["get", "release"]

    # re-run without the token cache (so without the play's facts): no write; one GET each for key, vault, region
    # authority and orchestrator lookup, and no challenge round trip (the KeyClient is handed the cloud's own Key
    # Vault challenge; test_keyvault_economy has the run with the play's facts: the key GET alone)
    mark = sim.mark()
    again = ok(run_module("keyvault_key", key_args(vault), sim.env))
    assert again["changed"] is False and again["key"] == key
    reqs = since(sim, mark)
    assert [r[1] for r in reqs] == ["GET"] * 4, reqs
    assert sorted(r[0] for r in reqs) == ["arm", "arm", "graph", "keyvault"]
    assert challenges(sim, mark) == []

    # with the authority list and the orchestrator id given: exactly the key GET and the vault GET
    oid = out["orchestrator_grant"]["principal_id"]
    args = key_args(vault, location=None, release_policy_authorities=[authority], orchestrator_object_id=oid)
    mark = sim.mark()
    assert ok(run_module("keyvault_key", args, sim.env))["changed"] is False
    assert [(r[0], r[1]) for r in since(sim, mark)] == [("keyvault", "GET"), ("arm", "GET")]
    assert challenges(sim, mark) == []

    info = ok(run_module("keyvault_key_info", {"vault_url": vault["vault_uri"], "name": "cmk"}, sim.env))
    assert info["exists"] and info["key"] == key

    # update in place: tags and a second authority; diff has exactly those
    second = "https://sharedweu.weu.attest.azure.net"
    mark = sim.mark()
    out = ok(run_module("keyvault_key", dict(args, release_policy_authorities=[authority, second], tags={"env": "t"}),
                        sim.env, diff=True))
    assert out["changed"]
    assert set(out["diff"]["after"]) == {"release_policy", "tags"}
    assert [r[1] for r in writes(sim, mark)] == ["PATCH"]
    assert [a["authority"] for a in out["key"]["release_policy"]["anyOf"]] == [authority, second]
    assert out["key"]["version"] == key["version"]
    assert out["actions"] == ["update key cmk: release_policy, tags"]

    # tags merge into the key's tags (append_tags defaults to true); append_tags: false replaces them
    args = dict(args, release_policy_authorities=[authority, second])
    out = ok(run_module("keyvault_key", dict(args, tags={"team": "x"}), sim.env))
    assert out["key"]["tags"] == {"env": "t", "team": "x"} and "diff" not in out
    out = ok(run_module("keyvault_key", dict(args, tags={"team": "x"}, append_tags=False), sim.env, diff=True))
    assert out["key"]["tags"] == {"team": "x"} and out["diff"] == {"before": {"tags": {"env": "t", "team": "x"}},
                                                                   "after": {"tags": {"team": "x"}}}

    # a size change needs rotate; rotate makes a new version
    out = run_module("keyvault_key", dict(args, key_size=4096), sim.env)
    assert out["failed"] and "rotate: true" in out["msg"] and "key_size" in out["msg"]
    out = ok(run_module("keyvault_key", dict(args, key_size=4096, rotate=True, include_versions=True), sim.env))
    assert out["changed"] and out["key"]["key_size"] == 4096 and out["key"]["version"] != key["version"]
    assert len(out["key"]["versions"]) == 2
    assert out["actions"] == ["create a new version of key cmk"]

    mark = sim.mark()
    out = ok(run_module("keyvault_key", {"vault_url": vault["vault_uri"], "name": "cmk", "state": "absent"},
                        sim.env, check=True))
    assert out["changed"] and writes(sim, mark) == []
    out = ok(run_module("keyvault_key", {"vault_url": vault["vault_uri"], "name": "cmk", "state": "absent"}, sim.env))
    assert out["changed"] and [r[1] for r in writes(sim, mark)] == ["DELETE"]
    info = ok(run_module("keyvault_key_info", {"vault_url": vault["vault_uri"], "name": "cmk"}, sim.env))
    assert info["exists"] is False and info["key"] == {}


def test_rbac_vault_orchestrator_gets_release_role_at_key_scope_once(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim, enable_rbac_authorization=True)
    out = ok(run_module("keyvault_key", key_args(vault), sim.env))
    grant = out["orchestrator_grant"]
    assert grant["mode"] == "rbac" and grant["scope"] == vault["id"] + "/keys/cmk"
    assert grant["after"] == ["Key Vault Crypto Service Release User"]
    state = sim.admin("GET", "/_sim/state")
    assignments = [a for a in _role_assignments(state) if a["properties"]["principalId"] == grant["principal_id"]]
    assert len(assignments) == 1
    assert assignments[0]["properties"]["roleDefinitionId"].lower().endswith(ORCH_ROLE)

    mark = sim.mark()
    again = ok(run_module("keyvault_key", key_args(vault), sim.env))
    assert again["changed"] is False and writes(sim, mark) == []
    lists = [r for r in since(sim, mark) if r[2].endswith("/roleAssignments")]
    assert len(lists) == 1


def _role_assignments(state):
    arm = state.get("arm", state)
    ras = arm.get("role_assignments") or {}
    return list(ras.values()) if isinstance(ras, dict) else list(ras)


def test_missing_orchestrator_principal_is_explained(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim)
    sim.remove_principal(ORCHESTRATOR_APP_ID)
    mark = sim.mark()
    out = run_module("keyvault_key", key_args(vault), sim.env)
    assert out["failed"]
    assert "does not exist in this tenant" in out["msg"]
    assert "az ad sp create --id %s" % ORCHESTRATOR_APP_ID in out["msg"]
    assert writes(sim, mark) == []


def test_standard_vault_refused_before_any_write(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim, sku="standard", allow_unfit_for_confidential_disks=True)
    mark = sim.mark()
    out = run_module("keyvault_key", key_args(vault), sim.env)
    assert out["failed"] and "premium" in out["msg"]
    assert writes(sim, mark) == []


def test_key_vault_error_is_translated_with_a_hint(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim, sku="standard", allow_unfit_for_confidential_disks=True)
    out = run_module("keyvault_key", key_args(vault, grant_confidential_vm_orchestrator=False), sim.env)
    assert out["failed"] and "Hint:" in out["msg"]
    assert out["azure_error"]["status"] == 400


# ------------------------------------------------------------------------------------------------ faults

def test_throttling_and_unavailable_are_retried(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim)
    sim.fault("status", method="GET", path=r"/keys/cmk/?$", status=429, retry_after=1, service="keyvault")
    sim.fault("status", method="POST", path=r"/keys/cmk/create$", status=503, retry_after=1, service="keyvault")
    sim.fault("status", method="PUT", path=r"/accessPolicies/add$", status=503, retry_after=1)
    mark = sim.mark()
    out = ok(run_module("keyvault_key", key_args(vault), sim.env))
    assert out["changed"] and out["key"]["kty"] == "RSA-HSM"
    statuses = [(e["method"], e["path"].rstrip("/").rsplit("/", 1)[-1], e["status"])
                for e in azure_requests(sim, mark) if e.get("service") in ("keyvault", "arm")]
    assert ("GET", "cmk", 429) in statuses and ("POST", "create", 503) in statuses and ("PUT", "add", 503) in statuses
    creates = [s for s in statuses if s[:2] == ("POST", "create")]
    assert [s[2] for s in creates] == [503, 200]


def test_lro_failure_and_timeout_fail_cleanly_then_converge(fresh_simulator):
    """Resource group deletion is ARM's long-running operation here (vault and key writes are synchronous)."""
    sim = fresh_simulator
    make_vault(sim)
    sim.fault("lro_fail", method="DELETE", path=r"/resourcegroups/%s$" % RG,
              error={"code": "ResourceGroupDeletionBlocked", "message": "injected: deletion is blocked"})
    out = run_module("resource_group", {"name": RG, "state": "absent"}, sim.env)
    assert out["failed"], out
    assert out["azure_error"]["code"] == "ResourceGroupDeletionBlocked"
    assert "injected: deletion is blocked" in out["msg"]

    sim.fault("lro_hang", method="DELETE", path=r"/resourcegroups/%s$" % RG)
    out = run_module("resource_group", {"name": RG, "state": "absent", "wait_timeout": 2}, sim.env)
    assert out["failed"] and out["operation"]["poll_url"], out

    sim.clear_faults()
    out = ok(run_module("resource_group", {"name": RG, "state": "absent"}, sim.env))
    again = ok(run_module("resource_group", {"name": RG, "state": "absent"}, sim.env))
    assert again["changed"] is False
    state = sim.admin("GET", "/_sim/state")["arm"]
    assert not any("/resourcegroups/%s/" % RG.lower() in k for k in state.get("resources", {}))

    # The deleted vault keeps its name until its purge date (purge protection): re-creating it is refused by
    # Azure, and the failure says how to go on; a re-created group with a new vault converges.
    ok(run_module("resource_group", {"name": RG, "location": "eastus"}, sim.env))
    out = run_module("keyvault", vault_args(), sim.env)
    assert out["failed"] and "VaultAlreadyExists" in out["msg"] and "az keyvault recover" in out["msg"], out
    vault = make_vault(sim, name=VAULT + "b")
    assert ok(run_module("keyvault", vault_args(name=VAULT + "b"), sim.env))["changed"] is False
    assert vault["name"] == VAULT + "b"


def test_grant_failure_then_rerun_converges_without_duplicates(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim)
    sim.fault("status", method="PUT", path=r"/accessPolicies/add$", status=409, count=1,
              error={"code": "ConflictError", "message": "injected: a concurrent update is in progress"})
    out = run_module("keyvault_key", key_args(vault), sim.env)
    assert out["failed"] and out["azure_error"]["code"] == "ConflictError"
    out = ok(run_module("keyvault_key", key_args(vault), sim.env))
    assert out["orchestrator_grant"]["missing"] == ["get", "release"]
    assert len(out["key"]["kid"]) > 0
    info = ok(run_module("keyvault_key_info", {"vault_url": vault["vault_uri"], "name": "cmk",
                                               "include_versions": True}, sim.env))
    assert len(info["key"]["versions"]) == 1
    policies = ok(run_module("keyvault", vault_args(), sim.env))["vault"]["access_policies"]
    assert len([p for p in policies if p["object_id"] == out["orchestrator_grant"]["principal_id"]]) == 1
