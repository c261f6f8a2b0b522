# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input, aggregated: the union of the modules' bad-input tables (tests/functional/modules/test_bad_input_*.py,
not duplicated here) must cover every confidential-VM limitation documented in
../shared/reference/control-plane.md, and each such case must fail before any request (empty simulator request
log, tokens included) with a message naming the parameter. Cases the tables lack are added here (EXTRA)."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import REPO, run_playbook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "modules"))

import test_bad_input_compute as compute_table  # noqa: E402
import test_bad_input_keyvault as keyvault_table  # noqa: E402

REFERENCE = REPO.parent / "shared" / "reference" / "control-plane.md"
vm = compute_table.vm

# cases the existing tables do not have: (id, (module, args), text the message must contain)
EXTRA = [
    ("non_persisted_tpm_without_vtpm", vm(security_encryption_type="NonPersistedTPM", vtpm=False), "vtpm:"),
    ("guest_state_only_without_vtpm", vm(security_encryption_type="VMGuestStateOnly", vtpm=False), "vtpm:"),
    ("tdx_size_asserted_snp", vm(size="Standard_DC2es_v5", tee="SNP"), "tee: SNP"),
    ("non_persisted_tpm_with_secure_boot_off_and_des",
     vm(security_encryption_type="NonPersistedTPM", secure_boot=False, disk_encryption_set="des1"),
     "disk_encryption_set:"),
]

# documented limitation -> [(case id that must be in the union, parameter its message must name)]
LIMITATIONS = {
    "spot / low priority": [("spot", "priority"), ("low_priority", "priority")],
    "accelerated networking": [("accelerated_networking", "accelerated_networking")],
    "ultra disks": [("ultra_os_disk", "os_disk_type"), ("ultra_data_disk", "data_disks[0].storage_account_type")],
    "shared disks": [("shared_data_disk", "data_disks[0].max_shares")],
    "vTPM required": [("vtpm_off", "vtpm"), ("guest_state_only_without_vtpm", "vtpm")],
    "secure boot with DiskWithVMGuestState": [("secure_boot_off_with_disk_encryption", "secure_boot")],
    "DES only with DiskWithVMGuestState": [("des_with_guest_state_only", "disk_encryption_set"),
                                           ("des_with_non_persisted_tpm", "disk_encryption_set")],
    "NonPersistedTPM needs ConfidentialVM + vTPM": [("non_persisted_tpm_without_vtpm", "vtpm")],
    "CVM image": [("non_cvm_image", "image")],
    "size family <-> TEE": [("non_confidential_size", "size"), ("tee_assertion_mismatch", "tee"),
                            ("tdx_size_asserted_snp", "tee")],
    "TEE <-> OS": [("ubuntu_2004_on_tdx", "image"), ("rhel_on_tdx", "image")],
    "SSH keys RSA >= 2048 or Ed25519": [("ecdsa_ssh_key", "ssh_public_keys[0]"),
                                        ("rsa_1024_ssh_key", "ssh_public_keys[0]")],
    "Windows CVM images": [("windows_cvm_offer_sku_swapped", "image")],
}


def union():
    cases = {}
    for cid, call, text in compute_table.CASES + EXTRA:
        cases[cid] = (call, [text])
    for cid, module, args, texts in keyvault_table.CASES:
        cases["keyvault:" + cid] = ((module, args), list(texts))
    return cases


def test_union_of_tables_has_at_least_forty_cases():
    assert len(union()) >= 40
    compute_ids = [c[0] for c in compute_table.CASES] + [c[0] for c in EXTRA]
    assert len(set(compute_ids)) == len(compute_ids), "EXTRA repeats a case of test_bad_input_compute.py"


def test_reference_lists_the_limitations_checked_here():
    """Guards the mapping against the reference: the limitation names below are the ones it documents."""
    text = REFERENCE.read_text(encoding="utf-8")
    for phrase in ("shared disks", "ultra disks", "accelerated networking", "vTPM is required",
                   "Secure boot is the default and is required", "NonPersistedTPM requires", "CVM image SKUs",
                   "DiskWithVMGuestState", "ECDSA is not supported", "offer `windows-cvm`"):
        assert phrase in text, phrase


@pytest.mark.parametrize("limitation", sorted(LIMITATIONS))
def test_every_documented_limitation_is_a_case(limitation):
    missing = [i for i, _param in LIMITATIONS[limitation] if i not in union()]
    assert not missing, "%s: no bad-input case %s" % (limitation, missing)


def _clean(args):
    return dict((k, v) for k, v in args.items() if v is not None)


@pytest.fixture(scope="module")
def limitation_run(simulator):
    """Every limitation case (from the tables and EXTRA) as tasks of ONE playbook."""
    simulator.reset()
    cases = union()
    wanted = sorted(set(i for pairs in LIMITATIONS.values() for i, _p in pairs) | set(c[0] for c in EXTRA))
    tasks = [{"name": cid, "confidential.azure.%s" % cases[cid][0][0]: _clean(cases[cid][0][1]),
              "ignore_errors": True} for cid in wanted]
    path = Path(tempfile.mkdtemp()) / "limitations.json"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    mark = simulator.mark()
    result = run_playbook(path, simulator.env)
    return result, simulator.requests(since=mark)


def test_no_limitation_case_sent_any_request(limitation_run):
    _result, requests = limitation_run
    assert [(r["service"], r["method"], r["path"]) for r in requests] == []


@pytest.mark.parametrize("limitation", sorted(LIMITATIONS))
def test_limitation_fails_naming_the_parameter(limitation_run, limitation):
    result, _requests = limitation_run
    cases = union()
    for cid, param in LIMITATIONS[limitation]:
        out = result.result(cid)
        assert out.get("failed") and out.get("changed") is False, (cid, out)
        for text in cases[cid][1]:
            assert text in out["msg"], (cid, out["msg"])
        assert (param + ":") in out["msg"] or (param + " ") in out["msg"], (cid, param, out["msg"])


@pytest.mark.parametrize("case_id, call, text", EXTRA, ids=[c[0] for c in EXTRA])
def test_extra_case_fails_naming_the_parameter(limitation_run, case_id, call, text):
    result, _requests = limitation_run
    out = result.result(case_id)
    assert out.get("failed"), out
    assert text in out["msg"], out["msg"]


# -- pre-flight: what only a read can tell, refused after reads and before any write --------------------------------
PRE_RG = "rg-preflight"


def _subnet(sim, vnet):
    return "%s/providers/Microsoft.Network/virtualNetworks/%s/subnets/default" % (sim.rg_path(PRE_RG), vnet)


def _preflight_cases(sim):
    def pre_vm(**over):
        args = dict(compute_table.vm(resource_group=PRE_RG, subnet_id=_subnet(sim, "vnet-east"))[1])
        args.update(over)
        return ("vm", args)
    des_rid = sim.rg_path(PRE_RG) + "/providers/Microsoft.Compute/diskEncryptionSets/missing-des"
    return [
        ("size_not_offered_in_location", pre_vm(size="Standard_DC2as_v6", location="westus",
                                                subnet_id=_subnet(sim, "vnet-west")),
         "size: Standard_DC2as_v6 is not offered in westus"),
        ("size_restricted_for_subscription", pre_vm(size="Standard_DC96as_v5", location="westeurope"),
         "size: Standard_DC96as_v5 is restricted in westeurope"),
        ("size_not_in_zone", pre_vm(size="Standard_DC64es_v5", image=dict(compute_table.JAMMY), zone="3"),
         "zone: Standard_DC64es_v5 is not available in zone 3"),
        ("region_without_zones", pre_vm(location="westus", subnet_id=_subnet(sim, "vnet-west"), zone="1"),
         "zone: westus offers no availability zones"),
        ("des_missing", pre_vm(disk_encryption_set=des_rid), "disk_encryption_set: %s does not exist" % des_rid),
        ("subnet_in_other_region", pre_vm(subnet_id=_subnet(sim, "vnet-west")),
         "subnet_id: virtual network vnet-west is in westus but the VM goes to eastus"),
        ("nic_in_other_region", pre_vm(nic_name="nic-west"), "nic_name: NIC nic-west exists in westus"),
        ("des_vault_without_purge_protection",
         ("disk_encryption_set", {"resource_group": PRE_RG, "name": "des-nopurge", "location": "eastus",
                                  "source_vault": "kv-nopurge",
                                  "key_url": "https://kv-nopurge.vault.azure.net/keys/k/" + "0" * 32}),
         "source_vault: key vault kv-nopurge has no purge protection"),
    ]


@pytest.fixture(scope="module")
def preflight_run(simulator):
    """Resource group, VNets in two regions, a NIC in the other region and a vault without purge protection, then
    every pre-flight case as a task of ONE playbook."""
    sim = simulator
    sim.reset()
    setup = [{"confidential.azure.resource_group": {"name": PRE_RG, "location": "eastus"}}]
    for name, loc, prefix in (("vnet-east", "eastus", "10.1"), ("vnet-west", "westus", "10.2")):
        setup.append({"confidential.azure.virtual_network": {
            "resource_group": PRE_RG, "name": name, "location": loc, "address_prefixes": [prefix + ".0.0/16"],
            "subnets": [{"name": "default", "address_prefix": prefix + ".1.0/24"}]}})
    path = Path(tempfile.mkdtemp()) / "preflight_setup.json"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": setup}]))
    assert run_playbook(path, sim.env).rc == 0
    status, _h, body = sim.call("PUT", sim.rg_path(PRE_RG) + "/providers/Microsoft.Network/networkInterfaces/nic-west",
                                {"location": "westus", "properties": {"ipConfigurations": [{"name": "ipconfig1",
                                 "properties": {"subnet": {"id": _subnet(sim, "vnet-west")}}}]}},
                                api_version="2024-05-01")
    assert status in (200, 201), body
    status, _h, body = sim.call("PUT", sim.rg_path(PRE_RG) + "/providers/Microsoft.KeyVault/vaults/kv-nopurge",
                                {"location": "eastus", "properties": {
                                    "tenantId": sim.info["tenant_id"], "sku": {"family": "A", "name": "premium"},
                                    "accessPolicies": [], "enableSoftDelete": True}}, api_version="2024-11-01")
    assert status in (200, 201), body
    cases = _preflight_cases(sim)
    tasks = [{"name": cid, "confidential.azure.%s" % module: _clean(args), "ignore_errors": True}
             for cid, (module, args), _text in cases]
    path = Path(tempfile.mkdtemp()) / "preflight.json"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    mark = sim.mark()
    result = run_playbook(path, sim.env)
    return result, sim.requests(since=mark), cases


def test_preflight_cases_write_nothing(preflight_run):
    """The pre-flight reads (resource SKUs, DES, vault, VNet, NIC) happen; no PUT, PATCH, POST or DELETE does."""
    _result, requests, _cases = preflight_run
    writes = [(r["method"], r["path"]) for r in requests
              if r.get("service") != "token" and r["method"] != "GET" and "/oauth2/" not in r["path"]]
    assert writes == []


@pytest.mark.parametrize("case_id", ["size_not_offered_in_location", "size_restricted_for_subscription",
                                     "size_not_in_zone", "region_without_zones", "des_missing",
                                     "subnet_in_other_region", "nic_in_other_region",
                                     "des_vault_without_purge_protection"])
def test_preflight_case_fails_naming_the_parameter_and_the_fix(preflight_run, case_id):
    result, _requests, cases = preflight_run
    text = dict((c[0], c[2]) for c in cases)[case_id]
    out = result.result(case_id)
    assert out.get("failed") and out.get("changed") is False, out
    assert text in out["msg"], out["msg"]
    if case_id.startswith(("size", "region")):
        assert "confidential.azure.sku_info" in out["msg"]
