# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets never leak: ONE playbook at -vvv with a known client secret (passed as the module option `secret`),
a VM admin password and custom_data, a CMK key (key material must never appear: no private JWK members), and an
attestation that obtains an MAA token from the simulator (synthetic SEV-SNP evidence whose test ARK the simulator
trusts). Neither the captured stdout/stderr nor the registered results (written to a file by the play) contain any
of the secrets, their base64 forms, or any JWT (access tokens and MAA tokens are JWTs)."""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from helpers import REPO, _bin, ansible_env, collections_path

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 robust@test"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
RG = "rg-secrets"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
PRIVATE_JWK = ("d", "p", "q", "dp", "dq", "qi", "k")


def _synth():
    sys.path.insert(0, collections_path())
    from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
    return synth


@pytest.fixture(scope="module")
def secret_run(simulator):
    sim = simulator
    sim.reset()
    sim.admin("POST", "/_sim/graph/servicePrincipals/%s" % ORCHESTRATOR_APP_ID,
              {"displayName": "Confidential VM Orchestrator"})
    synth = _synth()
    evidence, nonce, chain = synth.snp_evidence()
    sim.add_trust_root(chain.roots[0].encode() if isinstance(chain.roots[0], str) else chain.roots[0])
    secrets = {
        "client_secret": sim.info["client_secret"],
        "admin_password": "Rb-%s-Pw9!" % uuid.uuid4().hex[:12],
        "custom_data": "#cloud-config\n# robustness-custom-data-%s\n" % uuid.uuid4().hex,
    }
    auth = {"secret": "{{ client_secret }}", "client_id": sim.info["client_id"], "tenant": sim.info["tenant_id"],
            "subscription_id": sim.subscription_id}
    subnet = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default" \
        % (sim.subscription_id, RG)
    work = Path(tempfile.mkdtemp(prefix="cazure-secrets-"))
    results = work / "results.json"
    tasks = [
        {"name": "rg", "confidential.azure.resource_group": dict(auth, name=RG, location="eastus"), "register": "rg"},
        {"name": "vnet", "confidential.azure.virtual_network": dict(
            auth, resource_group=RG, name="vnet1", address_prefixes=["10.0.0.0/16"],
            subnets=[{"name": "default", "address_prefix": "10.0.1.0/24"}]), "register": "vnet"},
        {"name": "vault", "confidential.azure.keyvault": dict(auth, resource_group=RG, name="kvsecrets01",
                                                              location="eastus"), "register": "vault"},
        {"name": "key", "confidential.azure.keyvault_key": dict(
            auth, vault_url="{{ vault.vault.vault_uri }}", vault_id="{{ vault.vault.id }}", name="cmk",
            release_policy="default_cvm", location="eastus"), "register": "key"},
        {"name": "key info", "confidential.azure.keyvault_key_info": dict(
            auth, vault_url="{{ vault.vault.vault_uri }}", name="cmk", include_versions=True), "register": "keyinfo"},
        {"name": "vm", "confidential.azure.vm": dict(
            auth, resource_group=RG, name="cvm1", size="Standard_DC2as_v5", image=JAMMY, admin_username="azureuser",
            admin_password="{{ admin_password }}", ssh_public_keys=[KEY], custom_data="{{ custom_data }}",
            subnet_id=subnet), "register": "vm"},
        {"name": "vm again", "confidential.azure.vm": dict(
            auth, resource_group=RG, name="cvm1", size="Standard_DC2as_v5", image=JAMMY, admin_username="azureuser",
            admin_password="{{ admin_password }}", ssh_public_keys=[KEY], custom_data="{{ custom_data }}",
            subnet_id=subnet), "register": "vm2", "diff": True},
        {"name": "vm info", "confidential.azure.vm_info": dict(auth, resource_group=RG), "register": "vminfo"},
        {"name": "attest", "confidential.azure.attestation_verify": {
            "evidence": evidence, "nonce": nonce, "require_nonce_binding": True, "expected_tee": "snp",
            "trust": {"extra_amd_roots": chain.roots},
            "maa": {"use": True, "endpoint": sim.info["cloud_environment"]["attestation_endpoint"],
                    "ca_bundle": sim.ca_bundle}}, "register": "attest"},
        {"name": "write results", "ansible.builtin.copy": {
            "content": "{{ {'rg': rg, 'vnet': vnet, 'vault': vault, 'key': key, 'keyinfo': keyinfo, 'vm': vm, "
                       "'vm2': vm2, 'vminfo': vminfo, 'attest': attest} | to_json }}",
            "dest": str(results)}},
    ]
    play = work / "secrets.json"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    env = ansible_env(dict(sim.env))
    env.pop("ANSIBLE_STDOUT_CALLBACK")  # the default callback, as a user sees it
    env.pop("AZURE_SECRET")  # the secret reaches the modules only through the `secret` option
    varsfile = work / "secret-vars.json"
    varsfile.write_text(json.dumps(secrets))
    proc = subprocess.run([_bin("ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local", str(play),
                           "-e", "@%s" % varsfile], env=env, capture_output=True, text=True, timeout=900,
                          cwd=str(REPO), check=False)
    registered = json.loads(results.read_text()) if results.exists() else None
    return proc, registered, secrets


def _forms(value):
    raw = value.encode()
    return [value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def test_the_playbook_ran_every_task(secret_run):
    proc, registered, _secrets = secret_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert registered is not None
    assert registered["attest"]["verdict"] == "pass", registered["attest"].get("checks")
    checks = dict((c["name"], c["result"]) for c in registered["attest"]["checks"])
    assert checks.get("maa.token") == "pass", checks  # an MAA token really was obtained and verified
    assert registered["key"]["key"]["kid"] and registered["vm"]["changed"]


@pytest.mark.parametrize("name", ["client_secret", "admin_password", "custom_data"])
def test_secret_is_in_no_output(secret_run, name):
    proc, registered, secrets = secret_run
    dumped = json.dumps(registered)
    for form in _forms(secrets[name]) + _forms(secrets[name].strip().splitlines()[-1]):
        assert form not in proc.stdout, name
        assert form not in proc.stderr, name
        assert form not in dumped, name


def test_no_token_in_output(secret_run):
    proc, registered, _secrets = secret_run
    for where, text in (("stdout", proc.stdout), ("stderr", proc.stderr), ("results", json.dumps(registered))):
        found = JWT.findall(text)
        assert not found, "%s carries a JWT (access or MAA token): %s..." % (where, found[0][:40])


def _walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path + "/" + k, k, v
            yield from _walk(v, path + "/" + k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, "%s[%d]" % (path, i))


def test_key_results_carry_no_private_key_material(secret_run):
    _proc, registered, _secrets = secret_run
    for name in ("key", "keyinfo"):
        for path, k, _v in _walk(registered[name]):
            assert k not in PRIVATE_JWK, "%s: private JWK member at %s" % (name, path)
