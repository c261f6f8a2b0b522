"""The simulator's IMDS stand-in, MAA guest attestation and Key Vault release refuse what Azure refuses.

IMDS and Key Vault run against the simulator alone; the AzureGuest rules use a host swtpm provisioned like an Azure
vTPM (tests/functional/attestation: test vTPM CA, test SNP chain posted as trust roots) and forge evidence with
tpm2-tools the way an attacker holding the guest (but not the attested state) could.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
from pathlib import Path

import pytest

import azsim_testlib as T
from helpers import sent_attestation

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "attestation"))
sys.path.insert(0, str(T.REPO) + "/plugins/module_utils/_guestdisk")
sys.path.insert(0, str(T.REPO) + "/roles/data_disk_encryption/files")

MSI = "2018-02-01"


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _claims(jws: str) -> dict:
    return json.loads(_b64u_decode(jws.split(".")[1]))


# ------------------------------------------------------------------------------------------------------------ IMDS
@pytest.fixture
def imds_vms(fresh_simulator):
    """Two VMs: one with a system-assigned and two user-assigned identities, one with the two user-assigned only."""
    sim = fresh_simulator
    T.group(sim, "rg-imds")
    uai = ["/subscriptions/%s/resourceGroups/rg-imds/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s"
           % (sim.subscription_id, n) for n in ("id-a", "id-b")]
    out = {"uai": uai}
    for name, kind in (("both", "SystemAssigned, UserAssigned"), ("users", "UserAssigned")):
        body = T.cvm_body(T.network(sim, "rg-imds", prefix=name), image=T.JAMMY_PLAIN, enc=None,
                          security_type=None, size="Standard_D2s_v5")
        body["identity"] = {"type": kind, "userAssignedIdentities": {rid: {} for rid in uai}}
        vm = T.ok(sim.call("PUT", sim.rg_path("rg-imds") + "/providers/Microsoft.Compute/virtualMachines/" + name,
                           body, T.VM_API), 200, 201)
        out[name] = {"vm": vm, "endpoint": sim.admin("POST", "/_sim/imds", {"vm": vm["id"]})["endpoint"]}
    return sim, out


def _imds(sim, endpoint, headers=None, **query):
    url = endpoint + "/metadata/identity/oauth2/token"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    return sim.call("GET", url, auth=False, headers={"Metadata": "true", **(headers or {})})


def _refused(result, description):
    status, _h, doc = result
    assert status == 400 and doc == {"error": "invalid_request", "error_description": description}, (status, doc)


def test_imds_refuses_requests_azure_refuses(imds_vms):
    sim, vms = imds_vms
    ep, vault = vms["both"]["endpoint"], "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    status, _h, doc = sim.call("GET", ep + "/metadata/identity/oauth2/token?api-version=%s&resource=%s"
                               % (MSI, vault), auth=False)
    assert status == 400 and doc["error_description"] == "Required metadata header not specified"
    status, _h, doc = _imds(sim, ep, {"X-Forwarded-For": "10.0.0.9"}, **{"api-version": MSI, "resource": vault})
    assert status == 400 and doc["error"] == "invalid_request", doc
    _refused(_imds(sim, ep, resource=vault), "Required query variable 'api-version' is missing")
    _refused(_imds(sim, ep, **{"api-version": "2017-01-01", "resource": vault}), "Invalid 'api-version' requested")
    _refused(_imds(sim, ep, **{"api-version": MSI}), "Required query variable 'resource' is missing")


def test_imds_selects_the_identity_by_its_own_property(imds_vms):
    sim, vms = imds_vms
    vault = "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    both = vms["both"]
    users = both["vm"]["identity"]["userAssignedIdentities"]
    b_rid = vms["uai"][1]
    b = next(v for k, v in users.items() if k.lower() == b_rid.lower())
    q = {"api-version": MSI, "resource": vault}

    def oid(**sel):
        status, _h, doc = _imds(sim, both["endpoint"], **q, **sel)
        assert status == 200, doc
        claims = _claims(doc["access_token"])
        assert claims["aud"].rstrip("/") == vault and doc["resource"] == vault
        return claims["oid"], doc["client_id"]

    assert oid()[0] == both["vm"]["identity"]["principalId"]           # no selector: the system-assigned one
    assert oid(client_id=b["clientId"]) == (b["principalId"], b["clientId"])
    assert oid(object_id=b["principalId"])[0] == b["principalId"]
    assert oid(msi_res_id=b_rid)[0] == b["principalId"]
    # a value of another property does not select: object_id is not a client id, client_id not a resource id
    _refused(_imds(sim, both["endpoint"], **q, object_id=b["clientId"]), "Identity not found")
    _refused(_imds(sim, both["endpoint"], **q, client_id=b_rid), "Identity not found")
    _refused(_imds(sim, both["endpoint"], **q, client_id=str(uuid.uuid4())), "Identity not found")
    status, _h, doc = _imds(sim, both["endpoint"], **q, client_id=b["clientId"], object_id=b["principalId"])
    assert status == 400 and doc["error"] == "invalid_request", doc
    _refused(_imds(sim, vms["users"]["endpoint"], **q), "Multiple user assigned identities exist, please specify "
             "the clientId / resourceId of the identity in the token request")


# ------------------------------------------------------------------------------------------------------- Key Vault
@pytest.fixture
def release_key(fresh_simulator):
    """A premium vault, an exportable key whose policy a SevSnpVm token of the public vectors satisfies, the token."""
    sim = fresh_simulator
    T.group(sim, "rg-rel")
    uri = T.vault(sim, "rg-rel", "kvrel1")["properties"]["vaultUri"]
    T.grant_self(sim, uri)
    ep = sim.info["cloud_environment"]["attestation_endpoint"]
    policy = {"version": "1.0.0", "anyOf": [{"authority": ep, "allOf": [
        {"claim": "x-ms-attestation-type", "equals": "sevsnpvm"}]}]}
    status, _h, key = _kv(sim, "POST", uri, "/keys/rel/create", {
        "kty": "RSA-HSM", "key_size": 2048, "attributes": {"exportable": True},
        "release_policy": {"data": _b64u(json.dumps(policy).encode())}})
    assert status == 200, key
    status, _h, resp = sim.call("POST", ep + "/attest/SevSnpVm", T.snp_attestation_request(), "2022-08-01",
                                auth=False)
    assert status == 200, resp
    return sim, uri, key["key"]["kid"].rsplit("/", 1)[1], resp["token"]


def _kv(sim, method, uri, path, body=None, api_version="7.4"):
    resource = "https://" + sim.info["cloud_environment"]["keyvault_dns_suffix"]
    return sim.call(method, uri.rstrip("/") + path, body, api_version, resource=resource)


def test_release_wraps_to_the_runtime_key_meant_for_encryption(release_key):
    """The platform token's x-ms-runtime carries the HCL's keys: HCLAkPub (sign) first, HCLEkPub (encrypt); Key
    Vault must not wrap to a signing key."""
    sim, uri, ver, token = release_key
    runtime = _claims(token)["x-ms-runtime"]["keys"]
    assert [k["kid"] for k in runtime][:2] == ["HCLAkPub", "HCLEkPub"] and runtime[0]["key_ops"] == ["sign"]
    status, _h, doc = _kv(sim, "POST", uri, "/keys/rel/%s/release" % ver, {"target": token, "nonce": "n-42"})
    assert status == 200, doc
    payload = _claims(doc["value"])
    blob = json.loads(_b64u_decode(payload["response"]["key"]["key"]["key_hsm"]))
    assert blob["header"]["kid"] == "HCLEkPub" and blob["header"]["enc"] == "CKM_RSA_AES_KEY_WRAP"
    assert payload["request"]["nonce"] == "n-42"
    assert payload["request"]["kid"] == payload["response"]["key"]["key"]["kid"] == uri + "keys/rel/" + ver


def test_versionless_release_is_the_latest_version_and_echoes_the_requested_kid(release_key):
    """POST {vault}/keys/{name}/release (no version) releases the current version; request.kid is the id as asked
    (Microsoft Learn "Secure Key Release with Azure Key Vault and application on Confidential VMs with AMD SEV-SNP")."""
    sim, uri, _ver, token = release_key
    status, _h, rotated = _kv(sim, "POST", uri, "/keys/rel/rotate", {})
    assert status == 200, rotated
    status, _h, doc = _kv(sim, "POST", uri, "/keys/rel/release", {"target": token})
    assert status == 200, doc
    payload = _claims(doc["value"])
    assert payload["request"]["kid"] == uri + "keys/rel"
    assert payload["response"]["key"]["key"]["kid"] == rotated["key"]["kid"]


def test_release_body_follows_key_release_parameters(release_key):
    """keys.json KeyReleaseParameters: ``target`` (required, minLength 1) names the token, ``enc`` is one of
    KeyEncryptionAlgorithm."""
    sim, uri, ver, token = release_key
    for body, field in (({"value": token}, "target"), ({"target": ""}, "target"),
                        ({"target": token, "enc": "RSA-OAEP"}, "enc")):
        status, _h, doc = _kv(sim, "POST", uri, "/keys/rel/%s/release" % ver, body)
        assert status == 400 and field in json.dumps(doc), (body, doc)
    # release exists from api-version 7.3 on (keys data plane)
    status, _h, doc = _kv(sim, "POST", uri, "/keys/rel/%s/release" % ver, {"target": token}, api_version="7.2")
    assert status == 400 and doc["error"]["code"] == "BadParameter" and "7.3" in doc["error"]["message"], doc


# ---------------------------------------------------------------------------------------------- MAA AzureGuest
def _provisioned_evidence(sim, maa):
    """(swtpm, AttestationInfo): a swtpm provisioned like an Azure vTPM, attested once by the guest agent (its
    AzureGuest request captured on the way out). TPM2TOOLS_TCTI is left pointing at that swtpm."""
    import agent  # pylint: disable=import-error
    import ak_testca
    from ga_helpers import HostSwtpm, hcl_testchain
    tpm = HostSwtpm()
    ca = ak_testca.shared_ca()
    material = ak_testca.provision(tpm.tcti, ca, chain=hcl_testchain.make_test_chain(),
                                   vm_unique_id=str(uuid.uuid4()).upper())
    for pem in (material["ark_pem"], ak_testca.pem(ca["root"]), ak_testca.pem(ca["intermediate"])):
        sim.add_trust_root(pem.encode())
    vm_id = "/subscriptions/%s/resourceGroups/rg-g/providers/Microsoft.Compute/virtualMachines/g" % sim.subscription_id
    imds = sim.admin("POST", "/_sim/imds", {"vm": vm_id, "thim": material["thim"]})
    os.environ["TPM2TOOLS_TCTI"] = tpm.tcti
    rel = agent.Releaser({"imds_url": imds["endpoint"], "maa_url": maa, "ca_file": sim.ca_bundle,
                          "key_id": "", "vault_resource": "", "disks": []}, tempfile.mkdtemp(prefix="gr-"))
    try:
        body = sent_attestation(agent, rel.token)
        rel.tpm.forget()
    except BaseException:
        tpm.close()
        raise
    return tpm, json.loads(_b64u_decode(body["AttestationInfo"]))


@pytest.fixture(scope="module")
def guest_evidence(simulator):
    """A genuine AzureGuest request from a provisioned swtpm, the simulator, MAA's URL and the guest agent."""
    import agent  # pylint: disable=import-error
    simulator.reset()
    maa = simulator.info["cloud_environment"]["attestation_endpoint"].rstrip("/")
    old = os.environ.get("TPM2TOOLS_TCTI")
    tpm, info = _provisioned_evidence(simulator, maa)
    try:
        yield simulator, maa, info, agent
    finally:
        if old is None:
            os.environ.pop("TPM2TOOLS_TCTI", None)
        else:
            os.environ["TPM2TOOLS_TCTI"] = old
        tpm.close()


def _post(sim, maa, info):
    body = {"AttestationInfo": _b64u(json.dumps(info).encode())}
    return sim.call("POST", maa + "/attest/AzureGuest?api-version=2020-10-01", body, auth=False)


def _with(info, **tpm_fields):
    forged = json.loads(json.dumps(info))
    forged["TpmInfo"].update({k: base64.b64encode(v).decode() for k, v in tpm_fields.items()})
    return forged


def _tpm2(*args):
    subprocess.run(list(args), check=True, capture_output=True)


def _certified_key(agent, attrs, work, alg="rsa2048"):
    """A TPM key with ``attrs`` and no PCR policy, certified by the genuine AK (TPM2_Certify)."""
    def p(name):
        return os.path.join(work, name)
    try:
        _tpm2("tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", alg + ":null:null", "-a", attrs,
              "-c", p("k.ctx"))
        _tpm2("tpm2_flushcontext", "-t")
        _tpm2("tpm2_readpublic", "-c", p("k.ctx"), "-o", p("k.pub"))
        _tpm2("tpm2_flushcontext", "-t")
        _tpm2("tpm2_certify", "-c", p("k.ctx"), "-C", agent.AK_HANDLE, "-g", "sha256", "-o", p("c.att"),
              "-s", p("c.sig"), "-f", "plain")
    finally:
        subprocess.run(["tpm2_flushcontext", "-t"], check=False, capture_output=True)
    return [Path(p(n)).read_bytes() for n in ("k.pub", "c.att", "c.sig")]


def _refused_evidence(result, check):
    status, _h, doc = result
    assert status == 400 and doc["error"]["code"] == "InvalidParameter" and check in doc["error"]["message"], doc


def test_genuine_guest_evidence_gets_a_token(guest_evidence):
    sim, maa, info, _agent = guest_evidence
    status, _h, doc = _post(sim, maa, info)
    assert status == 200 and doc["token"], doc


def test_ephemeral_key_usable_without_the_pcr_policy_gets_no_token(guest_evidence):
    """A key the AK genuinely certified, but usable by password (userWithAuth) and not sealed to the quoted PCRs:
    whoever holds the guest later could open the token and the released key in any boot state."""
    sim, maa, info, agent = guest_evidence
    pub, att, sig = _certified_key(agent, "decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda",
                                   tempfile.mkdtemp(prefix="gr-"))
    forged = _with(info, EncKeyPub=pub, EncKeyCertifyInfo=att, EncKeyCertifyInfoSignature=sig)
    _refused_evidence(_post(sim, maa, forged), "tpm.enc_key")


def test_ephemeral_key_sealed_to_other_pcrs_gets_no_token(guest_evidence):
    """A PCR-sealed, AK-certified key, but its policy covers PCRs 0-6 while the quote covers 0-7."""
    sim, maa, info, agent = guest_evidence
    tpm = agent.Tpm(tempfile.mkdtemp(prefix="gr-"), list(range(7)))
    pub, att, sig = tpm.ephemeral_key()
    tpm.forget()
    forged = _with(info, EncKeyPub=pub, EncKeyCertifyInfo=att, EncKeyCertifyInfoSignature=sig)
    _refused_evidence(_post(sim, maa, forged), "tpm.enc_key")


def test_ak_that_is_not_a_restricted_signing_key_gets_no_token(guest_evidence):
    """AikPub's attributes decide whether its signatures prove TPM provenance: not restricted, no proof."""
    sim, maa, info, _agent = guest_evidence
    ak = bytearray(base64.b64decode(info["TpmInfo"]["AikPub"]))
    at = 2 + 4 if int.from_bytes(ak[:2], "big") == len(ak) - 2 else 4      # TPM2B size, type, nameAlg
    attrs = int.from_bytes(ak[at:at + 4], "big")
    assert attrs & 0x10000                                                   # the genuine AK is restricted
    ak[at:at + 4] = (attrs & ~0x10000).to_bytes(4, "big")
    _refused_evidence(_post(sim, maa, _with(info, AikPub=bytes(ak))), "tpm.ak_pub")


def test_tpm_evidence_of_another_vtpm_gets_no_token(guest_evidence):
    """A second, equally trusted vTPM's genuine TPM evidence with the first VM's HCL report: the report's HCLAkPub
    is not the AK that signed the quote (evidence of two machines spliced together)."""
    sim, maa, info, _agent = guest_evidence
    first_tcti = os.environ["TPM2TOOLS_TCTI"]
    other, other_info = _provisioned_evidence(sim, maa)
    try:
        assert _post(sim, maa, other_info)[0] == 200
        spliced = dict(other_info, IsolationInfo=info["IsolationInfo"])
        _refused_evidence(_post(sim, maa, spliced), "hcl.ak")
    finally:
        os.environ["TPM2TOOLS_TCTI"] = first_tcti
        other.close()


def test_pcr_set_that_is_not_the_quoted_selection_gets_no_token(guest_evidence):
    sim, maa, info, _agent = guest_evidence
    forged = json.loads(json.dumps(info))
    forged["TpmInfo"]["PcrSet"] = forged["TpmInfo"]["PcrSet"][:-1]
    _refused_evidence(_post(sim, maa, forged), "tpm.pcrs")


def test_short_ephemeral_key_gets_no_token(guest_evidence):
    sim, maa, info, agent = guest_evidence
    pub, att, sig = _certified_key(agent, "decrypt|fixedtpm|fixedparent|sensitivedataorigin|noda",
                                   tempfile.mkdtemp(prefix="gr-"), alg="rsa1024")
    forged = _with(info, EncKeyPub=pub, EncKeyCertifyInfo=att, EncKeyCertifyInfoSignature=sig)
    status, _h, doc = _post(sim, maa, forged)
    assert status == 400 and "2048" in doc["error"]["message"], doc
