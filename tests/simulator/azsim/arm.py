"""Azure Resource Manager: routing, api-version checks, body validation, LROs, resource store."""
from __future__ import annotations

import datetime
import itertools
import re
import time

from .core import ApiError, Response, bad_request, det_uuid

# Fallback api-version table (used where the spec-derived table of azsim.schema knows nothing about a type).
# Keys: lower-case "namespace/type[/child]".
KNOWN_VERSIONS = {
    "microsoft.compute/virtualmachines": {"2024-07-01", "2026-04-01"},
    "microsoft.compute/disks": {"2024-03-02", "2026-03-02"},
    "microsoft.compute/diskencryptionsets": {"2024-03-02", "2026-03-02"},
    "microsoft.compute/skus": {"2021-07-01"},
    "microsoft.compute/locations/operations": {"2024-07-01", "2026-04-01", "2024-03-02", "2026-03-02"},
    "microsoft.network/virtualnetworks": {"2024-05-01"},
    "microsoft.network/virtualnetworks/subnets": {"2024-05-01"},
    "microsoft.network/networkinterfaces": {"2024-05-01"},
    "microsoft.network/publicipaddresses": {"2024-05-01"},
    "microsoft.network/networksecuritygroups": {"2024-05-01"},
    "microsoft.keyvault/vaults": {"2023-07-01", "2024-11-01", "2026-04-01"},
    "microsoft.keyvault/vaults/accesspolicies": {"2023-07-01", "2024-11-01", "2026-04-01"},
    "microsoft.authorization/roleassignments": {"2022-04-01"},
    "microsoft.authorization/roledefinitions": {"2022-04-01"},
    "microsoft.attestation/locations/defaultprovider": {"2020-10-01", "2021-06-01"},
}
# Real api-versions Azure serves for these types that the offline spec copies do not carry (older clients such
# as the Azure CLI use them). Bodies sent with them are validated against the closest spec version.
REAL_EXTRA_VERSIONS = {
    "microsoft.compute/virtualmachines": {"2022-03-01", "2022-08-01", "2022-11-01", "2023-03-01", "2023-07-01",
                                          "2023-09-01", "2024-03-01", "2024-11-01", "2025-04-01"},
    "microsoft.compute/disks": {"2022-03-02", "2022-07-02", "2023-01-02", "2023-04-02", "2023-10-02", "2025-01-02"},
    "microsoft.compute/diskencryptionsets": {"2022-03-02", "2022-07-02", "2023-01-02", "2023-04-02", "2023-10-02",
                                             "2025-01-02"},
    "microsoft.network/virtualnetworks": {"2022-01-01", "2023-04-01", "2023-09-01", "2023-11-01", "2024-01-01",
                                          "2024-03-01", "2024-07-01"},
    "microsoft.network/networkinterfaces": {"2022-01-01", "2023-04-01", "2023-09-01", "2023-11-01", "2024-01-01",
                                            "2024-03-01", "2024-07-01"},
    "microsoft.network/publicipaddresses": {"2022-01-01", "2023-04-01", "2023-09-01", "2023-11-01", "2024-01-01",
                                            "2024-03-01", "2024-07-01"},
    "microsoft.network/networksecuritygroups": {"2022-01-01", "2023-04-01", "2023-09-01", "2023-11-01",
                                                "2024-01-01", "2024-03-01", "2024-07-01"},
    "microsoft.network/virtualnetworks/subnets": {"2022-01-01", "2023-04-01", "2023-09-01", "2023-11-01",
                                                  "2024-01-01", "2024-03-01", "2024-07-01"},
    "microsoft.keyvault/vaults": {"2022-07-01", "2023-02-01"},
    "microsoft.authorization/roleassignments": {"2020-04-01-preview", "2020-10-01-preview", "2022-01-01-preview"},
    "microsoft.authorization/roledefinitions": {"2018-01-01-preview", "2022-05-01-preview"},
}
RESOURCES_VERSIONS = {"2021-04-01", "2022-09-01", "2022-12-01", "2023-07-01", "2024-03-01", "2024-07-01",
                      "2024-11-01", "2025-03-01", "2025-04-01", "2016-06-01", "2020-01-01", "2019-11-01"}
PROVIDER_DISPLAY = {"microsoft.compute": "Microsoft.Compute", "microsoft.network": "Microsoft.Network",
                    "microsoft.keyvault": "Microsoft.KeyVault", "microsoft.authorization": "Microsoft.Authorization",
                    "microsoft.attestation": "Microsoft.Attestation"}


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class Operation:
    __slots__ = ("id", "namespace", "location", "kind", "resource_id", "ready_at", "hang", "error", "done",
                 "status", "start", "end", "finalize", "api_version", "rg_style")

    def __init__(self, oid, namespace, location, kind, resource_id, delay, finalize, api_version, fault=None):
        self.id = oid
        self.namespace = namespace
        self.location = location
        self.kind = kind
        self.resource_id = resource_id
        self.ready_at = time.monotonic() + delay
        self.hang = fault is not None and fault.action == "lro_hang"
        self.error = fault.lro_error() if fault is not None and fault.action == "lro_fail" else None
        self.done = False
        self.status = "InProgress"
        self.start = _now_iso()
        self.end = None
        self.finalize = finalize
        self.api_version = api_version
        self.rg_style = False

    def remaining(self) -> float:
        return max(0.0, self.ready_at - time.monotonic())


class Arm:
    def __init__(self, sim):
        self.sim = sim
        self.reset()
        from . import resources
        self.types = resources.build_types(self)

    # ------------------------------------------------------------------ state
    def reset(self):
        self.groups: dict[str, dict] = {}
        self.resources: dict[str, dict] = {}
        self.ops: dict[str, Operation] = {}
        self.pending: list[Operation] = []
        self._op_seq = itertools.count(1)
        self.role_assignments: dict[str, dict] = {}

    def snapshot(self) -> dict:
        self.settle()
        return {"groups": self.groups, "resources": self.resources, "role_assignments": self.role_assignments}

    def restore(self, data: dict):
        self.groups = data.get("groups", {})
        self.resources = data.get("resources", {})
        self.role_assignments = data.get("role_assignments", {})

    # ---------------------------------------------------------------- helpers
    @property
    def sub(self) -> str:
        return self.sim.subscription_id

    def rg_id(self, rg: str) -> str:
        return "/subscriptions/%s/resourceGroups/%s" % (self.sub, rg)

    def get_group(self, rg: str):
        return self.groups.get(rg.lower())

    def require_group(self, rg: str) -> dict:
        g = self.get_group(rg)
        if g is None:
            raise ApiError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
        return g

    def get(self, rid: str):
        return self.resources.get(rid.lower().rstrip("/"))

    def put_resource(self, res: dict):
        self.resources[res["id"].lower()] = res
        self.sim.mark_dirty()

    def delete_resource(self, rid: str):
        self.resources.pop(rid.lower(), None)
        self.sim.mark_dirty()

    def of_type(self, type_name: str, rg: str | None = None) -> list[dict]:
        t = type_name.lower()
        prefix = (self.rg_id(rg).lower() + "/") if rg else None
        return [r for k, r in self.resources.items()
                if r.get("type", "").lower() == t and (prefix is None or k.startswith(prefix))]

    def not_found(self, type_path: str, rg: str) -> ApiError:
        return ApiError(404, "ResourceNotFound", "The Resource '%s' under resource group '%s' was not found. For more "
                        "details please go to https://aka.ms/ARMResourceNotFoundFix" % (type_path, rg))

    def new_op(self, namespace, location, kind, resource_id, finalize, api_version, fault=None, delay=None):
        oid = det_uuid("operation", next(self._op_seq), resource_id)
        if delay is None:
            delay = self.sim.delay_for(resource_id)
        op = Operation(oid, namespace, location, kind, resource_id, delay, finalize, api_version, fault)
        self.ops[oid] = op
        self.pending.append(op)
        return op

    def op_urls(self, op: Operation) -> tuple[str, str]:
        base = self.sim.base_url
        if op.rg_style:
            loc = "%s/subscriptions/%s/operationresults/%s?api-version=%s" % (base, self.sub, op.id, op.api_version)
            return loc, loc
        prefix = "%s/subscriptions/%s/providers/%s/locations/%s" % (base, self.sub, op.namespace, op.location)
        return ("%s/operations/%s?api-version=%s" % (prefix, op.id, op.api_version),
                "%s/operationResults/%s?api-version=%s" % (prefix, op.id, op.api_version))

    def lro_headers(self, op: Operation, async_op=True, location=True) -> dict:
        a, loc = self.op_urls(op)
        h = {"Retry-After": str(int(-(-op.remaining() // 1)))}
        if async_op:
            h["Azure-AsyncOperation"] = a
        if location:
            h["Location"] = loc
        return h

    def settle(self):
        """Complete due operations (lazily, on every ARM request)."""
        if not self.pending:
            return
        now = time.monotonic()
        still = []
        for op in self.pending:
            if op.hang or now < op.ready_at:
                still.append(op)
                continue
            self._finish(op)
        self.pending = still

    def _finish(self, op: Operation):
        op.done = True
        op.end = _now_iso()
        if op.error is not None:
            op.status = "Failed"
            res = self.get(op.resource_id) if op.resource_id else None
            if res is not None and isinstance(res.get("properties"), dict):
                res["properties"]["provisioningState"] = "Failed"
        else:
            op.status = "Succeeded"
            if op.finalize is not None:
                op.finalize()
        self.sim.mark_dirty()

    # --------------------------------------------------------------- versions
    def allowed_versions(self, method: str, path: str, type_key: str) -> set[str]:
        versions = set()
        schema = self.sim_schema()
        if schema is not None:
            try:
                versions = set(schema.api_versions(method, path) or ())
            except Exception:  # noqa: BLE001 - the validator knows nothing about this path
                versions = set()
        return versions | KNOWN_VERSIONS.get(type_key, set()) | REAL_EXTRA_VERSIONS.get(type_key, set())

    def sim_schema(self):
        if not hasattr(self, "_schema"):
            try:
                from . import schema  # written by the schema helper
                self._schema = schema
            except ImportError:
                self._schema = None
        return self._schema

    def check_version(self, req, type_key: str, display_type: str, location: str | None = None):
        v = req.api_version
        if not v:
            raise bad_request("MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required for all requests.")
        allowed = self.allowed_versions(req.method, req.path, type_key)
        if allowed and v not in allowed:
            from .catalog import LOCATIONS
            raise bad_request("NoRegisteredProviderFound",
                              "No registered resource provider found for location '%s' and API version '%s' for "
                              "type '%s'. The supported api-versions are '%s'. The supported locations are '%s'."
                              % (location or self.sim.location, v, display_type, ", ".join(sorted(allowed)),
                                 ", ".join(LOCATIONS)))

    def check_resources_version(self, req):
        v = req.api_version
        if not v:
            raise bad_request("MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required for all requests.")
        if v not in RESOURCES_VERSIONS:
            raise bad_request("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions "
                              "are '%s'." % (v, ",".join(sorted(RESOURCES_VERSIONS, reverse=True))))

    def validate_body(self, req, body):
        schema = self.sim_schema()
        if schema is None or req.method not in ("PUT", "PATCH", "POST"):
            return
        issues = schema.validate_body(req.method, req.path, req.api_version, body, unknown_api_version="closest")
        if issues:
            raise ApiError(400, "InvalidRequestContent", "invalid body", body=schema.to_arm_error(issues))

    # --------------------------------------------------------------- dispatch
    def handle(self, req, fault) -> Response:
        if req.method == "GET" and req.path.strip("/").lower() == "metadata/endpoints":
            return Response(200, self.cloud_metadata())
        self.sim.authenticate_arm(req)
        with self.sim.lock:
            self.settle()
            return self._dispatch(req, fault)

    def _dispatch(self, req, fault) -> Response:
        segs = [s for s in req.path.split("/") if s]
        low = [s.lower() for s in segs]
        if not segs:
            raise ApiError(404, "NotFound", "The requested path does not exist.")
        if low == ["tenants"]:
            self.check_resources_version(req)
            return Response(200, {"value": [{"id": "/tenants/" + self.sim.tenant_id, "tenantId": self.sim.tenant_id,
                                             "tenantCategory": "Home", "displayName": "azsim",
                                             "defaultDomain": "azsim.local", "domains": ["azsim.local"]}]})
        if low == ["subscriptions"]:
            self.check_resources_version(req)
            return Response(200, {"value": [self.subscription_body()]})
        if low[0] == "providers" and len(low) >= 2:
            return self.types_dispatch_global(req, segs, fault)
        if low[0] != "subscriptions" or len(segs) < 2:
            raise ApiError(404, "NotFound", "The requested path does not exist.")
        if low[1] != self.sub:
            raise ApiError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % segs[1])
        # scope-level extension resources (role assignments / definitions)
        for i in range(len(low) - 1):
            if low[i] == "providers" and low[i + 1] == "microsoft.authorization" and i + 2 < len(low):
                scope = "/" + "/".join(segs[:i])
                return self.types["authorization"].handle(req, scope, segs[i + 2:], fault)
        rest = segs[2:]
        lrest = low[2:]
        if not rest:
            self.check_resources_version(req)
            return Response(200, self.subscription_body())
        if lrest == ["locations"]:
            self.check_resources_version(req)
            from .catalog import LOCATIONS
            return Response(200, {"value": [{"id": "/subscriptions/%s/locations/%s" % (self.sub, k), "name": k,
                                             "displayName": v, "type": "Region"} for k, v in LOCATIONS.items()]})
        if lrest[0] == "operationresults" and len(rest) == 2:
            return self.operation_result(req, rest[1])
        if lrest[0] == "resourcegroups":
            return self.groups_dispatch(req, rest[1:], fault)
        if lrest[0] == "resources" and len(rest) == 1:
            self.check_resources_version(req)
            return Response(200, {"value": [self.generic_view(r) for r in self.resources.values()]})
        if lrest[0] == "providers":
            if len(rest) == 1:
                self.check_resources_version(req)
                return Response(200, {"value": [self.provider_body(ns) for ns in PROVIDER_DISPLAY]})
            ns = lrest[1]
            if len(rest) == 2 or (len(rest) == 3 and lrest[2] == "register" and req.method == "POST"):
                self.check_resources_version(req)
                return Response(200, self.provider_body(ns))
            return self.subscription_provider(req, ns, rest[1], rest[2:], fault)
        raise ApiError(404, "NotFound", "The requested path does not exist.")

    def types_dispatch_global(self, req, segs, fault):
        low = [s.lower() for s in segs]
        if low[1] == "microsoft.authorization":
            return self.types["authorization"].handle(req, "", segs[2:], fault)
        raise ApiError(404, "NotFound", "The requested path does not exist.")

    def cloud_metadata(self) -> dict:
        """ARM's cloud metadata document (what `az cloud register --endpoint-resource-manager` reads)."""
        base = self.sim.base_url + "/"
        return {"name": "AzureSimulator", "portal": base, "resourceManager": base, "graph": base,
                "graphAudience": base, "microsoftGraphResourceId": base, "gallery": base,
                "authentication": {"loginEndpoint": self.sim.base_url, "audiences": [base, self.sim.base_url],
                                   "tenant": "common", "identityProvider": "AAD"},
                "suffixes": {"keyVaultDns": self.sim.connection_info()["cloud_environment"]["keyvault_dns_suffix"],
                             "attestationEndpoint": "attestation.azsim.local", "storage": "core.azsim.local",
                             "acrLoginServer": "azurecr.azsim.local", "sqlServerHostname": "database.azsim.local",
                             "mhsmDns": "managedhsm.azsim.local"},
                "batch": base, "sqlManagement": base, "media": base, "vmImageAliasDoc": base}

    def subscription_body(self) -> dict:
        return {"id": "/subscriptions/" + self.sub, "authorizationSource": "RoleBased", "managedByTenants": [],
                "subscriptionId": self.sub, "tenantId": self.sim.tenant_id, "displayName": "azsim subscription",
                "state": "Enabled", "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                                             "quotaId": "PayAsYouGo_2014-09-01",
                                                             "spendingLimit": "Off"}}

    def provider_body(self, ns: str) -> dict:
        from .catalog import LOCATIONS
        display = PROVIDER_DISPLAY.get(ns.lower(), ns)
        types = []
        for key, versions in KNOWN_VERSIONS.items():
            pns, _sep, t = key.partition("/")
            if pns == ns.lower():
                types.append({"resourceType": t, "locations": list(LOCATIONS.values()),
                              "apiVersions": sorted(versions, reverse=True)})
        return {"id": "/subscriptions/%s/providers/%s" % (self.sub, display), "namespace": display,
                "registrationState": "Registered", "registrationPolicy": "RegistrationRequired",
                "resourceTypes": types}

    def generic_view(self, r: dict) -> dict:
        out = {k: r[k] for k in ("id", "name", "type", "location", "tags", "sku", "kind", "identity", "zones",
                                 "managedBy") if k in r}
        return out

    # ---------------------------------------------------------- resource groups
    def groups_dispatch(self, req, rest, fault):
        self.check_resources_version(req) if len(rest) <= 1 else None
        if not rest:
            if req.method != "GET":
                raise ApiError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'."
                               % req.method)
            return Response(200, {"value": list(self.groups.values())})
        rg = rest[0]
        if len(rest) == 1:
            return self.group_crud(req, rg, fault)
        low = [s.lower() for s in rest]
        if low[1] == "resources" and len(rest) == 2:
            self.check_resources_version(req)
            self.require_group(rg)
            prefix = self.rg_id(rg).lower() + "/"
            return Response(200, {"value": [self.generic_view(r) for k, r in self.resources.items()
                                            if k.startswith(prefix)]})
        if low[1] != "providers" or len(rest) < 4:
            raise ApiError(404, "NotFound", "The requested path does not exist.")
        ns = rest[2]
        return self.types.get("__resource__").handle(req, rg, ns, rest[3:], fault)

    def group_crud(self, req, rg, fault):
        if not re.match(r"^[-\w\._\(\)]{1,90}$", rg) or rg.endswith("."):
            raise bad_request("InvalidResourceGroupName" if req.method == "PUT" else "ResourceGroupNotFound",
                              "The resource group name '%s' is invalid." % rg)
        existing = self.get_group(rg)
        if req.method in ("GET", "HEAD"):
            if existing is None:
                if req.method == "HEAD":
                    return Response(404)
                self.require_group(rg)
            return Response(204 if req.method == "HEAD" else 200, None if req.method == "HEAD" else existing)
        if req.method == "PUT":
            body = req.json()
            self.validate_body(req, body)
            loc = body.get("location")
            if not loc:
                raise bad_request("LocationRequired", "The location property is required for this definition.")
            if existing is not None and existing["location"] != loc.lower().replace(" ", ""):
                raise ApiError(409, "InvalidResourceGroupLocation", "Invalid resource group location '%s'. The "
                               "Resource group already exists in location '%s'." % (loc, existing["location"]))
            g = {"id": self.rg_id(existing["name"] if existing else rg), "name": existing["name"] if existing else rg,
                 "type": "Microsoft.Resources/resourceGroups", "location": loc.lower().replace(" ", ""),
                 "properties": {"provisioningState": "Succeeded"}}
            if body.get("tags") is not None:
                g["tags"] = body["tags"]
            if body.get("managedBy"):
                g["managedBy"] = body["managedBy"]
            self.groups[rg.lower()] = g
            self.sim.mark_dirty()
            return Response(200 if existing else 201, g)
        if req.method == "PATCH":
            self.require_group(rg)
            body = req.json()
            self.validate_body(req, body)
            if "tags" in body:
                existing["tags"] = body["tags"]
            return Response(200, existing)
        if req.method == "DELETE":
            if existing is None:
                self.require_group(rg)
            existing["properties"]["provisioningState"] = "Deleting"

            def finalize():
                prefix = self.rg_id(rg).lower() + "/"
                for rid in [k for k in self.resources if k.startswith(prefix)]:
                    res = self.resources.get(rid)
                    if res is not None:
                        self.types["__resource__"].cascade_delete(res)
                    self.resources.pop(rid, None)
                self.groups.pop(rg.lower(), None)

            op = self.new_op("Microsoft.Resources", existing["location"], "delete", self.rg_id(rg), finalize,
                             req.api_version, fault)
            op.rg_style = True
            return Response(202, None, self.lro_headers(op, async_op=False))
        raise ApiError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'." % req.method)

    # ------------------------------------------------------------- operations
    def operation_status(self, req, oid: str) -> Response:
        op = self.ops.get(oid)
        if op is None:
            raise ApiError(404, "NotFound", "The operation '%s' could not be found." % oid)
        body = {"name": op.id, "status": op.status, "startTime": op.start}
        if op.end:
            body["endTime"] = op.end
        if op.error is not None and op.done:
            body["error"] = op.error
        headers = {}
        if not op.done:
            headers["Retry-After"] = str(int(-(-op.remaining() // 1)))
        return Response(200, body, headers)

    def operation_result(self, req, oid: str) -> Response:
        op = self.ops.get(oid)
        if op is None:
            raise ApiError(404, "NotFound", "The operation '%s' could not be found." % oid)
        if not op.done:
            return Response(202, None, self.lro_headers(op, async_op=False))
        if op.error is not None:
            return Response(400 if op.error.get("code") != "InternalExecutionError" else 500, {"error": op.error})
        if op.kind in ("put", "patch"):
            res = self.get(op.resource_id)
            return Response(200, res)
        return Response(200 if op.kind == "action" else 204, None)

    def subscription_provider(self, req, ns_low, ns, rest, fault):
        low = [s.lower() for s in rest]
        if len(low) == 4 and low[0] == "locations" and low[2] in ("operations", "operationresults", "asyncoperations"):
            if low[2] == "operationresults":
                return self.operation_result(req, rest[3])
            return self.operation_status(req, rest[3])
        return self.types["__resource__"].subscription_level(req, ns_low, ns, rest, fault)
