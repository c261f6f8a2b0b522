"""ARM fidelity: LRO protocol, error envelopes, api-version rules, auth, idempotency, request log, Graph, RBAC."""
from __future__ import annotations

import json
import os
import time

import azsim_testlib as T
from simctl import start_simulator, stop_simulator

VM = "/providers/Microsoft.Compute/virtualMachines/"


def _vm(sim, rg="rg-arm", name="vm1", nic_prefix="arm"):
    T.group(sim, rg)
    nic = T.network(sim, rg, nic_prefix)
    return sim.rg_path(rg) + VM + name, T.cvm_body(nic, enc="VMGuestStateOnly")


def test_first_line_contract_and_state_file(tmp_path):
    state = str(tmp_path / "state.json")
    sim = start_simulator(str(tmp_path / "a"), ["--state-file", state, "--location", "westeurope"])
    try:
        info = sim.info
        assert set(info["cloud_environment"]) >= {"arm_endpoint", "authority_host", "keyvault_dns_suffix",
                                                  "attestation_endpoint", "ca_bundle"}
        assert {"subscription_id", "tenant_id", "client_id", "client_secret", "location"} <= set(info)
        assert info["location"] == "westeurope"
        assert os.path.isfile(info["cloud_environment"]["ca_bundle"])
        T.group(sim, "persisted", "westeurope")
        v = T.vault(sim, "persisted", "kvpersist1", location="westeurope")
        kc = T.key_client(sim, v["properties"]["vaultUri"])
        kc.create_rsa_key("k", size=2048)
    finally:
        stop_simulator(sim)
    assert sim.proc.returncode == 0          # SIGTERM is a clean shutdown (state saved)
    again = start_simulator(str(tmp_path / "b"), ["--state-file", state])
    try:
        assert again.info["subscription_id"] == info["subscription_id"]     # deterministic ids
        assert again.info["client_secret"] == info["client_secret"]
        status, _h, body = again.call("GET", again.rg_path("persisted"), api_version=T.RG_API)
        assert status == 200 and body["location"] == "westeurope"
        uri = again.call("GET", again.rg_path("persisted") + "/providers/Microsoft.KeyVault/vaults/kvpersist1",
                         api_version=T.KV_API)[2]["properties"]["vaultUri"]
        assert T.key_client(again, uri).get_key("k").name == "k"
    finally:
        stop_simulator(again)


def test_vm_put_is_an_lro_with_async_operation_header(fresh_simulator):
    sim = fresh_simulator
    path, body = _vm(sim)
    sim.set_delay(1.0, pattern="virtualMachines/vm1")
    status, h, res = sim.call("PUT", path, body, T.VM_API)
    assert status == 201
    assert res["properties"]["provisioningState"] == "Creating"
    assert "azure-asyncoperation" in h and "retry-after" in h and "location" not in h
    assert h["x-ms-request-id"] and h["x-ms-correlation-request-id"]
    st, _h, op = sim.call("GET", h["azure-asyncoperation"])
    assert st == 200 and op["status"] == "InProgress"
    assert sim.call("GET", path, api_version=T.VM_API)[2]["properties"]["provisioningState"] == "Creating"
    time.sleep(1.1)
    op = sim.call("GET", h["azure-asyncoperation"])[2]
    assert op["status"] == "Succeeded" and op["endTime"]
    assert sim.call("GET", path, api_version=T.VM_API)[2]["properties"]["provisioningState"] == "Succeeded"
    # update of an existing VM: 200 + Updating
    status, h, res = sim.call("PUT", path, body, T.VM_API)
    assert status == 200 and res["properties"]["provisioningState"] == "Updating"


def test_vm_delete_is_202_with_location_and_async_operation(fresh_simulator):
    sim = fresh_simulator
    path, body = _vm(sim)
    sim.call("PUT", path, body, T.VM_API)
    sim.set_delay(1.0, pattern="virtualMachines/vm1")
    status, h, res = sim.call("DELETE", path, api_version=T.VM_API)
    assert status == 202 and res is None
    assert {"location", "azure-asyncoperation", "retry-after"} <= set(h)
    assert sim.call("GET", h["location"])[0] == 202
    time.sleep(1.1)
    assert sim.call("GET", h["azure-asyncoperation"])[2]["status"] == "Succeeded"
    assert sim.call("GET", h["location"])[0] == 204
    assert sim.call("GET", path, api_version=T.VM_API)[0] == 404
    assert sim.call("DELETE", path, api_version=T.VM_API)[0] == 204      # already gone


def test_resource_group_delete_cascades(fresh_simulator):
    sim = fresh_simulator
    path, body = _vm(sim, rg="rg-gone")
    sim.call("PUT", path, body, T.VM_API)
    status, h, _body = sim.call("DELETE", sim.rg_path("rg-gone"), api_version=T.RG_API)
    assert status == 202 and "location" in h
    assert sim.call("GET", h["location"])[0] in (200, 204)
    assert sim.call("GET", sim.rg_path("rg-gone"), api_version=T.RG_API)[0] == 404
    assert sim.call("GET", "/subscriptions/%s/providers/Microsoft.Compute/virtualMachines" % sim.subscription_id,
                    api_version=T.VM_API)[2]["value"] == []


def test_not_found_shapes(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-404")
    st, _h, body = sim.call("GET", sim.rg_path("rg-404") + VM + "nope", api_version=T.VM_API)
    assert st == 404
    assert body == {"error": {"code": "ResourceNotFound", "message": "The Resource 'Microsoft.Compute/"
                              "virtualMachines/nope' under resource group 'rg-404' was not found. For more details "
                              "please go to https://aka.ms/ARMResourceNotFoundFix"}}
    st, _h, body = sim.call("GET", sim.rg_path("missing-rg") + VM + "nope", api_version=T.VM_API)
    assert st == 404 and body["error"] == {"code": "ResourceGroupNotFound",
                                           "message": "Resource group 'missing-rg' could not be found."}
    st, _h, body = sim.call("GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x",
                            api_version=T.RG_API)
    assert st == 404 and body["error"]["code"] == "SubscriptionNotFound"


def test_api_version_rules(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-ver")
    st, _h, body = sim.call("GET", sim.rg_path("rg-ver") + VM + "x")
    assert st == 400 and body["error"]["code"] == "MissingApiVersionParameter"
    assert body["error"]["message"] == "The api-version query parameter (?api-version=) is required for all requests."
    st, _h, body = sim.call("GET", sim.rg_path("rg-ver") + VM + "x", api_version="2099-01-01")
    assert st == 400 and body["error"]["code"] == "NoRegisteredProviderFound"
    assert body["error"]["message"].startswith("No registered resource provider found for location 'eastus' and API "
                                               "version '2099-01-01' for type 'virtualMachines'. The supported "
                                               "api-versions are '")
    assert "2026-04-01" in body["error"]["message"] and "2024-07-01" in body["error"]["message"]
    st, _h, body = sim.call("GET", sim.rg_path("rg-ver"), api_version="2099-01-01")
    assert st == 400 and body["error"]["code"] == "InvalidApiVersionParameter"
    assert body["error"]["message"].startswith("The api-version '2099-01-01' is invalid. The supported versions are '")
    # a version that exists for disks but not for VMs
    st, _h, body = sim.call("GET", sim.rg_path("rg-ver") + VM + "x", api_version=T.DISK_API)
    assert st == 400 and body["error"]["code"] == "NoRegisteredProviderFound"


def test_requests_without_valid_token_are_rejected(simulator):
    path = simulator.rg_path("any")
    st, h, body = simulator.call("GET", path, api_version=T.RG_API, auth=False)
    assert st == 401 and body["error"]["code"] == "AuthenticationFailed"
    assert h["www-authenticate"].startswith("Bearer authorization_uri=")
    st, _h, body = simulator.call("GET", path, api_version=T.RG_API, auth=False,
                                  headers={"Authorization": "Bearer abc.def.ghi"})
    assert st == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    kv_token = simulator.token("https://" + simulator.info["cloud_environment"]["keyvault_dns_suffix"])
    st, _h, body = simulator.call("GET", path, api_version=T.RG_API, auth=False,
                                  headers={"Authorization": "Bearer " + kv_token})
    assert st == 401 and body["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_put_is_idempotent_and_ignores_read_only_properties(fresh_simulator):
    sim = fresh_simulator
    path, body = _vm(sim)
    first = sim.call("PUT", path, body, T.VM_API)[2]
    got = sim.call("GET", path, api_version=T.VM_API)[2]
    again_body = json.loads(json.dumps(got))            # send the GET body back, read-only fields and all
    again_body["properties"]["vmId"] = "00000000-0000-0000-0000-000000000000"
    again_body["properties"]["provisioningState"] = "Failed"
    st, _h, second = sim.call("PUT", path, again_body, T.VM_API)
    assert st == 200, second
    assert second["properties"]["vmId"] == first["properties"]["vmId"]
    assert second["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"] == \
        first["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
    disks = sim.call("GET", sim.rg_path("rg-arm") + "/providers/Microsoft.Compute/disks",
                     api_version=T.DISK_API)[2]["value"]
    assert len(disks) == 1                              # no second OS disk


def test_bodies_are_validated_against_the_specs(fresh_simulator):
    sim = fresh_simulator
    path, body = _vm(sim)
    body["properties"]["hardwareProfil"] = body["properties"].pop("hardwareProfile")
    st, _h, err = sim.call("PUT", path, body, T.VM_API)
    assert st == 400 and "hardwareProfil" in json.dumps(err)
    path, body = _vm(sim)
    body["properties"]["securityProfile"]["securityType"] = "ConfidentialVm2"
    st, _h, err = sim.call("PUT", path, body, T.VM_API)
    assert st == 400 and "ConfidentialVm2" in json.dumps(err)
    assert sim.call("GET", path, api_version=T.VM_API)[0] == 404


def test_request_log_counts_and_masks_secrets(fresh_simulator):
    sim = fresh_simulator
    path, body = _vm(sim)
    mark = sim.mark()
    sim.call("PUT", path, body, T.VM_API)
    sim.call("GET", path, api_version=T.VM_API)
    sim.call("GET", path, api_version=T.VM_API)
    log = sim.requests(since=mark)
    assert [(e["method"], e["status"]) for e in log] == [("PUT", 201), ("GET", 200), ("GET", 200)]
    assert all(e["api_version"] == T.VM_API and e["path"] == path for e in log)
    assert log[0]["body"]["properties"]["osProfile"]["adminPassword"] == "***"
    T.credential(sim).get_token(sim.info["cloud_environment"]["arm_endpoint"] + ".default")
    raw = open(os.path.join(sim.info["state_dir"], "requests.jsonl"), encoding="utf-8").read()
    assert sim.info["client_secret"] not in raw and "Sup3r-Secret-Pw!" not in raw
    assert "client_secret=***" in raw


def test_graph_orchestrator_lookup_and_removal(fresh_simulator):
    sim = fresh_simulator
    by_id = T.ok(sim.call("GET", "/v1.0/servicePrincipals(appId='%s')" % T.ORCHESTRATOR))
    assert by_id["displayName"] == "Confidential VM Orchestrator" and by_id["appId"] == T.ORCHESTRATOR
    flt = T.ok(sim.call("GET", "/v1.0/servicePrincipals?$filter=appId%%20eq%%20'%s'" % T.ORCHESTRATOR))
    assert [p["id"] for p in flt["value"]] == [by_id["id"]]
    sim.remove_principal(T.ORCHESTRATOR)
    st, _h, body = sim.call("GET", "/v1.0/servicePrincipals(appId='%s')" % T.ORCHESTRATOR)
    assert st == 404 and body["error"]["code"] == "Request_ResourceNotFound"
    assert T.ok(sim.call("GET", "/v1.0/servicePrincipals?$filter=appId%%20eq%%20'%s'" % T.ORCHESTRATOR))[
        "value"] == []
    sim.reset()
    assert T.ok(sim.call("GET", "/v1.0/servicePrincipals(appId='%s')" % T.ORCHESTRATOR))["id"] == by_id["id"]


def test_role_assignments_at_key_scope(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-rbac")
    v = T.vault(sim, "rg-rbac", "kvrbac1", rbac=True)
    scope = v["id"] + "/keys/cmk"
    defs = T.ok(sim.call("GET", scope + "/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName%20eq%20"
                         "'Key%20Vault%20Crypto%20Service%20Release%20User'", api_version="2022-04-01"))["value"]
    assert [d["name"] for d in defs] == [T.RELEASE_USER]
    orch = T.orchestrator_object_id(sim)
    ra_path = scope + "/providers/Microsoft.Authorization/roleAssignments/1b2c3d4e-0000-4000-8000-000000000001"
    body = {"properties": {"roleDefinitionId": defs[0]["id"], "principalId": orch, "principalType": "ServicePrincipal"}}
    st, _h, ra = sim.call("PUT", ra_path, body, "2022-04-01")
    assert st == 201 and ra["properties"]["scope"] == scope
    st, _h, err = sim.call("PUT", ra_path.replace("0001", "0002"), body, "2022-04-01")
    assert st == 409 and err["error"]["code"] == "RoleAssignmentExists"
    bad = {"properties": dict(body["properties"], principalId="11111111-2222-3333-4444-555555555555")}
    st, _h, err = sim.call("PUT", ra_path.replace("0001", "0003"), bad, "2022-04-01")
    assert st == 400 and err["error"]["code"] == "PrincipalNotFound"
    listed = T.ok(sim.call("GET", scope + "/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()",
                           api_version="2022-04-01"))["value"]
    # atScope(): the assignments at the scope and above it (the default principal's, on the subscription)
    assert [r["name"] for r in listed if r["properties"]["principalId"] == orch] == [ra["name"]]
    assert {r["properties"]["scope"] for r in listed} == {scope, "/subscriptions/" + sim.subscription_id}
    assert sim.call("DELETE", ra_path, api_version="2022-04-01")[0] == 200
    assert sim.call("GET", ra_path, api_version="2022-04-01")[0] == 404


def test_attestation_default_provider(simulator):
    body = T.ok(simulator.call("GET", "/subscriptions/%s/providers/Microsoft.Attestation/locations/eastus/"
                               "defaultProvider" % simulator.subscription_id, api_version="2020-10-01"))
    assert body["properties"]["attestUri"] == simulator.info["cloud_environment"]["attestation_endpoint"]
    assert body["type"] == "Microsoft.Attestation/attestationProviders"
