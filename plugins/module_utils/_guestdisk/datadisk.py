# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attestation-bound data disks: finding them by LUN, deciding what a run may do, rendering the boot wiring.

Pure (Python 3.8; no Ansible import).  Azure exposes data disks as ``/dev/disk/azure/data/by-lun/<N>``
(WALinuxAgent / azure-vm-utils udev rules; "How to identify Azure data disks by LUN", Microsoft Learn).
A run formats only a disk without any signature, or one whose signature the operator names explicitly.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import posixpath
import re

BY_LUN = "/dev/disk/azure/data/by-lun/%d"
UNIT_TEMPLATE = "confidential-azure-data-disk@.service"
AGENT_DIR = "/usr/local/lib/confidential-azure/data-disk"
CONFIG_PATH = "/etc/confidential-azure/data-disks.json"
STATUS_DIR = "/run/confidential-azure/data-disks"
UNLOCK_TIMEOUT = 600
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
_FSTYPES = ("ext4", "xfs")
_MOUNT_RE = re.compile(r"^/[A-Za-z0-9_./@:+-]*$")
_OPTIONS_RE = re.compile(r"^[A-Za-z0-9_.=:/@+-]+(,[A-Za-z0-9_.=:/@+-]+)*$")
# mounting a fresh file system over these would break the OS (the temp disk is /mnt on Azure)
_SYSTEM_DIRS = frozenset(("/", "/mnt", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/root",
                          "/run", "/sbin", "/sys", "/tmp", "/usr", "/var", "/boot/efi", "/var/lib", "/var/log"))


class PlanError(ValueError):
    """A disk specification or the disk found there forbids the run; the message names the fix."""


def mapper_name(spec):
    return spec.get("name") or "cvm_data_lun%d" % int(spec["lun"])


def validate_specs(disks):
    """Normalised disk specs; PlanError naming the parameter before anything is touched."""
    out, seen_luns, seen_names, seen_mounts = [], set(), set(), set()
    for i, spec in enumerate(disks or []):
        where = "data_disk_encryption_disks[%d]" % i
        lun = spec.get("lun")
        if not isinstance(lun, int) or isinstance(lun, bool) or not 0 <= lun <= 63:
            raise PlanError("%s.lun must be an integer 0-63 (the LUN the disk is attached at), got %r" % (where, lun))
        name = mapper_name(spec)
        if not isinstance(name, str) or not _NAME_RE.match(name) or name == "control":
            raise PlanError("%s.name %r: use letters, digits, '_', '.', '-' (max 48; not 'control', the "
                            "device-mapper's own node)" % (where, name))
        mount = _mount_point(spec.get("mount_point"), where)
        fstype = spec.get("fs_type") or "ext4"
        if fstype not in _FSTYPES:
            raise PlanError("%s.fs_type must be one of %s" % (where, ", ".join(_FSTYPES)))
        options = spec.get("mount_options") or "defaults"
        if not isinstance(options, str) or not _OPTIONS_RE.match(options):
            raise PlanError("%s.mount_options %r: comma-separated fstab options without spaces (letters, digits "
                            "and _ . = : / @ + -)" % (where, options))
        signature = spec.get("format_signature")
        if signature is not None and (not isinstance(signature, str) or not signature.strip()):
            raise PlanError("%s.format_signature must be the exact signature the refusal named, e.g. 'ext4'" % where)
        checks = ((lun, seen_luns, "lun"), (name, seen_names, "name"), (mount, seen_mounts, "mount_point"))
        for value, seen, what in checks:
            if value is not None and value in seen:
                raise PlanError("%s.%s %r is used by another disk" % (where, what, value))
            seen.add(value)
        out.append({"lun": lun, "name": name, "mount_point": mount, "fs_type": fstype,
                    "mount_options": options, "format_signature": signature})
    return out


def _mount_point(mount, where):
    """The mount point as written in fstab and unit names: absolute, normalised, plain characters, not a system
    directory (a newline or tab would add an fstab line of its own; '/./' is '/')."""
    if mount is None:
        return None
    ok = isinstance(mount, str) and _MOUNT_RE.match(mount) and len(mount) <= 255
    normal = posixpath.normpath(mount) if ok else None
    if ok and normal not in _SYSTEM_DIRS and not normal.startswith("//") and normal == mount.rstrip("/"):
        return normal
    raise PlanError("%s.mount_point must be a normalised absolute path of letters, digits and _ . / @ : + - "
                    "(no spaces, no '.' or '..' parts), not / or /mnt (the temp disk) or a system directory "
                    "(%s), got %r" % (where, " ".join(sorted(_SYSTEM_DIRS - {"/", "/mnt"})), mount))


def probe(host, spec):
    """What sits at the disk's LUN: {link, device, signature, partitions, holders, mounted}."""
    link = BY_LUN % spec["lun"]
    if not host.exists(link):
        return {"link": link, "device": None}
    name = host.blockname(link)
    dev = "/dev/" + name
    rc, out = host.blkid_probe(dev)
    signature, probe_error = blkid_signature(rc, out)
    devno = host.devno(name)
    return {"link": link, "device": dev, "kernel_name": name, "signature": signature, "probe_error": probe_error,
            "is_partition": host.parent_disk(name) != name, "partitions": host.partitions(name),
            "holders": host.holders(name),
            "mounted": [m["target"] for m in host.mountinfo() if devno and m["devno"] == devno]}


def blkid_signature(rc, out):
    """(signature or None, why the probe failed or None) from ``blkid -p -o export``'s exit code and output.

    Only exit code 2 means "no signature": 8 is an ambivalent probe (several signatures, e.g. a file system
    and a RAID member) and anything else a failed probe; neither may ever read as an empty disk."""
    if rc == 2:
        return None, None
    if rc == 8:
        return None, "blkid finds several signatures (ambivalent probe; 'wipefs --no-act DEVICE' lists them)"
    if rc != 0:
        return None, "blkid -p could not probe the disk (exit code %s)" % rc
    info = dict(line.split("=", 1) for line in (out or "").splitlines() if "=" in line)
    if info.get("TYPE"):
        return info["TYPE"], None
    if info.get("PTTYPE"):
        return "partition table " + info["PTTYPE"], None
    return None, "blkid -p reports something it cannot name (%s)" % " ".join(sorted(info)[:8])


def same_disk(before, after):
    """The disk at the LUN is still the one probed before the run attested (nothing swapped, written or mounted)."""
    keys = ("device", "kernel_name", "signature", "probe_error", "partitions", "holders", "mounted")
    return all(before.get(k) == after.get(k) for k in keys)


def mapping_of(dm_uuid, slaves, disk):
    """A device-mapper node is this disk's opened volume: a LUKS2 crypt mapping (dm uuid ``CRYPT-LUKS2-...``, what
    cryptsetup sets) whose only underlying device is the disk's kernel name."""
    return (dm_uuid or "").startswith("CRYPT-LUKS2-") and list(slaves) == [disk]


def plan_disk(spec, found, our_token):
    """'format' | 'keep' | 'rewrap' for one disk, or PlanError.

    ``our_token``: None (no LUKS, or LUKS without our token) or the parsed token (its ``kid``);
    ``spec['target_kid']``: the key version the passphrase should be wrapped to now."""
    where = "data_disk_encryption_disks[lun=%d]" % spec["lun"]
    if not found.get("device"):
        raise PlanError("%s: no disk at %s - attach the data disk at LUN %d (vm data_disks) first"
                        % (where, found["link"], spec["lun"]))
    if found.get("probe_error"):
        raise PlanError("%s: %s: %s; refusing to touch it (nothing was changed)"
                        % (where, found["device"], found["probe_error"]))
    if found.get("is_partition"):
        raise PlanError("%s: %s is a partition, not a whole disk" % (where, found["link"]))
    if found.get("mounted"):
        raise PlanError("%s: %s is mounted at %s; unmount it first (nothing was changed)"
                        % (where, found["device"], ", ".join(found["mounted"])))
    sig = found.get("signature")
    if sig == "crypto_LUKS":
        if our_token is None:
            raise PlanError("%s: %s is a LUKS volume this role did not make (no %s token); refusing to touch it"
                            % (where, found["device"], "confidential-azure-skr"))
        return "keep" if our_token["kid"] == spec.get("target_kid") else "rewrap"
    if found.get("partitions") or found.get("holders"):
        raise PlanError("%s: %s has partitions or users (%s); refusing to format it"
                        % (where, found["device"], ", ".join(found.get("partitions") or found.get("holders"))))
    if sig is None:
        return "format"
    if spec.get("format_signature") == sig:
        return "format"
    raise PlanError("%s: %s holds data (%s). Set format_signature: %r on this disk to DESTROY it, or pick another LUN"
                    % (where, found["device"], sig, sig))


# ------------------------------------------------------------------ the report to the controller
def key_version(kid):
    """The version segment of a versioned Key Vault key id (None without one)."""
    parts = (kid or "").rstrip("/").split("/keys/", 1)
    if len(parts) != 2 or "/" not in parts[1]:
        return None
    return parts[1].split("/", 1)[1] or None


def disk_report(spec, status, is_open, mounted, planned=None, failure=None):
    """One disk as the role reports it (data_disk_encryption_result.disks[]; shape in docs/user/data-disks.md).

    ``status``: this boot's status file of the disk (None if the unlock unit has not run); ``is_open``: the mapper
    exists; ``mounted``: the mount point is mounted from the mapper; ``planned``: this run's plan entry;
    ``failure``: {'stage', 'msg'} when this run stopped before touching the disk."""
    status = status or {}
    opened = bool(is_open)
    if opened:
        stage = reason = None
        key_id = status.get("key_id") or (planned or {}).get("key_id")
    elif status.get("state") == "closed":
        stage, reason, key_id = status.get("stage"), status.get("reason"), None
    elif failure:
        stage, reason, key_id = failure.get("stage") or "provision", failure.get("msg"), None
    elif status.get("state") == "opened":
        stage, reason, key_id = "closed", "the volume was opened this boot and closed since", None
    else:
        stage, reason, key_id = "boot", "the unlock unit has not run this boot", None
    return {"name": spec["name"], "lun": spec["lun"], "mount_point": spec.get("mount_point"),
            "device": status.get("device") or (planned or {}).get("device") or BY_LUN % spec["lun"],
            "action": (planned or {}).get("action"), "opened": opened, "mounted": bool(opened and mounted),
            "state": "opened" if opened else "closed", "key_id": key_id, "key_version": key_version(key_id),
            "maa": status.get("maa"), "stage": stage, "reason": reason, "time": status.get("time")}


# ------------------------------------------------------------------ rendering
def systemd_escape_path(path):
    """``systemd-escape --path``: what a mount unit for ``path`` is called (without '.mount')."""
    path = "/".join(p for p in path.split("/") if p)
    if not path:
        return "-"
    out = []
    for i, ch in enumerate(path):
        if ch == "/":
            out.append("-")
        elif ch.isalnum() and ch.isascii() or ch in ":_" or (ch == "." and i > 0):
            out.append(ch)
        else:
            out.extend("\\x%02x" % b for b in ch.encode("utf-8"))
    return "".join(out)


def unit_instance(spec):
    return "confidential-azure-data-disk@%s.service" % spec["name"]


def mount_unit(spec):
    return systemd_escape_path(spec["mount_point"]) + ".mount" if spec.get("mount_point") else None


def fstab_line(spec):
    """The mount waits for the unlock unit and fails with it: nothing is ever mounted in the disk's place.

    ``noauto``: boot does not queue the mount (its device job would wait out the device timeout when the disk stays
    closed, and boot would not finish for that long, nor would the mount job let the unlock unit stop at shutdown);
    the unit starts the mount after it opened the volume. A service that needs the mount point (RequiresMountsFor=)
    still pulls it in, and then waits as long as the unit may run."""
    if not spec.get("mount_point"):
        return None
    opts = "%s,noauto,nofail,_netdev,x-systemd.requires=%s,x-systemd.device-timeout=%ds" % (
        spec["mount_options"], unit_instance(spec), UNLOCK_TIMEOUT)
    return "/dev/mapper/%s %s %s %s 0 2" % (spec["name"], spec["mount_point"], spec["fs_type"], opts)


def set_lines(text, lines):
    """``text`` (fstab) with each (prefix, line) present exactly once: a line starting with ``prefix``
    is replaced in place, a missing one appended; everything else is kept byte for byte."""
    out = (text or "").splitlines()
    for prefix, line in lines:
        hits = [i for i, cur in enumerate(out) if cur.startswith(prefix)]
        if not hits:
            out.append(line)
            continue
        out[hits[0]] = line
        for i in reversed(hits[1:]):
            del out[i]
    return "\n".join(out) + "\n" if out else ""


def unit_text(python="/usr/bin/python3"):
    """The template unit: one instance per disk, ordered after the network and before its mount."""
    return "\n".join([
        "# Managed by confidential.azure.data_disk_encryption",
        "[Unit]",
        "Description=Attest and open data disk %i (confidential.azure)",
        "Wants=network-online.target",
        "After=network-online.target tpm2.target systemd-udev-settle.service",
        "Before=remote-fs-pre.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "RuntimeDirectory=confidential-azure-data-disk-%i",
        "RuntimeDirectoryMode=0700",
        "UMask=0077",
        "ExecStart=%s %s/agent.py open %%i" % (python, AGENT_DIR),
        "ExecStop=%s %s/agent.py close %%i" % (python, AGENT_DIR),
        "TimeoutStartSec=%d" % UNLOCK_TIMEOUT,
        "",
        "[Install]",
        "WantedBy=remote-fs.target",
        "",
    ])
