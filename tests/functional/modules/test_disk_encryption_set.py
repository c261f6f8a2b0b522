# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.disk_encryption_set against the simulator (vault and key made by the keyvault modules)."""
from __future__ import annotations

from azure.keyvault.keys import KeyClient
from cvm_common import arm_since
from helpers import run_module

RG = "rg-des"


def ok(out):
    assert not out.get("failed"), out
    return out


def chain(sim, **key_over):
    ok(run_module("resource_group", {"name": RG, "location": "eastus"}, sim.env))
    vault = ok(run_module("keyvault", {"resource_group": RG, "name": "kv-des1", "location": "eastus"}, sim.env))["vault"]
    key_args = {"vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": "cmk", "release_policy": "default_cvm",
                "location": "eastus", "grant_confidential_vm_orchestrator": False}
    key_args.update(key_over)
    key = ok(run_module("keyvault_key", key_args, sim.env))["key"]
    return vault, key


def des_args(key, **over):
    args = {"resource_group": RG, "name": "des1", "key_url": key["kid"], "source_vault": "kv-des1"}
    args.update(over)
    return args


def test_des_create_idempotent_update_absent(fresh_simulator):
    sim = fresh_simulator
    vault, key = chain(sim)

    mark = sim.mark()
    out = run_module("disk_encryption_set", des_args(key), sim.env, check=True, diff=True)
    assert out["changed"] and arm_since(sim, mark, writes_only=True) == [], out
    assert out["diff"]["after"]["encryption_type"] == "ConfidentialVmEncryptedWithCustomerKey"

    mark = sim.mark()
    out = ok(run_module("disk_encryption_set", des_args(key), sim.env))
    des = out["disk_encryption_set"]
    assert out["changed"] and des["encryption_type"] == "ConfidentialVmEncryptedWithCustomerKey"
    assert des["key_url"] == key["kid"] and des["identity"]["principal_id"]
    # the key version is read once, by azure-keyvault-keys' KeyClient (its api-version), handed the cloud's
    # challenge (no 401 round trip)
    kv_reqs = [(r["method"], r["path"], r["api_version"], r["status"]) for r in sim.requests(since=mark)
               if r["service"] == "keyvault"]
    version = key["kid"].rsplit("/", 1)[-1]
    assert kv_reqs == [("GET", "/keys/cmk/" + version, KeyClient(vault["vault_uri"], object()).api_version, 200)], \
        kv_reqs

    mark = sim.mark()
    out = ok(run_module("disk_encryption_set", des_args(key), sim.env))
    assert out["changed"] is False, out
    reqs = [(r["service"], r["method"], r["path"].rsplit("/", 2)[-2]) for r in sim.requests(since=mark)
            if r.get("service") in ("arm", "keyvault")]
    # the set, once; the key is not read again
    assert reqs == [("arm", "GET", "diskEncryptionSets")], reqs

    out = ok(run_module("disk_encryption_set", des_args(key, rotation_to_latest_key_version=True, tags={"a": "b"}),
                        sim.env, diff=True))
    assert out["changed"] and out["diff"] == {
        "before": {"rotation_to_latest_key_version": False, "tags": {}},
        "after": {"rotation_to_latest_key_version": True, "tags": {"a": "b"}}}, out["diff"]
    assert out["disk_encryption_set"]["rotation_to_latest_key_version"] is True

    out = run_module("disk_encryption_set", des_args(key, encryption_type="EncryptionAtRestWithCustomerKey"), sim.env)
    assert out["failed"] and "cannot change" in out["msg"]

    out = ok(run_module("disk_encryption_set", {"resource_group": RG, "name": "des1", "state": "absent"}, sim.env))
    assert out["changed"]
    out = ok(run_module("disk_encryption_set", {"resource_group": RG, "name": "des1", "state": "absent"}, sim.env))
    assert out["changed"] is False and out["disk_encryption_set"] == {}


def test_des_refuses_a_key_that_cannot_be_released(fresh_simulator):
    sim = fresh_simulator
    vault, key = chain(sim, name="plain", exportable=False, release_policy=None)
    mark = sim.mark()
    out = run_module("disk_encryption_set", des_args(key, name="des-bad"), sim.env)
    assert out["failed"] and "not exportable" in out["msg"] and "no release policy" in out["msg"], out
    assert arm_since(sim, mark, writes_only=True) == []


def test_des_put_fault_retried_and_lro_failure_converges(fresh_simulator):
    sim = fresh_simulator
    vault, key = chain(sim)
    sim.fault("status", method="PUT", path=r"/diskEncryptionSets/des1$", status=503, retry_after=0, count=1)
    sim.fault("lro_fail", method="PUT", path=r"/diskEncryptionSets/des1$",
              error={"code": "KeyVaultAccessForbidden", "message": "Unable to access key vault resource."})
    out = run_module("disk_encryption_set", des_args(key), sim.env)
    assert out["failed"] and out["azure_error"]["code"] == "KeyVaultAccessForbidden", out
    out = ok(run_module("disk_encryption_set", des_args(key), sim.env))
    assert out["disk_encryption_set"]["provisioning_state"] == "Succeeded", out
    out = ok(run_module("disk_encryption_set", des_args(key), sim.env))
    assert out["changed"] is False


def test_des_grants_its_identity_on_the_vault_once(fresh_simulator):
    sim = fresh_simulator
    vault, key = chain(sim)
    out = ok(run_module("disk_encryption_set", des_args(key, grant_key_permissions=True), sim.env))
    principal = out["disk_encryption_set"]["identity"]["principal_id"]
    assert out["grant"]["changed"] and out["grant"]["mode"] == "access_policy"
    assert sorted(out["grant"]["after"]) == ["get", "unwrapKey", "wrapKey"]
    vault_now = ok(run_module("keyvault", {"resource_group": RG, "name": "kv-des1", "location": "eastus"},
                              sim.env))["vault"]
    assert any(p.get("object_id") == principal for p in vault_now["access_policies"]), vault_now["access_policies"]
    mark = sim.mark()
    out = ok(run_module("disk_encryption_set", des_args(key, grant_key_permissions=True), sim.env))
    assert out["changed"] is False and out["grant"]["changed"] is False
    assert arm_since(sim, mark, writes_only=True) == []


def test_des_without_key_get_permission_says_so_before_writing(fresh_simulator):
    sim = fresh_simulator
    vault, key = chain(sim)
    _st, _h, doc = sim.call("GET", vault["id"], api_version="2024-11-01")
    (entry,) = doc["properties"]["accessPolicies"]   # the automation principal's (keyvault granted it)
    st, _h, _b = sim.call("PUT", vault["id"] + "/accessPolicies/remove", {"properties": {"accessPolicies": [
        {"tenantId": entry["tenantId"], "objectId": entry["objectId"], "permissions": {"keys": ["get"]}}]}},
        api_version="2024-11-01")
    assert st == 200
    mark = sim.mark()
    out = run_module("disk_encryption_set", des_args(key, access_propagation_timeout=0), sim.env)
    assert out["failed"] and out["msg"].startswith(
        "key_url: no permission to read key cmk in %s (needs key permission get) - " % vault["vault_uri"]), out
    assert "does not have keys get permission" in out["msg"] and out["azure_error"]["status"] == 403, out
    assert arm_since(sim, mark, writes_only=True) == []
