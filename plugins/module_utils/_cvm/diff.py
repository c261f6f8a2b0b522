# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a desired confidential VM with the current resource.

Pure: no Ansible, no Azure SDK.  Works on comparable *views*: flat dicts of the properties this collection
manages, built from the same REST shape for both sides (so one function reads a desired body and a GET answer).
Each change is classified:
- ``in_place``: a PATCH changes it while the VM runs (size within the same TEE/temp-disk class, tags, new data disks)
- ``deallocated``: Azure changes it only while the VM is deallocated (secure boot, encryption at host, OS disk
  size/type, network interfaces)
- ``recreate``: Azure cannot change it at all (security type and encryption type, DES, image, zone, admin user,
  SSH keys, TEE/temp disk class via size, shrinking a disk)
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from . import sizes, vm_properties

IN_PLACE = vm_properties.IN_PLACE
DEALLOCATED = vm_properties.DEALLOCATED
RECREATE = vm_properties.RECREATE

_CLASS = vm_properties.COMPARED


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def vm_view(body):
    """Comparable view of a VM (desired PUT body or GET answer)."""
    if not body:
        return None
    props = body.get("properties") or {}
    sec = props.get("securityProfile") or {}
    uefi = sec.get("uefiSettings") or {}
    storage = props.get("storageProfile") or {}
    os_disk = storage.get("osDisk") or {}
    managed = os_disk.get("managedDisk") or {}
    disk_sec = managed.get("securityProfile") or {}
    image = storage.get("imageReference") or {}
    if image.get("id"):
        image_view = {"id": _lower(image["id"])}
    else:
        image_view = {"publisher": _lower(image.get("publisher")), "offer": _lower(image.get("offer")),
                      "sku": _lower(image.get("sku")), "version": _lower(image.get("version") or "latest")}
    os_profile = props.get("osProfile") or {}
    keys = ((os_profile.get("linuxConfiguration") or {}).get("ssh") or {}).get("publicKeys") or []
    zones = body.get("zones") or []
    size = (props.get("hardwareProfile") or {}).get("vmSize")
    return {
        "location": vm_properties.normal_location(body.get("location")),
        "tee": vm_properties.tee_of_size(size),
        "size": size,
        "security_type": sec.get("securityType"),
        "secure_boot": uefi.get("secureBootEnabled"),
        "vtpm": uefi.get("vTpmEnabled"),
        "encryption_at_host": sec.get("encryptionAtHost"),
        "security_encryption_type": disk_sec.get("securityEncryptionType"),
        # "" = no customer-managed key (managed: removing the DES is a change too)
        "disk_encryption_set": _lower((disk_sec.get("diskEncryptionSet") or {}).get("id")) or "",
        "os_disk_size_gb": os_disk.get("diskSizeGB"),
        "os_disk_type": managed.get("storageAccountType"),
        "os_disk_caching": os_disk.get("caching"),
        "computer_name": os_profile.get("computerName"),
        "boot_diagnostics": bool(((props.get("diagnosticsProfile") or {}).get("bootDiagnostics") or {}).get(
            "enabled")),
        "identity": vm_properties.identity_view(body.get("identity")),
        "image": image_view,
        "zone": zones[0] if zones else None,
        "admin_username": os_profile.get("adminUsername"),
        "ssh_public_keys": vm_properties.ssh_key_view(k.get("keyData") for k in keys),
        "network_interfaces": [_lower(n.get("id")) for n in
                               (props.get("networkProfile") or {}).get("networkInterfaces") or []],
        "data_disks": vm_properties.data_disks_view({"lun": d.get("lun"), "size_gb": d.get("diskSizeGB"),
                                                     "storage_account_type": (d.get("managedDisk") or {}).get(
                                                         "storageAccountType")}
                                                    for d in storage.get("dataDisks") or []),
        "priority": props.get("priority") or "Regular",
        "tags": dict(body.get("tags") or {}),
    }


def _image_equal(desired, current):
    if "id" in desired or "id" in current:
        return desired.get("id") == current.get("id")
    for key in ("publisher", "offer", "sku"):
        if desired.get(key) != current.get(key):
            return False
    # 'latest' matches whatever version the VM was built from
    return desired.get("version") in ("latest", None) or desired.get("version") == current.get("version")


def compare_vm(desired, current, managed=None):
    """Changes between two views: {key: {'before', 'after', 'kind', 'reason'}}.

    managed: keys to compare (default all keys in the desired view whose value is not None).  Data disks compare
    by LUN: a new LUN is added in place; removing a LUN or changing an existing disk's size/type is reported as
    RECREATE-class with a reason (disks are changed through the disk resource, not the VM).
    """
    changes = {}
    for key, want in desired.items():
        if managed is not None and key not in managed:
            continue
        if want is None:
            continue
        have = current.get(key)
        if key == "image":
            if _image_equal(want, have or {}):
                continue
        elif key == "size":
            if (have or "").lower() == want.lower():
                continue
        elif key == "data_disks":
            change = _compare_data_disks(want, have or [])
            if change:
                changes[key] = change
            continue
        elif want == have:
            continue
        if key == "os_disk_size_gb" and have is not None and want < have:
            changes[key] = {"before": have, "after": want, "kind": RECREATE,
                            "reason": "os_disk_size_gb: a disk cannot shrink (%s GB -> %s GB)" % (have, want)}
            continue
        if key == "os_disk_size_gb" and have is None:
            # Azure reports the image's size once created; an explicit size is compared only when known
            pass
        kind = _CLASS.get(key, IN_PLACE)
        reason = None
        if kind == RECREATE:
            reason = "cannot change %s on an existing VM (%s -> %s; recreate with allow_recreate)" % (key, have, want)
        if key == "size":
            blocker = sizes.resize_blocker(have, want)
            if blocker:
                kind, reason = RECREATE, "cannot change size in place: %s (recreate with allow_recreate)" % blocker
        changes[key] = {"before": have, "after": want, "kind": kind, "reason": reason}
    return changes


def _compare_data_disks(want, have):
    by_lun = dict((d["lun"], d) for d in have)
    want_luns = set(d["lun"] for d in want)
    problems = []
    for disk in want:
        cur = by_lun.get(disk["lun"])
        if cur is None:
            continue
        if cur.get("size_gb") != disk.get("size_gb") or cur.get("storage_account_type") != disk.get(
                "storage_account_type"):
            problems.append("data_disks: the disk at LUN %s exists with %s GB %s; this module does not resize or "
                            "retype attached data disks" % (disk["lun"], cur.get("size_gb"),
                                                            cur.get("storage_account_type")))
    removed = [lun for lun in by_lun if lun not in want_luns]
    added = [d for d in want if d["lun"] not in by_lun]
    if not problems and not removed and not added:
        return None
    kind = RECREATE if problems else IN_PLACE
    return {"before": have, "after": want, "kind": kind, "reason": "; ".join(problems) or None,
            "added": [d["lun"] for d in added], "removed": removed}


def diff_output(changes):
    """Ansible diff dict with exactly the properties that change."""
    return {"before": dict((k, v["before"]) for k, v in sorted(changes.items())),
            "after": dict((k, v["after"]) for k, v in sorted(changes.items()))}


def diff_dicts(desired, current, keys=None):
    """Generic view comparison for the small resources: {key: {'before', 'after'}} for differing keys."""
    out = {}
    for key, want in desired.items():
        if keys is not None and key not in keys:
            continue
        if want is None:
            continue
        have = (current or {}).get(key)
        if want != have:
            out[key] = {"before": have, "after": want}
    return out
