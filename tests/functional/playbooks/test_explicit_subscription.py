# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""subscription_id given in module_defaults (the README's example) wins over AZURE_SUBSCRIPTION_ID.

Before the fix the resource group was created in the environment's subscription A although the play said B."""
from __future__ import annotations

import json

import pytest

from helpers import run_playbook

RG_API = "2025-04-01"


def test_module_defaults_subscription_wins_over_the_environment(fresh_simulator, tmp_path):
    sim = fresh_simulator
    if len(sim.subscriptions) < 2:
        pytest.fail("the simulator must serve two subscriptions (issue 'Strict simulator', item 7)")
    env_sub, asked_sub = sim.subscriptions[0], sim.subscriptions[1]
    play = [{"hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/confidential.azure.azure": {"subscription_id": asked_sub}},
             "tasks": [{"name": "Resource group", "register": "out",
                        "confidential.azure.resource_group": {"name": "rg-explicit-sub", "location": "eastus"}}]}]
    path = tmp_path / "explicit_subscription.json"
    path.write_text(json.dumps(play))
    result = run_playbook(path, dict(sim.env, AZURE_SUBSCRIPTION_ID=env_sub))
    assert result.rc == 0, result.stdout[-3000:]
    assert "/subscriptions/%s/" % asked_sub in result.result("Resource group")["resource_group"]["id"]
    status, _headers, _body = sim.call("GET", "/subscriptions/%s/resourcegroups/rg-explicit-sub" % asked_sub,
                                       api_version=RG_API)
    assert status == 200
    status, _headers, _body = sim.call("GET", "/subscriptions/%s/resourcegroups/rg-explicit-sub" % env_sub,
                                       api_version=RG_API)
    assert status == 404
