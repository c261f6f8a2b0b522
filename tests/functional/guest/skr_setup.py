# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of attestation-bound data disks, against the simulator, with the collection's own modules.

An RBAC Key Vault, an exportable RSA-HSM data-disk key whose release policy needs an Azure CVM (AzureGuest token:
``x-ms-isolation-tee.x-ms-compliance-status`` and the TEE type), a confidential VM with a system-assigned identity
and a data disk at LUN 0, and the VM identity granted "Key Vault Crypto Service Release User" on that key only.
"""
from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "modules"))

from cvm_common import JAMMY, KEY, network  # noqa: E402  pylint: disable=wrong-import-position
from helpers import run_module  # noqa: E402  pylint: disable=wrong-import-position

RG = "rg-cvm"
VAULT = "kv-datadisk"
KEY_NAME = "datadisk"
VM = "cvm-data"
RELEASE_USER = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"   # Key Vault Crypto Service Release User


def cvm_policy(authority, tee_types=("sevsnpvm", "tdxvm")):
    """The data-disk release policy (Microsoft's public_SKR_policy-datadisk.json shape, one authority)."""
    return {"version": "1.0.0", "anyOf": [{"authority": authority, "allOf": [
        {"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"},
        {"anyOf": [{"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": t} for t in tee_types]}]}]}


def ok(out):
    assert not out.get("failed"), out.get("msg")
    return out


def maa_endpoint(sim):
    return sim.info["cloud_environment"]["attestation_endpoint"].rstrip("/")


def set_key(sim, vault, policy, rotate=False, authorities=None):
    params = {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": KEY_NAME, "key_type": "RSA-HSM",
              "key_size": 3072, "exportable": True, "release_policy": policy, "rotate": rotate,
              "key_ops": ["wrapKey"], "grant_confidential_vm_orchestrator": False}
    if authorities:
        params["release_policy_authorities"] = authorities
    return ok(run_module("keyvault_key", params, sim.env))


def grant_release(sim, vault_id, principal):
    """Role assignment at the KEY scope (not the vault): the identity may get and release this key only."""
    scope = "%s/keys/%s" % (vault_id, KEY_NAME)
    body = {"properties": {"roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                           % (sim.subscription_id, RELEASE_USER), "principalId": principal,
                           "principalType": "ServicePrincipal"}}
    status, _h, doc = sim.call("PUT", "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (
        scope, uuid.uuid5(uuid.NAMESPACE_URL, scope + principal)), body, api_version="2022-04-01")
    assert status in (200, 201), doc
    return scope


def setup(sim, thim):
    """Everything the guest needs: returns dict(key_id, vault, imds_url, maa_url, principal, key, vm)."""
    subnet = network(sim, RG)
    vault = ok(run_module("keyvault", {"resource_group": RG, "name": VAULT, "location": "eastus", "sku": "premium",
                                       "enable_rbac_authorization": True}, sim.env))["vault"]
    # the module's preset; the tests' later policies are cvm_policy(): equal to it, so they only rotate or narrow
    key = set_key(sim, vault, "guest_cvm", authorities=[maa_endpoint(sim)])["key"]
    assert key["release_policy"] == cvm_policy(maa_endpoint(sim)), key["release_policy"]
    vm = ok(run_module("vm", {"resource_group": RG, "name": VM, "size": "Standard_DC2as_v5", "image": dict(JAMMY),
                              "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": subnet,
                              "identity": {"type": "SystemAssigned"}, "data_disks": [{"lun": 0, "size_gb": 16}]},
                       sim.env))["vm"]
    principal = vm["identity"]["principal_id"]
    grant_release(sim, vault["id"], principal)
    imds = sim.admin("POST", "/_sim/imds", {"vm": vm["id"], "thim": thim})
    time.sleep(float(sim.info.get("rbac_delay", 3)) + 0.5)       # role assignments take effect after a delay
    kid = key["kid"]
    return {"key_id": kid[:kid.index("/keys/")] + "/keys/" + KEY_NAME, "vault": vault, "vm": vm, "key": key,
            "principal": principal, "imds_url": imds["endpoint"], "maa_url": maa_endpoint(sim),
            "vault_resource": "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]}
