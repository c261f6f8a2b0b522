# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared arguments and request-log helpers for the compute functional tests."""
from __future__ import annotations

from helpers import arm_requests, run_module

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 me@host"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
FOCAL = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-focal", "sku": "20_04-lts-cvm"}


def subnet_id(sim, rg="rg-cvm", vnet="vnet1", subnet="default"):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s/subnets/%s" % (
        sim.subscription_id, rg, vnet, subnet)


def network(sim, rg="rg-cvm", location="eastus"):
    """Resource group + VNet through the collection's own modules."""
    out = run_module("resource_group", {"name": rg, "location": location}, sim.env)
    assert not out.get("failed"), out
    out = run_module("virtual_network", {"resource_group": rg, "name": "vnet1", "address_prefixes": ["10.0.0.0/16"],
                                         "subnets": [{"name": "default", "address_prefix": "10.0.1.0/24"}]}, sim.env)
    assert not out.get("failed"), out
    return subnet_id(sim, rg)


def vm_args(sim, **over):
    args = {"resource_group": "rg-cvm", "name": "cvm1", "size": "Standard_DC2as_v5", "image": dict(JAMMY),
            "admin_username": "azureuser", "ssh_public_keys": [KEY], "subnet_id": subnet_id(sim),
            "tags": {"env": "test"}}
    args.update(over)
    return args


def arm_since(sim, mark, writes_only=False):
    return arm_requests(sim.requests(since=mark), writes_only=writes_only)


def resource_paths(sim, kind):
    """Ids of resources of a type in the simulator state (e.g. 'virtualMachines')."""
    state = sim.admin("GET", "/_sim/state")
    text = repr(state)
    return text.count("/%s/" % kind)
