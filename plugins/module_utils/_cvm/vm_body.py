# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired confidential VM request body (Microsoft.Compute/virtualMachines PUT, REST shape).

Pure: no Ansible, no Azure SDK.  The CMK disk encryption set goes in
``osDisk.managedDisk.securityProfile.diskEncryptionSet`` (NOT ``managedDisk.diskEncryptionSet``, which is ordinary
server-side encryption).
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from . import limits, vm_properties

DEFAULT_OS_DISK_TYPE = "Premium_LRS"
DEFAULT_DATA_DISK_TYPE = "Premium_LRS"


def image_reference(image):
    if image.get("id"):
        return {"id": image["id"]}
    return {"publisher": image["publisher"], "offer": image["offer"], "sku": image["sku"],
            "version": image.get("version") or "latest"}


def os_profile(params, os_type):
    name = params["name"]
    profile = {"computerName": params.get("computer_name") or name, "adminUsername": params["admin_username"]}
    if params.get("admin_password"):
        profile["adminPassword"] = params["admin_password"]
    if params.get("custom_data") is not None:
        profile["customData"] = limits.encode_custom_data(params["custom_data"])
    if os_type == "Windows":
        profile["windowsConfiguration"] = {"provisionVMAgent": True}
    else:
        keys = params.get("ssh_public_keys") or []
        linux = {"disablePasswordAuthentication": not params.get("admin_password")}
        if keys:
            path = "/home/%s/.ssh/authorized_keys" % params["admin_username"]
            linux["ssh"] = {"publicKeys": [{"path": path, "keyData": k.strip()} for k in keys]}
        linux["provisionVMAgent"] = True
        profile["linuxConfiguration"] = linux
    return profile


def data_disk_body(disk, vm_name):
    body = {
        "lun": disk["lun"],
        "name": disk.get("name") or "%s-data-%d" % (vm_name, disk["lun"]),
        "createOption": "Empty",
        "diskSizeGB": disk["size_gb"],
        "caching": disk.get("caching") or "ReadOnly",
        "deleteOption": "Delete",
        "managedDisk": {"storageAccountType": disk.get("storage_account_type") or DEFAULT_DATA_DISK_TYPE},
    }
    return body


def security_profile(params):
    profile = {
        "securityType": "ConfidentialVM",
        "uefiSettings": {"secureBootEnabled": params.get("secure_boot") is not False, "vTpmEnabled": True},
    }
    if params.get("encryption_at_host") is not None:
        profile["encryptionAtHost"] = bool(params["encryption_at_host"])
    return profile


def os_disk(params, des_id):
    disk_security = {"securityEncryptionType": params.get("security_encryption_type") or "DiskWithVMGuestState"}
    if des_id:
        disk_security["diskEncryptionSet"] = {"id": des_id}
    disk = {
        "name": "%s-osdisk" % params["name"],
        "createOption": "FromImage",
        "caching": params.get("os_disk_caching") or "ReadWrite",
        "deleteOption": "Delete",
        "managedDisk": {"storageAccountType": params.get("os_disk_type") or DEFAULT_OS_DISK_TYPE,
                        "securityProfile": disk_security},
    }
    if params.get("os_disk_size_gb"):
        disk["diskSizeGB"] = params["os_disk_size_gb"]
    return disk


def build_vm_body(params, location, nic_refs, des_id=None, os_type="Linux", tags=None):
    """The full PUT body for a new confidential VM.

    nic_refs: list of (nic_id, created_by_module) tuples; the first is primary.  NICs the module created are
    marked ``deleteOption: Delete`` so ``state: absent`` (and ARM) remove them with the VM; NICs given by the user are
    ``Detach``.
    """
    body = {
        "location": location,
        "tags": dict(tags if tags is not None else (params.get("tags") or {})),
        "properties": {
            "hardwareProfile": {"vmSize": params["size"]},
            "securityProfile": security_profile(params),
            "storageProfile": {
                "imageReference": image_reference(params["image"]),
                "osDisk": os_disk(params, des_id),
                "dataDisks": [data_disk_body(d, params["name"])
                              for d in sorted(params.get("data_disks") or [], key=lambda d: d["lun"])],
            },
            "osProfile": os_profile(params, os_type),
            "networkProfile": network_profile(nic_refs),
            "priority": "Regular",
        },
    }
    if params.get("zone"):
        body["zones"] = [str(params["zone"])]
    if params.get("boot_diagnostics"):
        body["properties"]["diagnosticsProfile"] = {"bootDiagnostics": {"enabled": True}}
    identity = vm_properties.desired_identity(params.get("identity"), None)
    if identity is not None and identity["type"] != "None":
        body["identity"] = identity_body(identity)
    return body


def identity_body(identity, current=None):
    """REST identity from an identity view; user-assigned identities no longer wanted are removed (null)."""
    out = {"type": identity["type"]}
    ids = dict((rid, {}) for rid in identity["user_assigned_identities"])
    for rid in (current or {}).get("user_assigned_identities") or []:
        if rid not in ids and "UserAssigned" in identity["type"]:
            ids[rid] = None
    if ids:
        out["userAssignedIdentities"] = ids
    return out


def redact_body(body):
    """A copy of a VM body without secrets (admin password, custom data) for check-mode/diff output."""
    import copy
    out = copy.deepcopy(body)
    profile = (out.get("properties") or {}).get("osProfile") or {}
    for secret in ("adminPassword", "customData"):
        if secret in profile:
            profile[secret] = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    return out


def build_patch(changes, current, params, nic_refs=None):
    """PATCH body carrying exactly the in-place (and while-deallocated) changes of diff.compare_vm."""
    props = {}
    body = {}
    cprops = (current or {}).get("properties") or {}
    after = dict((k, c["after"]) for k, c in changes.items())
    if "tags" in after:
        body["tags"] = dict(after["tags"])
    if "identity" in after:
        body["identity"] = identity_body(after["identity"], changes["identity"]["before"])
    if "size" in after:
        props["hardwareProfile"] = {"vmSize": after["size"]}
    sec = {}
    if "secure_boot" in after:
        sec["uefiSettings"] = {"secureBootEnabled": bool(after["secure_boot"]), "vTpmEnabled": True}
    if "encryption_at_host" in after:
        sec["encryptionAtHost"] = bool(after["encryption_at_host"])
    if sec:
        props["securityProfile"] = sec
    if "boot_diagnostics" in after:
        props["diagnosticsProfile"] = {"bootDiagnostics": {"enabled": bool(after["boot_diagnostics"])}}
    storage = {}
    os_disk = {}
    if "os_disk_size_gb" in after:
        os_disk["diskSizeGB"] = after["os_disk_size_gb"]
    if "os_disk_caching" in after:
        os_disk["caching"] = after["os_disk_caching"]
    if os_disk:
        storage["osDisk"] = os_disk
    if "data_disks" in after:
        current_disks = dict((d.get("lun"), d) for d in (cprops.get("storageProfile") or {}).get("dataDisks") or [])
        disks = []
        for disk in sorted(params.get("data_disks") or [], key=lambda d: d["lun"]):
            existing = current_disks.get(disk["lun"])
            if existing is None:
                disks.append(data_disk_body(disk, params["name"]))
                continue
            keep = {"lun": existing["lun"], "createOption": "Attach", "caching": existing.get("caching"),
                    "managedDisk": {"id": (existing.get("managedDisk") or {}).get("id")}}
            for key in ("name", "deleteOption"):
                if existing.get(key):
                    keep[key] = existing[key]
            disks.append(keep)
        storage["dataDisks"] = disks
    if storage:
        props["storageProfile"] = storage
    if "network_interfaces" in after and nic_refs is not None:
        props["networkProfile"] = network_profile(nic_refs)
    if props:
        body["properties"] = props
    return body


def network_profile(nic_refs):
    return {"networkInterfaces": [
        {"id": nic_id, "properties": {"primary": index == 0, "deleteOption": "Delete" if created else "Detach"}}
        for index, (nic_id, created) in enumerate(nic_refs)]}
