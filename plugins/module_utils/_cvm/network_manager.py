# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The virtual_network module's behaviour: one GET, compare, PUT when needed."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureError
from ansible_collections.confidential.azure.plugins.module_utils._azure.result import invalid_parameters, merge_tags

from . import api, diff, limits, network_body


def run_vnet(m):
    p = m.params
    errors = limits.validate_vnet(p)
    if errors:
        m.fail_json(msg=invalid_parameters(errors), errors=errors, changed=False)
    state = {"changed": False, "actions": []}
    try:
        result = _absent(m, state) if p["state"] == "absent" else _present(m, state)
    except AzureError as exc:
        m.fail_azure(exc, changed=state["changed"], actions=state["actions"])
    result.update(state)
    m.exit_json(**result)


def _present(m, state):
    p = m.params
    sub, rg, name = m.subscription_id, p["resource_group"], p["name"]
    current = api.get_vnet(m.arm, sub, rg, name)
    location = p.get("location") or (current or {}).get("location")
    if not location:
        group = api.get_resource_group(m.arm, sub, rg)
        if group is None:
            m.fail_json(msg="resource_group: %s does not exist; create it first" % rg, changed=False)
        location = group["location"]
    tags = merge_tags(p.get("tags"), (current or {}).get("tags"), p["append_tags"])
    want = network_body.vnet_desired_view(p, tags)
    have = network_body.vnet_view(current) or {}
    if current is not None and not p["purge_subnets"]:
        # keep subnets this task does not list
        merged = dict(have.get("subnets") or {})
        merged.update(want["subnets"])
        want["subnets"] = merged
    changes = diff.diff_dicts(want, have) if current is not None else {}
    if m.diff_mode:
        state["diff"] = {"before": dict((k, v["before"]) for k, v in changes.items()) if current else {},
                         "after": dict((k, v["after"]) for k, v in changes.items()) if current else want}
    failed = ((current or {}).get("properties") or {}).get("provisioningState", "").lower() == "failed"
    if current is not None and not changes and not failed:
        return {"virtual_network": network_body.vnet_result(current)}
    state["changed"] = True
    state["actions"].append("%s virtual network %s" % ("create" if current is None else "update", name))
    body = network_body.vnet_body(dict(p, subnets=[{"name": k, "address_prefix": v}
                                                   for k, v in sorted(want["subnets"].items())]), location, tags)
    if current is not None:
        # keep properties of existing subnets (NSG, route table, delegations) that this module does not manage
        by_name = dict((s.get("name"), s) for s in (current.get("properties") or {}).get("subnets") or [])
        for subnet in body["properties"]["subnets"]:
            old = by_name.get(subnet["name"])
            if old:
                props = dict((k, v) for k, v in (old.get("properties") or {}).items()
                             if k not in ("provisioningState", "ipConfigurations", "addressPrefixes"))
                props["addressPrefix"] = subnet["properties"]["addressPrefix"]
                subnet["properties"] = props
    if m.check_mode:
        predicted = dict(body, name=name, id=api.vnet_id(sub, rg, name))
        for subnet in predicted["properties"]["subnets"]:
            subnet["id"] = predicted["id"] + "/subnets/" + subnet["name"]
        return {"virtual_network": network_body.vnet_result(predicted)}
    result = api.put_vnet(m.arm, sub, rg, name, body, p["wait"], p["wait_timeout"])
    if not result.done:
        state["operation"] = result.to_dict()
        return {"virtual_network": network_body.vnet_result(result.resource)}
    return {"virtual_network": network_body.vnet_result(result.resource or api.get_vnet(m.arm, sub, rg, name))}


def _absent(m, state):
    p = m.params
    sub, rg, name = m.subscription_id, p["resource_group"], p["name"]
    current = api.get_vnet(m.arm, sub, rg, name)
    if current is None:
        return {"virtual_network": {}}
    state["changed"] = True
    state["actions"].append("delete virtual network %s" % name)
    if m.diff_mode:
        state["diff"] = {"before": {"state": "present"}, "after": {"state": "absent"}}
    if not m.check_mode:
        result = api.delete_vnet(m.arm, sub, rg, name, p["wait"], p["wait_timeout"])
        if not result.done:
            state["operation"] = result.to_dict()
    return {"virtual_network": {}}
