# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Confidential VM sizes: parse ``Standard_DC4as_v5`` style names, map a size family to its TEE and temp disk.

Pure: no Ansible, no Azure SDK.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import re

SNP = "SNP"
TDX = "TDX"

TEE_LABELS = {SNP: "AMD SEV-SNP", TDX: "Intel TDX"}

# family -> (tee, has temp disk, temp disk kind).  Source: the seeds and control-plane.md size table.
# v6 temp disks are NVMe.
FAMILIES = {
    "DCasv5": (SNP, False, None),
    "DCadsv5": (SNP, True, "scsi"),
    "ECasv5": (SNP, False, None),
    "ECadsv5": (SNP, True, "scsi"),
    "DCesv5": (TDX, False, None),
    "DCedsv5": (TDX, True, "scsi"),
    "ECesv5": (TDX, False, None),
    "ECedsv5": (TDX, True, "scsi"),
    "DCasv6": (SNP, False, None),
    "DCadsv6": (SNP, True, "nvme"),
    "ECasv6": (SNP, False, None),
    "ECadsv6": (SNP, True, "nvme"),
    "DCesv6": (TDX, False, None),
    "DCedsv6": (TDX, True, "nvme"),
    "ECesv6": (TDX, False, None),
    "ECedsv6": (TDX, True, "nvme"),
}

# Standard_DC4as_v5, Standard_EC64-32ads_v5 (constrained vCPU), Standard_EC96iads_v5 (isolated), Standard_DC4as_cc_v5
_SIZE_RE = re.compile(
    r"^(?P<tier>Standard|Basic)_(?P<series>[A-Z]+)(?P<vcpus>\d+)(?:-(?P<active>\d+))?"
    r"(?P<features>[a-z]*)(?:_(?P<suffix>[a-z]+))?_v(?P<version>\d+)$"
)


class SizeInfo(object):
    """Parsed VM size name."""

    def __init__(self, name, series, vcpus, active_vcpus, features, suffix, version):
        self.name = name
        self.series = series
        self.vcpus = vcpus
        self.active_vcpus = active_vcpus
        self.features = features
        self.suffix = suffix
        self.version = version

    @property
    def family(self):
        # isolated sizes ("i") and the confidential-container suffix do not change the family's TEE/temp disk
        return "%s%sv%d" % (self.series, self.features.replace("i", ""), self.version)

    @property
    def known(self):
        return self.family in FAMILIES

    @property
    def tee(self):
        entry = FAMILIES.get(self.family)
        return entry[0] if entry else None

    @property
    def temp_disk(self):
        entry = FAMILIES.get(self.family)
        return entry[1] if entry else ("d" in self.features)

    @property
    def temp_disk_kind(self):
        entry = FAMILIES.get(self.family)
        return entry[2] if entry else None

    def to_dict(self):
        return {
            "name": self.name,
            "family": self.family,
            "series": self.series,
            "vcpus": self.vcpus,
            "active_vcpus": self.active_vcpus,
            "version": self.version,
            "confidential": self.known,
            "tee": self.tee,
            "temp_disk": self.temp_disk,
            "temp_disk_kind": self.temp_disk_kind,
        }


def parse_size(name):
    """Parse an Azure VM size name; returns SizeInfo or None when the name does not follow the size naming scheme."""
    if not isinstance(name, str):
        return None
    match = _SIZE_RE.match(name.strip())
    if not match:
        return None
    vcpus = int(match.group("vcpus"))
    active = int(match.group("active")) if match.group("active") else vcpus
    return SizeInfo(
        name=name.strip(),
        series=match.group("series"),
        vcpus=vcpus,
        active_vcpus=active,
        features=match.group("features"),
        suffix=match.group("suffix"),
        version=int(match.group("version")),
    )


def tee_of(size_name):
    """TEE ('SNP' | 'TDX') of a confidential size, None when the size is not a known confidential family."""
    info = parse_size(size_name)
    return info.tee if info else None


def families_for(tee=None, temp_disk=None):
    """Family names matching a TEE and/or temp disk presence, sorted."""
    out = []
    for family, (ftee, ftemp, _kind) in FAMILIES.items():
        if tee is not None and ftee != tee:
            continue
        if temp_disk is not None and ftemp != temp_disk:
            continue
        out.append(family)
    return sorted(out)


def family_hint(tee=None):
    """Human readable list of families, for error messages."""
    if tee is None:
        return "; ".join("%s: %s" % (TEE_LABELS[t], ", ".join(families_for(t))) for t in (SNP, TDX))
    return "%s: %s" % (TEE_LABELS[tee], ", ".join(families_for(tee)))


def resize_blocker(current_size, desired_size):
    """Why Azure cannot resize in place from current_size to desired_size, or None when it can.

    In-place resize is possible within the same TEE and the same temp-disk class (Azure does not resize between a
    size with a local temp disk and one without).
    """
    if not current_size or not desired_size or current_size.lower() == desired_size.lower():
        return None
    cur = parse_size(current_size)
    new = parse_size(desired_size)
    if cur is None or new is None:
        return None
    if cur.tee and new.tee and cur.tee != new.tee:
        return "size: %s (%s) -> %s (%s) changes the TEE; a VM cannot move between AMD SEV-SNP and Intel TDX in place" % (
            current_size, cur.tee, desired_size, new.tee)
    if cur.temp_disk != new.temp_disk:
        return ("size: %s -> %s changes whether the VM has a local temp disk; Azure cannot resize between sizes with "
                "and without a temp disk" % (current_size, desired_size))
    return None
