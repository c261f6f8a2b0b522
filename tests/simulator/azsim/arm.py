"""Azure Resource Manager core: resource store, long-running operations, api-version checks, body validation.

Routes live in ``azsim/providers`` (one module per resource provider); dispatch in ``azsim/dispatch.py``."""
from __future__ import annotations

import datetime
import itertools
import time

from .core import ApiError, Response, bad_request, det_uuid


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
        from . import providers
        from .rbac import Authorization
        self.types = {"authorization": Authorization(self)}
        self.table, self.handlers = providers.build(self)

    # ------------------------------------------------------------------ state
    def reset(self):
        self.groups: dict[str, dict] = {}
        self.resources: dict[str, dict] = {}
        self.ops: dict[str, Operation] = {}
        self.pending: list[Operation] = []
        self._op_seq = itertools.count(1)
        self.role_assignments: dict[str, dict] = {}
        self.deleted_vaults: dict[str, dict] = {}       # soft-deleted key vaults by name (lower)

    def snapshot(self) -> dict:
        self.settle()
        return {"groups": self.groups, "resources": self.resources, "role_assignments": self.role_assignments,
                "deleted_vaults": self.deleted_vaults}

    def restore(self, data: dict):
        self.groups = {g["id"].lower(): g for g in (data.get("groups") or {}).values()}
        self.resources = data.get("resources", {})
        self.role_assignments = data.get("role_assignments", {})
        self.deleted_vaults = data.get("deleted_vaults", {})

    # ---------------------------------------------------------------- helpers
    @property
    def sub(self) -> str:
        """The subscription of the request being served (ARM honours the one in the path), else the default."""
        return getattr(self, "_current_sub", None) or self.sim.subscription_id

    def subscriptions(self) -> list[str]:
        return [s.lower() for s in getattr(self.sim, "subscriptions", None) or [self.sim.subscription_id]]

    def rg_id(self, rg: str) -> str:
        return "/subscriptions/%s/resourceGroups/%s" % (self.sub, rg)

    def get_group(self, rg: str):
        return self.groups.get(self.rg_id(rg).lower())

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
        segs = (op.resource_id or "").split("/")
        served = getattr(self, "_current_sub", None)
        if len(segs) > 2 and segs[1].lower() == "subscriptions":
            self._current_sub = segs[2].lower()     # finalizers build ids in the operation's subscription
        try:
            self._finish_op(op)
        finally:
            self._current_sub = served

    def _finish_op(self, op: Operation):
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
        """Every api-version the official specs define for the resource type (specdata ``api_versions``: the
        offline spec copy plus the upstream spec files of tests/simulator/spec_index.json), and those of the
        operation matching the path."""
        schema = self.sim_schema()
        versions = set(schema.served_versions(type_key))
        try:
            versions |= set(schema.api_versions(method, path) or ())
        except Exception:  # noqa: BLE001 - the validator knows nothing about this path
            pass
        return versions

    def resources_versions(self) -> set[str]:
        """ARM serves Microsoft.Resources with one set of api-versions (its own resource types')."""
        out = set()
        for t, v in self.sim_schema().served_types().items():
            if t.lower().startswith("microsoft.resources/"):
                out |= v
        return out

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
        supported = self.resources_versions()
        if v not in supported:
            raise bad_request("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions "
                              "are '%s'." % (v, ",".join(sorted(supported, reverse=True))))

    def validate_body(self, req, body):
        schema = self.sim_schema()
        if schema is None or req.method not in ("PUT", "PATCH", "POST"):
            return
        issues = schema.validate_body(req.method, req.path, req.api_version, body, unknown_api_version="closest")
        if issues:
            raise ApiError(400, "InvalidRequestContent", "invalid body", body=schema.to_arm_error(issues))

    # --------------------------------------------------------------- routing
    def route(self, req):
        """The route of an (authenticated) ARM request, or the error ARM answers for a path nobody serves."""
        segs = [s for s in req.path.split("/") if s]
        self._current_sub = None
        if len(segs) >= 2 and segs[0].lower() == "subscriptions":
            self.check_subscription(segs[1])
        m = self.table.match(req.method, req.path)
        if m is None:
            raise self.no_route(req, segs)
        return m

    def check_subscription(self, sub_id: str):
        if sub_id.lower() not in self.subscriptions():
            raise ApiError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sub_id)
        self._current_sub = sub_id.lower()

    def no_route(self, req, segs) -> ApiError:
        if self.table.methods_for(req.path):
            return ApiError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'."
                            % req.method)
        low = [s.lower() for s in segs]
        if "providers" in low:
            i = len(low) - 1 - low[::-1].index("providers")
            if i + 2 < len(segs):
                kind = "/".join(segs[i + 2::2])
                return ApiError(400, "InvalidResourceType", "The resource type '%s' could not be found in the "
                                "namespace '%s' for api version '%s'." % (kind, segs[i + 1], req.api_version))
        return ApiError(404, "NotFound", "The requested path does not exist.")

    def prepare(self, req, match):
        """What ARM checks before anything else: the body is JSON, the api-version is served for the type."""
        body_loc = None
        if req.method in ("PUT", "PATCH"):
            body = req.json()
            if not isinstance(body, dict):
                raise bad_request("InvalidRequestContent", "The request content was invalid and could not be "
                                  "deserialized.")
            body_loc = body.get("location")
        rtype = match.rtype
        if not rtype:
            return
        if rtype.lower().startswith("microsoft.resources/"):
            self.check_resources_version(req)
        else:
            self.check_version(req, rtype.lower(), rtype.split("/", 1)[1], body_loc)

    def cascade_delete(self, res):
        h = self.handlers.get(res.get("type", "").lower())
        if h is not None:
            try:
                h.on_delete(res)
            except ApiError:
                pass

    def registered_types(self) -> dict:
        """{resource type: api-versions} of every type some route serves (for the providers API)."""
        served = {r.rtype.lower() for r in self.table.routes if r.rtype}
        return {t: v for t, v in self.sim_schema().served_types().items() if t.lower() in served}

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

    def operation_poll(self, req, oid: str, kind: str) -> Response:
        if kind.lower() == "operationresults":
            return self.operation_result(req, oid)
        return self.operation_status(req, oid)
