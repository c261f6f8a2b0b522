"""The simulator's authorization and throttling rules, decided directly (no server): azsim.authz, azsim.rbac,
azsim.throttle. Each test names the public source of the rule it checks."""
from __future__ import annotations

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "simulator"))

from azsim import authz as authz_mod  # noqa: E402
from azsim import rbac, throttle  # noqa: E402
from azsim.core import ApiError  # noqa: E402

SUB = "11111111-1111-1111-1111-111111111111"
ME = "22222222-2222-2222-2222-222222222222"
OTHER = "33333333-3333-3333-3333-333333333333"
TENANT = "44444444-4444-4444-4444-444444444444"
RG = "/subscriptions/%s/resourceGroups/rg" % SUB
VAULT_ID = RG + "/providers/Microsoft.KeyVault/vaults/kv1"


class _Arm:
    def __init__(self):
        self.role_assignments = {}
        self.resources = {}
        self.sub = SUB

    def get(self, rid):
        return self.resources.get(rid.lower())


class _Sim:
    def __init__(self):
        self.arm = _Arm()
        self.subscription_id = SUB
        self.subscriptions = [SUB]
        self.tenant_id = TENANT
        self.caller_object_id = ME


def _authz(delay=0.0):
    sim = _Sim()
    sim.authz = authz_mod.Authz(sim, delay=delay)
    return sim, sim.authz


def _assign(sim, role, principal, scope, name=None):
    guid = rbac.ROLES[role]["id"]
    rid = "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope, name or os.urandom(4).hex())
    sim.arm.role_assignments[rid.lower()] = {
        "id": rid, "properties": {"roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/"
                                                      "roleDefinitions/%s" % (SUB, guid),
                                  "principalId": principal, "scope": scope}}
    sim.authz.note_role_assignment(rid)
    return rid


def _vault(sim, rbac_mode=False, policies=()):
    v = {"id": VAULT_ID, "name": "kv1", "location": "eastus", "type": "Microsoft.KeyVault/vaults",
         "properties": {"enableRbacAuthorization": rbac_mode, "accessPolicies": list(policies)}}
    sim.arm.resources[VAULT_ID.lower()] = v
    return v


def test_default_principal_has_contributor_and_uaa_only():
    """The default principal is README's minimum (Contributor + User Access Administrator on the subscription):
    it may write VMs and role assignments, and has no data-plane right. Source: Microsoft doc "Azure built-in
    roles" (Contributor: Actions "*", NotActions "Microsoft.Authorization/*/Write"; User Access Administrator:
    "*/read", "Microsoft.Authorization/*")."""
    sim, az = _authz()
    vm = RG + "/providers/Microsoft.Compute/virtualMachines/vm1"
    assert az.action_allowed(ME, "Microsoft.Compute/virtualMachines/write", vm)
    assert az.action_allowed(ME, "Microsoft.Authorization/roleAssignments/write", RG)
    assert not az.action_allowed(OTHER, "Microsoft.Compute/virtualMachines/read", vm)
    assert not az.data_allowed(ME, _vault(sim), "k", "create")
    assert not az.data_allowed(ME, _vault(sim, rbac_mode=True), "k", "create")


def test_contributor_alone_cannot_assign_roles():
    """Contributor's NotActions remove Microsoft.Authorization/*/Write. Source: Microsoft doc "Azure built-in
    roles" (Privileged: Contributor) and "Understand Azure role definitions" (NotActions)."""
    sim, az = _authz()
    _assign(sim, "Contributor", OTHER, "/subscriptions/" + SUB)
    assert az.action_allowed(OTHER, "Microsoft.KeyVault/vaults/write", VAULT_ID)
    assert not az.action_allowed(OTHER, "Microsoft.Authorization/roleAssignments/write", VAULT_ID)
    with pytest.raises(ApiError) as err:
        az.authorize_arm({"oid": OTHER, "appid": "app-1"}, "Microsoft.Authorization/roleAssignments/write",
                         VAULT_ID + "/providers/Microsoft.Authorization/roleAssignments/x")
    assert err.value.status == 403 and err.value.code == "AuthorizationFailed"
    assert err.value.message == (
        "The client 'app-1' with object id '%s' does not have authorization to perform action "
        "'Microsoft.Authorization/roleAssignments/write' over scope '%s/providers/Microsoft.Authorization/"
        "roleAssignments/x' or the scope is invalid. If access was recently granted, please refresh your "
        "credentials." % (OTHER, VAULT_ID))


def test_scope_inheritance_and_reader_wildcard():
    """A role assigned at a resource group applies to its resources and not to another group; "*/read" matches
    every read. Source: Microsoft doc "Understand scope for Azure RBAC" and "Understand Azure role definitions"."""
    sim, az = _authz()
    _assign(sim, "Reader", OTHER, RG)
    assert az.action_allowed(OTHER, "Microsoft.Compute/virtualMachines/read", RG + "/providers/x/y/z")
    assert not az.action_allowed(OTHER, "Microsoft.Compute/virtualMachines/write", RG + "/providers/x/y/z")
    assert not az.action_allowed(OTHER, "Microsoft.Compute/virtualMachines/read",
                                 "/subscriptions/%s/resourceGroups/rg2/providers/x/y/z" % SUB)
    assert not az.action_allowed(OTHER, "Microsoft.Compute/virtualMachines/read", RG + "x")


def test_role_assignment_takes_effect_after_propagation_delay():
    """New role assignments are not seen at once (403 meanwhile). Source: Microsoft doc "Troubleshoot Azure RBAC"
    (role assignment changes can take time to propagate)."""
    sim, az = _authz(delay=0.3)
    _assign(sim, "Reader", OTHER, RG)
    assert not az.action_allowed(OTHER, "Microsoft.Compute/virtualMachines/read", RG)
    time.sleep(0.35)
    assert az.action_allowed(OTHER, "Microsoft.Compute/virtualMachines/read", RG)


def test_access_policy_vault_grants_after_delay_and_revokes_at_once():
    """Access-policy vaults check the caller's key permissions per operation; a new access policy counts after
    the propagation delay; a removed permission stops at once (the stricter side). Source: Microsoft doc "Assign
    a Key Vault access policy" and public issue Azure/azure-libraries-for-net#1067 (403 text, innererror
    AccessDenied)."""
    sim, az = _authz(delay=0.3)
    vault = _vault(sim, policies=[{"tenantId": TENANT, "objectId": ME, "permissions": {"keys": ["Get", "Create"]}}])
    claims = {"oid": ME, "appid": "app-1", "iss": "https://sts.windows.net/%s/" % TENANT}
    with pytest.raises(ApiError) as err:
        az.authorize_data(claims, vault, "k", "create")
    body = err.value.body["error"]
    assert err.value.status == 403 and body["code"] == "Forbidden"
    assert body["innererror"] == {"code": "AccessDenied"}
    assert body["message"] == (
        "The user, group or application 'appid=app-1;oid=%s;iss=https://sts.windows.net/%s/' does not have keys "
        "create permission on key vault 'kv1;location=eastus'. For help resolving this issue, please see "
        "https://go.microsoft.com/fwlink/?linkid=2125287" % (ME, TENANT))
    time.sleep(0.35)
    az.authorize_data(claims, vault, "k", "create")
    assert az.data_allowed(ME, VAULT_ID, "k", "get")
    assert not az.data_allowed(ME, vault, "k", "wrapKey")
    assert not az.data_allowed(OTHER, vault, "k", "get")
    vault["properties"]["accessPolicies"][0]["permissions"]["keys"] = ["get"]
    assert not az.data_allowed(ME, vault, "k", "create")
    assert az.data_allowed(ME, vault, "k", "GET")


def test_access_policy_all_grants_every_key_permission():
    """The access-policy permission "all" grants every key permission. Source: Key Vault management spec
    (specification/keyvault/resource-manager, KeyPermissions enum "all")."""
    sim, az = _authz()
    vault = _vault(sim, policies=[{"objectId": OTHER, "permissions": {"keys": ["all"]}}])
    assert all(az.data_allowed(OTHER, vault, "k", op) for op in authz_mod.KEY_OPERATIONS)


def test_rbac_vault_checks_data_actions_at_key_scope():
    """RBAC vaults check dataActions: Crypto Officer may create; the Encryption User may get/wrap/unwrap only; a
    Release User assignment at one key's scope covers that key only. Source: Microsoft doc "Azure built-in roles
    for Security" (Key Vault roles) and "Provide access to Key Vault keys ... with Azure role-based access
    control" (scopes down to a single key)."""
    sim, az = _authz()
    vault = _vault(sim, rbac_mode=True)
    _assign(sim, "Key Vault Crypto Officer", ME, VAULT_ID)
    _assign(sim, "Key Vault Crypto Service Encryption User", OTHER, VAULT_ID)
    _assign(sim, "Key Vault Crypto Service Release User", OTHER, VAULT_ID + "/keys/k1")
    assert az.data_allowed(ME, vault, "k1", "create") and az.data_allowed(ME, vault, "k1", "setrotationpolicy")
    assert az.data_allowed(ME, vault, "k1", "release")      # Crypto Officer: keys/* covers release/action
    assert az.data_allowed(OTHER, vault, "k1", "wrapKey") and az.data_allowed(OTHER, vault, "k9", "unwrapKey")
    assert not az.data_allowed(OTHER, vault, "k1", "create")
    assert az.data_allowed(OTHER, vault, "k1", "release")
    assert not az.data_allowed(OTHER, vault, "k2", "release")
    claims = {"oid": OTHER, "appid": "app-2"}
    with pytest.raises(ApiError) as err:
        az.authorize_data(claims, vault, "k2", "release")
    body = err.value.body["error"]
    assert body["innererror"] == {"code": "ForbiddenByRbac"}
    assert body["message"].startswith("Caller is not authorized to perform action on resource.\r\nIf role "
                                      "assignments, deny assignments or role definitions were changed recently, "
                                      "please observe propagation time.")
    assert "Action: 'Microsoft.KeyVault/vaults/keys/release/action'" in body["message"]


def test_access_policies_do_not_count_on_rbac_vaults_and_roles_not_on_policy_vaults():
    """A vault uses one permission model: roles' dataActions are ignored by access-policy vaults and access
    policies by RBAC vaults. Source: Microsoft doc "Azure role-based access control (Azure RBAC) vs. access
    policies (legacy)"."""
    sim, az = _authz()
    _assign(sim, "Key Vault Administrator", ME, "/subscriptions/" + SUB)
    policy_vault = _vault(sim, policies=[])
    assert not az.data_allowed(ME, policy_vault, "k", "create")
    rbac_vault = _vault(sim, rbac_mode=True, policies=[{"objectId": OTHER, "permissions": {"keys": ["all"]}}])
    assert az.data_allowed(ME, rbac_vault, "k", "create")
    assert not az.data_allowed(OTHER, rbac_vault, "k", "get")


def test_builtin_role_definitions_match_microsoft():
    """GUIDs and permissions of the roles the product touches. Source: Microsoft doc "Azure built-in roles"."""
    assert rbac.role_by_name("owner")["id"] == "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    assert rbac.role_by_name("User Access Administrator")["actions"] == ["*/read", "Microsoft.Authorization/*",
                                                                         "Microsoft.Support/*"]
    assert rbac.role_by_guid("e147488a-f6f5-4113-8e2d-b22465e65bf6")["roleName"] == \
        "Key Vault Crypto Service Encryption User"
    assert rbac.role_by_guid("08bbd89e-9f13-488c-ac41-acfcb10c90ab")["dataActions"] == [
        "Microsoft.KeyVault/vaults/keys/release/action"]
    assert rbac.action_matches("Microsoft.Authorization/*/Write", "microsoft.authorization/roleassignments/write")
    assert not rbac.action_matches("*/read", "Microsoft.Compute/virtualMachines/write")


@pytest.mark.parametrize("method,path,action,scope", [
    ("PUT", RG + "/providers/Microsoft.Compute/virtualMachines/vm1", "Microsoft.Compute/virtualMachines/write",
     RG + "/providers/Microsoft.Compute/virtualMachines/vm1"),
    ("GET", RG + "/providers/Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines/read", RG),
    ("POST", RG + "/providers/Microsoft.Compute/virtualMachines/vm1/deallocate",
     "Microsoft.Compute/virtualMachines/deallocate/action", RG + "/providers/Microsoft.Compute/virtualMachines/vm1"),
    ("PUT", VAULT_ID + "/keys/k/providers/Microsoft.Authorization/roleAssignments/g",
     "Microsoft.Authorization/roleAssignments/write",
     VAULT_ID + "/keys/k/providers/Microsoft.Authorization/roleAssignments/g"),
    ("DELETE", RG, "Microsoft.Resources/subscriptions/resourceGroups/delete", RG),
])
def test_request_action_and_scope(method, path, action, scope):
    """The operation a request needs. Source: Microsoft doc "Azure resource provider operations"."""
    assert authz_mod.arm_action(method, path) == (action, scope)


def test_arm_token_bucket_throttles_per_principal():
    """ARM's write bucket (200, refill 10/s) empties and answers 429 SubscriptionRequestsThrottled with
    Retry-After, the remaining count on every answer. Source: Microsoft doc "Understand how Azure Resource Manager
    throttles requests"."""
    t = throttle.Throttle(scale=100)          # bucket 2, refill 10/s
    path = RG + "/providers/Microsoft.Network/virtualNetworks/v"
    assert t.admit_arm("PUT", path, ME) == {"x-ms-ratelimit-remaining-subscription-writes": "1"}
    t.admit_arm("PUT", path, ME)
    with pytest.raises(ApiError) as err:
        t.admit_arm("PUT", path, ME)
    assert err.value.status == 429 and err.value.code == "SubscriptionRequestsThrottled"
    assert err.value.headers["Retry-After"] == "1"
    assert "Number of 'write' requests for subscription '%s' actor '%s' exceeded" % (SUB, ME) in err.value.message
    assert t.admit_arm("PUT", path, OTHER)                          # another principal has its own bucket
    assert "x-ms-ratelimit-remaining-subscription-reads" in t.admit_arm("GET", path, ME)
    time.sleep(0.15)
    t.admit_arm("PUT", path, ME)


def test_compute_call_rate_policy():
    """Compute's PutVM3Min/PutVM30Min windows: remaining counts in x-ms-ratelimit-remaining-resource, then 429
    OperationNotAllowed with a TooManyRequests detail naming the policy. Source: Microsoft doc "Troubleshooting API
    throttling errors"."""
    t = throttle.Throttle(scale=60)           # PutVM3Min: 4 per 3 s
    vm = RG + "/providers/Microsoft.Compute/virtualMachines/vm1"
    first = t.admit_compute("PUT", vm)
    assert first["x-ms-ratelimit-remaining-resource"] == "Microsoft.Compute/PutVM3Min;3,Microsoft.Compute/PutVM30Min;19"
    for dummy in range(3):
        t.admit_compute("PUT", vm)
    with pytest.raises(ApiError) as err:
        t.admit_compute("PUT", vm)
    assert err.value.status == 429 and err.value.code == "OperationNotAllowed"
    assert err.value.details[0]["code"] == "TooManyRequests" and err.value.details[0]["target"] == "PutVM3Min"
    assert 1 <= int(err.value.headers["Retry-After"]) <= 3
    assert t.admit_compute("GET", vm)["x-ms-ratelimit-remaining-resource"].startswith("Microsoft.Compute/LowCostGet3Min;")
    assert t.admit_compute("GET", RG + "/providers/Microsoft.Compute/virtualMachines")[
        "x-ms-ratelimit-remaining-resource"].startswith("Microsoft.Compute/HighCostGet3Min;")
    assert t.admit_compute("PUT", RG + "/providers/Microsoft.Network/virtualNetworks/v") == {}
