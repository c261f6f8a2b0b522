# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import grants
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault.fakes import (
    FakeArm, Log, ORCH, SUB, TENANT, VAULT_ID)

DES = "00000000-0000-0000-0000-0000000000ee"


def vault(rbac=False, policies=None):
    return {"id": VAULT_ID, "properties": {"tenantId": TENANT, "enableRbacAuthorization": rbac,
                                           "accessPolicies": policies or []}}


def assignment(role, scope=VAULT_ID, principal=ORCH):
    return {"id": scope + "/providers/Microsoft.Authorization/roleAssignments/x",
            "properties": {"scope": scope, "principalId": principal,
                           "roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                                               % (SUB, role)}}


def test_normalize_permissions_canonical_case_and_unknown():
    assert grants.normalize_permissions(["WRAPKEY", "get", "Get"]) == ["get", "wrapKey"]
    with pytest.raises(grants.GrantError):
        grants.normalize_permissions(["fly"])


def test_missing_permissions_merges_entries_and_honours_all():
    policies = [{"objectId": ORCH.upper(), "permissions": {"keys": ["Get"]}},
                {"objectId": ORCH, "permissions": {"keys": ["list"]}}]
    assert grants.missing_permissions(policies, ORCH, ["get", "release"]) == ["release"]
    assert grants.missing_permissions([{"objectId": ORCH, "permissions": {"keys": ["all"]}}], ORCH,
                                      ["get", "release"]) == []
    assert grants.missing_permissions([], ORCH, ["release", "get"]) == ["get", "release"]


def test_access_policy_plan_adds_only_missing():
    plan = grants.plan_grant(vault(policies=[{"objectId": DES, "permissions": {"keys": ["get"]}}]), DES,
                             ["get", "wrapKey", "unwrapKey"])
    assert plan["mode"] == "access_policy" and plan["missing"] == ["unwrapKey", "wrapKey"]
    method, path, body = plan["requests"][0]
    assert (method, path) == ("PUT", VAULT_ID + "/accessPolicies/add")
    assert body["properties"]["accessPolicies"][0] == {"tenantId": TENANT, "objectId": DES,
                                                       "permissions": {"keys": ["unwrapKey", "wrapKey"]}}
    assert plan["before"] == ["get"] and plan["after"] == ["get", "unwrapKey", "wrapKey"]


@pytest.mark.parametrize("wanted, roles", [
    (["get", "release"], [grants.ROLE_RELEASE_USER]),
    (["get", "wrapKey", "unwrapKey"], [grants.ROLE_ENCRYPTION_USER]),
    (["get"], [grants.ROLE_ENCRYPTION_USER]),
    (["encrypt"], [grants.ROLE_CRYPTO_USER]),
    (["create"], [grants.ROLE_CRYPTO_OFFICER]),
    (["get", "release", "wrapKey", "unwrapKey"], [grants.ROLE_RELEASE_USER, grants.ROLE_ENCRYPTION_USER]),
    # the automation principal's self-grant: one broad role, not a narrow one next to it
    (["get", "list", "create", "update", "delete", "getrotationpolicy"], [grants.ROLE_CRYPTO_OFFICER]),
    (["get", "create"], [grants.ROLE_CRYPTO_OFFICER]),
])
def test_roles_to_grant_picks_narrowest_roles(wanted, roles):
    assert grants.roles_to_grant(wanted, set()) == roles


def test_roles_held_counts_ancestor_scopes_only():
    key_scope = VAULT_ID + "/keys/cmk"
    found = grants.roles_held([
        assignment(grants.ROLE_RELEASE_USER, scope="/subscriptions/%s" % SUB),
        assignment(grants.ROLE_ENCRYPTION_USER, scope=VAULT_ID + "/keys/other"),
        assignment(grants.ROLE_CRYPTO_USER, principal=DES),
    ], key_scope, ORCH)
    assert found == {grants.ROLE_RELEASE_USER}


def test_scope_covers_is_segment_aware_and_case_insensitive():
    assert grants.scope_covers(VAULT_ID.upper(), VAULT_ID + "/keys/k")
    assert not grants.scope_covers(VAULT_ID, VAULT_ID + "2/keys/k")
    assert grants.scope_covers("/", VAULT_ID)


def test_assignment_name_is_deterministic_guid():
    a = grants.assignment_name(VAULT_ID + "/keys/k", grants.ROLE_RELEASE_USER, ORCH)
    b = grants.assignment_name(VAULT_ID.upper() + "/keys/k/", grants.ROLE_RELEASE_USER.upper(), ORCH.upper())
    assert a == b and len(a) == 36
    assert a != grants.assignment_name(VAULT_ID, grants.ROLE_RELEASE_USER, ORCH)


def test_rbac_plan_at_key_scope_and_vault_scope():
    plan = grants.plan_grant(vault(rbac=True), ORCH, ["get", "release"], key_name="cmk", assignments=[])
    assert plan["scope"] == VAULT_ID + "/keys/cmk"
    method, path, body = plan["requests"][0]
    assert path.startswith(VAULT_ID + "/keys/cmk/providers/Microsoft.Authorization/roleAssignments/")
    assert body["properties"]["roleDefinitionId"].endswith("/roleDefinitions/" + grants.ROLE_RELEASE_USER)
    assert body["properties"]["principalType"] == "ServicePrincipal"
    plan = grants.plan_grant(vault(rbac=True), DES, ["get", "wrapKey", "unwrapKey"], scope="vault", assignments=[])
    assert plan["scope"] == VAULT_ID and plan["missing"] == ["Key Vault Crypto Service Encryption User"]


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(permissions=[]), "at least one"),
    (dict(scope="key", key_name=None), "needs the key name"),
    (dict(scope="subscription", key_name="k"), "scope must be key or vault"),
])
def test_plan_rejects_impossible_requests(kwargs, fragment):
    args = dict(permissions=["get"], key_name="k", scope="key", assignments=[])
    args.update(kwargs)
    with pytest.raises(grants.GrantError) as exc:
        grants.plan_grant(vault(rbac=True), ORCH, **args)
    assert fragment in str(exc.value)


def test_ensure_access_policy_then_idempotent():
    log = Log()
    arm = FakeArm(log)
    arm.add_vault()
    v = arm.get(VAULT_ID, None)
    result = grants.ensure_key_permissions(arm, v, DES, ["get", "wrapKey", "unwrapKey"], key_name="cmk")
    assert result["changed"] and result["mode"] == "access_policy"
    again = grants.ensure_key_permissions(arm, arm.get(VAULT_ID, None), DES, ["get", "wrapKey", "unwrapKey"])
    assert again["changed"] is False and again["missing"] == []
    assert [e[0] for e in log].count("PUT") == 1


def test_ensure_check_mode_writes_nothing():
    log = Log()
    arm = FakeArm(log)
    arm.add_vault(rbac=True)
    result = grants.ensure_key_permissions(arm, VAULT_ID, ORCH, ["get", "release"], key_name="cmk", check_mode=True)
    assert result["changed"] and result["missing"] == ["Key Vault Crypto Service Release User"]
    assert [e[0] for e in log] == ["GET", "LIST"]


def test_ensure_rbac_rerun_after_partial_failure_never_duplicates():
    log = Log()
    arm = FakeArm(log)
    arm.add_vault(rbac=True)
    v = arm.get(VAULT_ID, None)
    grants.ensure_key_permissions(arm, v, DES, ["get", "wrapKey", "unwrapKey", "release"], key_name="cmk")
    assert len(arm.assignments) == 2
    grants.ensure_key_permissions(arm, v, DES, ["get", "wrapKey", "unwrapKey", "release"], key_name="cmk")
    assert len(arm.assignments) == 2


def test_ensure_treats_role_assignment_exists_as_granted():
    class Racy(FakeArm):
        def put(self, path, api_version, body, wait=True, timeout=1800):
            raise AzureApiError(409, "RoleAssignmentExists", "The role assignment already exists.")

    arm = Racy(Log())
    arm.add_vault(rbac=True)
    result = grants.ensure_key_permissions(arm, VAULT_ID, ORCH, ["get", "release"], key_name="cmk")
    assert result["changed"] is True


def test_ensure_propagates_other_errors():
    class Broken(FakeArm):
        def put(self, path, api_version, body, wait=True, timeout=1800):
            raise AzureApiError(403, "AuthorizationFailed", "no")

    arm = Broken(Log())
    arm.add_vault()
    with pytest.raises(AzureApiError):
        grants.ensure_key_permissions(arm, VAULT_ID, ORCH, ["get", "release"])


def test_ensure_missing_vault_id():
    arm = FakeArm(Log())
    with pytest.raises(grants.GrantError):
        grants.ensure_key_permissions(arm, VAULT_ID, ORCH, ["get"])
