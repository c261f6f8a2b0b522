# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.confidential.azure.plugins.modules import sku_info
from ansible_collections.confidential.azure.tests.unit.plugins.modules.cvm_harness import run  # noqa: F401 pylint: disable=unused-import


def sku(name, caps, restrictions=None, zones=("1", "2", "3")):
    return {"resourceType": "virtualMachines", "name": name, "family": "f", "locations": ["eastus"],
            "locationInfo": [{"location": "eastus", "zones": list(zones)}],
            "capabilities": [{"name": k, "value": v} for k, v in caps.items()], "restrictions": restrictions or []}


SKUS = [
    sku("Standard_DC2as_v5", {"vCPUs": "2", "MemoryGB": "8", "MaxResourceVolumeMB": "0",
                              "ConfidentialComputingType": "SNP"}),
    sku("Standard_DC2eds_v5", {"vCPUs": "2", "MemoryGB": "8", "MaxResourceVolumeMB": "76800",
                               "ConfidentialComputingType": "TDX"},
        restrictions=[{"type": "Zone", "reasonCode": "NotAvailableForSubscription", "values": ["eastus"],
                       "restrictionInfo": {"locations": ["eastus"], "zones": ["3"]}}]),
    sku("Standard_EC4as_v5", {"vCPUs": "4", "MemoryGB": "32", "MaxResourceVolumeMB": "0"}),
    sku("Standard_D2s_v5", {"vCPUs": "2", "MemoryGB": "8"}),
    sku("Standard_DC8as_v5", {"vCPUs": "8", "MemoryGB": "32", "ConfidentialComputingType": "SNP"},
        restrictions=[{"type": "Location", "reasonCode": "NotAvailableForSubscription", "values": ["eastus"]}]),
]


def fake_list(store):
    def _list(path, api_version, params=None):
        store.append((path, params))
        return SKUS
    return _list


def test_lists_confidential_sizes_with_tee_and_fallback_note(run):
    calls = []
    run.arm.list = fake_list(calls)
    result = run(sku_info, {"location": "eastus"})
    names = [s["name"] for s in result["skus"]]
    assert names == ["Standard_DC2as_v5", "Standard_DC2eds_v5", "Standard_DC8as_v5", "Standard_EC4as_v5"]
    by = dict((s["name"], s) for s in result["skus"])
    assert by["Standard_DC2as_v5"]["tee"] == "SNP" and by["Standard_DC2as_v5"]["tee_source"] == "capability"
    assert by["Standard_EC4as_v5"]["tee_source"] == "family_table"
    assert by["Standard_DC2eds_v5"]["temp_disk"] and by["Standard_DC2eds_v5"]["temp_disk_mb"] == 76800
    assert by["Standard_DC2eds_v5"]["available_zones"] == ["1", "2"]
    assert by["Standard_DC8as_v5"]["available"] is False
    assert "Standard_EC4as_v5" in result["notes"][0]
    assert calls[0][1] == {"$filter": "location eq 'eastus'"}


def test_filters_by_tee_and_availability(run):
    run.arm.list = fake_list([])
    result = run(sku_info, {"location": "eastus", "tee": "SNP", "available_only": True})
    assert [s["name"] for s in result["skus"]] == ["Standard_DC2as_v5", "Standard_EC4as_v5"]
    result = run(sku_info, {"location": "eastus", "tee": "TDX"})
    assert [s["name"] for s in result["skus"]] == ["Standard_DC2eds_v5"]
