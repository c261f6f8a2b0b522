# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.keyvault_key recover_deleted against the simulator's soft-delete bin, through
ansible-playbook: refused without the option (the error names it, nothing written), check mode, the recovery
(same key id) with the update of what differs, and the no-change re-run."""
from __future__ import annotations

from helpers import run_module
from kv_common import key_args, make_vault, ok, since, writes


def test_recover_deleted_key_then_update_what_differs(fresh_simulator):
    sim = fresh_simulator
    vault = make_vault(sim)
    created = ok(run_module("keyvault_key", key_args(vault), sim.env))["key"]
    ok(run_module("keyvault_key", {"vault_url": vault["vault_uri"], "name": "cmk", "state": "absent"}, sim.env))

    # without recover_deleted: Key Vault's 409 with a hint naming the option; the refused create is the only write
    mark = sim.mark()
    out = run_module("keyvault_key", key_args(vault), sim.env)
    assert out["failed"] and "ObjectIsDeletedButRecoverable" in out["msg"] and "recover_deleted: true" in out["msg"]
    assert [(r[1], r[2].rstrip("/")) for r in writes(sim, mark)] == [("POST", "/keys/cmk/create")]
    assert not any("/deletedkeys" in r[2] for r in since(sim, mark))

    # check mode: the deleted key is read, nothing is sent
    args = key_args(vault, recover_deleted=True)
    mark = sim.mark()
    out = ok(run_module("keyvault_key", args, sim.env, check=True, diff=True))
    assert out["changed"] and out["actions"] == ["recover deleted key cmk"]
    assert out["diff"]["before"] == {"state": "deleted"} and out["diff"]["after"] == {"state": "present"}
    assert out["key"]["kid"] == created["kid"]
    assert writes(sim, mark) == []
    assert [r[2].rstrip("/") for r in since(sim, mark) if r[0] == "keyvault"] == ["/keys/cmk", "/deletedkeys/cmk"]

    # for real, with tags and key_ops that differ from the deleted key: recovered first, then updated in place
    mark = sim.mark()
    changed_args = dict(args, tags={"env": "prod"}, key_ops=["wrapKey", "unwrapKey", "decrypt"])
    out = ok(run_module("keyvault_key", changed_args, sim.env, diff=True))
    assert out["changed"] and out["actions"] == ["recover deleted key cmk", "update key cmk: key_ops, tags"]
    key = out["key"]
    assert key["kid"] == created["kid"] and key["version"] == created["version"]
    assert key["tags"] == {"env": "prod"} and sorted(key["key_ops"]) == ["decrypt", "unwrapKey", "wrapKey"]
    assert key["release_policy"] == created["release_policy"]
    assert [(r[1], r[2].rstrip("/")) for r in writes(sim, mark)] == [
        ("POST", "/deletedkeys/cmk/recover"), ("PATCH", "/keys/cmk/" + created["version"])]
    # the SDK's poller reads the key back before the update (Key Vault serves a recovered key after a while)
    assert [(r[1], r[2].rstrip("/")) for r in since(sim, mark) if r[0] == "keyvault"] == [
        ("GET", "/keys/cmk"), ("GET", "/deletedkeys/cmk"), ("POST", "/deletedkeys/cmk/recover"),
        ("GET", "/keys/cmk"), ("PATCH", "/keys/cmk/" + created["version"])]
    info = ok(run_module("keyvault_key_info", {"vault_url": vault["vault_uri"], "name": "cmk"}, sim.env))
    assert info["exists"] and info["key"]["kid"] == created["kid"]

    # re-run: nothing changes, the key is read once and the bin not at all
    mark = sim.mark()
    again = ok(run_module("keyvault_key", changed_args, sim.env))
    assert again["changed"] is False and again["actions"] == []
    assert writes(sim, mark) == []
    assert [(r[1], r[2].rstrip("/")) for r in since(sim, mark) if r[0] == "keyvault"] == [("GET", "/keys/cmk")]
