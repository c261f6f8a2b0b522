# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data-disk release chain without a guest: the role's agent against a host swtpm and the simulator.

The swtpm is provisioned like an Azure SEV-SNP vTPM (AK at 0x81000003, HCL report, AK certificate from a TEST vTPM
CA, all TEST roots posted to the simulator explicitly). The agent's Releaser then does what the boot unit does:
ephemeral TPM key certified by the AK, AzureGuest attestation (token sealed to that key), managed identity token
from the simulator's IMDS stand-in, Key Vault release wrapped to the TPM key, unwrap inside the TPM.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "attestation"))
sys.path.insert(0, str(REPO / "plugins" / "module_utils" / "_guestdisk"))
sys.path.insert(0, str(REPO / "roles" / "data_disk_encryption" / "files"))

import agent  # noqa: E402  pylint: disable=import-error,wrong-import-position
import ak_testca  # noqa: E402  pylint: disable=wrong-import-position
import skr  # noqa: E402  pylint: disable=import-error,wrong-import-position
import skr_setup  # noqa: E402  pylint: disable=wrong-import-position
from ga_helpers import HostSwtpm, hcl_testchain  # noqa: E402  pylint: disable=wrong-import-position
from helpers import sent_attestation  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def swtpm_vm(simulator):
    """A provisioned host swtpm + the controller-side setup in the simulator (one per module)."""
    simulator.reset()
    tpm = HostSwtpm()
    ca = ak_testca.shared_ca()
    chain = hcl_testchain.make_test_chain()
    material = ak_testca.provision(tpm.tcti, ca, chain=chain, vm_unique_id=str(uuid.uuid4()).upper())
    for pem in (material["ark_pem"], ak_testca.pem(ca["root"]), ak_testca.pem(ca["intermediate"])):
        simulator.add_trust_root(pem.encode())
    env = skr_setup.setup(simulator, material["thim"])
    old = os.environ.get("TPM2TOOLS_TCTI")
    os.environ["TPM2TOOLS_TCTI"] = tpm.tcti
    try:
        yield simulator, env
    finally:
        if old is None:
            os.environ.pop("TPM2TOOLS_TCTI", None)
        else:
            os.environ["TPM2TOOLS_TCTI"] = old
        tpm.close()


def conf(sim, env):
    return {"key_id": env["key_id"], "imds_url": env["imds_url"], "maa_url": env["maa_url"],
            "vault_resource": env["vault_resource"], "ca_file": sim.ca_bundle, "disks": []}


def releaser(sim, env):
    work = tempfile.mkdtemp(prefix="ddr-")
    return agent.Releaser(conf(sim, env), work)


def test_released_key_unwraps_in_the_tpm_and_opens_the_token(swtpm_vm):
    sim, env = swtpm_vm
    rel = releaser(sim, env)
    kid, jwk = rel.current_key(env["key_id"])
    assert kid.startswith(env["key_id"] + "/") and jwk["kty"] == "RSA-HSM"
    passphrase = os.urandom(32)
    token = skr.parse_token(skr.make_token(kid, jwk, passphrase, 0))

    jwt = rel.token()
    claims = rel.maa_claims
    assert claims["x-ms-attestation-type"] == "azurevm"
    assert claims["x-ms-isolation-tee"]["x-ms-compliance-status"] == "azure-compliant-cvm"
    assert claims["x-ms-runtime"]["keys"][0]["kid"] == "TpmEphemeralEncryptionKey"
    released_kid, private, _public = rel.release(token["kid"], jwt)
    assert released_kid == kid
    assert private.n == int.from_bytes(skr.b64u_decode(jwk["n"]), "big")
    assert skr.unwrap_passphrase(private, token) == passphrase
    rel.tpm.forget()


def test_attestation_without_tpm_evidence_is_refused(swtpm_vm):
    sim, env = swtpm_vm
    status, _h, doc = sim.call("POST", env["maa_url"] + "/attest/AzureGuest?api-version=2020-10-01", auth=False,
                               body={"AttestationInfo": "e30"})
    assert status == 400 and "TpmInfo" in json.dumps(doc)


def test_policy_the_evidence_does_not_satisfy_refuses_release(swtpm_vm):
    sim, env = swtpm_vm
    skr_setup.set_key(sim, env["vault"], skr_setup.cvm_policy(env["maa_url"], tee_types=("tdxvm",)))
    try:
        rel = releaser(sim, env)
        jwt = rel.token()
        with pytest.raises(agent.Failure) as err:
            rel.release(env["key_id"], jwt)
        assert err.value.stage == "release" and "403" in str(err.value)
        rel.tpm.forget()
    finally:
        skr_setup.set_key(sim, env["vault"], skr_setup.cvm_policy(env["maa_url"]))


def test_vm_without_identity_gets_no_token(swtpm_vm):
    sim, env = swtpm_vm
    imds = sim.admin("POST", "/_sim/imds", {"vm": env["vm"]["id"] + "-gone", "thim": {}})
    rel = agent.Releaser(dict(conf(sim, env), imds_url=imds["endpoint"]), tempfile.mkdtemp(prefix="ddr-"))
    with pytest.raises(agent.Failure) as err:
        rel.vault_token()
    assert err.value.stage == "identity" and "Identity not found" in str(err.value)


def captured_attestation(sim, env):
    """The AzureGuest request the agent sends (captured on its way out)."""
    rel = releaser(sim, env)
    body = sent_attestation(agent, rel.token)
    rel.tpm.forget()
    return json.loads(skr.b64u_decode(body["AttestationInfo"]))


def post_info(sim, env, info):
    body = {"AttestationInfo": skr.b64u(json.dumps(info).encode())}
    return sim.call("POST", env["maa_url"] + "/attest/AzureGuest?api-version=2020-10-01", body, auth=False)


@pytest.mark.parametrize("field,check", [
    ("PcrSignature", "tpm.quote"), ("EncKeyCertifyInfoSignature", "tpm.enc_key_certify"),
    ("EncKeyPub", "tpm.enc_key_certify"), ("AikCert", "ak_cert")])
def test_forged_guest_evidence_gets_no_token(swtpm_vm, field, check):
    sim, env = swtpm_vm
    info = captured_attestation(sim, env)
    assert post_info(sim, env, info)[0] == 200
    forged = json.loads(json.dumps(info))
    if field == "EncKeyPub":     # a key the attacker holds, with the genuine certification of the TPM key
        other = captured_attestation(sim, env)
        forged["TpmInfo"]["EncKeyPub"] = other["TpmInfo"]["EncKeyPub"]
    elif field == "AikCert":     # an AK certificate from a CA the service does not trust
        forged["TpmInfo"]["AikCert"] = skr.b64(ak_testca.issue_ak_cert(ak_testca.make_ca(), rsa_public(info)))
    else:
        raw = bytearray(skr.b64u_decode(forged["TpmInfo"][field]))
        raw[10] ^= 1
        forged["TpmInfo"][field] = skr.b64(bytes(raw))
    status, _h, doc = post_info(sim, env, forged)
    assert status == 400 and check in doc["error"]["message"], doc


def rsa_public(info):
    from cryptography import x509
    return x509.load_der_x509_certificate(skr.b64u_decode(info["TpmInfo"]["AikCert"])).public_key()


def test_grant_covers_the_data_disk_key_only(swtpm_vm):
    """The identity's role is assigned at the key's scope: another key in the same vault is not released to it."""
    sim, env = swtpm_vm
    vault = env["vault"]
    other = skr_setup.ok(skr_setup.run_module("keyvault_key", {
        "vault_url": vault["vault_uri"], "vault_id": vault["id"], "name": "otherkey", "key_type": "RSA-HSM",
        "key_size": 3072, "exportable": True, "release_policy": skr_setup.cvm_policy(env["maa_url"]),
        "grant_confidential_vm_orchestrator": False}, sim.env))["key"]
    rel = releaser(sim, env)
    with pytest.raises(agent.Failure) as err:
        rel.release(other["kid"], rel.token())
    rel.tpm.forget()
    assert err.value.stage == "release" and "403" in str(err.value)


def test_disabled_key_version_is_not_released(swtpm_vm):
    """Disabling the version a disk's token names closes the disk (rotate and re-wrap BEFORE disabling old versions)."""
    sim, env = swtpm_vm
    rel = releaser(sim, env)
    kid, _jwk = rel.current_key(env["key_id"])

    def enable(on):
        status, _h, doc = sim.call("PATCH", kid, {"attributes": {"enabled": on}}, api_version="7.4",
                                   resource=env["vault_resource"])
        assert status == 200, doc
    enable(False)
    try:
        with pytest.raises(agent.Failure) as err:
            rel.release(kid, rel.token())
        assert err.value.stage == "release" and "403" in str(err.value) and "disabled key" in str(err.value)
    finally:
        enable(True)
        rel.tpm.forget()
