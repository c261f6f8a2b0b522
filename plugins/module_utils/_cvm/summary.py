# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VM resource (REST shape) -> the result shape vm and vm_info both return, with the confidential summary.

Pure: no Ansible, no Azure SDK.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from . import sizes


def power_state(resource):
    """'running' | 'stopped' | 'deallocated' | 'starting' | ... from instanceView statuses, None when unknown."""
    view = ((resource or {}).get("properties") or {}).get("instanceView") or {}
    for status in view.get("statuses") or []:
        code = status.get("code") or ""
        if code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return None


def _id_name(rid):
    return rid.rstrip("/").split("/")[-1] if rid else None


def confidential_summary(resource):
    props = (resource or {}).get("properties") or {}
    sec = props.get("securityProfile") or {}
    uefi = sec.get("uefiSettings") or {}
    os_disk = (props.get("storageProfile") or {}).get("osDisk") or {}
    disk_sec = (os_disk.get("managedDisk") or {}).get("securityProfile") or {}
    size = (props.get("hardwareProfile") or {}).get("vmSize")
    info = sizes.parse_size(size) if size else None
    des = (disk_sec.get("diskEncryptionSet") or {}).get("id")
    return {
        "security_type": sec.get("securityType"),
        "tee": info.tee if info else None,
        "tee_source": "size_family" if info and info.tee else None,
        "size_family": info.family if info else None,
        "temp_disk": info.temp_disk if info else None,
        "security_encryption_type": disk_sec.get("securityEncryptionType"),
        "disk_encryption_set": des,
        "customer_managed_key": bool(des),
        "secure_boot": uefi.get("secureBootEnabled"),
        "vtpm": uefi.get("vTpmEnabled"),
        "encryption_at_host": sec.get("encryptionAtHost"),
        "power_state": power_state(resource),
    }


def vm_result(resource, resource_group=None):
    """The VM as vm / vm_info return it.  Never contains the admin password or custom data."""
    if not resource:
        return None
    props = resource.get("properties") or {}
    storage = props.get("storageProfile") or {}
    os_disk = storage.get("osDisk") or {}
    managed = os_disk.get("managedDisk") or {}
    os_profile = props.get("osProfile") or {}
    linux = os_profile.get("linuxConfiguration") or {}
    rid = resource.get("id") or ""
    parts = rid.split("/")
    rg = resource_group
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered:
        rg = parts[lowered.index("resourcegroups") + 1]
    image = dict(storage.get("imageReference") or {})
    return {
        "id": resource.get("id"),
        "name": resource.get("name"),
        "resource_group": rg,
        "location": resource.get("location"),
        "zones": list(resource.get("zones") or []),
        "tags": dict(resource.get("tags") or {}),
        "size": (props.get("hardwareProfile") or {}).get("vmSize"),
        "vm_id": props.get("vmId"),
        "provisioning_state": props.get("provisioningState"),
        "power_state": power_state(resource),
        "priority": props.get("priority") or "Regular",
        "image": image,
        "os_type": os_disk.get("osType") or ("Linux" if linux else ("Windows" if os_profile.get(
            "windowsConfiguration") else None)),
        "admin_username": os_profile.get("adminUsername"),
        "computer_name": os_profile.get("computerName"),
        "ssh_public_keys": [k.get("keyData") for k in ((linux.get("ssh") or {}).get("publicKeys") or [])],
        "os_disk": {
            "name": os_disk.get("name"),
            "id": managed.get("id"),
            "size_gb": os_disk.get("diskSizeGB"),
            "storage_account_type": managed.get("storageAccountType"),
            "caching": os_disk.get("caching"),
            "delete_option": os_disk.get("deleteOption"),
        },
        "data_disks": [{
            "lun": d.get("lun"),
            "name": d.get("name"),
            "id": (d.get("managedDisk") or {}).get("id"),
            "size_gb": d.get("diskSizeGB"),
            "storage_account_type": (d.get("managedDisk") or {}).get("storageAccountType"),
            "caching": d.get("caching"),
        } for d in storage.get("dataDisks") or []],
        "network_interfaces": [{
            "id": n.get("id"),
            "name": _id_name(n.get("id")),
            "primary": bool((n.get("properties") or {}).get("primary")),
            "delete_option": (n.get("properties") or {}).get("deleteOption"),
        } for n in (props.get("networkProfile") or {}).get("networkInterfaces") or []],
        "identity": identity_result(resource.get("identity")),
        "confidential": confidential_summary(resource),
    }


def identity_result(identity):
    """type, principal_id (system-assigned identity) and the user-assigned identities with their principal ids."""
    identity = identity or {}
    return {
        "type": identity.get("type") or "None",
        "principal_id": identity.get("principalId"),
        "tenant_id": identity.get("tenantId"),
        "user_assigned_identities": [{"id": rid, "principal_id": (v or {}).get("principalId"),
                                      "client_id": (v or {}).get("clientId")}
                                     for rid, v in sorted((identity.get("userAssignedIdentities") or {}).items())],
    }


def matches_tags(resource, tag_filters):
    """tag_filters: list of 'key' or 'key:value' strings; all must match."""
    tags = (resource or {}).get("tags") or {}
    for item in tag_filters or []:
        if ":" in item:
            key, value = item.split(":", 1)
            if tags.get(key) != value:
                return False
        elif item not in tags:
            return False
    return True
