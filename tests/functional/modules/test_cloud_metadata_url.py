# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AZURE_CLOUD_ENVIRONMENT as azure.azcollection users give it: the ARM metadata endpoint URL, discovered once
(per run, through the on-disk cache) and trusted through REQUESTS_CA_BUNDLE."""
from __future__ import annotations

import json

from helpers import run_playbook


def _metadata_gets(entries):
    return [e for e in entries if e["method"] == "GET" and "/metadata/endpoints" in e["path"].lower()]


def test_metadata_url_drives_a_playbook_with_one_discovery(fresh_simulator, tmp_path):
    sim = fresh_simulator
    env = dict(sim.env)
    env.pop("SSL_CERT_FILE")
    env["AZURE_CLOUD_ENVIRONMENT"] = sim.url("/metadata/endpoints?api-version=2022-09-01")
    env["CONFIDENTIAL_AZURE_METADATA_CACHE"] = str(tmp_path / "metadata-cache")
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "group", "confidential.azure.resource_group": {"name": "meta-rg", "location": "eastus"}},
        {"name": "group again", "confidential.azure.resource_group": {"name": "meta-rg", "location": "eastus"}},
        {"name": "vms", "confidential.azure.vm_info": {"resource_group": "meta-rg"}, "register": "vms"},
    ]}]
    path = tmp_path / "play.json"
    path.write_text(json.dumps(play))
    mark = sim.mark()
    out = run_playbook(path, env)
    assert out.rc == 0, out.stdout[-3000:]
    assert out.result("group")["changed"] is True
    assert out.result("group again")["changed"] is False
    assert out.result("vms")["vms"] == []
    assert len(_metadata_gets(sim.requests(since=mark))) == 1


def test_metadata_url_without_trust_for_the_private_ca_fails_with_the_fix(fresh_simulator, tmp_path):
    sim = fresh_simulator
    env = dict(sim.env)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        env.pop(name)
    env["AZURE_CLOUD_ENVIRONMENT"] = sim.base_url            # the ARM base, as azure.azcollection takes it
    env["CONFIDENTIAL_AZURE_METADATA_CACHE"] = "off"
    mark = sim.mark()
    out = run_playbook(_one_task(tmp_path), env)
    result = out.result("group")
    assert result.get("failed") and "REQUESTS_CA_BUNDLE" in result["msg"], result
    assert not [e for e in sim.requests(since=mark) if e.get("service") == "arm" and e["method"] != "GET"]


def _one_task(tmp_path):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "group", "confidential.azure.resource_group": {"name": "meta-rg2", "location": "eastus"},
         "ignore_errors": True}]}]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(play))
    return path
