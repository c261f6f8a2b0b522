# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to keyvault_key, keyvault_key_info, keyvault and resource_group is refused before any request.

All cases run as the tasks of ONE playbook (ignore_errors) against the simulator; the simulator's request log must
stay empty for the whole playbook - no token request, no ARM, Key Vault or Graph call - so no single case reached
the simulator.  Each case then checks that its task failed with a message naming the parameter and the fix."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from helpers import run_playbook

URL = "https://kvbad.vault.azsim.local/"
EUS = "https://sharedeus.eus.attest.azure.net"
VID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kvbad"


def k(**over):
    args = {"vault_url": URL, "vault_id": VID, "name": "cmk", "release_policy": "default_cvm",
            "release_policy_authorities": [EUS]}
    args.update(over)
    return {key: value for key, value in args.items() if value is not None}


def policy(*conditions, **top):
    body = {"version": "1.0.0", "anyOf": [{"authority": EUS, "allOf": list(conditions)}]}
    body.update(top)
    return body


def v(**over):
    args = {"name": "kvbad", "resource_group": "rg", "location": "eastus"}
    args.update(over)
    return {key: value for key, value in args.items() if value is not None}


# (case id, module, args, fragments that must all be in the message)
CASES = [
    ("rsa_exportable", "keyvault_key", k(key_type="RSA"), ["key_type RSA cannot be exportable", "RSA-HSM"]),
    ("key_size_1024", "keyvault_key", k(key_size=1024), ["key_size", "2048, 3072, 4096"]),
    ("exportable_without_policy", "keyvault_key", k(release_policy=None, release_policy_authorities=None),
     ["exportable: true needs release_policy", "default_cvm"]),
    ("policy_operator_not_equals", "keyvault_key",
     k(release_policy_authorities=None, release_policy=policy({"claim": "svn", "greater": 2})),
     ["anyOf[0].allOf[0]", "accepts only 'equals'"]),
    ("policy_missing_version", "keyvault_key",
     k(release_policy_authorities=None, release_policy={"anyOf": policy({"claim": "a", "equals": "b"})["anyOf"]}),
     ["version: missing", "1.0.0"]),
    ("policy_allof_and_anyof", "keyvault_key",
     k(release_policy_authorities=None, release_policy={"version": "1.0.0", "anyOf": [
         {"authority": EUS, "allOf": [{"claim": "a", "equals": "b"}], "anyOf": [{"claim": "c", "equals": "d"}]}]}),
     ["anyOf[0]", "both allOf and anyOf"]),
    ("policy_condition_two_operators", "keyvault_key",
     k(release_policy_authorities=None, release_policy=policy({"claim": "a", "equals": "b", "exists": True})),
     ["2 operators", "exactly one"]),
    ("policy_not_json", "keyvault_key", k(release_policy_authorities=None, release_policy="{not json"),
     ["release_policy is not valid JSON"]),
    ("default_cvm_without_region", "keyvault_key", k(release_policy_authorities=None),
     ["default_cvm needs location", "release_policy_authorities"]),
    ("authority_not_https", "keyvault_key", k(release_policy_authorities=["http://sharedeus.eus.attest.azure.net"]),
     ["release_policy_authorities", "https://"]),
    ("authorities_without_default_cvm", "keyvault_key",
     k(release_policy=policy({"claim": "a", "equals": "b"})), ["only applies with release_policy: default_cvm"]),
    ("policy_on_non_exportable", "keyvault_key", k(exportable=False, key_type="RSA"),
     ["only allowed on exportable keys", "AKV.SKR.1005"]),
    ("vault_url_http", "keyvault_key", k(vault_url="http://kvbad.vault.azsim.local/"), ["must start with https://"]),
    ("vault_url_other_cloud", "keyvault_key", k(vault_url="https://kvbad.vault.azure.cn/"),
     ["not in this cloud's Key Vault domain", "vault.azsim.local"]),
    ("vault_url_with_path", "keyvault_key", k(vault_url=URL + "keys/cmk"), ["without a path"]),
    ("unnamed_vault_url_without_vault_id", "keyvault_key", k(vault_url="https://127.1.9.9:9443/", vault_id=None),
     ["set vault_id"]),
    ("vault_id_other_vault", "keyvault_key", k(vault_id=VID.replace("kvbad", "other")),
     ["make them the same vault"]),
    ("orchestrator_id_not_guid", "keyvault_key", k(orchestrator_object_id="bf7b6499"),
     ["orchestrator_object_id", "az ad sp show"]),
    ("key_name_invalid", "keyvault_key", k(name="bad_name!"), ["name 'bad_name!' must be 1-127"]),
    ("too_many_tags", "keyvault_key", k(tags=dict(("t%d" % i, "v") for i in range(16))), ["at most 15"]),
    ("rotation_expiry_too_short", "keyvault_key", k(rotation_policy={"expiry_time": "P7D"}), ["minimum of 28 days"]),
    ("rotation_notify_after_create", "keyvault_key",
     k(rotation_policy={"expiry_time": "P1Y", "lifetime_actions": [{"action": "notify", "time_after_create": "P90D"}]}),
     ["notify takes time_before_expiry only"]),
    ("vault_id_and_resource_group", "keyvault_key", k(vault_resource_group="rg"), ["mutually exclusive"]),
    ("info_vault_url_with_path", "keyvault_key_info", {"vault_url": URL + "keys", "name": "cmk"},
     ["without a path"]),
    ("vault_name_too_short", "keyvault", v(name="kv"), ["must be 3-24"]),
    ("vault_retention_5_days", "keyvault", v(soft_delete_retention_days=5), ["between 7 and 90"]),
    ("vault_policies_on_rbac", "keyvault",
     v(enable_rbac_authorization=True, access_policies=[{"object_id": "00000000-0000-0000-0000-000000000001",
                                                         "keys": ["get"]}]), ["ignored by a vault with"]),
    ("vault_unknown_key_permission", "keyvault",
     v(access_policies=[{"object_id": "00000000-0000-0000-0000-000000000001", "keys": ["fly"]}]),
     ["unknown key permission 'fly'"]),
    ("vault_without_location", "keyvault", v(location=None), ["location"]),
    ("vault_sku_basic", "keyvault", v(sku="basic"), ["sku", "premium, standard"]),
    ("vault_without_purge_protection", "keyvault", v(enable_purge_protection=False),
     ["enable_purge_protection: false", "confidential disk encryption set", "allow_unfit_for_confidential_disks"]),
    ("vault_standard_sku", "keyvault", v(sku="standard"),
     ["sku: standard", "RSA-HSM", "sku: premium", "allow_unfit_for_confidential_disks"]),
    ("vault_negative_access_wait", "keyvault", v(access_propagation_timeout=-1),
     ["access_propagation_timeout -1", "between 0"]),
    ("key_access_wait_too_long", "keyvault_key", k(access_propagation_timeout=86400),
     ["access_propagation_timeout 86400", "3600"]),
    ("rg_name_slash", "resource_group", {"name": "rg/x", "location": "eastus"}, ["must be 1-90"]),
    ("rg_location_garbage", "resource_group", {"name": "rg", "location": "East US 2!"}, ["not an Azure region"]),
]


@pytest.fixture(scope="module")
def outcome(simulator):
    simulator.reset()
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": case_id, "confidential.azure." + module: args, "ignore_errors": True}
        for case_id, module, args, _fragments in CASES]}]
    path = Path(tempfile.mkdtemp(prefix="cazure-bad-")) / "bad_input_keyvault.json"
    path.write_text(json.dumps(play))
    mark = simulator.mark()
    result = run_playbook(path, simulator.env)
    requests = [e for e in simulator.requests(since=mark) if not e["path"].startswith("/_sim")]
    return result, requests


def test_at_least_fifteen_cases():
    assert len(CASES) >= 15
    assert len(set(c[0] for c in CASES)) == len(CASES)


def test_no_request_reached_the_simulator(outcome):
    _result, requests = outcome
    assert requests == [], requests


@pytest.mark.parametrize("case_id, module, args, fragments", CASES, ids=[c[0] for c in CASES])
def test_refused_with_parameter_and_fix(outcome, case_id, module, args, fragments):
    result, requests = outcome
    task = result.result(case_id)
    assert task.get("failed") is True, task
    for fragment in fragments:
        assert fragment in task["msg"], (fragment, task["msg"])
    assert requests == []
