# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SDK clients of _azure/clients.py against the strict simulator, built exactly as modules build them (from
an AzureSession on the simulator's custom cloud).  Marked sdk_range: `make compat` runs them on the lowest
supported azure-mgmt-compute / azure-keyvault-keys / azure-mgmt-core too."""
from __future__ import annotations

import json
import os
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "simulator"))
sys.path.insert(0, os.path.dirname(HERE))

import azsim_testlib as T  # noqa: E402
from helpers import collections_path  # noqa: E402

sys.path.insert(0, collections_path())

from ansible_collections.confidential.azure.plugins.module_utils._azure import clients, errors  # noqa: E402
from ansible_collections.confidential.azure.plugins.module_utils._azure.session import AzureSession  # noqa: E402

pytestmark = pytest.mark.sdk_range

RG_API = "2025-04-01"
KV_API = "2024-11-01"


def sdk(sim, **params):
    session = AzureSession(dict(dict(cloud_environment=sim.cloud_env_file), **params), env=dict(sim.env))
    return clients.SdkClients(session, poll_interval=1)


def vault(c, sim, rg, name, purge_protection=True):
    sub = sim.subscription_id
    c.arm_requests().put("/subscriptions/%s/resourceGroups/%s" % (sub, rg), RG_API, {"location": "eastus"})
    body = {"location": "eastus", "properties": {
        "tenantId": sim.info["tenant_id"], "sku": {"family": "A", "name": "premium"}, "accessPolicies": [],
        "enableSoftDelete": True}}
    if purge_protection:
        body["properties"]["enablePurgeProtection"] = True
    path = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s" % (sub, rg, name)
    op = c.arm_requests().put(path, KV_API, body)
    assert op.done and op.status == "Succeeded"
    return path, op.resource["properties"]["vaultUri"]


def test_compute_client_lists_confidential_skus_of_the_custom_cloud(simulator):
    c = sdk(simulator)
    skus = [clients.as_dict(s) for s in c.compute().resource_skus.list(filter="location eq 'eastus'")]
    sizes = dict((s["name"], s) for s in skus if s.get("resourceType") == "virtualMachines")
    caps = dict((cap["name"], cap["value"]) for cap in sizes["Standard_DC2as_v5"]["capabilities"])
    assert caps["ConfidentialComputingType"] == "SNP"


def test_compute_get_of_a_missing_vm_is_none_and_errors_are_translated(fresh_simulator):
    c = sdk(fresh_simulator)
    assert clients.get_or_none(lambda: c.compute().virtual_machines.get("nope", "vm1", cls=clients.raw)) is None
    with pytest.raises(errors.AzureApiError) as caught:
        with clients.translated():
            c.compute().virtual_machines.begin_create_or_update("nope", "vm1", {"location": "eastus"}).result()
    assert caught.value.status in (400, 404) and caught.value.code != "Unknown"


def test_arm_pipeline_waits_and_no_wait_returns_the_poll_url(fresh_simulator):
    c = sdk(fresh_simulator)
    rg = "/subscriptions/%s/resourceGroups/sdk-rg" % fresh_simulator.subscription_id
    made = c.arm_requests().put(rg, RG_API, {"location": "eastus"})
    assert made.done and made.resource["name"] == "sdk-rg"
    assert c.arm_requests().get(rg, RG_API)["location"] == "eastus"
    gone = c.arm_requests().delete(rg, RG_API, wait=False)
    assert gone.done is False and gone.poll_url and gone.to_dict()["poll_mode"] in ("location", "async")
    assert c.arm_requests().delete(rg + "x", RG_API).status == "NotFound"


def test_key_client_follows_the_challenge_and_waits_for_a_fresh_grant(fresh_simulator):
    sim = fresh_simulator
    c = sdk(sim)
    path, uri = vault(c, sim, "sdk-kv-rg", "sdkkv%s" % uuid.uuid4().hex[:8], purge_protection=False)
    status, _h, _body = c.arm_requests().request("PUT", path + "/accessPolicies/add", KV_API, {"properties": {"accessPolicies": [{
        "tenantId": sim.info["tenant_id"], "objectId": T.caller_object_id(sim), "permissions": {"keys": ["all"]}}]}})
    assert status in (200, 201)
    from azure.keyvault.keys import KeyReleasePolicy
    keys = c.keys(uri)
    key = keys.create_rsa_key("cmk", size=3072, hardware_protected=True, exportable=True,
                              key_operations=["wrapKey", "unwrapKey"],
                              release_policy=KeyReleasePolicy(json.dumps(T.cvm_policy(sim)).encode()))
    assert [w["outcome"] for w in (x.to_dict() for x in c.access_waits)] == ["granted"]
    assert key.properties.exportable is True and key.properties.release_policy is not None
    assert keys.get_key("cmk").id == key.id
    keys.update_key_properties("cmk", enabled=True, tags={"a": "b"})
    policy = keys.get_key_rotation_policy("cmk")
    assert policy is not None
    rotated = keys.rotate_key("cmk")
    assert rotated.properties.version != key.properties.version
    assert len(list(keys.list_properties_of_key_versions("cmk"))) == 2
    keys.begin_delete_key("cmk").wait()
    keys.begin_recover_deleted_key("cmk").wait()
    assert keys.get_key("cmk").properties.tags == {"a": "b"}
    keys.begin_delete_key("cmk").wait()
    keys.purge_deleted_key("cmk")


def test_key_client_without_rights_reports_the_wait_and_the_403(fresh_simulator):
    sim = fresh_simulator
    c = sdk(sim, access_propagation_timeout=3)
    _path, uri = vault(c, sim, "sdk-kv-rg2", "sdkkv%s" % uuid.uuid4().hex[:8])
    with pytest.raises(errors.AzureApiError) as caught:
        with clients.translated():
            c.keys(uri).get_key("cmk")
    assert caught.value.status == 403
    waits = [w.to_dict() for w in c.access_waits]
    assert waits and waits[0]["outcome"] == "still denied" and waits[0]["waited_seconds"] >= 3
