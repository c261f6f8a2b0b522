# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired bodies for the network pieces a confidential VM needs: virtual network + subnets, NIC, public IP.

Pure: no Ansible, no Azure SDK.  Accelerated networking is always off (not supported with confidential VMs).
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type


def vnet_body(params, location, tags):
    return {
        "location": location,
        "tags": dict(tags or {}),
        "properties": {
            "addressSpace": {"addressPrefixes": list(params["address_prefixes"])},
            "subnets": [{"name": s["name"], "properties": {"addressPrefix": s["address_prefix"]}}
                        for s in (params.get("subnets") or [])],
        },
    }


def vnet_view(resource):
    """The comparable view of a VNet: address prefixes and {subnet name: prefix}."""
    if not resource:
        return None
    props = resource.get("properties") or {}
    subnets = {}
    for subnet in props.get("subnets") or []:
        sprops = subnet.get("properties") or {}
        prefix = sprops.get("addressPrefix") or (sprops.get("addressPrefixes") or [None])[0]
        subnets[subnet.get("name")] = prefix
    return {"address_prefixes": list((props.get("addressSpace") or {}).get("addressPrefixes") or []),
            "subnets": subnets, "tags": dict(resource.get("tags") or {})}


def vnet_desired_view(params, tags):
    return {"address_prefixes": list(params["address_prefixes"]),
            "subnets": dict((s["name"], s["address_prefix"]) for s in (params.get("subnets") or [])),
            "tags": dict(tags or {})}


def vnet_result(resource):
    if not resource:
        return {}
    view = vnet_view(resource)
    props = resource.get("properties") or {}
    return {
        "id": resource.get("id"),
        "name": resource.get("name"),
        "location": resource.get("location"),
        "tags": view["tags"],
        "address_prefixes": view["address_prefixes"],
        "provisioning_state": props.get("provisioningState"),
        "subnets": [{"name": s.get("name"), "id": s.get("id"),
                     "address_prefix": (s.get("properties") or {}).get("addressPrefix")}
                    for s in props.get("subnets") or []],
    }


def nic_body(location, subnet_id, public_ip_id=None, tags=None):
    ip_config = {"subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Dynamic", "primary": True}
    if public_ip_id:
        ip_config["publicIPAddress"] = {"id": public_ip_id, "properties": {"deleteOption": "Delete"}}
    return {
        "location": location,
        "tags": dict(tags or {}),
        "properties": {
            "enableAcceleratedNetworking": False,
            "ipConfigurations": [{"name": "ipconfig1", "properties": ip_config}],
        },
    }


def nic_view(resource):
    if not resource:
        return None
    props = resource.get("properties") or {}
    configs = props.get("ipConfigurations") or [{}]
    cprops = configs[0].get("properties") or {}
    return {
        "subnet_id": ((cprops.get("subnet") or {}).get("id") or "").lower() or None,
        "public_ip_id": ((cprops.get("publicIPAddress") or {}).get("id") or "").lower() or None,
        "accelerated_networking": bool(props.get("enableAcceleratedNetworking")),
        "private_ip": cprops.get("privateIPAddress"),
    }


def public_ip_body(location, zone=None, tags=None):
    body = {
        "location": location,
        "tags": dict(tags or {}),
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4"},
    }
    if zone:
        body["zones"] = [str(zone)]
    return body
