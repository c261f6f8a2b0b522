# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.temp_disk_encryption proven in a real guest (qemu + swtpm).

One guest per session; the tests run in file order and build on each other:
refusals (nothing touched) -> check mode -> fresh apply -> idempotent re-run
keeping files -> marker not on the raw disk -> reboot gives a new key ->
option change = reboot required -> interrupted run converges.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time

import pytest

from roletools import env, playbook_cmd, run_playbook

PB = "temp_disk.yml"
SWAP_MB = 64
BASE_VARS = {"temp_disk_encryption_swap_size_mb": SWAP_MB}
RAW = "/dev/disk/azure/resource"
MAPPER = "/dev/mapper/azure_tmp"

# Everything the role could touch, hashed (the disks: first 8 MiB + partition view).
SNAPSHOT = r"""
for f in /etc/crypttab /etc/fstab /etc/waagent.conf /etc/cloud/cloud.cfg.d/99-confidential-azure-temp-disk.cfg \
         /etc/udev/rules.d/66-azure-ephemeral.rules /etc/systemd/system/confidential-azure-temp-swap.service; do
  printf '%s ' "$f"; if [ -e "$f" ]; then sha256sum < "$f"; else echo absent; fi
done
for d in /dev/vdb /dev/vdc; do printf '%s ' $d; dd if=$d bs=1M count=8 status=none | sha256sum; done
lsblk -n -o NAME,TYPE,FSTYPE,LABEL,MOUNTPOINTS /dev/vdb /dev/vdc
ls /dev/mapper
"""

KEY_HASH = "dmsetup table --showkeys azure_tmp | sha256sum | cut -d' ' -f1"


def sh(guest, cmd, check=True):
    return guest.ssh(cmd, check=check).stdout


def run(guest, extra=None, check=False):
    v = dict(BASE_VARS)
    v.update(extra or {})
    r = run_playbook(guest.inventory_path, PB, v, check=check)
    print("ansible-playbook %.1f s rc=%d changed=%d\n%s" % (r.seconds, r.rc, r.changed, r.output[-4000:]))
    return r


def timings(guest, key, value):
    """Role run times, kept next to the guest for the report (not asserted)."""
    p = os.path.join(str(guest.run_dir), "timings.json")
    data = json.load(open(p)) if os.path.exists(p) else {}
    data[key] = round(value, 1)
    with open(p, "w") as fh:
        json.dump(data, fh, indent=1)


def assert_encrypted_state(guest, swap=True):
    lsblk = json.loads(sh(guest, "lsblk -J -o NAME,PATH,TYPE,FSTYPE,MOUNTPOINT /dev/vdb"))
    disk = lsblk["blockdevices"][0]
    children = disk.get("children") or []
    crypt = [c for c in children if c["type"] == "crypt"]
    assert len(crypt) == 1 and crypt[0]["name"] == "azure_tmp", lsblk
    assert crypt[0]["mountpoint"] == "/mnt", lsblk
    assert crypt[0]["fstype"] == "ext4", lsblk
    assert disk["mountpoint"] is None
    assert all(c["mountpoint"] is None for c in children if c["type"] != "crypt"), lsblk
    assert sh(guest, "findmnt -n -o SOURCE /mnt").strip() == MAPPER
    status = sh(guest, "cryptsetup status azure_tmp")
    assert re.search(r"type:\s+PLAIN", status), status
    assert re.search(r"cipher:\s+aes-xts-plain64", status), status
    assert re.search(r"keysize:\s+512 bits", status), status
    assert re.search(r"sector size:\s+4096", status), status
    assert re.search(r"device:\s+/dev/vdb\b", status), status
    # nothing of the temp disk is mounted in plaintext anywhere
    raw_mounts = sh(guest, "findmnt -rn -o SOURCE,TARGET | grep -E '^/dev/vdb[0-9]* ' || true")
    assert raw_mounts.strip() == "", raw_mounts
    swaps = sh(guest, "swapon --show=NAME,TYPE --noheadings --raw").split("\n")
    swaps = [s for s in swaps if s.strip()]
    if swap:
        assert "/mnt/swapfile file" in swaps, swaps
    for line in swaps:
        name = line.split()[0]
        # the device behind every swap area is a dm-crypt mapping
        dev = sh(guest, "d=$(stat -c '%%d' %s); maj=$((d >> 8)); min=$((d & 255)); "
                        "cat /sys/dev/block/$maj:$min/dm/uuid 2>/dev/null || echo none" % name
                 if line.split()[1] == "file" else
                 "cat /sys/class/block/$(basename $(readlink -f %s))/dm/uuid 2>/dev/null || echo none" % name)
        assert dev.startswith("CRYPT-PLAIN"), (line, dev)


@pytest.fixture(scope="module")
def pristine(guest):
    return sh(guest, SNAPSHOT)


def test_missing_device_fails_and_touches_nothing(guest, pristine):
    r = run(guest, {"temp_disk_encryption_device": "/dev/disk/by-id/virtio-not-there"})
    assert r.rc != 0 and r.failed == 1
    assert "/dev/disk/by-id/virtio-not-there does not exist" in r.output
    assert sh(guest, SNAPSHOT) == pristine


def test_device_that_is_not_the_temp_disk_fails_and_touches_nothing(guest, pristine):
    r = run(guest, {"temp_disk_encryption_device": "/dev/disk/by-id/virtio-data-disk-1"})
    assert r.rc != 0 and r.failed == 1
    assert "is not the temp disk" in r.output
    assert sh(guest, SNAPSHOT) == pristine
    assert sh(guest, "blkid -o value -s LABEL /dev/vdc").strip() == "datadisk"


def test_partition_instead_of_whole_disk_is_refused(guest, pristine):
    r = run(guest, {"temp_disk_encryption_device": RAW + "-part1"})
    assert r.rc != 0
    assert "is a partition" in r.output
    assert sh(guest, SNAPSHOT) == pristine


def test_check_mode_changes_nothing(guest, pristine):
    r = run(guest, check=True)
    assert r.rc == 0, r.output
    assert r.changed > 0  # it reports what it would do
    assert sh(guest, SNAPSHOT) == pristine


def test_fresh_apply(guest):
    # starts in Azure's shape: NTFS "Temporary Storage" with the README
    assert "Temporary Storage" in sh(guest, "blkid -o value -s LABEL /dev/vdb1")
    r = run(guest)
    timings(guest, "role_fresh_seconds", r.seconds)
    assert r.rc == 0, r.output
    assert r.changed > 0
    assert_encrypted_state(guest)
    res = r.result
    assert res["device"] == RAW and res["device_real"] == "/dev/vdb"
    assert res["mapper"] == MAPPER and res["mount_point"] == "/mnt"
    assert res["cipher"] == "aes-xts-plain64" and int(res["key_size"]) == 512
    assert int(res["sector_size"]) == 4096
    assert res["swap_file"] == "/mnt/swapfile"
    assert res["verified"] is True and res["reboot_required"] is False
    crypttab = sh(guest, "grep '^azure_tmp ' /etc/crypttab")
    assert RAW + " /dev/urandom plain,cipher=aes-xts-plain64,size=512,sector-size=4096,tmp=ext4" in crypttab
    assert "no-read-workqueue,no-write-workqueue" in crypttab  # systemd 252, kernel 6.1, cryptsetup 2.6
    waagent = sh(guest, "grep ^ResourceDisk /etc/waagent.conf")
    assert "ResourceDisk.Format=n" in waagent and "ResourceDisk.EnableSwap=n" in waagent
    assert sh(guest, "readlink /etc/udev/rules.d/66-azure-ephemeral.rules").strip() == "/dev/null"
    assert "ephemeral0, null" in sh(guest, "cat /etc/cloud/cloud.cfg.d/99-confidential-azure-temp-disk.cfg")


def test_second_run_changes_nothing_and_keeps_files(guest):
    token = secrets.token_hex(16)
    sh(guest, "echo %s > /mnt/keep.txt; sync" % token)
    key_before = sh(guest, KEY_HASH)
    r = run(guest)
    timings(guest, "role_nochange_seconds", r.seconds)
    assert r.rc == 0, r.output
    assert r.changed == 0, r.output
    assert sh(guest, "cat /mnt/keep.txt").strip() == token
    assert sh(guest, KEY_HASH) == key_before
    assert_encrypted_state(guest)


def test_marker_is_not_on_the_raw_disk(guest):
    marker = "CONFIDENTIAL-MARKER-" + secrets.token_hex(12)
    sh(guest, "for i in $(seq 64); do echo %s; done > /mnt/marker.txt; sync; echo 3 > /proc/sys/vm/drop_caches"
       % marker)
    # positive control: the plaintext is there through the mapping
    assert sh(guest, "grep -a -c -F %s %s || true" % (marker, MAPPER)).strip() not in ("", "0")
    # and nowhere on the raw temp disk
    assert sh(guest, "grep -a -c -F %s %s || true" % (marker, RAW)).strip() == "0"


def test_reboot_gives_a_new_key_and_stays_encrypted(guest):
    key_before = sh(guest, KEY_HASH)
    took = guest.reboot()
    timings(guest, "reboot_seconds", took)
    # the mount, the mapping and the swap come back by themselves at boot
    for unit in ("systemd-cryptsetup@azure_tmp.service", "mnt.mount", "confidential-azure-temp-swap.service"):
        assert sh(guest, "systemctl is-active %s || true" % unit).strip() == "active", unit
    assert_encrypted_state(guest)
    assert sh(guest, KEY_HASH) != key_before
    # fresh file system: last boot's files are gone for good
    assert sh(guest, "test -e /mnt/keep.txt && echo present || echo gone").strip() == "gone"
    r = run(guest)
    assert r.rc == 0 and r.changed == 0, r.output


def test_option_change_on_live_mapping_reports_reboot_required(guest):
    sh(guest, "echo kept > /mnt/keep.txt; sync")  # this boot's file system: it must survive the run
    key_before = sh(guest, KEY_HASH)
    r = run(guest, {"temp_disk_encryption_sector_size": "512"})
    assert r.rc == 0, r.output
    assert "reboot required" in r.output and "sector size 4096 -> 512" in r.output
    assert r.result["reboot_required"] is True
    assert sh(guest, KEY_HASH) == key_before  # mapping untouched
    assert sh(guest, "test -s /mnt/keep.txt && echo ok").strip() == "ok"
    assert_encrypted_state(guest)
    assert "sector-size=4096" not in sh(guest, "grep '^azure_tmp ' /etc/crypttab")  # applies at next boot


def test_interrupted_run_converges(guest):
    # back to an unconfigured guest (the raw disk now holds ciphertext of the last boot)
    sh(guest, "systemctl stop confidential-azure-temp-swap.service; umount /mnt; "
              "systemctl stop systemd-cryptsetup@azure_tmp.service; "
              "sed -i '/^azure_tmp /d' /etc/crypttab; sed -i '\\#^/dev/mapper/azure_tmp #d' /etc/fstab; "
              "rm -f /etc/systemd/system/confidential-azure-temp-swap.service "
              "/etc/systemd/system/multi-user.target.wants/confidential-azure-temp-swap.service; "
              "systemctl daemon-reload; test ! -e /dev/mapper/azure_tmp")
    v = dict(BASE_VARS)
    p = subprocess.Popen(playbook_cmd(guest.inventory_path, PB, v), env=env(), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen_task = killed = False
    out = []
    deadline = time.monotonic() + 1200
    for line in p.stdout:
        out.append(line)
        if "Configure the plain dm-crypt mapping" in line:
            seen_task = True
        elif seen_task and re.match(r"^(changed|ok): ", line):
            os.killpg(p.pid, signal.SIGKILL)
            killed = True
            break
        if time.monotonic() > deadline:
            break
    p.wait()
    assert killed, "".join(out)
    # interrupted between writing crypttab and opening the mapping
    assert sh(guest, "grep -c '^azure_tmp ' /etc/crypttab").strip() == "1"
    assert sh(guest, "test -e /dev/mapper/azure_tmp && echo open || echo closed").strip() == "closed"
    r = run(guest)
    assert r.rc == 0, r.output
    assert r.result["verified"] is True and r.result["reboot_required"] is False
    assert_encrypted_state(guest)
