# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.sku_info against the simulator's resource SKU list."""
from __future__ import annotations

from cvm_common import arm_since
from helpers import run_module


def test_sku_info_lists_confidential_sizes_with_tee_and_restrictions(simulator):
    sim = simulator
    mark = sim.mark()
    out = run_module("sku_info", {"location": "eastus"}, sim.env)
    assert not out.get("failed"), out
    reqs = arm_since(sim, mark)
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in reqs] == [("GET", "skus")]
    assert reqs[0]["query"].get("$filter") == "location eq 'eastus'"
    by = dict((s["name"], s) for s in out["skus"])
    assert by["Standard_DC2as_v5"]["tee"] == "SNP" and by["Standard_DC2es_v5"]["tee"] == "TDX"
    assert not any(name.startswith("Standard_D2s") for name in by)
    assert by["Standard_DC2ads_v5"]["temp_disk"] and not by["Standard_DC2as_v5"]["temp_disk"]
    assert by["Standard_DC2as_v5"]["vcpus"] == 2 and by["Standard_DC2as_v5"]["memory_gb"] > 0
    assert by["Standard_EC128es_v5"]["available"] is False
    assert "3" not in by["Standard_DC64es_v5"]["available_zones"] and "3" in by["Standard_DC64es_v5"]["zones"]

    tdx = run_module("sku_info", {"location": "eastus", "tee": "TDX", "available_only": True}, sim.env)
    assert tdx["skus"] and all(s["tee"] == "TDX" and s["available"] for s in tdx["skus"])
    assert "Standard_EC128es_v5" not in [s["name"] for s in tdx["skus"]]
