# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a guest's disk logic reads from the machine: files under /sys, /proc, /dev, /etc and a few
read-only commands.  Everything goes through one ``Host`` so tests can point it at a fake tree."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import glob
import os

from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import parse


class Host(object):
    """The machine seen through ``root`` (``/`` in production, a fake tree in tests).

    ``run(args) -> (rc, out, err)`` runs a read-only command; it returns rc 127 for a missing tool."""

    def __init__(self, run, root="/"):
        self.run = run
        self.root = root.rstrip("/") or ""

    # ---- files
    def _p(self, path):
        return self.root + path

    def read(self, path, default=""):
        try:
            with open(self._p(path)) as handle:
                return handle.read().strip()
        except (IOError, OSError):
            return default

    def exists(self, path):
        return os.path.exists(self._p(path))

    def isdir(self, path):
        return os.path.isdir(self._p(path))

    def listdir(self, path):
        return sorted(os.listdir(self._p(path))) if self.isdir(path) else []

    def realpath(self, path):
        real = os.path.realpath(self._p(path))
        return real[len(self.root):] if self.root and real.startswith(self.root) else real

    def glob(self, pattern):
        return sorted(p[len(self.root):] for p in glob.glob(self._p(pattern)))

    def stat_devno(self, path, of_node=False):
        """'major:minor' of the file system holding ``path`` (or of the device node itself)."""
        try:
            st = os.stat(self._p(path))
        except OSError:
            return None
        dev = st.st_rdev if of_node else st.st_dev
        return "%d:%d" % (os.major(dev), os.minor(dev))

    def kernel_release(self):
        return self.read("/proc/sys/kernel/osrelease") or os.uname()[2]

    # ---- block devices
    def blockname(self, devpath):
        return os.path.basename(self.realpath(devpath))

    def parent_disk(self, name):
        """Whole-disk kernel name for a block device name (partition -> disk)."""
        sysp = "/sys/class/block/%s" % name
        if self.exists(sysp + "/partition"):
            return os.path.basename(os.path.dirname(self.realpath(sysp)))
        return name

    def partitions(self, disk):
        sysp = "/sys/class/block/%s" % disk
        return [e for e in self.listdir(sysp) if e.startswith(disk) and self.exists("%s/%s/partition" % (sysp, e))]

    def devno(self, name):
        return self.read("/sys/class/block/%s/dev" % name)

    def holders(self, name):
        return self.listdir("/sys/class/block/%s/holders" % name)

    def dm_name(self, dmdev):
        return self.read("/sys/class/block/%s/dm/name" % dmdev)

    def is_crypt_dm(self, name):
        return name.startswith("dm-") and self.read("/sys/class/block/%s/dm/uuid" % name).startswith("CRYPT-")

    def block_of_devno(self, devno):
        path = "/sys/dev/block/%s" % devno
        return os.path.basename(self.realpath(path)) if self.exists(path) else None

    def model(self, disk):
        return self.read("/sys/class/block/%s/device/model" % disk)

    def size_bytes(self, disk):
        return int(self.read("/sys/class/block/%s/size" % disk, "0") or 0) * 512

    def logical_block_size(self, disk):
        return int(self.read("/sys/class/block/%s/queue/logical_block_size" % disk, "512") or 512)

    def blkid(self, path):
        rc, out, _err = self.run(["blkid", "-p", "-o", "export", path])
        return parse.parse_blkid_export(out) if rc == 0 else {}

    def blkid_probe(self, path):
        """(exit code, output) of ``blkid -p -o export``: 2 is the only "no signature" (datadisk.blkid_signature)."""
        rc, out, _err = self.run(["blkid", "-p", "-o", "export", path])
        return rc, out

    def mountinfo(self):
        return parse.parse_mountinfo(self.read("/proc/self/mountinfo"))

    def swaps(self):
        return parse.parse_swaps(self.read("/proc/swaps"))

    def dm_table(self, mapper):
        rc, out, _err = self.run(["dmsetup", "table", mapper])
        return out.strip() if rc == 0 else None
