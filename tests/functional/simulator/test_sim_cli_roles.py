"""`az role assignment list --all` (Azure CLI 2.91, unmodified) against the simulator shows role names.

Uses the cached CLI venv and login fixture of test_sim_azure_cli.py."""
from __future__ import annotations

import json
import uuid

import pytest

import azsim_testlib as T
import test_sim_azure_cli as cli

az_venv = cli.az_venv      # the cached CLI venv and logged-in `az` runner (pytest fixtures)
az = cli.az

pytestmark = pytest.mark.azure_cli


def test_role_assignment_list_all_names_roles(simulator, az):  # pylint: disable=redefined-outer-name
    """The CLI resolves roleDefinitionName from the role definitions ARM lists at the assignment's subscription;
    the default principal holds Contributor and User Access Administrator on the subscription, and a Key Vault
    role granted at a vault shows up too. Source: Microsoft doc "List Azure role assignments using Azure CLI"
    (az role assignment list --all, roleDefinitionName) and "Azure built-in roles"."""
    sim = simulator
    sim.reset()
    T.group(sim, "rg-cli-roles")
    T.vault(sim, "rg-cli-roles", "kvclirole1", rbac=True)
    vault_id = sim.rg_path("rg-cli-roles") + "/providers/Microsoft.KeyVault/vaults/kvclirole1"
    me = T.orchestrator_object_id(sim)
    status, _h, body = sim.call("PUT", vault_id + "/providers/Microsoft.Authorization/roleAssignments/%s"
                                % uuid.uuid4(), {"properties": {
                                    "roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/"
                                                        "roleDefinitions/08bbd89e-9f13-488c-ac41-acfcb10c90ab"
                                                        % sim.subscription_id,
                                    "principalId": me, "principalType": "ServicePrincipal"}},
                                api_version="2022-04-01")
    assert status == 201, body
    out = json.loads(az("role", "assignment", "list", "--all", "-o", "json").stdout)
    names = {(a["roleDefinitionName"], a["scope"].lower()) for a in out}
    sub_scope = "/subscriptions/%s" % sim.subscription_id
    assert ("Contributor", sub_scope) in names
    assert ("User Access Administrator", sub_scope) in names
    assert ("Key Vault Crypto Service Release User", vault_id.lower()) in names
