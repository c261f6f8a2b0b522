# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm_info and sku_info: one read each, shaped by the pure summary / sku functions."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from . import api, sku, summary


def vm_info(m):
    p = m.params
    sub = m.subscription_id
    if p.get("name"):
        found = api.get_vm(m.sdk, sub, p["resource_group"], p["name"])
        resources = [found] if found else []
    else:
        resources = api.list_vms(m.sdk, sub, p.get("resource_group"))
    out = []
    for resource in resources:
        if not summary.matches_tags(resource, p.get("tags")):
            continue
        item = summary.vm_result(resource, p.get("resource_group"))
        if p.get("confidential_only") and item["confidential"]["security_type"] != "ConfidentialVM":
            continue
        out.append(item)
    return sorted(out, key=lambda v: ((v["resource_group"] or "").lower(), v["name"]))


def sku_info(m):
    p = m.params
    skus = api.list_skus(m.sdk, p["location"])
    items, notes = sku.confidential_sizes(skus, p["location"], p.get("tee"), p.get("sizes"))
    if p.get("available_only"):
        items = [i for i in items if i["available"]]
    return items, notes
