# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/rollout.yml with rollout_data_disks on for ONE VM of two, control phase against the simulator.

The VM with data disks gets a system-assigned identity and its disk; the data-disk key is an exportable RSA-HSM key
whose release policy needs an Azure CVM guest token; only that VM's identity holds "Key Vault Crypto Service Release
User", at the key's scope, and Key Vault's data plane lets it (and not the other VM) past authorization for a release;
the summary lists each data disk (not run here: the guest phase needs a real guest, see the guest tests); a second
run changes nothing. The guest side (the role opening the disk) is covered by tests/functional/guest."""
from __future__ import annotations

import time
import urllib.parse

from fleet_helpers import run_rollout, vm_puts
from helpers import run_module

RELEASE_USER = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"
RG = "rg-ddisk"


def _state_assignments(sim):
    state = sim.admin("GET", "/_sim/state")
    arm = state.get("arm", state)
    ras = arm.get("role_assignments") or {}
    return list(ras.values()) if isinstance(ras, dict) else list(ras)


def _identity_token(sim, vm_id):
    imds = sim.admin("POST", "/_sim/imds", {"vm": vm_id})
    resource = "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    status, _h, doc = sim.call("GET", imds["endpoint"] + "/metadata/identity/oauth2/token?" + urllib.parse.urlencode(
        {"api-version": "2018-02-01", "resource": resource}), auth=False, headers={"Metadata": "true"})
    assert status == 200, doc
    return doc["access_token"]


def _release_error(sim, key_url, token):
    """Key Vault's answer to a release without attestation evidence: authorization is decided first."""
    status, _h, doc = sim.call("POST", key_url + "/release", {"target": "no-evidence"}, "7.4", auth=False,
                               headers={"Authorization": "Bearer " + token})
    error = (doc or {}).get("error") or {}
    return status, (error.get("innererror") or {}).get("code") or error.get("code")


def test_rollout_data_disks_for_one_vm_key_grant_summary_and_rerun(fresh_simulator, tmp_path):
    sim = fresh_simulator
    fleet = {"rollout_vms": [{"name": "dd-1", "size": "Standard_DC2as_v5", "rollout_data_disks": True},
                             {"name": "dd-2", "size": "Standard_DC2as_v5"}],
             "rollout_data_disk_layout": [{"lun": 0, "size_gb": 32, "mount_point": "/data"}]}
    first, summary, _log, _wall = run_rollout(sim, tmp_path, RG, forks=5, **fleet)
    assert first.rc == 0, first.stdout[-3000:]
    vms = {vm["name"]: vm for vm in summary["vms"]}
    assert vms["dd-2"]["data_disks"] == []
    (disk,) = vms["dd-1"]["data_disks"]
    assert disk["lun"] == 0 and disk["name"] == "cvm_data_lun0" and disk["mount_point"] == "/data"
    assert disk["state"] == "not_run" and "guest phase disabled" in disk["reason"]

    key = first.result("Data-disk key released only to attested Azure CVMs, with release grants for the VMs' "
                       "identities")
    assert key["key"]["kty"] == "RSA-HSM" and key["key"]["exportable"] is True
    assert key["key"]["key_ops"] == ["wrapKey"]     # no unwrap in Key Vault: only the attested guest opens a disk
    rule = key["key"]["release_policy"]["anyOf"][0]
    claims = [c.get("claim") for c in rule["allOf"]] + [c["claim"] for c in rule["allOf"][1].get("anyOf", [])]
    assert "x-ms-isolation-tee.x-ms-compliance-status" in claims
    assert "x-ms-isolation-tee.x-ms-attestation-type" in claims
    # what rollout_inventory.yml takes as rollout_data_disk_key_id / rollout_data_disk_maa_url
    assert summary["data_disk_key_id"] == key["key"]["kid"].rsplit("/", 1)[0]
    assert summary["data_disk_key_id"].endswith("/keys/cvm-rollout-datadisk")
    assert summary["data_disk_maa_url"] == rule["authority"]

    vm_info = run_module("vm_info", {"resource_group": RG}, sim.env)["vms"]
    by_name = {vm["name"]: vm for vm in vm_info}
    principal = by_name["dd-1"]["identity"]["principal_id"]
    assert principal and not (by_name["dd-2"].get("identity") or {}).get("principal_id")
    assert [d["lun"] for d in by_name["dd-1"].get("data_disks") or []] == [0]
    assert key["release_grant"]["principal_ids"] == [principal]
    granted = [a for a in _state_assignments(sim) if a["properties"]["principalId"] == principal]
    assert len(granted) == 1 and granted[0]["properties"]["scope"].endswith("/keys/cvm-rollout-datadisk")
    assert granted[0]["properties"]["roleDefinitionId"].lower().endswith(RELEASE_USER)

    time.sleep(float(sim.info.get("rbac_delay", 3)) + 0.5)
    token = _identity_token(sim, by_name["dd-1"]["id"])
    key_url = key["key"]["kid"].rsplit("/", 1)[0]
    assert _release_error(sim, key_url, token)[1] == "AttestationTokenInvalid"          # authorized, no evidence
    cmk = first.result("Customer-managed key with the default confidential VM release policy (Orchestrator granted)")
    assert _release_error(sim, cmk["key"]["kid"].rsplit("/", 1)[0], token) == (403, "ForbiddenByRbac")  # not the CMK
    table = first.result("Print the rollout summary")["msg"]
    assert table[1].split(" | ")[4] == "data disks"
    assert any(row.startswith("dd-1 |") and " | lun0:not_run | " in row for row in table[2:]), table

    vault_name = first.result("Settle the rollout settings")["ansible_facts"]["rollout_plan"]["vault_name"]
    second, _summary, log, _wall = run_rollout(sim, tmp_path, RG, forks=5, rollout_vault_name=vault_name, **fleet)
    assert second.rc == 0, second.stdout[-3000:]
    changed = [(name, result.get("msg")) for name, result in second.tasks() if result.get("changed")]
    assert all(s["changed"] == 0 for s in second.data["stats"].values()), (second.data["stats"], changed)
    assert vm_puts(log, RG) == []


def test_data_disks_on_access_policy_vault_or_without_size_stop_before_any_write(fresh_simulator, tmp_path):
    sim = fresh_simulator
    out, _summary, log, _wall = run_rollout(
        sim, tmp_path, "rg-ddbad", forks=5, rollout_vault_rbac=False, rollout_data_disks=True,
        rollout_vms=[{"name": "bad-1", "size": "Standard_DC2as_v5", "rollout_data_disks": [{"lun": 0}]},
                     {"name": "ok-1", "size": "Standard_DC2as_v5"},
                     {"name": "tdx-1", "size": "Standard_DC2es_v5"},
                     {"name": "tdx-2", "size": "Standard_EC4eds_v5", "rollout_data_disks": False}])
    assert out.rc != 0
    msg = out.result("Check the data disks (each with a lun and a size; a key-only release grant needs an RBAC "
                     "vault)")["msg"]
    assert "rollout_vault_rbac: true" in msg and "fix the disks of bad-1" in msg and "ok-1" not in msg
    # the guest agent attests with SEV-SNP evidence only: a TDX VM's disks would never open
    assert "give tdx-1 an SEV-SNP size" in msg and "tdx-2" not in msg
    assert [e for e in log if e.get("service") in ("arm", "keyvault") and e["method"] != "GET"] == []
