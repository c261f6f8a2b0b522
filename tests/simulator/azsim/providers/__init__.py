"""ARM resource providers, one module each; ``build(arm)`` gathers their routes into ARM's route table."""
from __future__ import annotations

from ..routing import RouteTable
from . import attestation, authorization, compute, network, resources, vaults

PROVIDERS = (resources, compute, network, vaults, attestation, authorization)


def build(arm):
    """(route table, {lower-case resource type: handler}) of every provider."""
    table = RouteTable("arm")
    handlers = {}
    for module in PROVIDERS:
        for h in module.register(table, arm) or ():
            handlers[h.key] = h
    return table, handlers
