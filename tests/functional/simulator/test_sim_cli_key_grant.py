"""The data-disk grant as docs/user/data-disks.md gives it for the Azure CLI (2.91, unmodified):
`az role assignment create --role "Key Vault Crypto Service Release User" --scope <vault id>/keys/<key>`.

Uses the cached CLI venv and login fixture of test_sim_azure_cli.py."""
from __future__ import annotations

import json

import pytest

import azsim_testlib as T
import test_sim_azure_cli as cli

az_venv = cli.az_venv      # the cached CLI venv and logged-in `az` runner (pytest fixtures)
az = cli.az

pytestmark = pytest.mark.azure_cli


def test_documented_cli_grant_at_key_scope(simulator, az):  # pylint: disable=redefined-outer-name
    """The CLI resolves the role name with a roleDefinitions list filtered by roleName at the scope and PUTs the
    assignment at the key's scope; `az role assignment list --scope` then shows it there (not at the vault).
    Source: Microsoft doc "Assign Azure roles using Azure CLI" (az role assignment create --assignee-object-id
    --assignee-principal-type --role --scope) and "Azure built-in roles" (Key Vault Crypto Service Release User)."""
    sim = simulator
    sim.reset()
    T.group(sim, "rg-cli-grant")
    T.vault(sim, "rg-cli-grant", "kvcligrant1", rbac=True)
    vault_id = sim.rg_path("rg-cli-grant") + "/providers/Microsoft.KeyVault/vaults/kvcligrant1"
    key_scope = vault_id + "/keys/datadisk"
    principal = T.orchestrator_object_id(sim)   # a principal the directory has (a VM identity in real use)
    out = json.loads(az("role", "assignment", "create", "--assignee-object-id", principal,
                        "--assignee-principal-type", "ServicePrincipal",
                        "--role", "Key Vault Crypto Service Release User", "--scope", key_scope, "-o", "json").stdout)
    assert out["scope"].lower() == key_scope.lower()
    assert out["roleDefinitionId"].lower().endswith("08bbd89e-9f13-488c-ac41-acfcb10c90ab")
    listed = json.loads(az("role", "assignment", "list", "--scope", key_scope, "-o", "json").stdout)
    assert [(a["principalId"], a["roleDefinitionName"]) for a in listed
            if a["scope"].lower() == key_scope.lower()] == [(principal, "Key Vault Crypto Service Release User")]
