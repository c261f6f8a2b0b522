"""Route tables: one per service, each entry a method and a path template written as the specs write it.

A template is a path with ``{name}`` parameters (one segment each) and an optional leading ``{scope}`` (any number
of segments, possibly none: the extension-resource scope of Microsoft.Authorization). Literal segments match
case-insensitively, as ARM does. The most specific template wins (most literal segments, then fewest multi-segment
parameters), so ``.../virtualMachines/{vmName}/start`` beats ``.../{resourceType}/{name}/{action}``.

Every ARM route carries its ARM action (``Microsoft.Compute/virtualMachines/write``); every Key Vault data-plane
route carries its key operation (``create``, ``get``, ``release``...). Both are derived from the template unless
the route names them, so authorization can be decided in one place (``dispatch.authorize``).
"""
from __future__ import annotations

import re

_PARAM = re.compile(r"^\{([\w-]+)\}$")
_EMBEDDED = re.compile(r"\{([\w-]+)\}")
_VERB = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


class Route:
    __slots__ = ("method", "template", "handler", "action", "key_op", "rtype", "regex", "_rank")

    def __init__(self, method: str, template: str, handler, action: str | None = None, key_op: str | None = None,
                 rtype: str | None = None):
        self.method = method.upper()
        self.template = template
        self.handler = handler
        self.regex, self._rank = _compile(template)
        self.rtype = rtype if rtype is not None else resource_type_of(template, self.method)
        self.action = action if action is not None else arm_action(template, self.method)
        self.key_op = key_op

    def __repr__(self):
        return "Route(%s %s -> %s)" % (self.method, self.template, self.action or self.key_op)


class Match:
    """A routed request: the route, its path parameters, and what the caller is doing (ARM action / key op)."""
    __slots__ = ("route", "params")

    def __init__(self, route: Route, params: dict):
        self.route = route
        self.params = params

    @property
    def action(self) -> str | None:
        return self.route.action

    @property
    def key_op(self) -> str | None:
        return self.route.key_op

    @property
    def rtype(self) -> str | None:
        return self.route.rtype

    def __getitem__(self, name):
        return self.params[name]

    def get(self, name, default=None):
        return self.params.get(name, default)


class RouteTable:
    def __init__(self, service: str):
        self.service = service
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler, **kw) -> Route:
        route = Route(method, template, handler, **kw)
        self.routes.append(route)
        self.routes.sort(key=lambda r: r._rank, reverse=True)
        return route

    def match(self, method: str, path: str) -> Match | None:
        method = method.upper()
        for r in self.routes:
            if r.method != method:
                continue
            m = r.regex.match(path)
            if m:
                return Match(r, {k.replace("__", "-"): v for k, v in m.groupdict().items() if v is not None})
        return None

    def methods_for(self, path: str) -> list[str]:
        """Methods some route serves at ``path`` (for 405 answers)."""
        return sorted({r.method for r in self.routes if r.regex.match(path)})


def _group(name: str) -> str:
    return name.replace("-", "__")     # regex group names cannot hold the specs' 'key-name'


def _compile(template: str):
    segs = [s for s in template.split("/") if s]
    out = []
    literal = multi = 0
    for i, s in enumerate(segs):
        pm = _PARAM.match(s)
        if pm and pm.group(1) == "scope" and i == 0:
            out.append(r"(?P<scope>(?:/[^/]+)*?)")
            multi += 1
            continue
        if pm:
            out.append("/(?P<%s>[^/]+)" % _group(pm.group(1)))
        elif "{" in s:      # a parameter inside a segment: servicePrincipals(appId='{appId}')
            parts, pos = [], 0
            for em in _EMBEDDED.finditer(s):
                parts.append(re.escape(s[pos:em.start()]) + "(?P<%s>[^/]+?)" % _group(em.group(1)))
                pos = em.end()
            out.append("/" + "".join(parts) + re.escape(s[pos:]))
            literal += 1
        else:
            out.append("/" + re.escape(s))
            literal += 1
    return re.compile("^" + "".join(out) + "/?$", re.IGNORECASE), (literal, -multi, len(segs))


def _provider_part(template: str) -> tuple[str, list[str]]:
    """(namespace, segments after it) of the last ``providers/<Namespace>`` in a template."""
    segs = [s for s in template.split("/") if s]
    low = [s.lower() for s in segs]
    idx = [i for i, s in enumerate(low) if s == "providers" and i + 1 < len(segs) and not _PARAM.match(segs[i + 1])]
    if not idx:
        return "Microsoft.Resources", [s for s in segs if s != "{scope}"]
    i = idx[-1]
    return segs[i + 1], segs[i + 2:]


def resource_type_of(template: str, method: str = "GET") -> str:
    """Resource type a template addresses: ``Microsoft.Compute/virtualMachines`` for a VM, its action or its
    instance view; ``Microsoft.Network/virtualNetworks/subnets`` for a subnet."""
    ns, rest = _provider_part(template)
    types = []
    for i, s in enumerate(rest):
        if i % 2 == 0 and not _PARAM.match(s):
            # a trailing literal after a name is an action or a view of that resource, not a child type
            if i > 0 and i == len(rest) - 1 and (method == "POST" or s in _SUB_GETS):
                break
            types.append(s)
    return "%s/%s" % (ns, "/".join(types)) if types else ns


_SUB_GETS = {"instanceView", "operations", "operationResults", "register", "resources"}


def arm_action(template: str, method: str) -> str:
    """The ARM action a request performs, as role definitions name it (``<type>/read|write|delete`` and
    ``<type>/<action>/action`` for POST actions)."""
    method = method.upper()
    ns, rest = _provider_part(template)
    lits = [s for s in rest if not _PARAM.match(s)]
    base = "/".join([ns] + lits)
    if method == "POST":
        last = rest[-1] if rest else ""
        if not _PARAM.match(last) and len(rest) % 2 == 1:
            return base + "/action"
        return base + "/write"
    return base + "/" + _VERB.get(method, "read")
