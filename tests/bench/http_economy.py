#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP economy: requests per module run (check mode on a new resource, create, no-change) for every
control-plane module of the CMK chain, read from the simulator's request log, token cache off vs on.

  python tests/bench/http_economy.py [--json OUT]

Each module run is its own ansible-playbook (one task), as a user's playbook of separate tasks would be: with the
token cache off every run fetches its own token(s); with it on (CONFIDENTIAL_AZURE_TOKEN_CACHE) only the first
run of each token audience should. "resources" is the number of Azure resources the module manages in that call
(the VM module manages the VM and its NIC); the no-change target is GETs <= resources and no write.
Prints one JSON object; never asserts a number.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "functional"))

from simctl import start_simulator, stop_simulator  # noqa: E402
from helpers import run_module  # noqa: E402

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 bench@host"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"


def token_scope(entry):
    """The scope (or v1 resource) a token request asked for, from the logged form body (secrets are masked)."""
    body = entry.get("body")
    if isinstance(body, dict):
        return body.get("scope") or body.get("resource") or "?"
    for part in str(body or "").split("&"):
        key, _sep, value = part.partition("=")
        if key in ("scope", "resource"):
            return urllib.parse.unquote_plus(value)
    return "?"


def classify(entries):
    out = {"total": 0, "token": 0, "get": 0, "write": 0, "by_service": {}, "token_scopes": []}
    for e in entries:
        if e["path"].startswith("/_sim"):
            continue
        out["total"] += 1
        svc = e.get("service", "?")
        out["by_service"][svc] = out["by_service"].get(svc, 0) + 1
        if svc == "entra":
            if "/oauth2/" in e["path"] and e["method"] == "POST":
                out["token"] += 1
                out["token_scopes"].append(token_scope(e))
            continue
        if e["method"] == "GET":
            out["get"] += 1
        else:
            out["write"] += 1
    return out


MODES = ("check", "create", "no_change")


def repeat_token_requests(runs):
    """Token requests for a scope an earlier task (a separate ansible-playbook run) already had a token for."""
    seen, repeats = set(), 0
    for run in runs:
        repeats += sum(1 for scope in run["token_scopes"] if scope in seen)
        seen.update(run["token_scopes"])
    return repeats


def chain(sim, rg, state):
    """[(module, args, resources managed)] of the CMK chain in order; args may depend on earlier results."""
    subnet = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default" \
        % (sim.subscription_id, rg)
    vault_name = ("kv" + rg.replace("-", ""))[:24]
    yield "resource_group", {"name": rg, "location": "eastus"}, 1
    yield "virtual_network", {"resource_group": rg, "name": "vnet1", "address_prefixes": ["10.0.0.0/16"],
                              "subnets": [{"name": "default", "address_prefix": "10.0.1.0/24"}]}, 1
    yield "keyvault", {"resource_group": rg, "name": vault_name, "location": "eastus"}, 1
    vault = state["vault"]  # set by run_chain from the keyvault module's result
    yield "keyvault_key", {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": "cmk",
                           "release_policy": "default_cvm", "location": "eastus"}, 1
    yield "disk_encryption_set", {"resource_group": rg, "name": "des1", "key_url": "@key",
                                  "source_vault": vault["id"], "grant_key_permissions": True}, 1
    yield "vm", {"resource_group": rg, "name": "cvm1", "size": "Standard_DC2as_v5", "image": dict(JAMMY),
                 "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": subnet,
                 "disk_encryption_set": "des1"}, 2


def run_chain(sim, rg, env, workdir):
    rows = []
    key_url = None
    first = True
    state = {}
    for module, args, resources in chain(sim, rg, state):
        if args.get("key_url") == "@key":
            args = dict(args, key_url=key_url)
        row = {"module": module, "resources": resources}
        for mode in MODES:
            mark = sim.mark()
            out = run_module(module, args, env, check=(mode == "check"), workdir=workdir)
            counts = classify(sim.requests(since=mark))
            counts["changed"] = bool(out.get("changed"))
            counts["failed"] = bool(out.get("failed"))
            if out.get("failed"):
                counts["msg"] = str(out.get("msg"))[:300]
            counts["first_task"] = first
            first = False
            row[mode] = counts
            if module == "keyvault" and mode == "create" and not out.get("failed"):
                state["vault"] = out["vault"]
            if module == "keyvault_key" and mode == "create" and not out.get("failed"):
                key_url = out["key"]["kid"]
        rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cazure-http-"))
    (tmp / "sim").mkdir()
    sim = start_simulator(str(tmp / "sim"))
    result = {"measured": True, "modes": {}}
    try:
        for mode, extra in (("token_cache_off", {}),
                            ("token_cache_on", {"CONFIDENTIAL_AZURE_TOKEN_CACHE": str(tmp / "tokens.json")})):
            sim.reset()
            sim.admin("POST", "/_sim/graph/servicePrincipals/%s" % ORCHESTRATOR_APP_ID,
                      {"displayName": "Confidential VM Orchestrator"})
            env = dict(sim.env, **extra)
            rows = run_chain(sim, "rg-http-" + mode.rsplit("_", maxsplit=1)[-1], env, tmp)
            runs = [r[m] for r in rows for m in MODES]
            tokens_after_first = sum(run["token"] for run in runs if not run["first_task"])
            no_change_ok = all(r["no_change"]["get"] <= r["resources"] and r["no_change"]["write"] == 0
                               and not r["no_change"]["changed"] for r in rows)
            result["modes"][mode] = {"rows": rows, "token_requests_after_first_task": tokens_after_first,
                                     "token_requests_after_first_task_per_scope": repeat_token_requests(runs),
                                     "tasks": len(runs),
                                     "token_requests_per_task": round(sum(run["token"] for run in runs)
                                                                      / float(len(runs)), 3),
                                     "no_change_one_get_per_resource": no_change_ok,
                                     "failures": [(r["module"], m, r[m].get("msg")) for r in rows
                                                  for m in MODES if r[m]["failed"]]}
    finally:
        stop_simulator(sim)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
