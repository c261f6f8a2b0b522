"""The simulator's own admin API under /_sim (tests and tools drive the simulator with it; no authentication)."""
from __future__ import annotations

import re

from .core import ApiError, Response
from .routing import RouteTable


def build(sim) -> RouteTable:
    t = RouteTable("admin")
    t.add("GET", "/_sim/health", lambda req, m: Response(200, {"status": "ok"}))
    t.add("GET", "/_sim/info", lambda req, m: Response(200, sim.connection_info()))
    t.add("POST", "/_sim/reset", lambda req, m: (sim.reset(), Response(200, {"reset": True}))[1])
    t.add("GET", "/_sim/requests", lambda req, m: requests_since(sim, req))
    for method in ("GET", "POST"):
        t.add(method, "/_sim/requests/mark", lambda req, m: Response(200, {"mark": sim.log.count}))
    t.add("POST", "/_sim/faults", lambda req, m: Response(201, sim.faults.add(req.json())))
    t.add("GET", "/_sim/faults", lambda req, m: Response(200, {"faults": sim.faults.list()}))
    t.add("DELETE", "/_sim/faults", lambda req, m: (sim.faults.clear(), Response(200, {"faults": []}))[1])
    for method in ("POST", "PUT"):
        t.add(method, "/_sim/delay", lambda req, m: set_delay(sim, req))
    t.add("POST", "/_sim/attestation/trust-roots", lambda req, m: sim.attestation.add_trust_root(req))
    t.add("DELETE", "/_sim/graph/servicePrincipals/{appId}", lambda req, m: remove_principal(sim, m["appId"]))
    for method in ("PUT", "POST"):
        t.add(method, "/_sim/graph/servicePrincipals/{appId}", lambda req, m: Response(201, sim.add_principal(
            m["appId"], req.json().get("displayName", m["appId"]))))
    t.add("GET", "/_sim/state", lambda req, m: Response(200, sim.snapshot()))
    # IMDS stand-in per VM (azsim.imds): register, then the guest's IMDS paths under the returned endpoint
    t.add("POST", "/_sim/imds", lambda req, m: imds(sim).register(req))
    t.add("GET", "/_sim/imds/{handle}/metadata/identity/oauth2/token", lambda req, m: imds(sim).token(req, m["handle"]))
    t.add("GET", "/_sim/imds/{handle}/metadata/THIM/amd/certification", lambda req, m: imds(sim).thim(req, m["handle"]))
    return t


def imds(sim):
    if getattr(sim, "imds", None) is None:
        from .imds import Imds
        sim.imds = Imds(sim)
    return sim.imds


class AdminApi:
    def __init__(self, sim):
        self.table = build(sim)

    def handle(self, req) -> Response:
        m = self.table.match(req.method, req.path)
        if m is None:
            raise ApiError(404, "NotFound", "No admin route %s %s" % (req.method, req.path.rstrip("/")))
        return m.route.handler(req, m)


def requests_since(sim, req):
    since = int(req.query.get("since") or 0)
    return Response(200, {"requests": sim.log.since(since), "next": sim.log.count})


def set_delay(sim, req):
    body = req.json()
    seconds = float(body.get("seconds", 0))
    if body.get("pattern"):
        sim.route_delays.insert(0, (re.compile(body["pattern"], re.I), seconds))
    else:
        sim.provisioning_delay = seconds
    return Response(200, {"provisioning_delay": sim.provisioning_delay,
                          "routes": [[pt.pattern, s] for pt, s in sim.route_delays]})


def remove_principal(sim, app_id):
    removed = sim.graph_principals.pop(app_id.lower(), None)
    return Response(200 if removed else 404, {"removed": bool(removed)})
