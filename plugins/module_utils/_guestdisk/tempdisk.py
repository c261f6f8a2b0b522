# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find, validate and inspect the Azure temp (resource) disk; never changes anything.

Used by the temp_disk_probe module (role temp_disk_encryption).  Every refusal raises ``ProbeFailure`` whose
message ends with "nothing was changed": the role has not written anything when this code runs."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import parse

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
CRYPTSETUP_GENERATORS = ("/usr/lib/systemd/system-generators/systemd-cryptsetup-generator",
                         "/lib/systemd/system-generators/systemd-cryptsetup-generator")
PREFIX = "temp_disk_encryption: "


class ProbeFailure(Exception):
    """A refusal; ``result`` carries what was found so far (verify mode)."""

    def __init__(self, msg, result=None):
        super(ProbeFailure, self).__init__(PREFIX + msg)
        self.result = result or {}


def _truthy(value):
    return str(value).lower() in ("1", "true", "yes", "on", "y")


class TempDiskProbe(object):
    """``params``: the temp_disk_probe module's options (mode, device, mapper_name, mount_point, cipher, key_size,
    sector_size, workqueue, accept_blank, swap_file)."""

    def __init__(self, host, params):
        self.h = host
        self.p = params
        self.warnings = []

    # ---- environment
    def versions(self):
        rc, out, _err = self.h.run(["systemctl", "--version"])
        first = out.splitlines()[0] if rc == 0 and out else ""
        systemd = parse.version_tuple(first.split(" ", 1)[1] if " " in first else "")[0]
        kernel = parse.version_tuple(self.h.kernel_release())
        rc, out, _err = self.h.run(["cryptsetup", "--version"])
        cryptsetup = parse.version_tuple(out) if rc == 0 else (0, 0, 0)
        return {
            "systemd": systemd,
            "kernel": ".".join(str(x) for x in kernel),
            "cryptsetup": ".".join(str(x) for x in cryptsetup) if rc == 0 else "",
            "cryptsetup_generator": any(self.h.exists(g) for g in CRYPTSETUP_GENERATORS),
            "tmp_fstype": systemd >= 246,
            "workqueue": systemd >= 248 and kernel[:2] >= (5, 9) and cryptsetup >= (2, 3, 4),
            "selinux": self.h.read("/sys/fs/selinux/enforce", "") != "",
        }

    # ---- discovery
    def discover(self):
        """[(stable path, disk name, evidence)] for every device Azure's udev rules mark as local/temp."""
        found = []
        for link in TEMP_DISK_LINKS:
            if self.h.exists(link):
                found.append((link, self.h.parent_disk(self.h.blockname(link)), "udev link %s" % link))
        for pattern in NVME_LOCAL_GLOBS:
            for link in self.h.glob(pattern):
                disk = self.h.parent_disk(self.h.blockname(link))
                model = self.h.model(disk)
                found.append((link, disk, "azure-vm-utils link %s" % link + (" (model %s)" % model if model else "")))
        return found

    def temp_signature(self, disk):
        """Evidence from content: Azure's NTFS "Temporary Storage" or the NVMe model."""
        model = self.h.model(disk)
        if model.startswith(NVME_LOCAL_MODEL):
            return "NVMe model %s" % model
        for name in [disk] + self.h.partitions(disk):
            info = self.h.blkid("/dev/" + name)
            if info.get("TYPE") == "ntfs" and info.get("LABEL") in TEMP_LABELS:
                return "NTFS label %r on /dev/%s" % (info.get("LABEL"), name)
        return None

    def _unique_disks(self):
        disks = []
        for link, disk, evidence in self.discover():
            if disk not in [d[1] for d in disks]:
                disks.append((link, disk, evidence))
        return disks

    def _user_device(self, user, disks, mapping):
        if not self.h.exists(user):
            raise ProbeFailure("device %s does not exist; nothing was changed" % user)
        name = self.h.blockname(user)
        if not self.h.exists("/sys/class/block/%s" % name):
            raise ProbeFailure("%s is not a block device; nothing was changed" % user)
        if self.h.parent_disk(name) != name:
            raise ProbeFailure("%s is a partition; name the whole temp disk (e.g. /dev/disk/azure/resource), "
                               "nothing was changed" % user)
        for _link, disk, evidence in disks:
            if disk == name:
                return user, name, "named by the user, " + evidence
        if disks:
            raise ProbeFailure("%s is not the temp disk (the temp disk is %s -> /dev/%s); nothing was changed"
                               % (user, disks[0][0], disks[0][1]))
        if mapping and mapping.get("disk") == name:
            return user, name, "named by the user, carries the active mapping %s" % self.p["mapper_name"]
        signature = self.temp_signature(name)
        if signature:
            return user, name, "named by the user, " + signature
        # blank = blkid's exit code 2 only (8 is an ambivalent probe, others a failed one: never "blank")
        if self.p["accept_blank"] and self.h.blkid_probe("/dev/" + name)[0] == 2 and not self.h.partitions(name):
            return user, name, "named by the user, blank device accepted (accept_blank)"
        raise ProbeFailure("%s does not validate as the Azure temp disk (no Azure udev link, no 'Temporary "
                           "Storage' NTFS, not an Azure NVMe local disk, not our mapping); refusing to touch it, "
                           "nothing was changed" % user)

    def choose(self):
        disks = self._unique_disks()
        if self.p["device"]:
            return self._user_device(self.p["device"], disks, self.mapping())
        if not disks:
            raise ProbeFailure("no Azure temp disk found (looked for %s and %s); name it with "
                               "temp_disk_encryption_device if you are sure; nothing was changed"
                               % (", ".join(TEMP_DISK_LINKS), "/dev/disk/azure/local/*"))
        nvme = [d for d in disks if "/local/" in d[0]]
        if len(disks) > 1 and len(nvme) != len(disks):
            raise ProbeFailure("several different devices claim to be the temp disk: %s; name one with "
                               "temp_disk_encryption_device; nothing was changed"
                               % ", ".join("%s -> /dev/%s" % (d[0], d[1]) for d in disks))
        if len(nvme) > 1:
            self.warnings.append("several NVMe local disks; only %s is encrypted" % nvme[0][0])
        return disks[0]

    # ---- live state
    def mapping(self):
        name = self.p["mapper_name"]
        table = self.h.dm_table(name)
        if table is None:
            return None
        info = parse.parse_crypt_table(table.splitlines()[0]) if table else None
        if not info:
            raise ProbeFailure("/dev/mapper/%s exists but is not a dm-crypt mapping; nothing was changed" % name)
        info["active"] = True
        info["disk"] = self.h.block_of_devno(info["device_devno"]) or ""
        return info

    def safety(self, disk, mapping):
        """The device must not be the OS disk, in use by something else, or mounted as data."""
        names = [disk] + self.h.partitions(disk)
        devnos = dict((self.h.devno(n), n) for n in names)
        root_dev = self.h.stat_devno("/")
        root_blk = self.h.block_of_devno(root_dev) if root_dev else None
        if root_blk and (root_blk in names or self.h.parent_disk(root_blk) == disk):
            raise ProbeFailure("/dev/%s holds the root file system; refusing, nothing was changed" % disk)
        plaintext_mounts = []
        for row in self.h.mountinfo():
            if row["devno"] not in devnos:
                continue
            if row["target"] in PLAINTEXT_TEMP_MOUNTS or row["target"] == self.p["mount_point"]:
                plaintext_mounts.append({"source": "/dev/" + devnos[row["devno"]], "target": row["target"]})
            else:
                raise ProbeFailure("/dev/%s is mounted at %s, which is not a temp disk mount; refusing, nothing was "
                                   "changed" % (devnos[row["devno"]], row["target"]))
        ours = bool(mapping) and mapping.get("disk") == disk
        for name in names:
            for holder in self.h.holders(name):
                if ours and self.h.dm_name(holder) == self.p["mapper_name"]:
                    continue
                raise ProbeFailure("/dev/%s is in use by /dev/%s (%s); refusing, nothing was changed"
                                   % (name, holder, self.h.dm_name(holder) or "holder"))
        plaintext_swaps = []
        for swap in self.h.swaps():
            if swap["type"] == "partition":
                if self.h.blockname(swap["name"]) in names:
                    plaintext_swaps.append(swap["name"])
            elif self.h.stat_devno(swap["name"]) in devnos:
                plaintext_swaps.append(swap["name"])
        return plaintext_mounts, plaintext_swaps

    def fstab_conflicts(self, stable, disk):
        """fstab lines that mount the plaintext temp disk (or its partitions)."""
        aliases = set([stable, "/dev/" + disk])
        for name in [disk] + self.h.partitions(disk):
            aliases.add("/dev/" + name)
            info = self.h.blkid("/dev/" + name)
            if info.get("UUID"):
                aliases.update(["UUID=" + info["UUID"], "/dev/disk/by-uuid/" + info["UUID"]])
            if info.get("LABEL"):
                aliases.add("LABEL=" + info["LABEL"])
        for link in TEMP_DISK_LINKS:
            for suffix in ("", "-part1", "-part2"):
                if self.h.exists(link + suffix) and self.h.parent_disk(self.h.blockname(link + suffix)) == disk:
                    aliases.add(link + suffix)
        lines = []
        for line, fields in parse.fstab_entries(self.h.read("/etc/fstab")):
            src = fields[0]
            resolved = self.h.realpath(src) if src.startswith("/dev/") else None
            hit = src in aliases or bool(resolved and self.h.exists(resolved) and
                                         self.h.parent_disk(self.h.blockname(resolved)) == disk)
            cloudconfig = "comment=cloudconfig" in line and fields[1] in PLAINTEXT_TEMP_MOUNTS
            if hit or cloudconfig:
                lines.append(line)
        return lines

    def desired(self, disk, versions):
        size = self.h.size_bytes(disk)
        lbs = self.h.logical_block_size(disk)
        want = self.p["sector_size"]
        if want == "auto":
            sector = 4096 if size and size % 4096 == 0 and lbs <= 4096 else max(512, lbs)
        else:
            sector = int(want)
            if size % sector or lbs > sector:
                raise ProbeFailure("sector size %d does not fit /dev/%s (size %d, logical block %d)"
                                   % (sector, disk, size, lbs))
        if self.p["workqueue"] == "auto":
            workqueue = versions["workqueue"]
        else:
            workqueue = _truthy(self.p["workqueue"])
            if workqueue and not versions["workqueue"]:
                raise ProbeFailure("no-read/write-workqueue need systemd >= 248, kernel >= 5.9 and cryptsetup >= "
                                   "2.3.4 (have systemd %s, kernel %s, cryptsetup %s)"
                                   % (versions["systemd"], versions["kernel"], versions["cryptsetup"] or "none"))
        return {"cipher": self.p["cipher"], "key_size": self.p["key_size"], "sector_size": sector,
                "workqueue": workqueue, "size_bytes": size}

    # ---- verify
    def verify(self, disk, mapping):
        errors = []
        mount_point = self.p["mount_point"]
        mapper = self.p["mapper_name"]
        if not mapping:
            errors.append("mapping /dev/mapper/%s is not active" % mapper)
        elif mapping["disk"] != disk:
            errors.append("mapping is on /dev/%s, not on the temp disk /dev/%s" % (mapping["disk"], disk))
        devnos = set(self.h.devno(n) for n in [disk] + self.h.partitions(disk))
        mapper_devno = self.h.stat_devno("/dev/mapper/" + mapper, of_node=True)
        mounts = self.h.mountinfo()
        at_mount_point = [r for r in mounts if r["target"] == mount_point]
        if not at_mount_point:
            errors.append("%s is not mounted" % mount_point)
        elif mapper_devno is None or at_mount_point[-1]["devno"] != mapper_devno:
            errors.append("%s is mounted from %s, not from /dev/mapper/%s"
                          % (mount_point, at_mount_point[-1]["source"], mapper))
        for row in mounts:
            if row["devno"] in devnos:
                errors.append("plaintext mount of the temp disk: %s on %s" % (row["source"], row["target"]))
        swaps = []
        for swap in self.h.swaps():
            if swap["type"] == "partition":
                blk = self.h.blockname(swap["name"])
            else:
                devno = self.h.stat_devno(swap["name"])
                blk = self.h.block_of_devno(devno) if devno else None
            on_dm = bool(blk) and self.h.is_crypt_dm(blk)
            swaps.append({"name": swap["name"], "type": swap["type"], "backing": "/dev/%s" % blk if blk else None,
                          "encrypted": on_dm})
            if not on_dm:
                errors.append("swap %s is not on a dm-crypt device" % swap["name"])
        if self.p["swap_file"] and not any(s["name"] == self.p["swap_file"] for s in swaps):
            errors.append("swap file %s is not active" % self.p["swap_file"])
        if self.h.exists("/dev/mapper/" + ADE_MAPPER):
            errors.append("an ADE mapping /dev/mapper/%s exists" % ADE_MAPPER)
        return errors, swaps

    def _refuse_ade(self):
        crypttab = self.h.read("/etc/crypttab")
        if self.h.exists("/dev/mapper/" + ADE_MAPPER) or re.search(r"^\s*%s\s" % ADE_MAPPER, crypttab, re.M):
            raise ProbeFailure("Azure Disk Encryption manages this temp disk (mapping '%s'); remove the ADE extension "
                               "(VolumeType=Data) before using this role; nothing was changed" % ADE_MAPPER)

    def run(self):
        """The module's result dict; raises ProbeFailure on any refusal."""
        if not re.match(r"^[A-Za-z0-9_]+$", self.p["mapper_name"]):
            raise ProbeFailure("mapper name must match [A-Za-z0-9_]+")
        self._refuse_ade()
        versions = self.versions()
        stable, disk, evidence = self.choose()
        mapping = self.mapping()
        if mapping and mapping["disk"] != disk:
            raise ProbeFailure("/dev/mapper/%s is active on /dev/%s, not on the temp disk /dev/%s; refusing, "
                               "nothing was changed" % (self.p["mapper_name"], mapping["disk"], disk))
        plaintext_mounts, plaintext_swaps = self.safety(disk, mapping)
        desired = self.desired(disk, versions)
        reasons = compare_mapping(mapping, desired, disk) if mapping else []
        result = dict(
            changed=False, device=stable, device_real="/dev/" + disk, evidence=evidence,
            size_bytes=desired["size_bytes"], versions=versions, desired=desired,
            mapping=mapping or {"active": False}, plaintext_mounts=plaintext_mounts, plaintext_swaps=plaintext_swaps,
            fstab_conflicts=self.fstab_conflicts(stable, disk) if not mapping else [],
            units=dict((u, any(self.h.exists(d + "/" + u) for d in UNIT_DIRS)) for u in UNITS_OF_INTEREST),
            reboot_required=bool(reasons), reboot_reasons=reasons,
            signatures={} if mapping else dict(("/dev/" + n, self.h.blkid("/dev/" + n).get("TYPE", ""))
                                               for n in [disk] + self.h.partitions(disk)),
        )
        if self.p["mode"] == "verify":
            errors, swaps = self.verify(disk, mapping)
            result["swaps"] = swaps
            result["verify_errors"] = errors
            if reasons:
                self.warnings.append("temp_disk_encryption: reboot required to apply: %s (the live mapping was left "
                                     "untouched)" % "; ".join(reasons))
            if errors:
                raise ProbeFailure("verification failed: %s" % "; ".join(errors), result)
        return result


def compare_mapping(mapping, desired, disk):
    """Reasons the live mapping differs from the desired one (applied at the next boot)."""
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
