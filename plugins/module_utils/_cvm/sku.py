# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource SKUs (Microsoft.Compute/skus) -> confidential-capable VM sizes with their TEE.

Pure: no Ansible, no Azure SDK.  The TEE comes from the ``ConfidentialComputingType`` capability; only when that
capability is missing does it fall back to the size-family table (and says so in ``tee_source``).
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from . import sizes

_CAPABILITY_TEE = {"snp": sizes.SNP, "sevsnp": sizes.SNP, "amdsevsnp": sizes.SNP, "tdx": sizes.TDX,
                   "inteltdx": sizes.TDX}


def _caps(sku):
    return dict((c.get("name"), c.get("value")) for c in sku.get("capabilities") or [])


def _number(text, kind=float):
    try:
        return kind(text)
    except (TypeError, ValueError):
        return None


def tee_from_capability(value):
    if not value:
        return None
    return _CAPABILITY_TEE.get(value.replace("-", "").replace("_", "").replace(" ", "").lower())


def transform(sku, location=None):
    """One resource SKU -> the sku_info item, or None when it is not a confidential-capable VM size."""
    if (sku.get("resourceType") or "").lower() != "virtualmachines":
        return None
    name = sku.get("name")
    caps = _caps(sku)
    cap_value = caps.get("ConfidentialComputingType")
    info = sizes.parse_size(name)
    tee = tee_from_capability(cap_value)
    if tee:
        source = "capability"
    elif cap_value:
        tee, source = None, "capability"
    elif info is not None and info.known:
        tee, source = info.tee, "family_table"
    else:
        return None
    temp_mb = _number(caps.get("MaxResourceVolumeMB"), int)
    loc_infos = sku.get("locationInfo") or []
    zones = []
    for loc in loc_infos:
        if location is None or (loc.get("location") or "").lower() == location.lower():
            zones.extend(loc.get("zones") or [])
    restrictions = []
    for restriction in sku.get("restrictions") or []:
        rinfo = restriction.get("restrictionInfo") or {}
        restrictions.append({
            "type": restriction.get("type"),
            "reason_code": restriction.get("reasonCode"),
            "values": list(restriction.get("values") or []),
            "locations": list(rinfo.get("locations") or []),
            "zones": list(rinfo.get("zones") or []),
        })
    restricted_zones = set()
    location_restricted = False
    for restriction in restrictions:
        if restriction["type"] == "Location":
            location_restricted = True
        elif restriction["type"] == "Zone":
            restricted_zones.update(restriction["zones"])
    return {
        "name": name,
        "family": sku.get("family"),
        "size_family": info.family if info else None,
        "tee": tee,
        "tee_source": source,
        "confidential_computing_type": cap_value,
        "vcpus": _number(caps.get("vCPUs"), int),
        "memory_gb": _number(caps.get("MemoryGB")),
        "temp_disk": bool(temp_mb),
        "temp_disk_mb": temp_mb,
        "max_data_disks": _number(caps.get("MaxDataDiskCount"), int),
        "zones": sorted(set(zones)),
        "available_zones": sorted(set(zones) - restricted_zones),
        "restrictions": restrictions,
        "available": not location_restricted,
    }


def confidential_sizes(skus, location=None, tee=None, names=None):
    """Filter and transform a SKU list; returns (items sorted by name, notes)."""
    items = []
    wanted = set(n.lower() for n in names or [])
    for sku in skus:
        item = transform(sku, location)
        if item is None:
            continue
        if tee and item["tee"] != tee:
            continue
        if wanted and item["name"].lower() not in wanted:
            continue
        items.append(item)
    items.sort(key=lambda i: (i["name"]))
    notes = []
    fallback = [i["name"] for i in items if i["tee_source"] == "family_table"]
    if fallback:
        notes.append("ConfidentialComputingType capability missing for %d size(s) (e.g. %s); TEE taken from the "
                     "size-family table" % (len(fallback), fallback[0]))
    return items, notes
