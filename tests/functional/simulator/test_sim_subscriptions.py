"""More than one subscription: the first stdout line lists them, ARM honours the one in the path, and the default
principal holds the same roles in each."""
from __future__ import annotations

import time

RG_API = "2021-04-01"
FIRST_LINE_FIELDS = {"cloud_environment", "subscription_id", "subscriptions", "tenant_id", "client_id",
                     "client_secret", "location", "state_dir"}


def test_first_line_lists_subscriptions_default_first(simulator):
    info = simulator.info
    assert FIRST_LINE_FIELDS <= set(info)
    subs = info["subscriptions"]
    assert len(subs) >= 2 and len(set(subs)) == len(subs) and subs[0] == info["subscription_id"]


def test_arm_keeps_subscriptions_apart(fresh_simulator):
    """A resource group lives in the subscription of its path: the same name may exist in two subscriptions, a
    read in the other one is 404, lists and deletes stay in their subscription, an unknown subscription is 404
    SubscriptionNotFound. Source: Microsoft doc "Azure Resource Manager overview" (resource ids are scoped by
    subscription) and the Resources spec (specification/resources/.../resources.json, ResourceGroups_Get)."""
    sim = fresh_simulator
    a, b = sim.info["subscriptions"][:2]
    assert sim.call("PUT", "/subscriptions/%s/resourceGroups/rg-two" % b, {"location": "westeurope"}, RG_API)[0] == 201
    assert sim.call("GET", "/subscriptions/%s/resourceGroups/rg-two" % a, api_version=RG_API)[0] == 404
    assert sim.call("PUT", "/subscriptions/%s/resourceGroups/rg-two" % a, {"location": "eastus"}, RG_API)[0] == 201
    listed = sim.call("GET", "/subscriptions/%s/resourcegroups" % b, api_version=RG_API)[2]["value"]
    assert [g["id"] for g in listed] == ["/subscriptions/%s/resourceGroups/rg-two" % b]
    vnet = "/subscriptions/%s/resourceGroups/rg-two/providers/Microsoft.Network/virtualNetworks/v" % b
    status, _h, body = sim.call("PUT", vnet, {"location": "westeurope", "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}, api_version="2024-05-01")
    assert status == 201 and body["id"] == vnet
    assert sim.call("GET", vnet.replace(b, a), api_version="2024-05-01")[0] == 404
    assert sim.call("DELETE", "/subscriptions/%s/resourceGroups/rg-two" % b, api_version=RG_API)[0] == 202
    status = None
    for dummy in range(40):
        status = sim.call("GET", "/subscriptions/%s/resourceGroups/rg-two" % b, api_version=RG_API)[0]
        if status == 404:
            break
        time.sleep(0.25)
    assert status == 404
    assert sim.call("GET", "/subscriptions/%s/resourceGroups/rg-two" % a, api_version=RG_API)[2]["location"] == \
        "eastus"
    status, _h, body = sim.call("GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups",
                                api_version=RG_API)
    assert status == 404 and body["error"]["code"] == "SubscriptionNotFound"


def test_same_role_assignments_in_each_subscription(fresh_simulator):
    """The default principal holds Contributor and User Access Administrator on every subscription."""
    sim = fresh_simulator
    seen = []
    for sub in sim.info["subscriptions"]:
        status, _h, body = sim.call("GET", "/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments"
                                    % sub, api_version="2022-04-01")
        assert status == 200
        seen.append(sorted((a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1], a["properties"]["principalId"],
                            a["properties"]["scope"].replace(sub, "<sub>")) for a in body["value"]))
    assert len(seen[0]) == 2 and all(s == seen[0] for s in seen)
