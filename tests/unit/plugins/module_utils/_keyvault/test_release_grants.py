# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keyvault_key release_principal_ids: "Key Vault Crypto Service Release User" at one key's scope.

The pure plan (grants.plan_key_release) with role assignment lists as dicts, then the key backend against the
in-memory ARM / Key Vault of fakes.py: idempotency, check and diff mode, the access-policy refusal before any write."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._keyvault import backends, grants
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import release_policy as rp
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault.fakes import (
    FakeArm, FakeModule, Failed, SUB, VAULT_ID, VAULT_URL)

VM1 = "11111111-1111-4111-8111-111111111111"
VM2 = "22222222-2222-4222-8222-222222222222"
KEY_SCOPE = VAULT_ID + "/keys/datadisk"
RBAC_VAULT = {"id": VAULT_ID, "properties": {"enableRbacAuthorization": True}}
POLICY_VAULT = {"id": VAULT_ID, "properties": {"enableRbacAuthorization": False, "accessPolicies": []}}
GUEST_POLICY = {"version": "1.0.0", "anyOf": [{"authority": "https://sharedeus.eus.attest.azure.net", "allOf": [
    {"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"},
    {"anyOf": [{"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
               {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "tdxvm"}]}]}]}


def assignment(principal, role=grants.ROLE_RELEASE_USER, scope=KEY_SCOPE, name="x"):
    return {"id": "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope, name),
            "properties": {"scope": scope, "principalId": principal,
                           "roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                                               % (SUB, role)}}


# ------------------------------------------------------------------------------------------------ pure plan

def test_plan_grants_release_user_at_the_key_scope_with_deterministic_names():
    plan = grants.plan_key_release(RBAC_VAULT, "datadisk", [VM1, VM2], [])
    assert plan["scope"] == KEY_SCOPE and plan["missing"] == [VM1, VM2] and plan["held"] == []
    assert plan["role_id"] == "08bbd89e-9f13-488c-ac41-acfcb10c90ab"
    paths = [path for _method, path, _body in plan["requests"]]
    assert all(p.startswith(KEY_SCOPE + "/providers/Microsoft.Authorization/roleAssignments/") for p in paths)
    assert paths == [p for _m, p, _b in grants.plan_key_release(RBAC_VAULT, "datadisk", [VM1, VM2], [])["requests"]]
    body = plan["requests"][0][2]["properties"]
    assert body == {"roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                                        % (SUB, grants.ROLE_RELEASE_USER),
                    "principalId": VM1, "principalType": "ServicePrincipal"}


def test_plan_counts_only_the_role_at_exactly_this_key():
    held = [assignment(VM1, name="other-name"),
            assignment(VM2, scope=VAULT_ID + "/keys/another-key"),
            assignment(VM2, role=grants.ROLE_ENCRYPTION_USER)]
    plan = grants.plan_key_release(RBAC_VAULT, "datadisk", [VM1, VM2], held)
    assert plan["held"] == [VM1] and plan["missing"] == [VM2] and plan["broader"] == []


def test_plan_is_case_insensitive_on_scope_and_principal():
    held = [assignment(VM1.upper(), scope=KEY_SCOPE.lower())]
    assert grants.plan_key_release(RBAC_VAULT, "datadisk", [VM1], held)["missing"] == []


def test_broader_release_rights_are_reported_not_counted():
    held = [assignment(VM1, scope=VAULT_ID), assignment(VM2, role=grants.ROLE_CRYPTO_OFFICER,
                                                        scope="/subscriptions/" + SUB)]
    plan = grants.plan_key_release(RBAC_VAULT, "datadisk", [VM1, VM2], held)
    assert plan["missing"] == [VM1, VM2]
    assert plan["broader"] == [
        {"principal_id": VM1, "role": "Key Vault Crypto Service Release User", "scope": VAULT_ID},
        {"principal_id": VM2, "role": "Key Vault Crypto Officer", "scope": "/subscriptions/" + SUB}]
    warnings = grants.broader_warnings(plan)
    assert len(warnings) == 2 and VM1 in warnings[0] and "other keys" in warnings[0]


def test_principal_ids_are_validated_and_deduplicated():
    assert grants.release_principals([VM1, VM1.upper(), VM2]) == [VM1, VM2]
    with pytest.raises(grants.GrantError) as exc:
        grants.release_principals([VM1, "my-vm", ""])
    assert "release_principal_ids" in str(exc.value) and "'my-vm'" in str(exc.value)


def test_access_policy_vault_is_refused_with_the_fix():
    problem = grants.refuse_key_release_grant(POLICY_VAULT, {"exportable": True})
    assert "release_principal_ids" in problem and "enable_rbac_authorization: true" in problem
    assert grants.refuse_key_release_grant(RBAC_VAULT, {"exportable": True}) is None
    assert "exportable: true" in grants.refuse_key_release_grant(RBAC_VAULT, {"exportable": False})


# ------------------------------------------------------------------------------------------------ key backend

class ListingArm(FakeArm):
    """fakes.FakeArm whose role assignment list also answers without a principal filter."""

    def list(self, path, api_version, params=None):
        if path.endswith("/roleAssignments") and not (params or {}).get("$filter"):
            self.log.append(("LIST", path, params))
            scope = path[:-len("/providers/Microsoft.Authorization/roleAssignments")].lower()
            return [copy.deepcopy(a) for a in self.assignments
                    if a["properties"]["scope"].lower().startswith(scope) or scope.startswith(
                        a["properties"]["scope"].lower() + "/")]
        return FakeArm.list(self, path, api_version, params)


def module(rbac=True, check_mode=False, **over):
    params = dict(vault_url=VAULT_URL, name="datadisk", state="present", key_type="RSA-HSM", key_size=3072,
                  key_ops=None, exportable=True, release_policy=GUEST_POLICY,
                  release_policy_authorities=None, location=None, release_policy_immutable=False, enabled=None,
                  tags=None, rotate=False, rotation_policy=None, grant_confidential_vm_orchestrator=False,
                  orchestrator_object_id=None, vault_id=VAULT_ID, vault_resource_group=None, include_versions=False,
                  release_principal_ids=[VM1, VM2], cloud_environment="AzureCloud")
    params.update(over)
    m = FakeModule(params, check_mode=check_mode, diff_mode=True, rbac=rbac)
    arm = ListingArm(m.log)
    arm.store = m.arm.store
    m.arm = arm
    return m


def rerun(m, check_mode=False, **over):
    n = FakeModule(dict(m.params, **over), check_mode=check_mode, diff_mode=True)
    n.kv, n.arm, n.graph, n.log = m.kv, m.arm, m.graph, m.log
    return n


def test_new_key_with_release_principals_creates_key_then_grants_each_once():
    m = module()
    result = backends.run_key(m)
    assert result["changed"] and result["key"]["exportable"] is True
    assert result["release_grant"]["missing"] == [VM1, VM2] and result["release_grant"]["scope"] == KEY_SCOPE
    assert sorted(a["properties"]["principalId"] for a in m.arm.assignments) == [VM1, VM2]
    assert all(a["properties"]["scope"] == KEY_SCOPE for a in m.arm.assignments)
    ops = [e[0] for e in m.log.writes()]
    assert ops.index("POST") < ops.index("PUT"), m.log.writes()       # the key exists before its scope is granted
    assert result["diff"]["after"]["release_principal_ids"] == sorted([VM1, VM2])
    assert result["actions"] == ["create key datadisk", "grant %s Key Vault Crypto Service Release User on key "
                                 "datadisk" % ", ".join(sorted([VM1, VM2]))]

    start = len(m.log)
    again = backends.run_key(rerun(m))
    log = m.log[start:]
    assert again["changed"] is False and again["release_grant"]["held"] == [VM1, VM2]
    assert [e for e in log if e[0] not in ("GET", "LIST")] == []
    assert len([e for e in log if e[0] == "LIST"]) == 1 and len(m.arm.assignments) == 2


def test_adding_a_principal_grants_only_that_one_and_diffs_it():
    m = module(release_principal_ids=[VM1])
    backends.run_key(m)
    start = len(m.log)
    result = backends.run_key(rerun(m, release_principal_ids=[VM1, VM2]))
    puts = [e for e in m.log[start:] if e[0] == "PUT"]
    assert result["changed"] and len(puts) == 1 and puts[0][2]["properties"]["principalId"] == VM2
    assert result["diff"] == {"before": {"release_principal_ids": [VM1]},
                              "after": {"release_principal_ids": sorted([VM1, VM2])}}


def test_check_mode_reports_the_grants_and_writes_nothing():
    m = module(check_mode=True)
    result = backends.run_key(m)
    assert result["changed"] and result["release_grant"]["missing"] == [VM1, VM2]
    assert m.log.writes() == [] and m.arm.assignments == []


def test_a_key_released_to_principals_gets_no_cmk_region_warning():
    # "confidential VMs need the CMK vault in their own region" is about a disk encryption set's key, not this one
    m = module(location="westeurope")
    backends.run_key(m)
    assert not any("own region" in w for w in m.warnings), m.warnings


def test_access_policy_vault_fails_before_any_write():
    m = module(rbac=False)
    with pytest.raises(Failed) as exc:
        backends.run_key(m)
    assert "release_principal_ids" in exc.value.msg and "access policies" in exc.value.msg
    assert m.log.writes() == []


def test_bad_principal_id_fails_before_any_write():
    m = module(release_principal_ids=["cvm-1"])
    with pytest.raises(Failed) as exc:
        backends.run_key(m)
    assert "release_principal_ids" in exc.value.msg and m.log.writes() == []


def test_without_release_principals_no_vault_read_and_no_list():
    m = module(release_principal_ids=None)
    backends.run_key(m)
    assert [e for e in m.log if e[0] == "LIST"] == []
    assert not [e for e in m.log if e[0] == "GET" and e[1] == VAULT_ID]


# ------------------------------------------------------------------------------------------------ the data-disk policy

def test_guest_cvm_policy_lints_clean_and_reads_the_azure_guest_token_shape():
    authority = "https://sharedeus.eus.attest.azure.net"
    assert rp.lint(GUEST_POLICY) == []
    guest = {"x-ms-attestation-type": "azurevm", "x-ms-isolation-tee": {
        "x-ms-attestation-type": "sevsnpvm", "x-ms-compliance-status": "azure-compliant-cvm"}}
    assert rp.evaluate(GUEST_POLICY, guest, authority=authority)[0] is True
    # a platform (CVM orchestrator) token carries the compliance claim at the top level: not enough here
    platform = {"x-ms-attestation-type": "sevsnpvm", "x-ms-compliance-status": "azure-compliant-cvm"}
    assert rp.evaluate(GUEST_POLICY, platform, authority=authority)[0] is False
    non_compliant = {"x-ms-isolation-tee": {"x-ms-attestation-type": "sevsnpvm", "x-ms-compliance-status": "other"}}
    assert rp.evaluate(GUEST_POLICY, non_compliant, authority=authority)[0] is False
    assert rp.evaluate(GUEST_POLICY, guest, authority="https://evil.example")[0] is False
