"""Microsoft.Resources: tenants, subscriptions, locations, resource groups, generic resource lists, providers.

Spec: specification/resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01/resources.json."""
from __future__ import annotations

import re

from .. import catalog
from ..core import ApiError, Response, bad_request

SUB = "/subscriptions/{subscriptionId}"
PROVIDER_DISPLAY = {"microsoft.compute": "Microsoft.Compute", "microsoft.network": "Microsoft.Network",
                    "microsoft.keyvault": "Microsoft.KeyVault", "microsoft.authorization": "Microsoft.Authorization",
                    "microsoft.attestation": "Microsoft.Attestation"}


def register(table, arm):
    add = table.add
    add("GET", "/tenants", lambda req, m, fault: Response(200, {"value": [tenant_body(arm)]}))
    add("GET", "/subscriptions", lambda req, m, fault: Response(200, {"value": [
        subscription_body(arm, s) for s in arm.subscriptions()]}))
    add("GET", SUB, lambda req, m, fault: Response(200, subscription_body(arm)))
    add("GET", SUB + "/locations", lambda req, m, fault: Response(200, {"value": locations(arm)}))
    add("GET", SUB + "/operationresults/{operationId}",
        lambda req, m, fault: arm.operation_result(req, m["operationId"]), rtype="")
    add("GET", SUB + "/resources", lambda req, m, fault: Response(200, {"value": [
        generic_view(r) for k, r in arm.resources.items() if k.startswith("/subscriptions/%s/" % arm.sub)]}))
    add("GET", SUB + "/resourcegroups", lambda req, m, fault: Response(200, {"value": [
        g for k, g in arm.groups.items() if k.startswith("/subscriptions/%s/" % arm.sub)]}))
    for method in ("GET", "HEAD", "PUT", "PATCH", "DELETE"):
        add(method, SUB + "/resourcegroups/{resourceGroupName}", lambda req, m, fault: group_crud(arm, req, m, fault))
    add("GET", SUB + "/resourceGroups/{resourceGroupName}/resources", lambda req, m, fault: resources_in(arm, m))
    add("GET", SUB + "/providers", lambda req, m, fault: Response(200, {"value": [
        provider_body(arm, ns) for ns in PROVIDER_DISPLAY]}))
    add("GET", SUB + "/providers/{resourceProviderNamespace}",
        lambda req, m, fault: Response(200, provider_body(arm, m["resourceProviderNamespace"])))
    add("POST", SUB + "/providers/{resourceProviderNamespace}/register",
        lambda req, m, fault: Response(200, provider_body(arm, m["resourceProviderNamespace"])),
        action="Microsoft.Resources/subscriptions/providers/register/action")


def tenant_body(arm) -> dict:
    t = arm.sim.tenant_id
    return {"id": "/tenants/" + t, "tenantId": t, "tenantCategory": "Home", "displayName": "azsim",
            "defaultDomain": "azsim.local", "domains": ["azsim.local"]}


def subscription_body(arm, sub=None) -> dict:
    sub = sub or arm.sub
    name = "azsim subscription" if sub == arm.sim.subscription_id else "azsim subscription %s" % sub[:8]
    return {"id": "/subscriptions/" + sub, "authorizationSource": "RoleBased", "managedByTenants": [],
            "subscriptionId": sub, "tenantId": arm.sim.tenant_id, "displayName": name,
            "state": "Enabled", "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                                         "quotaId": "PayAsYouGo_2014-09-01",
                                                         "spendingLimit": "Off"}}


def locations(arm) -> list[dict]:
    return [{"id": "/subscriptions/%s/locations/%s" % (arm.sub, k), "name": k, "displayName": v, "type": "Region"}
            for k, v in catalog.LOCATIONS.items()]


def provider_body(arm, ns: str) -> dict:
    display = PROVIDER_DISPLAY.get(ns.lower(), ns)
    types = []
    for rtype, versions in sorted(arm.registered_types().items()):
        pns, _sep, t = rtype.partition("/")
        if pns.lower() == ns.lower():
            types.append({"resourceType": t, "locations": list(catalog.LOCATIONS.values()),
                          "apiVersions": sorted(versions, reverse=True)})
    return {"id": "/subscriptions/%s/providers/%s" % (arm.sub, display), "namespace": display,
            "registrationState": "Registered", "registrationPolicy": "RegistrationRequired",
            "resourceTypes": types}


def generic_view(r: dict) -> dict:
    return {k: r[k] for k in ("id", "name", "type", "location", "tags", "sku", "kind", "identity", "zones",
                              "managedBy") if k in r}


def resources_in(arm, m):
    rg = m["resourceGroupName"]
    arm.require_group(rg)
    prefix = arm.rg_id(rg).lower() + "/"
    return Response(200, {"value": [generic_view(r) for k, r in arm.resources.items() if k.startswith(prefix)]})


def group_crud(arm, req, m, fault):
    """PUT/GET/HEAD/PATCH/DELETE /subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}."""
    rg = m["resourceGroupName"]
    if not re.match(r"^[-\w\._\(\)]{1,90}$", rg) or rg.endswith("."):
        raise bad_request("InvalidResourceGroupName" if req.method == "PUT" else "ResourceGroupNotFound",
                          "The resource group name '%s' is invalid." % rg)
    existing = arm.get_group(rg)
    if req.method in ("GET", "HEAD"):
        if existing is None:
            if req.method == "HEAD":
                return Response(404)
            arm.require_group(rg)
        return Response(204 if req.method == "HEAD" else 200, None if req.method == "HEAD" else existing)
    if req.method == "PUT":
        body = req.json()
        arm.validate_body(req, body)
        loc = body.get("location")
        if not loc:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        if existing is not None and existing["location"] != loc.lower().replace(" ", ""):
            raise ApiError(409, "InvalidResourceGroupLocation", "Invalid resource group location '%s'. The "
                           "Resource group already exists in location '%s'." % (loc, existing["location"]))
        g = {"id": arm.rg_id(existing["name"] if existing else rg), "name": existing["name"] if existing else rg,
             "type": "Microsoft.Resources/resourceGroups", "location": loc.lower().replace(" ", ""),
             "properties": {"provisioningState": "Succeeded"}}
        if body.get("tags") is not None:
            g["tags"] = body["tags"]
        if body.get("managedBy"):
            g["managedBy"] = body["managedBy"]
        arm.groups[arm.rg_id(rg).lower()] = g
        arm.sim.mark_dirty()
        return Response(200 if existing else 201, g)
    if req.method == "PATCH":
        arm.require_group(rg)
        body = req.json()
        arm.validate_body(req, body)
        if "tags" in body:
            existing["tags"] = body["tags"]
        return Response(200, existing)
    if req.method == "DELETE":
        if existing is None:
            arm.require_group(rg)
        existing["properties"]["provisioningState"] = "Deleting"

        def finalize():
            prefix = arm.rg_id(rg).lower() + "/"
            for rid in [k for k in arm.resources if k.startswith(prefix)]:
                res = arm.resources.get(rid)
                if res is not None:
                    arm.cascade_delete(res)
                arm.resources.pop(rid, None)
            arm.groups.pop(arm.rg_id(rg).lower(), None)

        op = arm.new_op("Microsoft.Resources", existing["location"], "delete", arm.rg_id(rg), finalize,
                        req.api_version, fault)
        op.rg_style = True
        return Response(202, None, arm.lro_headers(op, async_op=False))
    raise ApiError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'." % req.method)
