"""Authorization and throttling as the running simulator answers them (HTTPS, real SDK where it matters).

The session simulator runs with the default --rbac-delay (3 s): grants are not seen at once."""
from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError

import azsim_testlib as T

AUTHZ_API = "2022-04-01"
CRYPTO_OFFICER = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def _claims(sim) -> dict:
    payload = sim.token().split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _until_allowed(fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except HttpResponseError as err:
            if err.status_code != 403 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_token_carries_oid_tid_appid(fresh_simulator):
    """Entra v1 app tokens carry oid, tid, appid (and sub = oid). Source: Microsoft doc "Microsoft identity
    platform access tokens" (access token claims reference)."""
    sim = fresh_simulator
    c = _claims(sim)
    assert c["tid"] == sim.info["tenant_id"] and c["appid"] == sim.info["client_id"]
    assert uuid.UUID(c["oid"]) and c["sub"] == c["oid"] and c["idtyp"] == "app"


def test_vault_creator_gets_403_on_key_create_until_it_grants_itself(fresh_simulator):
    """Creating an access-policy vault gives its creator no data-plane right; after it grants itself an access
    policy (and the propagation delay) key create succeeds. Sources: Microsoft doc "Assign a Key Vault access
    policy"; public issue Azure/azure-libraries-for-net#1067 (Key Vault's 403 text, innererror AccessDenied)."""
    sim = fresh_simulator
    T.group(sim, "rg-authz1")
    v = T.vault(sim, "rg-authz1", "kvauthz1")
    kc = T.key_client(sim, v["properties"]["vaultUri"], grant=False)
    with pytest.raises(HttpResponseError) as err:
        kc.create_rsa_key("k1", size=2048)
    assert err.value.status_code == 403
    assert "does not have keys create permission on key vault 'kvauthz1;location=eastus'" in str(err.value)
    assert "oid=%s" % _claims(sim)["oid"] in str(err.value)
    T.grant(sim, "rg-authz1", "kvauthz1", _claims(sim)["oid"], ["create", "get"])
    with pytest.raises(HttpResponseError) as err:           # granted, not yet propagated
        kc.create_rsa_key("k1", size=2048)
    assert err.value.status_code == 403
    key = _until_allowed(lambda: kc.create_rsa_key("k1", size=2048))
    assert key.name == "k1"
    with pytest.raises(HttpResponseError) as err:           # only what was granted
        kc.begin_delete_key("k1")
    assert err.value.status_code == 403 and "keys delete permission" in str(err.value)


def test_rbac_vault_needs_a_data_role_and_uaa_may_assign_it(fresh_simulator):
    """RBAC vaults check dataActions (403 ForbiddenByRbac); the default principal's User Access Administrator
    lets it assign Key Vault Crypto Officer at the vault; after the delay key create succeeds. Sources: Microsoft
    docs "Azure built-in roles" and "Provide access to Key Vault keys ... with Azure role-based access control";
    public issue pulumi/pulumi-azure-nextgen#195 (ForbiddenByRbac text)."""
    sim = fresh_simulator
    T.group(sim, "rg-authz2")
    v = T.vault(sim, "rg-authz2", "kvauthz2", rbac=True)
    kc = T.key_client(sim, v["properties"]["vaultUri"], grant=False)
    with pytest.raises(HttpResponseError) as err:
        kc.create_rsa_key("k1", size=2048)
    assert err.value.status_code == 403 and "ForbiddenByRbac" in str(err.value)
    status, _h, ra = sim.call("PUT", v["id"] + "/providers/Microsoft.Authorization/roleAssignments/%s" % uuid.uuid4(),
                              {"properties": {"roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/"
                                                                  "roleDefinitions/%s" % (sim.subscription_id,
                                                                                          CRYPTO_OFFICER),
                                              "principalId": _claims(sim)["oid"],
                                              "principalType": "ServicePrincipal"}}, api_version=AUTHZ_API)
    assert status == 201, ra
    assert _until_allowed(lambda: kc.create_rsa_key("k1", size=2048)).name == "k1"


def test_arm_write_without_the_action_is_authorization_failed(fresh_simulator):
    """Without Contributor the principal keeps User Access Administrator (*/read, Microsoft.Authorization/*):
    reads pass, a write answers 403 AuthorizationFailed with ARM's exact text. Source: Microsoft doc
    "Troubleshoot Azure RBAC" (the AuthorizationFailed message) and "Azure built-in roles"."""
    sim = fresh_simulator
    T.group(sim, "rg-authz3")
    sub = "/subscriptions/%s" % sim.subscription_id
    status, _h, listing = sim.call("GET", sub + "/providers/Microsoft.Authorization/roleAssignments",
                                   api_version=AUTHZ_API)
    assert status == 200
    mine = [a for a in listing["value"] if a["properties"]["roleDefinitionId"].endswith(CONTRIBUTOR)
            and a["properties"]["scope"] == sub]
    assert len(mine) == 1
    assert sim.call("DELETE", mine[0]["id"], api_version=AUTHZ_API)[0] == 200
    vnet = sim.rg_path("rg-authz3") + "/providers/Microsoft.Network/virtualNetworks/v1"
    status, _h, body = sim.call("PUT", vnet, {"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}, api_version="2024-05-01")
    assert status == 403, body
    c = _claims(sim)
    assert body["error"] == {"code": "AuthorizationFailed", "message": (
        "The client '%s' with object id '%s' does not have authorization to perform action "
        "'Microsoft.Network/virtualNetworks/write' over scope '%s' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials." % (c["appid"], c["oid"], vnet))}
    assert sim.call("GET", sim.rg_path("rg-authz3"), api_version="2021-04-01")[0] == 200


def test_throttling_headers_on_every_arm_answer(fresh_simulator):
    """ARM reports the remaining reads/writes, Compute its policies' remaining counts, on every answer. Sources:
    Microsoft docs "Understand how Azure Resource Manager throttles requests" and "Troubleshooting API throttling
    errors"."""
    sim = fresh_simulator
    status, h, _b = sim.call("PUT", sim.rg_path("rg-authz4"), {"location": "eastus"}, api_version="2021-04-01")
    assert status == 201 and int(h["x-ms-ratelimit-remaining-subscription-writes"]) >= 0
    status, h, _b = sim.call("GET", sim.rg_path("rg-authz4") + "/providers/Microsoft.Compute/virtualMachines/none",
                             api_version="2024-07-01")
    assert status == 404 and int(h["x-ms-ratelimit-remaining-subscription-reads"]) >= 0
    assert h["x-ms-ratelimit-remaining-resource"].startswith("Microsoft.Compute/LowCostGet3Min;")
