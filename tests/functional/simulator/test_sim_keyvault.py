"""Key Vault data plane: challenge auth, secure-key-release error codes, release against MAA tokens."""
from __future__ import annotations

import base64
import json

import pytest

import azsim_testlib as T


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _policy(sim, **extra):
    return {"contentType": "application/json; charset=utf-8",
            "data": _b64u(json.dumps(T.cvm_policy(sim)).encode()), **extra}


@pytest.fixture
def vaults(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-kv")
    premium = T.vault(sim, "rg-kv", "kvprem1")
    standard = T.vault(sim, "rg-kv", "kvstd1", sku="standard", purge_protection=False)
    # nobody holds data-plane rights implicitly
    T.grant_self(sim, premium["properties"]["vaultUri"], standard["properties"]["vaultUri"])
    return sim, premium["properties"]["vaultUri"], standard["properties"]["vaultUri"]


def kv(sim, method, uri, path, body=None, api_version="2025-07-01", **kw):
    resource = "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    return sim.call(method, uri.rstrip("/") + path, body, api_version, resource=resource, **kw)


def test_challenge_without_token(vaults):
    sim, prem, _std = vaults
    st, h, body = kv(sim, "GET", prem, "/keys", auth=False)
    assert st == 401 and body["error"]["code"] == "Unauthorized"
    challenge = h["www-authenticate"]
    assert challenge.startswith('Bearer authorization="%s' % sim.base_url)
    assert 'resource="https://%s"' % sim.info["cloud_environment"]["keyvault_dns_suffix"] in challenge
    arm_token = sim.token()
    st, _h, body = kv(sim, "GET", prem, "/keys", auth=False, headers={"Authorization": "Bearer " + arm_token})
    assert st == 401 and "AKV10022" in body["error"]["message"]       # token for the wrong audience


def test_skr_error_codes(vaults):
    sim, prem, std = vaults
    st, _h, b = kv(sim, "POST", std, "/keys/h/create", {"kty": "RSA-HSM", "key_size": 2048})
    assert st == 400 and b["error"]["message"] == "Hardware key operation not allowed on standard vault"
    st, _h, b = kv(sim, "POST", std, "/keys/e/create", {"kty": "RSA", "attributes": {"exportable": True},
                                                        "release_policy": _policy(sim)})
    assert st == 400 and b["error"]["message"].startswith("AKV.SKR.1001:")
    st, _h, b = kv(sim, "POST", prem, "/keys/e/create", {"kty": "RSA-HSM", "attributes": {"exportable": True},
                                                         "release_policy": _policy(sim)}, api_version="7.2")
    assert st == 400 and b["error"]["message"].startswith("AKV.SKR.1001:")
    st, _h, b = kv(sim, "POST", prem, "/keys/e/create", {"kty": "RSA-HSM", "attributes": {"exportable": True}})
    assert st == 400 and b["error"]["code"] == "BadParameter"
    assert b["error"]["message"].startswith("AKV.SKR.1004: Exportable keys must have release policy")
    st, _h, b = kv(sim, "POST", prem, "/keys/e/create", {"kty": "RSA-HSM", "release_policy": _policy(sim)})
    assert st == 400 and b["error"]["message"].startswith("AKV.SKR.1005: Non-exportable keys must not have")
    st, _h, b = kv(sim, "POST", prem, "/keys/e/create", {"kty": "RSA-HSM", "attributes": {"exportable": True},
                                                         "release_policy": {"data": "not-json"}})
    assert st == 400
    st, _h, b = kv(sim, "GET", prem, "/keys/e", api_version="1.0")
    assert st == 400 and "is not recognized" in b["error"]["message"]
    st, _h, b = kv(sim, "GET", prem, "/keys/e")
    assert st == 404 and b["error"]["code"] == "KeyNotFound"
    assert b["error"]["message"].startswith("A key with (name/id) e was not found in this key vault.")


def test_exportable_state_and_immutable_policy_cannot_change(vaults):
    sim, prem, _std = vaults
    st, _h, key = kv(sim, "POST", prem, "/keys/skr/create", {
        "kty": "RSA-HSM", "key_size": 2048, "attributes": {"exportable": True},
        "release_policy": _policy(sim, immutable=True)})
    assert st == 200 and key["release_policy"]["immutable"] is True
    ver = key["key"]["kid"].rsplit("/", 1)[1]
    st, _h, b = kv(sim, "PATCH", prem, "/keys/skr/" + ver, {"attributes": {"exportable": False}})
    assert st == 400 and b["error"]["message"].startswith("AKV.SKR.1014")
    st, _h, b = kv(sim, "PATCH", prem, "/keys/skr/" + ver, {"release_policy": _policy(sim)})
    assert st == 400 and "immutable" in b["error"]["message"]
    st, _h, b = kv(sim, "PATCH", prem, "/keys/skr/" + ver, {"attributes": {"enabled": False}})
    assert st == 200 and b["attributes"]["enabled"] is False


def test_purge_protection_blocks_purge(vaults):
    sim, prem, std = vaults
    for uri, expect in ((prem, 403), (std, 204)):
        T.ok(kv(sim, "POST", uri, "/keys/gone/create", {"kty": "RSA", "key_size": 2048}))
        deleted = T.ok(kv(sim, "DELETE", uri, "/keys/gone"))
        assert deleted["recoveryId"].endswith("/deletedkeys/gone")
        st, _h, _b = kv(sim, "DELETE", uri, "/deletedkeys/gone")
        assert st == expect


def _attest(sim):
    body = T.snp_attestation_request()
    ep = sim.info["cloud_environment"]["attestation_endpoint"]
    st, _h, resp = sim.call("POST", ep + "/attest/SevSnpVm", body, "2022-08-01", auth=False)
    assert st == 200, resp
    return resp["token"]


def test_attestation_endpoint_metadata(simulator):
    ep = simulator.info["cloud_environment"]["attestation_endpoint"]
    st, _h, cfg = simulator.call("GET", ep + "/.well-known/openid-configuration", auth=False)
    assert st == 200 and cfg["issuer"] == ep and cfg["jwks_uri"] == ep + "/certs"
    st, _h, jwks = simulator.call("GET", ep + "/certs", auth=False)
    assert st == 200 and jwks["keys"][0]["x5c"]


def test_secure_key_release_against_maa_token(vaults):
    sim, prem, _std = vaults
    token = _attest(sim)
    policy = T.cvm_policy(sim)
    policy["anyOf"][0]["allOf"].append({"claim": "x-ms-attestation-type", "equals": "sevsnpvm"})
    st, _h, key = kv(sim, "POST", prem, "/keys/rel/create", {
        "kty": "RSA-HSM", "key_size": 2048, "attributes": {"exportable": True},
        "release_policy": {"contentType": "application/json; charset=utf-8",
                           "data": _b64u(json.dumps(policy).encode())}})
    assert st == 200
    ver = key["key"]["kid"].rsplit("/", 1)[1]
    st, _h, rel = kv(sim, "POST", prem, "/keys/rel/%s/release" % ver, {"target": token})
    assert st == 200, rel
    payload = json.loads(base64.urlsafe_b64decode(rel["value"].split(".")[1] + "=="))
    released = payload["response"]["key"]["key"]
    assert released["kid"] == key["key"]["kid"] and released["key_hsm"]
    # a policy for another authority, or a claim the token does not satisfy, is refused
    for other in ({"version": "1.0.0", "anyOf": [{"authority": "https://sharedweu.weu.attest.azure.net",
                                                 "allOf": [{"claim": "x-ms-attestation-type", "equals": "sevsnpvm"}]}]},
                  {"version": "1.0.0", "anyOf": [{"authority": policy["anyOf"][0]["authority"],
                                                 "allOf": [{"claim": "x-ms-attestation-type", "equals": "tdxvm"}]}]}):
        st, _h, k2 = kv(sim, "POST", prem, "/keys/rel2/create", {
            "kty": "RSA-HSM", "key_size": 2048, "attributes": {"exportable": True},
            "release_policy": {"data": _b64u(json.dumps(other).encode())}})
        assert st == 200
        st, _h, b = kv(sim, "POST", prem, "/keys/rel2/%s/release" % k2["key"]["kid"].rsplit("/", 1)[1],
                       {"target": token})
        assert st == 403 and "release policy" in b["error"]["message"]
    st, _h, b = kv(sim, "POST", prem, "/keys/rel/%s/release" % ver, {"target": token[:-8] + "AAAAAAAA"})
    assert st == 403 and "cannot be verified" in b["error"]["message"]
