"""The Azure CLI (from PyPI, in its own cached venv) registered against the simulator as a custom cloud.

The venv lives in ~/.cache/azsim/azure-cli-<version> (override with AZSIM_AZURE_CLI_VENV); building it takes
about 5 minutes and 730 MB the first time, then it is reused. Set AZSIM_AZURE_CLI_VERSION to test another CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import azsim_testlib as T

pytestmark = pytest.mark.azure_cli

CLI_VERSION = os.environ.get("AZSIM_AZURE_CLI_VERSION", "2.91.0")


@pytest.fixture(scope="session")
def az_venv():
    venv = os.environ.get("AZSIM_AZURE_CLI_VENV") or os.path.join(
        os.path.expanduser("~"), ".cache", "azsim", "azure-cli-" + CLI_VERSION)
    marker = os.path.join(venv, ".azsim-complete")
    if not os.path.exists(marker):
        subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q",
                        "azure-cli==" + CLI_VERSION], check=True)
        open(marker, "w").close()
    return os.path.join(venv, "bin", "az")


@pytest.fixture
def az(az_venv, simulator, tmp_path):
    env = dict(os.environ, AZURE_CONFIG_DIR=str(tmp_path / "azcfg"), REQUESTS_CA_BUNDLE=simulator.ca_bundle,
               AZURE_CORE_COLLECT_TELEMETRY="false", AZURE_CORE_ONLY_SHOW_ERRORS="true", AZURE_CORE_NO_COLOR="true")

    def run(*args, check=True):
        proc = subprocess.run([az_venv] + list(args), env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        if check:
            assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
        return proc

    i = simulator.info
    # MSAL instance discovery would ask the public cloud about a custom authority: turn it off (Azure Stack style)
    run("config", "set", "core.instance_discovery=false", "core.collect_telemetry=false")
    run("cloud", "register", "-n", "AzSim", "--endpoint-resource-manager", i["cloud_environment"]["arm_endpoint"])
    run("cloud", "set", "-n", "AzSim")
    run("login", "--service-principal", "-u", i["client_id"], "-p", i["client_secret"], "--tenant", i["tenant_id"])
    return run


def test_cli_lists_groups_and_shows_vm_des_and_key(simulator, az):
    sim = simulator
    T.group(sim, "rg-cli")
    nic = T.network(sim, "rg-cli", "cli")
    chain = T.cmk_chain(sim, "rg-cli", "kvcli1")
    T.compute(sim).virtual_machines.begin_create_or_update(
        "rg-cli", "cvm-cli", T.cvm_body(nic, des_id=chain["des"]["id"])).result()

    account = json.loads(az("account", "show", "-o", "json").stdout)
    assert account["id"] == sim.subscription_id and account["environmentName"] == "AzSim"
    groups = json.loads(az("group", "list", "-o", "json").stdout)
    assert "rg-cli" in [g["name"] for g in groups]
    vm = json.loads(az("vm", "show", "-g", "rg-cli", "-n", "cvm-cli", "-o", "json").stdout)
    assert vm["securityProfile"]["securityType"] == "ConfidentialVM"
    assert vm["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"]["diskEncryptionSet"]["id"].lower() == \
        chain["des"]["id"].lower()
    des = json.loads(az("disk-encryption-set", "show", "-g", "rg-cli", "-n", "kvcli1-des", "-o", "json").stdout)
    assert des["encryptionType"] == "ConfidentialVmEncryptedWithCustomerKey"
    assert des["activeKey"]["keyUrl"] == chain["key"].id
    key = json.loads(az("keyvault", "key", "show", "--id", chain["key"].id, "-o", "json").stdout)
    assert key["key"]["kid"] == chain["key"].id
    assert key["attributes"]["exportable"] is True
    assert key["releasePolicy"]["contentType"].startswith("application/json")


def test_cli_sees_simulator_errors(simulator, az):
    proc = az("vm", "show", "-g", "no-such-rg", "-n", "x", check=False)
    assert proc.returncode != 0 and "ResourceGroupNotFound" in proc.stderr


def test_cli_lists_skus_and_shows_a_vault(simulator, az):
    """`az vm list-skus` (resourceSkus api-version 2019-04-01, Skus/stable/2019-04-01/skus.json) and
    `az keyvault show` (the CLI's vault api-version, KeyVault readme's newest stable tag) pass the simulator's
    spec-derived api-version check."""
    sim = simulator
    T.group(sim, "rg-cli2")
    T.vault(sim, "rg-cli2", "kvcli2")
    skus = json.loads(az("vm", "list-skus", "-l", "eastus", "--size", "Standard_DC2as_v5", "-o", "json").stdout)
    assert [s["name"] for s in skus] == ["Standard_DC2as_v5"]
    assert skus[0]["locations"] == ["eastus"] and skus[0]["resourceType"] == "virtualMachines"
    vault = json.loads(az("keyvault", "show", "-g", "rg-cli2", "-n", "kvcli2", "-o", "json").stdout)
    assert vault["name"] == "kvcli2" and vault["properties"]["enablePurgeProtection"] is True
