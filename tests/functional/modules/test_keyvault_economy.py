# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Economy with the token cache on (the play's facts cache beside it): a no-change keyvault_key reads only the key
and a no-change disk_encryption_set only the set, counted in the simulator's request log; and the cache never
weakens a release policy: a key changed behind the play's back, or a poisoned cache, leads to a fresh read."""
from __future__ import annotations

import json
import os

from helpers import run_module
from kv_common import key_args, make_vault, ok, since, writes

OTHER = "https://attacker.example.attest.azure.net"


def cached_env(sim, tmp_path):
    return dict(sim.env, CONFIDENTIAL_AZURE_TOKEN_CACHE=str(tmp_path / "tokens.json"))


def authority(out):
    return out["key"]["release_policy"]["anyOf"][0]["authority"]


def test_no_change_key_and_des_make_one_get_each(fresh_simulator, tmp_path):
    sim = fresh_simulator
    env = cached_env(sim, tmp_path)
    vault = make_vault(sim)
    created = ok(run_module("keyvault_key", key_args(vault), env))
    assert created["changed"] and created["orchestrator_grant"]["missing"] == ["get", "release"]

    mark = sim.mark()
    again = ok(run_module("keyvault_key", key_args(vault), env))
    assert again["changed"] is False and again["key"] == created["key"]
    assert [(r[0], r[1]) for r in since(sim, mark)] == [("keyvault", "GET")], since(sim, mark)
    grant = again["orchestrator_grant"]
    assert grant["principal_id"] == created["orchestrator_grant"]["principal_id"]
    assert grant["missing"] == [] and grant["before"] == grant["after"] == ["get", "release"]

    des = {"resource_group": "rg-kv", "name": "des1", "key_url": created["key"]["kid"],
           "source_vault": vault["id"], "grant_key_permissions": True}
    made = ok(run_module("disk_encryption_set", des, env))
    assert made["changed"] and made["grant"]["missing"]
    mark = sim.mark()
    same = ok(run_module("disk_encryption_set", des, env))
    assert same["changed"] is False
    assert [(r[0], r[1]) for r in since(sim, mark)] == [("arm", "GET")], since(sim, mark)
    assert same["grant"]["missing"] == [] and same["grant"]["after"] == made["grant"]["after"]


def test_a_policy_changed_behind_the_plays_back_is_read_fresh_and_restored(fresh_simulator, tmp_path):
    sim = fresh_simulator
    env = cached_env(sim, tmp_path)
    vault = make_vault(sim)
    good = authority(ok(run_module("keyvault_key", key_args(vault), env)))

    # someone (without this play's cache) points the key at another authority
    oid = ok(run_module("keyvault_key", key_args(vault), env))["orchestrator_grant"]["principal_id"]
    ok(run_module("keyvault_key", key_args(vault, location=None, release_policy_authorities=[OTHER],
                                           orchestrator_object_id=oid), sim.env))

    mark = sim.mark()
    out = ok(run_module("keyvault_key", key_args(vault), env, diff=True))
    assert out["changed"] and authority(out) == good
    reqs = since(sim, mark)
    assert any(r[2].endswith("/defaultProvider") for r in reqs), reqs
    assert [r[1] for r in writes(sim, mark)] == ["PATCH"]


def test_a_poisoned_cache_never_reaches_a_key(fresh_simulator, tmp_path):
    sim = fresh_simulator
    env = cached_env(sim, tmp_path)
    vault = make_vault(sim)
    good = authority(ok(run_module("keyvault_key", key_args(vault), env)))

    facts = tmp_path / "tokens.json.facts"
    data = json.loads(facts.read_text())
    poisoned = [k for k in data if k.startswith("attestation-default ")]
    assert poisoned, data
    for k in poisoned:
        data[k]["value"] = OTHER
    facts.write_text(json.dumps(data))
    os.chmod(facts, 0o600)

    # an existing key: the cached authority does not confirm its policy, so it is read again; nothing changes
    mark = sim.mark()
    out = ok(run_module("keyvault_key", key_args(vault), env))
    assert out["changed"] is False and authority(out) == good
    assert any(r[2].endswith("/defaultProvider") for r in since(sim, mark))
    # a new key is always built from a fresh read
    for k in poisoned:
        data[k]["value"] = OTHER
    facts.write_text(json.dumps(data))
    out = ok(run_module("keyvault_key", key_args(vault, name="cmk2"), env))
    assert out["changed"] and authority(out) == good
