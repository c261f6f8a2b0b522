# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Temp-disk discovery and safety checks on a fake machine tree (sysfs, /dev links, /proc, /etc)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import parse
from ansible_collections.confidential.azure.plugins.module_utils._guestdisk.host import Host
from ansible_collections.confidential.azure.plugins.module_utils._guestdisk.tempdisk import (
    ProbeFailure, TempDiskProbe, compare_mapping)

NTFS = "TYPE=ntfs\nLABEL=Temporary Storage\nUUID=1234ABCD\n"
CRYPT_LINE = "0 8388608 crypt aes-xts-plain64 :64:logon:cryptsetup:x 0 8:16 0 3 sector_size:4096 " \
             "no_read_workqueue no_write_workqueue"


def write(root, path, text=""):
    full = str(root) + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as handle:
        handle.write(text)


def link(root, path, target):
    full = str(root) + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    os.symlink(target, full)


def add_disk(root, name, devno, size_sectors=8388608, partitions=(), model=""):
    base = "/sys/devices/vmbus/%s" % name
    write(root, base + "/dev", devno)
    write(root, base + "/size", str(size_sectors))
    write(root, base + "/queue/logical_block_size", "512")
    write(root, base + "/device/model", model)
    os.makedirs(str(root) + base + "/holders")
    link(root, "/sys/class/block/" + name, "../../devices/vmbus/" + name)
    link(root, "/sys/dev/block/" + devno, "../../devices/vmbus/" + name)
    write(root, "/dev/" + name)
    for index, part in enumerate(partitions, 1):
        write(root, base + "/%s/partition" % part, str(index))
        write(root, base + "/%s/dev" % part, devno.split(":")[0] + ":%d" % (int(devno.split(":")[1]) + index))
        os.makedirs(str(root) + base + "/%s/holders" % part)
        link(root, "/sys/class/block/" + part, "../../devices/vmbus/%s/%s" % (name, part))
        write(root, "/dev/" + part)


class Machine(object):
    """A fake guest: sda (OS), sdb (temp disk with NTFS 'Temporary Storage' on sdb1) unless told otherwise."""

    def __init__(self, root):
        self.root = root
        self.blkid = {"/dev/sdb1": NTFS}
        self.tables = {}
        add_disk(root, "sda", "8:0", partitions=("sda1",))
        add_disk(root, "sdb", "8:16", partitions=("sdb1",))
        link(root, "/dev/disk/azure/resource", "../../sdb")
        write(root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
        write(root, "/proc/swaps", "Filename Type Size Used Priority\n")
        write(root, "/etc/fstab", "")
        write(root, "/etc/crypttab", "")
        write(root, "/proc/sys/kernel/osrelease", "5.4.0-1104-azure")

    def run(self, args):
        if args[0] == "blkid":
            out = self.blkid.get(args[-1])
            if isinstance(out, tuple):       # (exit code, output)
                return out + ("",)
            return (0, out, "") if out else (2, "", "")
        if args[:2] == ["dmsetup", "table"]:
            table = self.tables.get(args[2])
            return (0, table, "") if table else (1, "", "No such device")
        if args[0] == "systemctl":
            return 0, "systemd 252 (252.30-1)\n+PAM", ""
        if args[0] == "cryptsetup":
            return 0, "cryptsetup 2.6.1", ""
        return 127, "", "not found"

    def host(self):
        return Host(self.run, root=str(self.root))


def params(**over):
    base = dict(mode="probe", device=None, mapper_name="azure_tmp", mount_point="/mnt", cipher="aes-xts-plain64",
                key_size=512, sector_size="auto", workqueue="auto", accept_blank=False, swap_file="")
    base.update(over)
    return base


@pytest.fixture
def machine(tmp_path):
    return Machine(tmp_path)


def probe(machine, **over):
    return TempDiskProbe(machine.host(), params(**over)).run()


def refusal(machine, **over):
    with pytest.raises(ProbeFailure) as err:
        probe(machine, **over)
    return str(err.value)


def test_finds_the_temp_disk_by_its_udev_link_and_reports_the_plaintext_mount(machine):
    write(machine.root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                                                "40 22 8:17 / /mnt rw - fuseblk /dev/sdb1 rw\n")
    write(machine.root, "/etc/fstab", "UUID=abc / ext4 defaults 0 1\n"
                                      "/dev/disk/cloud/azure_resource-part1 /mnt auto defaults,comment=cloudconfig 0 2\n")
    result = probe(machine)
    assert result["device"] == "/dev/disk/azure/resource"
    assert result["device_real"] == "/dev/sdb"
    assert result["evidence"] == "udev link /dev/disk/azure/resource"
    assert result["plaintext_mounts"] == [{"source": "/dev/sdb1", "target": "/mnt"}]
    assert result["fstab_conflicts"] == ["/dev/disk/cloud/azure_resource-part1 /mnt auto "
                                         "defaults,comment=cloudconfig 0 2"]
    assert result["signatures"] == {"/dev/sdb": "", "/dev/sdb1": "ntfs"}
    assert result["mapping"] == {"active": False}
    assert result["desired"]["sector_size"] == 4096 and result["desired"]["workqueue"] is False  # kernel 5.4
    assert result["reboot_required"] is False


def test_refuses_a_partition_the_os_disk_and_a_device_that_is_not_the_temp_disk(machine):
    assert "is a partition" in refusal(machine, device="/dev/sdb1")
    assert "is not the temp disk (the temp disk is /dev/disk/azure/resource -> /dev/sdb)" in \
        refusal(machine, device="/dev/sda")
    assert "does not exist" in refusal(machine, device="/dev/sdz")


def test_without_an_azure_link_a_named_device_needs_a_temp_signature_or_accept_blank(machine):
    os.unlink(str(machine.root) + "/dev/disk/azure/resource")
    assert "no Azure temp disk found" in refusal(machine)
    evidence = probe(machine, device="/dev/sdb")["evidence"]
    assert evidence == "named by the user, NTFS label 'Temporary Storage' on /dev/sdb1"
    add_disk(machine.root, "sdc", "8:32")
    assert "does not validate as the Azure temp disk" in refusal(machine, device="/dev/sdc")
    assert probe(machine, device="/dev/sdc", accept_blank=True)["evidence"].endswith("accept_blank)")


@pytest.mark.parametrize("rc", [8, 4, 1])
def test_accept_blank_never_takes_a_failed_or_ambivalent_probe_for_a_blank_disk(machine, rc):
    os.unlink(str(machine.root) + "/dev/disk/azure/resource")
    add_disk(machine.root, "sdc", "8:32")
    machine.blkid["/dev/sdc"] = (rc, "")
    assert "does not validate as the Azure temp disk" in refusal(machine, device="/dev/sdc", accept_blank=True)


def test_two_devices_claiming_to_be_the_temp_disk_are_refused(machine):
    add_disk(machine.root, "sdc", "8:32")
    link(machine.root, "/dev/disk/cloud/azure_resource", "../../sdc")
    assert "several different devices claim to be the temp disk" in refusal(machine)


def test_refuses_a_disk_mounted_as_data_or_held_by_another_mapping(machine):
    write(machine.root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                                                "41 22 8:17 / /data rw - ext4 /dev/sdb1 rw\n")
    assert "mounted at /data, which is not a temp disk mount" in refusal(machine)
    write(machine.root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
    write(machine.root, "/sys/devices/vmbus/sdb/holders/dm-3")
    write(machine.root, "/sys/class/block/dm-3/dm/name", "somebody_else")
    assert "is in use by /dev/dm-3 (somebody_else)" in refusal(machine)


def test_refuses_when_azure_disk_encryption_owns_the_temp_disk(machine):
    write(machine.root, "/etc/crypttab", "resourceencrypt /dev/sdb1 /mnt/azure_bek_disk/LinuxPassPhraseFileName\n")
    assert "Azure Disk Encryption manages this temp disk" in refusal(machine)


def test_live_mapping_with_other_options_asks_for_a_reboot(machine):
    machine.tables["azure_tmp"] = CRYPT_LINE
    result = probe(machine, cipher="aes-cbc-essiv:sha256", key_size=256, workqueue="false")
    assert result["mapping"]["active"] is True and result["mapping"]["disk"] == "sdb"
    assert result["reboot_reasons"] == ["cipher aes-xts-plain64 -> aes-cbc-essiv:sha256", "key size 512 -> 256",
                                        "workqueue bypass True -> False"]
    assert result["reboot_required"] is True
    assert result["signatures"] == {} and result["fstab_conflicts"] == []


def test_verify_lists_every_violation(machine):
    write(machine.root, "/proc/swaps", "Filename Type Size Used Priority\n/dev/sdb1 partition 1024 0 -2\n")
    with pytest.raises(ProbeFailure) as err:
        probe(machine, mode="verify", swap_file="/mnt/swapfile")
    errors = err.value.result["verify_errors"]
    assert errors == ["mapping /dev/mapper/azure_tmp is not active", "/mnt is not mounted",
                      "swap /dev/sdb1 is not on a dm-crypt device", "swap file /mnt/swapfile is not active"]
    assert str(err.value).startswith("temp_disk_encryption: verification failed: mapping")


def test_a_non_crypt_mapping_under_our_name_is_refused(machine):
    machine.tables["azure_tmp"] = "0 100 linear 8:16 0"
    assert "exists but is not a dm-crypt mapping" in refusal(machine)


def test_crypt_table_parsing_never_returns_the_key():
    hexkey = "ab" * 64
    info = parse.parse_crypt_table("0 100 crypt aes-xts-plain64 %s 0 8:16 0" % hexkey)
    assert info == {"cipher": "aes-xts-plain64", "key_size": 512, "device_devno": "8:16", "offset": 0,
                    "sector_size": 512, "flags": []}
    assert hexkey not in repr(info)
    keyring = parse.parse_crypt_table(CRYPT_LINE)
    assert keyring["key_size"] == 512 and keyring["sector_size"] == 4096
    assert keyring["flags"] == ["no_read_workqueue", "no_write_workqueue"]
    assert parse.parse_crypt_table("0 100 linear 8:16 0") is None


def test_mountinfo_and_swaps_unescape_spaces():
    rows = parse.parse_mountinfo("40 22 8:17 / /mnt/my\\040disk rw - ext4 /dev/sdb1 rw\nbroken line\n")
    assert rows == [{"devno": "8:17", "target": "/mnt/my disk", "fstype": "ext4", "source": "/dev/sdb1"}]
    assert parse.parse_swaps("Filename Type\n/mnt/a\\040b file 1 0 -2\n") == [{"name": "/mnt/a b", "type": "file"}]


def test_compare_mapping_on_another_disk():
    live = parse.parse_crypt_table(CRYPT_LINE)
    live["disk"] = "sdc"
    desired = {"cipher": "aes-xts-plain64", "key_size": 512, "sector_size": 4096, "workqueue": True}
    assert compare_mapping(live, desired, "sdb") == ["mapping is on /dev/sdc, wanted /dev/sdb"]
