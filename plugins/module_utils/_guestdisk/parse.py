# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for the text the kernel and the disk tools print (pure; Python 3.8; no Ansible import)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re


def version_tuple(text):
    """First dotted version in ``text`` as a 3-tuple of ints ((0, 0, 0) when none)."""
    m = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text or "")
    if not m:
        return (0, 0, 0)
    return tuple(int(x or 0) for x in m.groups())


def parse_crypt_table(line):
    """One ``dmsetup table`` line of a crypt target -> dict, or None for other targets.

    '0 N crypt CIPHER KEY IVOFF DEV OFFSET [n opts...]'; the key itself is never returned, only its size."""
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
    try:
        count = int(parts[8]) if len(parts) > 8 else 0
    except ValueError:
        count = 0
    sector = 512
    flags = []
    for opt in parts[9:9 + count]:
        if opt.startswith("sector_size:"):
            sector = int(opt.split(":")[1])
        else:
            flags.append(opt)
    return {"cipher": parts[3], "key_size": key_bits, "device_devno": parts[6],
            "offset": int(parts[7]), "sector_size": sector, "flags": flags}


def _unescape(field):
    return field.replace("\\040", " ")


def parse_mountinfo(text):
    """/proc/self/mountinfo -> [{devno, target, fstype, source}]."""
    rows = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 10 or "-" not in parts:
            continue
        sep = parts.index("-")
        if len(parts) < sep + 3:
            continue
        rows.append({"devno": parts[2], "target": _unescape(parts[4]),
                     "fstype": parts[sep + 1], "source": parts[sep + 2]})
    return rows


def parse_swaps(text):
    """/proc/swaps -> [{name, type}]."""
    rows = []
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            rows.append({"name": _unescape(parts[0]), "type": parts[1]})
    return rows


def parse_blkid_export(text):
    """``blkid -p -o export`` -> {TYPE: ..., LABEL: ..., UUID: ...}."""
    info = {}
    for line in (text or "").splitlines():
        if "=" in line:
            name, value = line.split("=", 1)
            info[name] = value
    return info


def fstab_entries(text):
    """Active /etc/fstab lines as (line, fields) pairs (comments and blank lines dropped)."""
    out = []
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) >= 2:
            out.append((line, fields))
    return out
