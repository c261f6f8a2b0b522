"""Microsoft.Attestation management plane: the regional shared (default) attestation provider.

Spec: specification/attestation/resource-manager/Microsoft.Attestation/stable/2020-10-01/attestation.json
(AttestationProviders_GetDefaultByLocation)."""
from __future__ import annotations

from .. import catalog
from ..core import Response, bad_request
from .base import SUB_PREFIX


def register(table, arm):
    table.add("GET", SUB_PREFIX + "Microsoft.Attestation/locations/{location}/defaultProvider",
              lambda req, m, fault: default_provider(arm, m["location"]))


def default_provider(arm, location):
    loc = location.lower().replace(" ", "")
    if loc not in catalog.LOCATIONS:
        raise bad_request("InvalidLocation", "The location '%s' is not a valid location." % location)
    short = "shared" + loc
    return Response(200, {"id": "/providers/Microsoft.Attestation/attestationProviders/" + short,
                          "name": short, "type": "Microsoft.Attestation/attestationProviders",
                          "location": loc, "properties": {"trustModel": "AAD", "status": "Ready",
                                                          "attestUri": arm.sim.attestation_endpoint(loc)}})
