"""Microsoft Graph: the service principals the product looks up (Confidential VM Orchestrator, the caller)."""
from __future__ import annotations

import re
import time
import uuid

from .core import ApiError, Response
from .routing import RouteTable


def build(sim) -> RouteTable:
    table = RouteTable("graph")
    table.add("GET", "/v1.0/servicePrincipals", lambda req, m, fault: list_principals(sim, req), action="")
    table.add("GET", "/v1.0/servicePrincipals(appId='{appId}')", lambda req, m, fault: by_app_id(sim, m["appId"]),
              action="")
    table.add("GET", "/v1.0/servicePrincipals/{id}", lambda req, m, fault: by_id(sim, m["id"]), action="")
    return table


def _context(sim) -> str:
    return sim.base_url + "/v1.0/$metadata#servicePrincipals"


def by_app_id(sim, app_id):
    sp = sim.graph_principals.get(app_id.lower())
    if sp is None:
        return not_found(app_id)
    return Response(200, dict({"@odata.context": _context(sim) + "/$entity"}, **sp))


def by_id(sim, ident):
    for sp in sim.graph_principals.values():
        if sp["id"] == ident:
            return Response(200, dict({"@odata.context": _context(sim) + "/$entity"}, **sp))
    return not_found(ident)


def list_principals(sim, req):
    flt = req.query.get("$filter")
    items = list(sim.graph_principals.values())
    if flt:
        fm = re.match(r"^\s*(appId|displayName|id)\s+eq\s+'([^']*)'\s*$", flt)
        if not fm:
            raise ApiError(400, "BadRequest", "Invalid filter clause: %s" % flt,
                           body={"error": {"code": "BadRequest", "message": "Invalid filter clause"}})
        field, value = fm.group(1), fm.group(2)
        items = [sp for sp in items if str(sp.get(field, "")).lower() == value.lower()]
    return Response(200, {"@odata.context": _context(sim), "value": items})


def no_route(req) -> ApiError:
    seg = req.path.rsplit("/", 1)[-1]
    return ApiError(404, "Request_ResourceNotFound", "Resource not found for the segment '%s'." % seg,
                    body={"error": {"code": "BadRequest", "message": "Resource not found for the segment '%s'." % seg}})


def not_found(ident: str) -> Response:
    return Response(404, {"error": {
        "code": "Request_ResourceNotFound",
        "message": "Resource '%s' does not exist or one of its queried reference-property objects are not present."
        % ident, "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}}})
