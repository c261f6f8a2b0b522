# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure calls for confidential VMs, disk encryption sets, networks and SKUs.

Compute (VMs, disks, disk encryption sets, resource SKUs) goes through azure-mgmt-compute: those functions take the
SDK clients (``AzureModule.sdk``); network, resource group and vault calls take the ARM requests on the ARM
pipeline client (``AzureModule.arm``, pipeline.ServiceRequests).  All return Azure's JSON as plain dicts and
writes as operation.Operation.  No logic
beyond paths lives here.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure import api_versions as V
from ansible_collections.confidential.azure.plugins.module_utils._azure import clients
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError
from ansible_collections.confidential.azure.plugins.module_utils._azure.operation import Operation
from ansible_collections.confidential.azure.plugins.module_utils._azure.ids import (
    parse_resource_id, resource_group_id, resource_id)

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
def get_vm(sdk, sub, rg, name):
    """The VM with its instance view (power state) in ONE request."""
    return clients.get_or_none(lambda: sdk.compute().virtual_machines.get(rg, name, expand="instanceView",
                                                                          cls=clients.raw))


def list_vms(sdk, sub, rg=None):
    with clients.translated():
        vms = sdk.compute().virtual_machines
        found = vms.list(rg, expand="instanceView") if rg else vms.list_all(expand="instanceView")
        return [clients.as_dict(vm) for vm in found]


def put_vm(sdk, sub, rg, name, body, wait, timeout):
    return clients.operation(lambda polling: sdk.compute().virtual_machines.begin_create_or_update(
        rg, name, body, polling=polling, cls=clients.raw), wait, timeout)


def patch_vm(sdk, sub, rg, name, body, wait, timeout):
    return clients.operation(lambda polling: sdk.compute().virtual_machines.begin_update(
        rg, name, body, polling=polling, cls=clients.raw), wait, timeout)


def delete_vm(sdk, sub, rg, name, wait, timeout):
    return _deleted(lambda polling: sdk.compute().virtual_machines.begin_delete(rg, name, polling=polling),
                    wait, timeout)


POWER_ACTIONS = {"running": "begin_start", "stopped": "begin_power_off", "deallocated": "begin_deallocate"}


def vm_power_action(sdk, sub, rg, name, state, wait, timeout):
    return clients.operation(lambda polling: getattr(sdk.compute().virtual_machines, POWER_ACTIONS[state])(
        rg, name, polling=polling), wait, timeout)


def wait_resource(arm, url, api_version, timeout):
    """Wait until a resource's provisioningState is terminal (for a VM another run started without waiting)."""
    return arm.wait_provisioned(url, api_version, timeout)


def delete_disk_by_id(sdk, disk_id, wait, timeout):
    parts = parse_resource_id(disk_id)
    return _deleted(lambda polling: sdk.compute().disks.begin_delete(
        parts.get("resource_group"), parts.get("name"), polling=polling), wait, timeout)


def _deleted(begin, wait, timeout):
    """A delete; a resource that is already gone is not an error (status NotFound)."""
    try:
        return clients.operation(begin, wait, timeout)
    except AzureApiError as exc:
        if exc.status == 404:
            return Operation.finished("NotFound", None, None)
        raise


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
def get_des(sdk, sub, rg, name):
    return clients.get_or_none(lambda: sdk.compute().disk_encryption_sets.get(rg, name, cls=clients.raw))


def put_des(sdk, sub, rg, name, body, wait, timeout):
    return clients.operation(lambda polling: sdk.compute().disk_encryption_sets.begin_create_or_update(
        rg, name, body, polling=polling, cls=clients.raw), wait, timeout)


def delete_des(sdk, sub, rg, name, wait, timeout):
    return _deleted(lambda polling: sdk.compute().disk_encryption_sets.begin_delete(rg, name, polling=polling),
                    wait, timeout)


def get_des_by_id(sdk, des_resource_id):
    parts = parse_resource_id(des_resource_id)
    return get_des(sdk, parts.get("subscription_id"), parts.get("resource_group"), parts.get("name"))


def get_vault(arm, vault_resource_id):
    return arm.get(vault_resource_id, V.KEYVAULT_MANAGEMENT)


# -- SKUs -------------------------------------------------------------------------------------------------------
def list_skus(sdk, location):
    """Resource SKUs of the subscription (one region when location is given), as Azure's JSON."""
    with clients.translated():
        skus = sdk.compute().resource_skus.list(filter="location eq '%s'" % location if location else None)
        return [clients.as_dict(item) for item in skus]
