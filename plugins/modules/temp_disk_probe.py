#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: temp_disk_probe
short_description: Find, validate and inspect the Azure temp (resource) disk (read-only)
description:
  - Internal module of the C(confidential.azure.temp_disk_encryption) role.
  - Discovers the temp disk from the udev links Azure's agents create, validates that a
    device is the temp disk (fails closed), reports the live dm-crypt mapping, mounts,
    swaps and what the installed systemd/kernel/cryptsetup support.
  - In O(mode=verify) checks the end state (mapping, mount source, no plaintext mount,
    swap only on dm devices) and fails listing every violation.
  - Never changes anything.
version_added: 0.1.0
options:
  mode:
    description: C(probe) before changes, C(verify) after.
    type: str
    choices: [probe, verify]
    default: probe
  device:
    description: Device the user names; it must still validate as the temp disk.
    type: str
  mapper_name:
    description: dm-crypt mapping name.
    type: str
    required: true
  mount_point:
    description: Mount point of the encrypted file system.
    type: str
    required: true
  cipher:
    description: Desired cipher.
    type: str
    default: aes-xts-plain64
  key_size:
    description: Desired key size in bits.
    type: int
    default: 512
  sector_size:
    description: Desired sector size (C(auto), C(512) or C(4096)).
    type: str
    default: auto
  workqueue:
    description: Bypass dm-crypt workqueues (C(auto) = when supported).
    type: str
    default: auto
  accept_blank:
    description: Accept a user-named device without any signature as the temp disk.
    type: bool
    default: false
  swap_file:
    description: Expected swap file (verify mode), empty for none.
    type: str
    default: ''
author:
  - confidential.azure maintainers (@confidential-azure)
'''

EXAMPLES = r'''
- name: Probe the temp disk
  confidential.azure.temp_disk_probe:
    mapper_name: azure_tmp
    mount_point: /mnt
  register: probe
'''

RETURN = r'''
device:
  description: Stable path of the temp disk used in crypttab.
  type: str
  returned: success
  sample: /dev/disk/azure/resource
device_real:
  description: Kernel device node of the temp disk.
  type: str
  returned: success
evidence:
  description: Why the device is considered the temp disk.
  type: str
  returned: success
mapping:
  description: The live mapping (active, cipher, key_size, sector_size, device, flags).
  type: dict
  returned: success
reboot_required:
  description: Desired options differ from the live mapping; applied at next boot.
  type: bool
  returned: success
'''

import glob
import os
import re

from ansible.module_utils.basic import AnsibleModule

TEMP_DISK_LINKS = ("/dev/disk/azure/resource", "/dev/disk/cloud/azure_resource")
NVME_LOCAL_GLOBS = ("/dev/disk/azure/local/by-index/*", "/dev/disk/azure/local/by-name/*",
                    "/dev/disk/azure/local/by-serial/*")
NVME_LOCAL_MODEL = "Microsoft NVMe Direct Disk"
ADE_MAPPER = "resourceencrypt"
TEMP_LABELS = ("Temporary Storage",)
PLAINTEXT_TEMP_MOUNTS = ("/mnt", "/mnt/resource")
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
UNITS_OF_INTEREST = ("walinuxagent.service", "waagent.service", "azure-ephemeral-disk-setup.service",
                     "temp-disk-dataloss-warning.service", "cloud-init.service")


def _read(path, default=""):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except (IOError, OSError):
        return default


_MODULE = None


def _cmd(args):
    """Run a read-only command through AnsibleModule.run_command; (rc, out, err)."""
    if _MODULE.get_bin_path(args[0]) is None:
        return 127, "", "%s not found" % args[0]
    return _MODULE.run_command(args, check_rc=False)


def _version_tuple(text):
    m = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text or "")
    if not m:
        return (0, 0, 0)
    return tuple(int(x or 0) for x in m.groups())


def _blockname(devpath):
    return os.path.basename(os.path.realpath(devpath))


def _parent_disk(name):
    """Whole-disk kernel name for a block device name (partition -> disk)."""
    sysp = "/sys/class/block/%s" % name
    if os.path.exists(os.path.join(sysp, "partition")):
        return os.path.basename(os.path.dirname(os.path.realpath(sysp)))
    return name


def _partitions(disk):
    sysp = "/sys/class/block/%s" % disk
    out = []
    for entry in sorted(os.listdir(sysp)) if os.path.isdir(sysp) else []:
        if entry.startswith(disk) and os.path.exists(os.path.join(sysp, entry, "partition")):
            out.append(entry)
    return out


def _devno(name):
    return _read("/sys/class/block/%s/dev" % name)


def _holders(name):
    d = "/sys/class/block/%s/holders" % name
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def _dm_name(dmdev):
    return _read("/sys/class/block/%s/dm/name" % dmdev)


def _dm_uuid(dmdev):
    return _read("/sys/class/block/%s/dm/uuid" % dmdev)


def _blkid(path):
    rc, out, _err = _cmd(["blkid", "-p", "-o", "export", path])
    info = {}
    if rc == 0:
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                info[k] = v
    return info


def _mountinfo():
    rows = []
    for line in _read("/proc/self/mountinfo").splitlines():
        parts = line.split()
        if len(parts) < 10 or "-" not in parts:
            continue
        sep = parts.index("-")
        rows.append({"devno": parts[2], "target": parts[4].replace("\\040", " "),
                     "fstype": parts[sep + 1], "source": parts[sep + 2]})
    return rows


def _swaps():
    rows = []
    for line in _read("/proc/swaps").splitlines()[1:]:
        parts = line.split()
        if parts:
            rows.append({"name": parts[0].replace("\\040", " "), "type": parts[1]})
    return rows


def _devno_of_path(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))


def _rdev_of_node(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))


def _block_of_devno(devno):
    p = "/sys/dev/block/%s" % devno
    return os.path.basename(os.path.realpath(p)) if os.path.exists(p) else None


def _is_crypt_dm(name):
    return name.startswith("dm-") and _dm_uuid(name).startswith("CRYPT-")


def _unit_present(unit):
    return any(os.path.exists(os.path.join(d, unit)) for d in UNIT_DIRS)


def _dm_table(mapper):
    rc, out, _err = _cmd(["dmsetup", "table", mapper])
    if rc != 0:
        return None
    return out.strip()


def parse_crypt_table(line):
    """'0 N crypt CIPHER KEY IVOFF DEV OFFSET [n opts...]' -> dict (key never returned)."""
    parts = line.split()
    if len(parts) < 8 or parts[2] != "crypt":
        return None
    key = parts[4]
    if key.startswith(":"):  # :<bytes>:<type>:<desc> (kernel keyring)
        try:
            key_bits = int(key.split(":")[1]) * 8
        except (IndexError, ValueError):
            key_bits = 0
    elif key == "-":
        key_bits = 0
    else:
        key_bits = len(key) * 4
    opts = parts[9:9 + int(parts[8])] if len(parts) > 8 else []
    sector = 512
    flags = []
    for o in opts:
        if o.startswith("sector_size:"):
            sector = int(o.split(":")[1])
        else:
            flags.append(o)
    return {"cipher": parts[3], "key_size": key_bits, "device_devno": parts[6],
            "offset": int(parts[7]), "sector_size": sector, "flags": flags}


class Probe(object):
    def __init__(self, module):
        self.m = module
        self.p = module.params
        self.warnings = []

    def fail(self, msg, **kw):
        self.m.fail_json(msg=msg, **kw)

    # ---- environment
    def versions(self):
        rc, out, _e = _cmd(["systemctl", "--version"])
        systemd = _version_tuple(out.splitlines()[0].split(" ", 1)[1] if rc == 0 and out else "")[0]
        kernel = _version_tuple(os.uname()[2])
        rc, out, _e = _cmd(["cryptsetup", "--version"])
        cryptsetup = _version_tuple(out) if rc == 0 else (0, 0, 0)
        gens = ("/usr/lib/systemd/system-generators/systemd-cryptsetup-generator",
                "/lib/systemd/system-generators/systemd-cryptsetup-generator")
        return {
            "systemd": systemd,
            "kernel": ".".join(str(x) for x in kernel),
            "cryptsetup": ".".join(str(x) for x in cryptsetup) if rc == 0 else "",
            "cryptsetup_generator": any(os.path.exists(g) for g in gens),
            "tmp_fstype": systemd >= 246,
            "workqueue": systemd >= 248 and kernel[:2] >= (5, 9) and cryptsetup >= (2, 3, 4),
            "selinux": _read("/sys/fs/selinux/enforce", "") != "",
        }

    # ---- discovery
    def discover(self):
        found = []  # (stable path, disk name, evidence)
        for link in TEMP_DISK_LINKS:
            if os.path.exists(link):
                found.append((link, _parent_disk(_blockname(link)), "udev link %s" % link))
        for pattern in NVME_LOCAL_GLOBS:
            for link in sorted(glob.glob(pattern)):
                disk = _parent_disk(_blockname(link))
                model = _read("/sys/class/block/%s/device/model" % disk)
                ev = "azure-vm-utils link %s" % link + (" (model %s)" % model if model else "")
                found.append((link, disk, ev))
        return found

    def temp_signature(self, disk):
        """Evidence from content: Azure's NTFS "Temporary Storage" or the NVMe model."""
        model = _read("/sys/class/block/%s/device/model" % disk)
        if model.startswith(NVME_LOCAL_MODEL):
            return "NVMe model %s" % model
        for name in [disk] + _partitions(disk):
            info = _blkid("/dev/" + name)
            if info.get("TYPE") == "ntfs" and info.get("LABEL") in TEMP_LABELS:
                return "NTFS label %r on /dev/%s" % (info.get("LABEL"), name)
        return None

    def choose(self, versions):
        found = self.discover()
        disks = []
        for link, disk, ev in found:
            if disk not in [d[1] for d in disks]:
                disks.append((link, disk, ev))
        mapping = self.mapping()
        user = self.p["device"]
        if user:
            if not os.path.exists(user):
                self.fail("temp_disk_encryption: device %s does not exist; nothing was changed" % user)
            name = _blockname(user)
            if not os.path.exists("/sys/class/block/%s" % name):
                self.fail("temp_disk_encryption: %s is not a block device; nothing was changed" % user)
            if _parent_disk(name) != name:
                self.fail("temp_disk_encryption: %s is a partition; name the whole temp disk "
                          "(e.g. /dev/disk/azure/resource), nothing was changed" % user)
            for link, disk, ev in disks:
                if disk == name:
                    return user, name, "named by the user, " + ev
            if disks:
                self.fail("temp_disk_encryption: %s is not the temp disk (the temp disk is %s -> /dev/%s); "
                          "nothing was changed" % (user, disks[0][0], disks[0][1]))
            if mapping and mapping.get("disk") == name:
                return user, name, "named by the user, carries the active mapping %s" % self.p["mapper_name"]
            sig = self.temp_signature(name)
            if sig:
                return user, name, "named by the user, " + sig
            if self.p["accept_blank"] and not _blkid("/dev/" + name) and not _partitions(name):
                return user, name, "named by the user, blank device accepted (accept_blank)"
            self.fail("temp_disk_encryption: %s does not validate as the Azure temp disk (no Azure udev link, "
                      "no 'Temporary Storage' NTFS, not an Azure NVMe local disk, not our mapping); refusing to "
                      "touch it, nothing was changed" % user)
        if not disks:
            self.fail("temp_disk_encryption: no Azure temp disk found (looked for %s and %s); "
                      "name it with temp_disk_encryption_device if you are sure; nothing was changed"
                      % (", ".join(TEMP_DISK_LINKS), "/dev/disk/azure/local/*"))
        nvme = [d for d in disks if "/local/" in d[0]]
        if len(disks) > 1 and len(nvme) != len(disks):
            self.fail("temp_disk_encryption: several different devices claim to be the temp disk: %s; "
                      "name one with temp_disk_encryption_device; nothing was changed"
                      % ", ".join("%s -> /dev/%s" % (d[0], d[1]) for d in disks))
        if len(nvme) > 1:
            self.warnings.append("several NVMe local disks; only %s is encrypted" % nvme[0][0])
        return disks[0]

    # ---- live state
    def mapping(self):
        name = self.p["mapper_name"]
        table = _dm_table(name)
        if table is None:
            return None
        info = parse_crypt_table(table.splitlines()[0]) if table else None
        if not info:
            self.fail("temp_disk_encryption: /dev/mapper/%s exists but is not a dm-crypt mapping; "
                      "nothing was changed" % name)
        info["active"] = True
        info["disk"] = _block_of_devno(info["device_devno"]) or ""
        return info

    def safety(self, disk, mapping):
        """The device must not be the OS disk, in use by something else, or mounted as data."""
        names = [disk] + _partitions(disk)
        devnos = dict((_devno(n), n) for n in names)
        root_dev = _devno_of_path("/")
        root_blk = _block_of_devno(root_dev) if root_dev else None
        if root_blk and (root_blk in names or _parent_disk(root_blk) == disk):
            self.fail("temp_disk_encryption: /dev/%s holds the root file system; refusing, nothing was changed"
                      % disk)
        plaintext_mounts = []
        for row in _mountinfo():
            if row["devno"] in devnos:
                if row["target"] in PLAINTEXT_TEMP_MOUNTS or row["target"] == self.p["mount_point"]:
                    plaintext_mounts.append({"source": "/dev/" + devnos[row["devno"]], "target": row["target"]})
                else:
                    self.fail("temp_disk_encryption: /dev/%s is mounted at %s, which is not a temp disk mount; "
                              "refusing, nothing was changed" % (devnos[row["devno"]], row["target"]))
        our = bool(mapping) and mapping.get("disk") == disk
        for n in names:
            for h in _holders(n):
                if our and _dm_name(h) == self.p["mapper_name"]:
                    continue
                self.fail("temp_disk_encryption: /dev/%s is in use by /dev/%s (%s); refusing, nothing was changed"
                          % (n, h, _dm_name(h) or "holder"))
        plaintext_swaps = []
        for sw in _swaps():
            if sw["type"] == "partition":
                blk = _blockname(sw["name"])
                if blk in names:
                    plaintext_swaps.append(sw["name"])
            else:
                dn = _devno_of_path(sw["name"])
                if dn in devnos:
                    plaintext_swaps.append(sw["name"])
        return plaintext_mounts, plaintext_swaps

    def fstab_conflicts(self, stable, disk):
        """fstab lines that mount the plaintext temp disk (or its partitions)."""
        aliases = set([stable, "/dev/" + disk])
        for n in [disk] + _partitions(disk):
            aliases.add("/dev/" + n)
            info = _blkid("/dev/" + n)
            if info.get("UUID"):
                aliases.add("UUID=" + info["UUID"])
                aliases.add("/dev/disk/by-uuid/" + info["UUID"])
            if info.get("LABEL"):
                aliases.add("LABEL=" + info["LABEL"])
        for link in TEMP_DISK_LINKS:
            for suffix in ("", "-part1", "-part2"):
                if os.path.exists(link + suffix) and _parent_disk(_blockname(link + suffix)) == disk:
                    aliases.add(link + suffix)
        lines = []
        for line in _read("/etc/fstab").splitlines():
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            fields = s.split()
            if len(fields) < 2:
                continue
            src = fields[0]
            resolved = os.path.realpath(src) if src.startswith("/dev/") else None
            hit = src in aliases or (resolved and _parent_disk(_blockname(resolved)) == disk and
                                     os.path.exists(resolved))
            cloudconfig = "comment=cloudconfig" in s and fields[1] in PLAINTEXT_TEMP_MOUNTS
            if hit or cloudconfig:
                lines.append(line)
        return lines

    def desired(self, disk, versions):
        size = int(_read("/sys/class/block/%s/size" % disk, "0") or 0) * 512
        lbs = int(_read("/sys/class/block/%s/queue/logical_block_size" % disk, "512") or 512)
        want = self.p["sector_size"]
        if want == "auto":
            sector = 4096 if size and size % 4096 == 0 and lbs <= 4096 else max(512, lbs)
        else:
            sector = int(want)
            if size % sector or lbs > sector:
                self.fail("temp_disk_encryption: sector size %d does not fit /dev/%s (size %d, logical block %d)"
                          % (sector, disk, size, lbs))
        wq = self.p["workqueue"]
        if wq == "auto":
            workqueue = versions["workqueue"]
        else:
            workqueue = self.m.boolean(wq)
            if workqueue and not versions["workqueue"]:
                self.fail("temp_disk_encryption: no-read/write-workqueue need systemd >= 248, kernel >= 5.9 and "
                          "cryptsetup >= 2.3.4 (have systemd %s, kernel %s, cryptsetup %s)"
                          % (versions["systemd"], versions["kernel"], versions["cryptsetup"] or "none"))
        return {"cipher": self.p["cipher"], "key_size": self.p["key_size"], "sector_size": sector,
                "workqueue": workqueue, "size_bytes": size}

    def compare(self, mapping, desired, disk):
        reasons = []
        if mapping["disk"] != disk:
            reasons.append("mapping is on /dev/%s, wanted /dev/%s" % (mapping["disk"], disk))
        if mapping["cipher"] != desired["cipher"]:
            reasons.append("cipher %s -> %s" % (mapping["cipher"], desired["cipher"]))
        if mapping["key_size"] and mapping["key_size"] != desired["key_size"]:
            reasons.append("key size %d -> %d" % (mapping["key_size"], desired["key_size"]))
        if mapping["sector_size"] != desired["sector_size"]:
            reasons.append("sector size %d -> %d" % (mapping["sector_size"], desired["sector_size"]))
        live_wq = "no_read_workqueue" in mapping["flags"] and "no_write_workqueue" in mapping["flags"]
        if live_wq != desired["workqueue"]:
            reasons.append("workqueue bypass %s -> %s" % (live_wq, desired["workqueue"]))
        return reasons

    # ---- verify
    def verify(self, disk, mapping):
        errors = []
        mp = self.p["mount_point"]
        mapper = self.p["mapper_name"]
        if not mapping:
            errors.append("mapping /dev/mapper/%s is not active" % mapper)
        elif mapping["disk"] != disk:
            errors.append("mapping is on /dev/%s, not on the temp disk /dev/%s" % (mapping["disk"], disk))
        names = [disk] + _partitions(disk)
        devnos = set(_devno(n) for n in names)
        mapper_devno = _rdev_of_node("/dev/mapper/" + mapper)
        mp_rows = [r for r in _mountinfo() if r["target"] == mp]
        if not mp_rows:
            errors.append("%s is not mounted" % mp)
        else:
            top = mp_rows[-1]
            if mapper_devno is None or top["devno"] != mapper_devno:
                errors.append("%s is mounted from %s, not from /dev/mapper/%s" % (mp, top["source"], mapper))
        for r in _mountinfo():
            if r["devno"] in devnos:
                errors.append("plaintext mount of the temp disk: %s on %s" % (r["source"], r["target"]))
        swaps = []
        for sw in _swaps():
            if sw["type"] == "partition":
                blk = _blockname(sw["name"])
            else:
                dn = _devno_of_path(sw["name"])
                blk = _block_of_devno(dn) if dn else None
            on_dm = bool(blk) and _is_crypt_dm(blk)
            swaps.append({"name": sw["name"], "type": sw["type"], "backing": "/dev/%s" % blk if blk else None,
                          "encrypted": on_dm})
            if not on_dm:
                errors.append("swap %s is not on a dm-crypt device" % sw["name"])
        if self.p["swap_file"] and not any(s["name"] == self.p["swap_file"] for s in swaps):
            errors.append("swap file %s is not active" % self.p["swap_file"])
        if os.path.exists("/dev/mapper/" + ADE_MAPPER):
            errors.append("an ADE mapping /dev/mapper/%s exists" % ADE_MAPPER)
        return errors, swaps

    def run(self):
        p = self.p
        if not re.match(r"^[A-Za-z0-9_]+$", p["mapper_name"]):
            self.fail("temp_disk_encryption: mapper name must match [A-Za-z0-9_]+")
        if os.path.exists("/dev/mapper/" + ADE_MAPPER) or re.search(
                r"^\s*%s\s" % ADE_MAPPER, _read("/etc/crypttab"), re.M):
            self.fail("temp_disk_encryption: Azure Disk Encryption manages this temp disk (mapping '%s'); "
                      "remove the ADE extension (VolumeType=Data) before using this role; nothing was changed"
                      % ADE_MAPPER)
        versions = self.versions()
        stable, disk, evidence = self.choose(versions)
        mapping = self.mapping()
        if mapping and mapping["disk"] != disk:
            self.fail("temp_disk_encryption: /dev/mapper/%s is active on /dev/%s, not on the temp disk /dev/%s; "
                      "refusing, nothing was changed" % (p["mapper_name"], mapping["disk"], disk))
        plaintext_mounts, plaintext_swaps = self.safety(disk, mapping)
        desired = self.desired(disk, versions)
        reasons = self.compare(mapping, desired, disk) if mapping else []
        result = dict(
            changed=False, device=stable, device_real="/dev/" + disk, evidence=evidence,
            size_bytes=desired["size_bytes"], versions=versions,
            desired=desired, mapping=mapping or {"active": False},
            plaintext_mounts=plaintext_mounts, plaintext_swaps=plaintext_swaps,
            fstab_conflicts=self.fstab_conflicts(stable, disk) if not mapping else [],
            units=dict((u, _unit_present(u)) for u in UNITS_OF_INTEREST),
            reboot_required=bool(reasons), reboot_reasons=reasons,
        )
        if mapping:
            result["signatures"] = {}
        else:
            result["signatures"] = dict(("/dev/" + n, _blkid("/dev/" + n).get("TYPE", ""))
                                        for n in [disk] + _partitions(disk))
        if p["mode"] == "verify":
            errors, swaps = self.verify(disk, mapping)
            result["swaps"] = swaps
            result["verify_errors"] = errors
            if reasons:
                self.m.warn("temp_disk_encryption: reboot required to apply: %s (the live mapping was left "
                            "untouched)" % "; ".join(reasons))
            if errors:
                self.fail("temp_disk_encryption: verification failed: %s" % "; ".join(errors), **result)
        for w in self.warnings:
            self.m.warn(w)
        self.m.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", default="probe", choices=["probe", "verify"]),
            device=dict(type="str"),
            mapper_name=dict(type="str", required=True),
            mount_point=dict(type="str", required=True),
            cipher=dict(type="str", default="aes-xts-plain64"),
            key_size=dict(type="int", default=512),
            sector_size=dict(type="str", default="auto"),
            workqueue=dict(type="str", default="auto"),
            accept_blank=dict(type="bool", default=False),
            swap_file=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    global _MODULE
    _MODULE = module
    Probe(module).run()


if __name__ == "__main__":
    main()
