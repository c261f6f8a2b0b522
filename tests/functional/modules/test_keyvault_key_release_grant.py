# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keyvault_key release_principal_ids against the simulator: a VM identity gets "Key Vault Crypto Service Release
User" on the data-disk key only (check mode, idempotent re-run, access-policy vault refused before any write), and
Key Vault's data plane then lets that identity - and nobody else - past authorization for a release of that key.
An access-policy vault refuses the grant before anything is written."""
from __future__ import annotations

import time
import urllib.parse

from cvm_common import network, vm_args
from helpers import run_module
from kv_common import RG, make_vault, ok, since, writes

RELEASE_USER = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"
GUEST_POLICY_CLAIMS = [{"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"},
                       {"anyOf": [{"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
                                  {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "tdxvm"}]}]


def guest_policy(sim):
    authority = sim.info["cloud_environment"]["attestation_endpoint"].rstrip("/")
    return {"version": "1.0.0", "anyOf": [{"authority": authority, "allOf": GUEST_POLICY_CLAIMS}]}


def data_key(sim, vault, name, **over):
    args = {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": name, "key_type": "RSA-HSM",
            "exportable": True, "release_policy": guest_policy(sim), "grant_confidential_vm_orchestrator": False}
    args.update(over)
    return args


def vm_with_identity(sim, name):
    out = ok(run_module("vm", vm_args(sim, name=name, identity={"type": "SystemAssigned"}), sim.env))
    return out["vm"]


def identity_token(sim, vm):
    """The VM's managed identity token for Key Vault, from the simulator's IMDS stand-in for that VM."""
    imds = sim.admin("POST", "/_sim/imds", {"vm": vm["id"]})
    resource = "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    status, _h, doc = sim.call("GET", imds["endpoint"] + "/metadata/identity/oauth2/token?" + urllib.parse.urlencode(
        {"api-version": "2018-02-01", "resource": resource}), auth=False, headers={"Metadata": "true"})
    assert status == 200, doc
    return doc["access_token"]


def release(sim, vault, key_name, token):
    """POST .../release with a target that is no attestation token: authorization is decided first."""
    status, _h, doc = sim.call("POST", vault["vault_uri"].rstrip("/") + "/keys/%s/release" % key_name,
                               {"target": "not-an-attestation-token"}, "7.4", auth=False,
                               headers={"Authorization": "Bearer " + token})
    inner = ((doc or {}).get("error") or {}).get("innererror") or {}
    return status, inner.get("code") or ((doc or {}).get("error") or {}).get("code")


def role_assignments(sim):
    arm = sim.admin("GET", "/_sim/state")
    arm = arm.get("arm", arm)
    ras = arm.get("role_assignments") or {}
    return list(ras.values()) if isinstance(ras, dict) else list(ras)


def test_release_grant_is_key_scoped_idempotent_enforced_and_refused_on_access_policy_vaults(fresh_simulator):
    sim = fresh_simulator
    network(sim)
    vault = make_vault(sim, enable_rbac_authorization=True)
    granted = vm_with_identity(sim, "cvm-granted")
    other = vm_with_identity(sim, "cvm-other")
    pid = granted["identity"]["principal_id"]
    assert pid and other["identity"]["principal_id"] != pid

    mark = sim.mark()
    planned = ok(run_module("keyvault_key", data_key(sim, vault, "datadisk", release_principal_ids=[pid]), sim.env,
                            check=True, diff=True))
    assert planned["changed"] and planned["release_grant"]["missing"] == [pid] and writes(sim, mark) == []
    assert planned["diff"]["after"]["release_principal_ids"] == [pid]

    out = ok(run_module("keyvault_key", data_key(sim, vault, "datadisk", release_principal_ids=[pid]), sim.env))
    scope = vault["id"] + "/keys/datadisk"
    assert out["changed"] and out["release_grant"]["scope"] == scope and out["release_grant"]["missing"] == [pid]
    assert out["key"]["key_ops"] == ["wrapKey"]     # Key Vault never unwraps with a key only the guest may use
    mine = [a for a in role_assignments(sim) if a["properties"]["principalId"] == pid]
    assert len(mine) == 1 and mine[0]["properties"]["scope"] == scope
    assert mine[0]["properties"]["roleDefinitionId"].lower().endswith(RELEASE_USER)

    refused = run_module("keyvault_key", data_key(sim, vault, "datadisk", release_principal_ids=[pid],
                                                  key_ops=["wrapKey", "unwrapKey"]), sim.env)
    assert refused.get("failed") and "set key_ops: [wrapKey]" in refused["msg"]

    mark = sim.mark()
    again = ok(run_module("keyvault_key", data_key(sim, vault, "datadisk", release_principal_ids=[pid]), sim.env))
    assert again["changed"] is False and again["release_grant"]["held"] == [pid] and writes(sim, mark) == []
    assert len([r for r in since(sim, mark) if r[2].endswith("/roleAssignments")]) == 1
    assert len([a for a in role_assignments(sim) if a["properties"]["principalId"] == pid]) == 1

    ok(run_module("keyvault_key", data_key(sim, vault, "otherdisk"), sim.env))
    time.sleep(float(sim.info.get("rbac_delay", 3)) + 0.5)      # role assignments take effect after a delay
    token, stranger = identity_token(sim, granted), identity_token(sim, other)
    status, code = release(sim, vault, "datadisk", token)
    assert code != "ForbiddenByRbac" and code == "AttestationTokenInvalid", (status, code)   # authorized; no evidence
    assert release(sim, vault, "datadisk", stranger) == (403, "ForbiddenByRbac")             # another principal
    assert release(sim, vault, "otherdisk", token) == (403, "ForbiddenByRbac")                # another key

    # an access-policy vault can only grant per vault: refused before anything is written
    ap_vault = ok(run_module("keyvault", {"resource_group": RG, "name": "kv-ap1", "location": "eastus",
                                          "enable_rbac_authorization": False}, sim.env))["vault"]
    mark = sim.mark()
    out = run_module("keyvault_key", data_key(sim, ap_vault, "datadisk", release_principal_ids=[pid]), sim.env)
    assert out.get("failed") and "release_principal_ids" in out["msg"] and "enable_rbac_authorization" in out["msg"]
    assert writes(sim, mark) == []
    info = ok(run_module("keyvault_key_info", {"vault_url": ap_vault["vault_uri"], "name": "datadisk"}, sim.env))
    assert info["exists"] is False
