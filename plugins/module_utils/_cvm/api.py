# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure calls for confidential VMs, disk encryption sets, networks and SKUs, through the plumbing layer's ArmClient.

Every function takes the ``arm`` client (``AzureModule.arm``) and returns plain dicts / LroResult.  No logic beyond
paths and api-versions lives here.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure import api_versions as V
from ansible_collections.confidential.azure.plugins.module_utils._azure.ids import resource_group_id, resource_id

COMPUTE = "Microsoft.Compute"
NETWORK = "Microsoft.Network"


def vm_id(sub, rg, name):
    return resource_id(sub, rg, COMPUTE, "virtualMachines", name)


def nic_id(sub, rg, name):
    return resource_id(sub, rg, NETWORK, "networkInterfaces", name)


def public_ip_id(sub, rg, name):
    return resource_id(sub, rg, NETWORK, "publicIPAddresses", name)


def des_id(sub, rg, name):
    return resource_id(sub, rg, COMPUTE, "diskEncryptionSets", name)


def vnet_id(sub, rg, name):
    return resource_id(sub, rg, NETWORK, "virtualNetworks", name)


def vault_id(sub, rg, name):
    return resource_id(sub, rg, "Microsoft.KeyVault", "vaults", name)


# -- resource group ----------------------------------------------------------------------------------------------
def get_resource_group(arm, sub, rg):
    return arm.get(resource_group_id(sub, rg), V.RESOURCES)


# -- virtual machines --------------------------------------------------------------------------------------------
def get_vm(arm, sub, rg, name):
    """The VM with its instance view (power state) in ONE request."""
    return arm.get(vm_id(sub, rg, name), V.VIRTUAL_MACHINES, params={"$expand": "instanceView"})


def list_vms(arm, sub, rg=None):
    if rg:
        path = resource_group_id(sub, rg) + "/providers/Microsoft.Compute/virtualMachines"
    else:
        path = "/subscriptions/%s/providers/Microsoft.Compute/virtualMachines" % sub
    return arm.list(path, V.VIRTUAL_MACHINES, params={"$expand": "instanceView"})


def put_vm(arm, sub, rg, name, body, wait, timeout):
    return arm.put(vm_id(sub, rg, name), V.VIRTUAL_MACHINES, body, wait=wait, timeout=timeout)


def patch_vm(arm, sub, rg, name, body, wait, timeout):
    return arm.patch(vm_id(sub, rg, name), V.VIRTUAL_MACHINES, body, wait=wait, timeout=timeout)


def delete_vm(arm, sub, rg, name, wait, timeout):
    return arm.delete(vm_id(sub, rg, name), V.VIRTUAL_MACHINES, wait=wait, timeout=timeout)


POWER_ACTIONS = {"running": "start", "stopped": "powerOff", "deallocated": "deallocate"}


def vm_power_action(arm, sub, rg, name, state, wait, timeout):
    return arm.post(vm_id(sub, rg, name) + "/" + POWER_ACTIONS[state], V.VIRTUAL_MACHINES, wait=wait,
                    timeout=timeout)


def wait_resource(arm, url, api_version, timeout):
    """Wait until a resource's provisioningState is terminal (for a VM another run started without waiting)."""
    full = arm.url(url, api_version)
    return arm.wait({"done": False, "status": "InProgress", "poll_url": full, "resource_url": full,
                     "poll_mode": "resource"}, timeout)


def delete_disk_by_id(arm, disk_id, wait, timeout):
    return arm.delete(disk_id, V.DISKS, wait=wait, timeout=timeout)


# -- network ----------------------------------------------------------------------------------------------------
def get_nic(arm, nic_resource_id):
    return arm.get(nic_resource_id, V.NETWORK)


def put_nic(arm, nic_resource_id, body, timeout, wait=True):
    return arm.put(nic_resource_id, V.NETWORK, body, wait=wait, timeout=timeout)


def delete_by_id(arm, rid, api_version, wait=True, timeout=1800):
    return arm.delete(rid, api_version, wait=wait, timeout=timeout)


def get_public_ip(arm, pip_id):
    return arm.get(pip_id, V.NETWORK)


def put_public_ip(arm, pip_id, body, timeout, wait=True):
    return arm.put(pip_id, V.NETWORK, body, wait=wait, timeout=timeout)


def get_vnet_by_id(arm, vnet_resource_id):
    return arm.get(vnet_resource_id, V.NETWORK)


def get_vnet(arm, sub, rg, name):
    return arm.get(vnet_id(sub, rg, name), V.NETWORK)


def put_vnet(arm, sub, rg, name, body, wait, timeout):
    return arm.put(vnet_id(sub, rg, name), V.NETWORK, body, wait=wait, timeout=timeout)


def delete_vnet(arm, sub, rg, name, wait, timeout):
    return arm.delete(vnet_id(sub, rg, name), V.NETWORK, wait=wait, timeout=timeout)


# -- disk encryption sets ----------------------------------------------------------------------------------------
def get_des(arm, sub, rg, name):
    return arm.get(des_id(sub, rg, name), V.DISK_ENCRYPTION_SETS)


def put_des(arm, sub, rg, name, body, wait, timeout):
    return arm.put(des_id(sub, rg, name), V.DISK_ENCRYPTION_SETS, body, wait=wait, timeout=timeout)


def patch_des(arm, sub, rg, name, body, wait, timeout):
    return arm.patch(des_id(sub, rg, name), V.DISK_ENCRYPTION_SETS, body, wait=wait, timeout=timeout)


def delete_des(arm, sub, rg, name, wait, timeout):
    return arm.delete(des_id(sub, rg, name), V.DISK_ENCRYPTION_SETS, wait=wait, timeout=timeout)


def get_des_by_id(arm, des_resource_id):
    return arm.get(des_resource_id, V.DISK_ENCRYPTION_SETS)


def get_vault(arm, vault_resource_id):
    return arm.get(vault_resource_id, V.KEYVAULT_MANAGEMENT)


def get_key(kv, name, version):
    """Key Vault data plane: (status, json) of GET /keys/{name}/{version}."""
    status, _headers, body = kv.request("GET", "/keys/%s/%s" % (name, version), V.KEYVAULT_KEYS)
    return status, body


# -- SKUs -------------------------------------------------------------------------------------------------------
def list_skus(arm, sub, location):
    return arm.list("/subscriptions/%s/providers/Microsoft.Compute/skus" % sub, V.RESOURCE_SKUS,
                    params={"$filter": "location eq '%s'" % location} if location else None)
