# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight checks on what Azure answered before anything is written.  Pure: dicts in, messages out.

Each function takes the resources read (resource SKU list, disk encryption set, its vault, the virtual network of the
subnet, an existing NIC) and returns messages naming the parameter and the fix.  Azure's own answers to these
mistakes arrive only after the NIC was created, and some blame the wrong property (a size not offered in a zone
comes back as a complaint about securityEncryptionType).
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from .limits import CONFIDENTIAL_DES_TYPE
from .vm_properties import normal_location


def _name(rid):
    return (rid or "").rstrip("/").split("/")[-1]


def sku_problems(skus, size, location, zone=None):
    """Is ``size`` offered to this subscription in ``location`` (and ``zone``)?  skus: Microsoft.Compute/skus list."""
    loc = normal_location(location)
    hint = ("list the confidential sizes this subscription can use there with confidential.azure.sku_info "
            "(location: %s, available_only: true)" % loc)
    entry = None
    for sku in skus or []:
        if (sku.get("resourceType") or "").lower() != "virtualmachines":
            continue
        if (sku.get("name") or "").lower() != size.lower():
            continue
        if any(normal_location(l) == loc for l in sku.get("locations") or []) or any(
                normal_location(i.get("location")) == loc for i in sku.get("locationInfo") or []):
            entry = sku
            break
    if entry is None:
        return ["size: %s is not offered in %s; choose another size or location - %s" % (size, loc, hint)]
    zones = set()
    for info in entry.get("locationInfo") or []:
        if normal_location(info.get("location")) == loc:
            zones.update(info.get("zones") or [])
    for restriction in entry.get("restrictions") or []:
        rinfo = restriction.get("restrictionInfo") or {}
        if restriction.get("type") == "Location" and (
                not rinfo.get("locations") or loc in [normal_location(x) for x in rinfo["locations"]]):
            return ["size: %s is restricted in %s for this subscription (%s); choose another size or location, or "
                    "ask Microsoft support to lift the restriction - %s"
                    % (size, loc, restriction.get("reasonCode") or "restricted", hint)]
        if restriction.get("type") == "Zone" and zone and str(zone) in (rinfo.get("zones") or []):
            return ["zone: %s is not available in zone %s of %s for this subscription (%s); choose another zone or "
                    "omit zone - %s" % (size, zone, loc, restriction.get("reasonCode") or "restricted", hint)]
    if zone and str(zone) not in zones:
        where = ("zones %s" % ", ".join(sorted(zones))) if zones else "no availability zones"
        return ["zone: %s offers %s in %s; choose one of them or omit zone - %s" % (loc, where, size, hint)]
    return []


def des_problems(des, des_rid, location):
    """The disk encryption set a confidential VM refers to: exists, confidential type, same region."""
    if des is None:
        return ["disk_encryption_set: %s does not exist; create it with confidential.azure.disk_encryption_set "
                "(encryption_type: %s) or fix the name" % (des_rid, CONFIDENTIAL_DES_TYPE)]
    props = des.get("properties") or {}
    problems = []
    etype = props.get("encryptionType")
    if etype != CONFIDENTIAL_DES_TYPE:
        problems.append("disk_encryption_set: %s has encryptionType %s; a confidential OS disk needs a set with %s "
                        "(create one with confidential.azure.disk_encryption_set; the type cannot change)"
                        % (_name(des_rid), etype, CONFIDENTIAL_DES_TYPE))
    if normal_location(des.get("location")) != normal_location(location):
        problems.append("disk_encryption_set: %s is in %s but the VM goes to %s; use a disk encryption set in %s"
                        % (_name(des_rid), normal_location(des.get("location")), normal_location(location),
                           normal_location(location)))
    state = (props.get("provisioningState") or "").lower()
    if state == "failed":
        problems.append("disk_encryption_set: %s is in provisioning state Failed; run "
                        "confidential.azure.disk_encryption_set on it again" % _name(des_rid))
    return problems


def des_vault_id(des):
    return (((des or {}).get("properties") or {}).get("activeKey") or {}).get("sourceVault", {}).get("id")


def vault_problems(vault, vault_rid, param="disk_encryption_set"):
    """A vault that backs a (confidential) disk encryption set must exist with soft delete and purge protection."""
    if vault is None:
        return ["%s: the key vault %s does not exist (or this principal cannot read it)" % (param, vault_rid)]
    props = vault.get("properties") or {}
    if not props.get("enablePurgeProtection") or props.get("enableSoftDelete") is False:
        return ["%s: key vault %s has no purge protection; Azure refuses disk encryption sets on it. Turn it on "
                "(confidential.azure.keyvault enable_purge_protection: true; it cannot be turned off again)"
                % (param, _name(vault_rid))]
    return []


def subnet_problems(vnet, subnet_id, location):
    """The subnet the module's NIC goes into: exists, and its virtual network is in the VM's region."""
    vnet_rid = subnet_id.split("/subnets/", 1)[0] if "/subnets/" in subnet_id else subnet_id
    subnet_name = _name(subnet_id)
    if vnet is None:
        return ["subnet_id: virtual network %s does not exist; create it (confidential.azure.virtual_network) or fix "
                "subnet_id" % vnet_rid]
    names = [(s.get("name") or "").lower() for s in (vnet.get("properties") or {}).get("subnets") or []]
    if subnet_name.lower() not in names:
        return ["subnet_id: virtual network %s has no subnet %s (it has: %s)"
                % (_name(vnet_rid), subnet_name, ", ".join(sorted(names)) or "none")]
    vnet_loc = normal_location(vnet.get("location"))
    if vnet_loc != normal_location(location):
        return ["subnet_id: virtual network %s is in %s but the VM goes to %s; a NIC must be in its subnet's region: "
                "use a subnet of a virtual network in %s, or location: %s"
                % (_name(vnet_rid), vnet_loc, normal_location(location), normal_location(location), vnet_loc)]
    return []


def nic_problems(nic, location, vm_rid):
    """An existing NIC of the module's name: same region, not attached to another VM."""
    if nic is None:
        return []
    problems = []
    if normal_location(nic.get("location")) != normal_location(location):
        problems.append("nic_name: NIC %s exists in %s but the VM goes to %s; a NIC cannot move between regions: "
                        "delete it or set nic_name to a new name"
                        % (nic.get("name"), normal_location(nic.get("location")), normal_location(location)))
    attached = ((nic.get("properties") or {}).get("virtualMachine") or {}).get("id")
    if attached and attached.lower() != (vm_rid or "").lower():
        problems.append("nic_name: NIC %s belongs to VM %s; set nic_name to a new name"
                        % (nic.get("name"), _name(attached)))
    return problems
