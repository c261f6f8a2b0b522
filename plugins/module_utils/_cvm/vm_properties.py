# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of the vm module's options: what each one does on an existing VM.  Pure.

Every option of the module is in VM_OPTIONS (a unit test holds the argument spec against it), so none is silently
ignored:
- ``in_place``: compared with the VM and changed by a PATCH while it runs;
- ``deallocated``: compared, changed only while the VM is deallocated;
- ``recreate``: compared; Azure cannot change it, so the run fails unless allow_recreate;
- ``network``: compared on the NIC this module creates;
- ``create_only``: used when the VM is created; Azure never returns it, so later runs cannot compare it (documented);
- ``validated``: a confidential VM allows one value only, refused otherwise before any request;
- ``control``: how the module runs, not a property of the VM.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from . import sizes

IN_PLACE = "in_place"
DEALLOCATED = "deallocated"
RECREATE = "recreate"
NETWORK = "network"
CREATE_ONLY = "create_only"
VALIDATED = "validated"
CONTROL = "control"

VM_OPTIONS = {
    "name": CONTROL, "resource_group": CONTROL, "state": CONTROL, "power_state": CONTROL,
    "append_tags": CONTROL, "allow_recreate": CONTROL, "wait": CONTROL, "wait_timeout": CONTROL,
    "location": RECREATE,
    "size": IN_PLACE,              # a size in another TEE or temp-disk class: recreate (sizes.resize_blocker)
    "tee": RECREATE,
    "image": RECREATE,
    "admin_username": RECREATE,
    "ssh_public_keys": RECREATE,
    "computer_name": RECREATE,
    "admin_password": CREATE_ONLY,
    "custom_data": CREATE_ONLY,
    "network_interfaces": DEALLOCATED,
    "subnet_id": NETWORK,
    "nic_name": NETWORK,
    "public_ip": NETWORK,
    "accelerated_networking": VALIDATED,
    "os_disk_ephemeral": VALIDATED,
    "security_encryption_type": RECREATE,
    "disk_encryption_set": RECREATE,
    "secure_boot": DEALLOCATED,
    "vtpm": RECREATE,
    "encryption_at_host": DEALLOCATED,
    "os_disk_size_gb": DEALLOCATED,  # growing only; shrinking is refused
    "os_disk_type": RECREATE,
    "os_disk_caching": DEALLOCATED,
    "data_disks": IN_PLACE,          # new LUNs attached, removed LUNs detached; resize/retype refused
    "zone": RECREATE,
    "boot_diagnostics": IN_PLACE,
    "priority": RECREATE,
    "tags": IN_PLACE,
    "identity": IN_PLACE,
}

# view keys that are not options of their own
EXTRA_VIEW_KEYS = {"security_type": RECREATE}

COMPARED = dict((k, v) for k, v in VM_OPTIONS.items() if v in (IN_PLACE, DEALLOCATED, RECREATE))
COMPARED.update(EXTRA_VIEW_KEYS)

NONE_IDENTITY = {"type": "None", "user_assigned_identities": []}


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def normal_location(value):
    return value.lower().replace(" ", "") if isinstance(value, str) else value


def ssh_key_view(lines):
    return sorted(" ".join((k or "").split()[:2]) for k in lines)


def identity_type(value):
    """'SystemAssigned,UserAssigned' / 'UserAssigned, SystemAssigned' -> Azure's 'SystemAssigned, UserAssigned'."""
    parts = sorted(p.strip() for p in (value or "None").split(",") if p.strip() and p.strip() != "None")
    return ", ".join(parts) if parts else "None"


def identity_view(identity):
    identity = identity or {}
    return {"type": identity_type(identity.get("type")),
            "user_assigned_identities": sorted(k.lower() for k in identity.get("userAssignedIdentities") or {})}


def desired_identity(option, current):
    """The identity view the ``identity`` option asks for, given the current one (user_assigned_identities.append)."""
    if option is None:
        return None
    wanted_type = identity_type(option.get("type"))
    uai = option.get("user_assigned_identities") or {}
    ids = set(i.lower() for i in uai.get("id") or [])
    if "UserAssigned" not in wanted_type:
        ids = set()
    elif uai.get("append", True):
        ids.update((current or NONE_IDENTITY)["user_assigned_identities"])
    return {"type": wanted_type, "user_assigned_identities": sorted(ids)}


def data_disks_view(disks):
    return sorted(({"lun": d.get("lun"), "size_gb": d.get("size_gb"),
                    "storage_account_type": d.get("storage_account_type") or "Premium_LRS"}
                   for d in disks), key=lambda d: d["lun"])


def desired_view(params, des_rid=None, nic_ids=None, tags=None, current_identity=None):
    """What the options the user gave ask for, in diff.vm_view's shape; None for every option not given."""
    p = params
    size = p.get("size")
    view = dict((key, None) for key in COMPARED)
    simple = ("size", "admin_username", "computer_name", "security_encryption_type", "secure_boot", "vtpm",
              "encryption_at_host", "os_disk_size_gb", "os_disk_type", "os_disk_caching", "zone", "priority",
              "boot_diagnostics")
    for key in simple:
        if p.get(key) is not None:
            view[key] = p[key]
    if size:
        view["security_type"] = "ConfidentialVM"
    if p.get("location"):
        view["location"] = normal_location(p["location"])
    if p.get("tee"):
        view["tee"] = p["tee"]
    image = p.get("image")
    if image:
        if image.get("id"):
            view["image"] = {"id": _lower(image["id"])}
        else:
            view["image"] = {"publisher": _lower(image.get("publisher")), "offer": _lower(image.get("offer")),
                             "sku": _lower(image.get("sku")), "version": _lower(image.get("version") or "latest")}
    if p.get("ssh_public_keys"):
        view["ssh_public_keys"] = ssh_key_view(p["ssh_public_keys"])
    if p.get("disk_encryption_set") is not None or image:
        # with the full definition (size and image) no disk_encryption_set means the platform key: "" is compared
        view["disk_encryption_set"] = _lower(des_rid) or ""
    if p.get("data_disks") is not None:
        view["data_disks"] = data_disks_view(p["data_disks"])
    if nic_ids is not None:
        view["network_interfaces"] = [_lower(n) for n in nic_ids]
    if tags is not None:
        view["tags"] = dict(tags)
    view["identity"] = desired_identity(p.get("identity"), current_identity)
    return view


def tee_of_size(size):
    return sizes.tee_of(size) if size else None
