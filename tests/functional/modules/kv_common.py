# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared arguments and request-log helpers for the Key Vault functional tests."""
from __future__ import annotations

from helpers import run_module

RG = "rg-kv"
VAULT = "kv-cvm1"
ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"


def ok(out):
    assert not out.get("failed"), out
    return out


def vault_args(**over):
    args = {"resource_group": RG, "name": VAULT, "location": "eastus"}
    args.update(over)
    return args


def make_vault(sim, **over):
    ok(run_module("resource_group", {"name": RG, "location": "eastus"}, sim.env))
    return ok(run_module("keyvault", vault_args(**over), sim.env))["vault"]


def key_args(vault, **over):
    args = {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": "cmk",
            "release_policy": "default_cvm", "location": "eastus"}
    args.update(over)
    return args


def since(sim, mark, services=("arm", "keyvault", "graph", "attestation")):
    """Requests to Azure (no token, no admin) since mark, as (service, method, path)."""
    out = []
    for e in sim.requests(since=mark):
        if e.get("service") in services and not e["path"].startswith("/_sim"):
            out.append((e["service"], e["method"], e["path"]))
    return out


def challenges(sim, mark):
    """Key Vault challenge round trips (401 to a request without a token) since mark."""
    return [(e["method"], e["path"]) for e in sim.requests(since=mark)
            if e.get("service") == "keyvault" and e.get("status") == 401]


def writes(sim, mark):
    return [r for r in since(sim, mark) if r[1] != "GET"]


def azure_requests(sim, mark):
    """Every request that is not a simulator admin call (tokens included)."""
    return [e for e in sim.requests(since=mark) if not e["path"].startswith("/_sim")]
