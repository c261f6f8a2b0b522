# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README quick start's chain in --check on a fresh resource group, against the simulator: keyvault returns the
vault it would create (id, and vault_uri in the cloud's Key Vault domain, which does not resolve yet), and
keyvault_key given those reports the key it would create instead of a connection error; nothing is written.  Outside
check mode the same vault_url fails naming vault_url and saying the vault does not exist."""
from __future__ import annotations

import json

from helpers import run_playbook
from kv_common import writes

RG = "rg-fresh-check"
NAME = "kv-fresh-check"


def test_check_mode_chain_on_a_fresh_resource_group(fresh_simulator, tmp_path):
    sim = fresh_simulator
    suffix = sim.info["cloud_environment"]["keyvault_dns_suffix"]
    key = {"vault_url": "{{ vault.vault.vault_uri }}", "vault_id": "{{ vault.vault.id }}", "name": "cmk",
           "release_policy": "default_cvm", "location": "eastus"}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "rg", "confidential.azure.resource_group": {"name": RG, "location": "eastus"}, "check_mode": True},
        {"name": "vault", "confidential.azure.keyvault": {"resource_group": RG, "name": NAME, "location": "eastus"},
         "check_mode": True, "register": "vault"},
        {"name": "key", "confidential.azure.keyvault_key": key, "check_mode": True},
        {"name": "key for real", "confidential.azure.keyvault_key": key, "ignore_errors": True}]}]
    book = tmp_path / "fresh.json"
    book.write_text(json.dumps(play))
    mark = sim.mark()
    out = run_playbook(book, sim.env)
    assert writes(sim, mark) == [], writes(sim, mark)

    vault = out.result("vault")["vault"]
    assert vault["id"] == "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s" % (
        sim.env["AZURE_SUBSCRIPTION_ID"], RG, NAME)
    assert vault["vault_uri"] == "https://%s.%s/" % (NAME, suffix)
    assert vault["provisioning_state"] is None and vault["sku"] == "premium" and vault["enable_purge_protection"]

    made = out.result("key")
    assert not made.get("failed") and made["changed"] is True, made
    assert made["actions"][0] == "create key cmk"
    assert made["key"]["kid"] == "https://%s.%s/keys/cmk" % (NAME, suffix) and made["key"]["version"] is None

    real = out.result("key for real")
    assert real["failed"] and "vault_url https://%s.%s/ does not answer" % (NAME, suffix) in real["msg"], real
    assert "the vault does not exist (%s)" % vault["id"] in real["msg"]
