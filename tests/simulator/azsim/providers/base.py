"""Shared machinery of ARM resource providers: the tracked-resource handler base and its generic CRUD routes.

A provider module declares its types (subclasses of ``TypeHandler``) and calls ``register_type`` for each, which
adds the spec-named routes (PUT/GET/PATCH/DELETE/HEAD on the resource, GET on the collection in a resource group
and in the subscription). A type's own rules live in its ``build``/``patch``/``before_delete`` methods, one small
function each, with the public source in the docstring."""
from __future__ import annotations

import copy
import datetime

from .. import catalog
from ..core import Response, bad_request

RG_PREFIX = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
SUB_PREFIX = "/subscriptions/{subscriptionId}/providers/"


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


_now_iso = now_iso


def deep_merge(dst: dict, src: dict) -> dict:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            deep_merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)
    return dst


def view(res: dict) -> dict:
    """Public representation (internal bookkeeping lives under '_sim')."""
    if "_sim" not in res:
        return res
    return {k: v for k, v in res.items() if k != "_sim"}


def parse_id(rid: str) -> dict:
    segs = [s for s in (rid or "").split("/") if s]
    low = [s.lower() for s in segs]
    out = {}
    try:
        out["subscription"] = segs[low.index("subscriptions") + 1]
        out["resource_group"] = segs[low.index("resourcegroups") + 1]
        i = low.index("providers")
        out["namespace"] = segs[i + 1]
        out["types"] = segs[i + 2::2]
        out["names"] = segs[i + 3::2]
    except (ValueError, IndexError):
        return {}
    return out


class TypeHandler:
    """Base: a tracked resource type with an LRO style."""
    namespace = ""
    types: tuple = ()
    name_params: tuple = ()     # path parameter names, as the spec names them, one per type segment
    put_style = "sync"          # sync | compute | disk | network
    delete_style = "sync"       # sync | async
    has_location = True
    readonly_props = ("provisioningState",)

    def __init__(self, arm):
        self.arm = arm
        self.sim = arm.sim

    @property
    def key(self) -> str:
        return (self.namespace + "/" + "/".join(self.types)).lower()

    @property
    def display_type(self) -> str:
        return self.namespace + "/" + "/".join(self.types)

    def version_type(self) -> str:
        return self.types[-1]

    def build_id(self, rg_name: str, names: list[str]) -> str:
        parts = [self.arm.rg_id(rg_name), "providers", self.namespace]
        for t, n in zip(self.types, names):
            parts += [t, n]
        return "/".join(parts)

    def type_path(self, names) -> str:
        out = self.namespace
        for t, n in zip(self.types, names):
            out += "/%s/%s" % (t, n)
        return out

    # -- hooks
    def build(self, req, rg, names, body, existing) -> dict:
        res = self.base(rg, names, body, existing)
        props = copy.deepcopy(body.get("properties") or {})
        for k in self.readonly_props:
            props.pop(k, None)
        res["properties"] = props
        return res

    def base(self, rg, names, body, existing) -> dict:
        rid = existing["id"] if existing else self.build_id(rg["name"], names)
        res = {"id": rid, "name": names[-1], "type": self.display_type}
        if self.has_location:
            loc = body.get("location") or (existing or {}).get("location")
            if not loc:
                raise bad_request("LocationRequired", "The location property is required for this definition.")
            loc = loc.lower().replace(" ", "")
            if loc not in catalog.LOCATIONS:
                raise bad_request("LocationNotAvailableForResourceType", "The provided location '%s' is not available "
                                  "for resource type '%s'. List of available regions for the resource type is '%s'."
                                  % (loc, self.display_type, ",".join(catalog.LOCATIONS)))
            if existing and existing.get("location") and existing["location"] != loc:
                raise bad_request("InvalidResourceLocation", "The resource '%s' already exists in location '%s' in "
                                  "resource group '%s'. A resource with the same name cannot be created in location "
                                  "'%s'. Please select a new resource name." % (names[-1], existing["location"],
                                                                                rg["name"], loc))
            res["location"] = loc
        if body.get("tags") is not None:
            res["tags"] = body["tags"]
        elif existing and "tags" in existing and "tags" not in body:
            pass
        for k in ("sku", "zones", "identity", "kind", "extendedLocation", "plan"):
            if k in body:
                res[k] = copy.deepcopy(body[k])
        return res

    def provisioned(self, res):
        if isinstance(res.get("properties"), dict):
            res["properties"]["provisioningState"] = "Succeeded"

    def before_delete(self, res):
        pass

    def on_delete(self, res):
        pass

    def patch(self, req, existing, body) -> dict:
        res = copy.deepcopy(existing)
        if "tags" in body:
            res["tags"] = body["tags"]
        if isinstance(body.get("properties"), dict):
            props = copy.deepcopy(body["properties"])
            for k in self.readonly_props:
                props.pop(k, None)
            deep_merge(res.setdefault("properties", {}), props)
        for k in ("sku", "identity", "zones"):
            if k in body:
                res[k] = copy.deepcopy(body[k])
        return res

    def get_view(self, req, res) -> dict:
        return view(res)

    def names_of(self, m) -> list[str]:
        return [m[p] for p in self.name_params]


def register_type(table, h: TypeHandler):
    """The spec-named routes of a tracked resource type (``h.name_params`` names the path parameters)."""
    tmpl = RG_PREFIX + h.namespace + "".join("/%s/{%s}" % (t, p) for t, p in zip(h.types, h.name_params))
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD"):
        table.add(method, tmpl, lambda req, m, fault, h=h: crud(h, req, m, fault))
    if len(h.types) == 1:
        table.add("GET", RG_PREFIX + h.namespace + "/" + h.types[0],
                  lambda req, m, fault, h=h: list_in_group(h, req, m))
        table.add("GET", SUB_PREFIX + h.namespace + "/" + h.types[0],
                  lambda req, m, fault, h=h: list_in_subscription(h, req))
    return tmpl


def register_operations(table, arm, namespace):
    """The provider's operation status / result URLs handed out in Azure-AsyncOperation and Location headers."""
    for kind in ("operations", "operationResults", "asyncoperations"):
        table.add("GET", SUB_PREFIX + namespace + "/locations/{location}/%s/{operationId}" % kind,
                  lambda req, m, fault, kind=kind: arm.operation_poll(req, m["operationId"], kind), rtype="")


def list_in_group(h, req, m):
    h.arm.require_group(m["resourceGroupName"])
    return Response(200, {"value": [h.get_view(req, r) for r in h.arm.of_type(h.display_type, m["resourceGroupName"])]})


def list_in_subscription(h, req):
    return Response(200, {"value": [h.get_view(req, r) for r in h.arm.of_type(h.display_type)]})


def existing_of(h, m):
    """(resource group, resource id, existing resource) of a routed request; 404s as ARM words them."""
    rg_name = m["resourceGroupName"]
    names = h.names_of(m)
    rg = h.arm.require_group(rg_name)
    rid = h.build_id(rg["name"], names)
    if len(names) > 1:
        parent = h.arm.get(rid.rsplit("/", 2)[0])
        if parent is None:
            raise h.arm.not_found(h.type_path(names)[: -len("/%s/%s" % (h.types[-1], names[-1]))], rg_name)
    return rg, rid, h.arm.get(rid)


def require(h, m):
    """The resource a routed request addresses (404 ResourceNotFound when absent)."""
    _rg, _rid, res = existing_of(h, m)
    if res is None:
        raise h.arm.not_found(h.type_path(h.names_of(m)), m["resourceGroupName"])
    return res


def crud(h, req, m, fault):
    arm = h.arm
    rg, rid, existing = existing_of(h, m)
    names = h.names_of(m)
    method = req.method
    if method == "GET":
        if existing is None:
            raise arm.not_found(h.type_path(names), m["resourceGroupName"])
        return Response(200, h.get_view(req, existing))
    if method == "HEAD":
        return Response(204 if existing else 404)
    if method == "PUT":
        body = req.json()
        arm.validate_body(req, body)
        res = h.build(req, rg, names, body, existing)
        return respond_put(h, req, res, existing, fault)
    if method == "PATCH":
        if existing is None:
            raise arm.not_found(h.type_path(names), m["resourceGroupName"])
        body = req.json()
        arm.validate_body(req, body)
        res = h.patch(req, existing, body)
        if h.put_style != "sync":
            res["properties"]["provisioningState"] = "Updating"
        return respond_put(h, req, res, existing, fault, patch=True)
    # DELETE
    if existing is None:
        return Response(204)
    h.before_delete(existing)
    if h.delete_style == "sync":
        arm.delete_resource(rid)
        h.on_delete(existing)
        return Response(200)

    def finalize():
        if arm.get(rid) is existing:
            arm.delete_resource(rid)
            h.on_delete(existing)
    op = arm.new_op(h.namespace, existing.get("location") or h.sim.location, "delete", rid, finalize,
                    req.api_version, fault)
    return Response(202, None, arm.lro_headers(op))


def respond_put(h, req, res, existing, fault, patch=False):
    arm = h.arm
    arm.put_resource(res)
    status = 200 if existing else 201
    if h.put_style == "sync":
        h.provisioned(res)
        return Response(status, h.get_view(req, res))

    def finalize():
        h.provisioned(res)
    op = arm.new_op(h.namespace, res.get("location") or h.sim.location, "patch" if patch else "put",
                    res["id"], finalize, req.api_version, fault)
    if h.put_style == "disk":
        return Response(202, h.get_view(req, res), arm.lro_headers(op))
    return Response(status, h.get_view(req, res), arm.lro_headers(op, location=False))
