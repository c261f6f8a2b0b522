# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data disks by LUN on a fake machine tree: what a run may do, and the boot wiring it writes."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import datadisk as dd
from ansible_collections.confidential.azure.plugins.module_utils._guestdisk.host import Host

KID1 = "https://kv1.vault.azure.net/keys/datadisk/v1"
KID2 = "https://kv1.vault.azure.net/keys/datadisk/v2"


def write(root, path, text=""):
    full = str(root) + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as handle:
        handle.write(text)


def machine(tmp_path, blkid="", partitions=(), mounted=False, holders=()):
    root = tmp_path
    write(root, "/sys/class/block/sdc/dev", "8:32\n")
    os.makedirs(str(root) + "/sys/class/block/sdc/holders", exist_ok=True)
    for h in holders:
        write(root, "/sys/class/block/sdc/holders/" + h)
    for p in partitions:
        write(root, "/sys/class/block/sdc/%s/partition" % p, "1\n")
    write(root, "/dev/sdc")
    os.makedirs(str(root) + "/dev/disk/azure/data/by-lun", exist_ok=True)
    os.symlink(str(root) + "/dev/sdc", str(root) + "/dev/disk/azure/data/by-lun/0")
    write(root, "/proc/self/mountinfo", "36 1 8:32 / /data rw - ext4 /dev/sdc rw\n" if mounted else "")

    def run(args):
        return (0, blkid, "") if blkid else (2, "", "")
    return Host(run, root=str(root))


def spec(**kw):
    return dict(dd.validate_specs([dict({"lun": 0, "mount_point": "/data"}, **kw)])[0], target_kid=KID1)


def test_empty_disk_is_formatted(tmp_path):
    found = dd.probe(machine(tmp_path), spec())
    assert found["device"] == "/dev/sdc" and found["signature"] is None
    assert dd.plan_disk(spec(), found, None) == "format"


def test_disk_with_a_file_system_is_refused_unless_named(tmp_path):
    found = dd.probe(machine(tmp_path, blkid="TYPE=ext4\nUUID=x\n"), spec())
    with pytest.raises(dd.PlanError, match="format_signature: 'ext4'"):
        dd.plan_disk(spec(), found, None)
    assert dd.plan_disk(spec(format_signature="ext4"), found, None) == "format"
    with pytest.raises(dd.PlanError):
        dd.plan_disk(spec(format_signature="xfs"), found, None)


def test_partition_table_partitions_and_mounts_are_refused(tmp_path):
    found = dd.probe(machine(tmp_path, blkid="PTTYPE=gpt\n"), spec())
    with pytest.raises(dd.PlanError, match="partition table gpt"):
        dd.plan_disk(spec(), found, None)
    found = dd.probe(machine(tmp_path / "b", partitions=["sdc1"]), spec())
    with pytest.raises(dd.PlanError, match="partitions"):
        dd.plan_disk(spec(), found, None)
    found = dd.probe(machine(tmp_path / "c", mounted=True), spec())
    with pytest.raises(dd.PlanError, match="mounted at /data"):
        dd.plan_disk(spec(), found, None)


def test_missing_lun_says_how_to_attach(tmp_path):
    host = Host(lambda args: (2, "", ""), root=str(tmp_path))
    with pytest.raises(dd.PlanError, match="attach the data disk at LUN 3"):
        dd.plan_disk(spec(lun=3), dd.probe(host, spec(lun=3)), None)


def test_luks_volume_is_kept_rewrapped_or_refused(tmp_path):
    found = dd.probe(machine(tmp_path, blkid="TYPE=crypto_LUKS\nVERSION=2\n"), spec())
    assert dd.plan_disk(spec(), found, {"kid": KID1}) == "keep"
    assert dd.plan_disk(spec(), found, {"kid": KID2}) == "rewrap"
    with pytest.raises(dd.PlanError, match="did not make"):
        dd.plan_disk(spec(), found, None)


@pytest.mark.parametrize("bad,match", [
    ({"lun": "0"}, "lun must be an integer"), ({"lun": 64}, "lun must be"), ({"lun": True}, "lun must be"),
    ({"lun": 0, "mount_point": "/mnt"}, "temp disk"), ({"lun": 0, "mount_point": "data"}, "absolute"),
    ({"lun": 0, "name": "bad name"}, "name"), ({"lun": 0, "fs_type": "btrfs"}, "fs_type")])
def test_bad_specs_name_the_parameter(bad, match):
    with pytest.raises(dd.PlanError, match=match):
        dd.validate_specs([bad])


def test_duplicate_luns_names_and_mounts_are_refused():
    for disks in ([{"lun": 0}, {"lun": 0}], [{"lun": 0, "name": "a"}, {"lun": 1, "name": "a"}],
                  [{"lun": 0, "mount_point": "/d"}, {"lun": 1, "mount_point": "/d"}]):
        with pytest.raises(dd.PlanError, match="used by another disk"):
            dd.validate_specs(disks)


def test_fstab_mount_requires_the_unlock_unit():
    s = spec()
    assert dd.fstab_line(s) == ("/dev/mapper/cvm_data_lun0 /data ext4 defaults,noauto,nofail,_netdev,"
                                "x-systemd.requires=confidential-azure-data-disk@cvm_data_lun0.service,"
                                "x-systemd.device-timeout=600s 0 2")
    assert dd.fstab_line(spec(mount_point=None)) is None


@pytest.mark.parametrize("path,unit", [("/data", "data.mount"), ("/srv/my data", "srv-my\\x20data.mount"),
                                       ("/var/lib/db-1/", "var-lib-db\\x2d1.mount")])
def test_mount_unit_names_follow_systemd_escape(path, unit):
    assert dd.mount_unit(spec(mount_point=path) if " " not in path else dict(spec(), mount_point=path)) == unit


def test_unit_runs_after_the_network_and_before_remote_mounts():
    text = dd.unit_text()
    assert "After=network-online.target" in text and "Before=remote-fs-pre.target" in text
    assert "ExecStart=/usr/bin/python3 %s/agent.py open %%i" % dd.AGENT_DIR in text
    assert "RuntimeDirectoryMode=0700" in text and "WantedBy=remote-fs.target" in text


def test_set_lines_replaces_appends_and_keeps_the_rest():
    text = "# comment\n/dev/vda / ext4 defaults 0 1\n/dev/mapper/a /old ext4 x 0 2\n/dev/mapper/a /dup ext4 x 0 2\n"
    new = dd.set_lines(text, [("/dev/mapper/a ", "/dev/mapper/a /data ext4 y 0 2"),
                              ("/dev/mapper/b ", "/dev/mapper/b /b ext4 y 0 2")])
    assert new == ("# comment\n/dev/vda / ext4 defaults 0 1\n/dev/mapper/a /data ext4 y 0 2\n"
                   "/dev/mapper/b /b ext4 y 0 2\n")
    assert dd.set_lines(new, [("/dev/mapper/a ", "/dev/mapper/a /data ext4 y 0 2")]) == new
    assert dd.set_lines("", []) == ""


MAA = {"iss": "https://sharedeus.eus.attest.azure.net", "tee_type": "sevsnpvm", "compliance_status": "azure-compliant-cvm"}


def test_report_of_an_opened_disk_names_the_key_version_and_the_claims():
    s = spec()
    status = {"state": "opened", "device": "/dev/sdc", "key_id": KID2, "maa": MAA, "time": 7}
    rep = dd.disk_report(s, status, True, True, {"action": "keep", "key_id": KID2})
    assert rep == {"name": "cvm_data_lun0", "lun": 0, "mount_point": "/data", "device": "/dev/sdc", "action": "keep",
                   "opened": True, "mounted": True, "state": "opened", "key_id": KID2, "key_version": "v2",
                   "maa": MAA, "stage": None, "reason": None, "time": 7}


def test_report_of_a_closed_disk_says_why():
    s = spec()
    status = {"state": "closed", "device": "/dev/sdc", "stage": "release", "reason": "release: HTTP 403", "maa": MAA}
    rep = dd.disk_report(s, status, False, False, None, {"stage": "release", "msg": "later failure"})
    assert (rep["opened"], rep["mounted"], rep["state"]) == (False, False, "closed")
    assert (rep["stage"], rep["reason"], rep["key_id"], rep["key_version"]) == ("release", "release: HTTP 403", None, None)
    assert rep["maa"] == MAA        # the claims that did not satisfy the policy


def test_report_without_a_status_takes_the_run_failure_or_says_the_unit_did_not_run():
    s = spec()
    rep = dd.disk_report(s, None, False, False, None, {"stage": "plan", "msg": "holds data (ext4)"})
    assert (rep["stage"], rep["reason"], rep["device"]) == ("plan", "holds data (ext4)", dd.BY_LUN % 0)
    rep = dd.disk_report(s, None, False, False)
    assert rep["stage"] == "boot" and "has not run" in rep["reason"]
    rep = dd.disk_report(s, {"state": "opened", "key_id": KID1}, False, False)
    assert rep["state"] == "closed" and rep["key_id"] is None and "closed since" in rep["reason"]


def test_a_mount_point_without_the_open_volume_is_not_reported_mounted():
    assert dd.disk_report(spec(), None, False, True)["mounted"] is False


@pytest.mark.parametrize("kid,version", [(KID1, "v1"), ("https://kv1.vault.azure.net/keys/datadisk", None),
                                         ("", None), (None, None)])
def test_key_version(kid, version):
    assert dd.key_version(kid) == version


# ------------------------------------------------------------------ hardening
@pytest.mark.parametrize("rc,out", [(8, ""), (4, ""), (1, ""), (127, ""), (0, "UUID=x\n")])
def test_a_failed_or_ambivalent_probe_never_reads_as_an_empty_disk(tmp_path, rc, out):
    host = machine(tmp_path)
    host.run = lambda args: (rc, out, "ambivalent result" if rc == 8 else "")
    found = dd.probe(host, spec())
    assert found["probe_error"]
    with pytest.raises(dd.PlanError, match="refusing to touch it"):
        dd.plan_disk(spec(), found, None)
    with pytest.raises(dd.PlanError):
        dd.plan_disk(spec(format_signature="ext4"), found, None)


@pytest.mark.parametrize("bad,match", [
    ({"mount_point": "/data\n/dev/sdb\t/x\text4\tdefaults"}, "mount_point"), ({"mount_point": "/data\t"}, "mount_point"),
    ({"mount_point": "/./"}, "mount_point"), ({"mount_point": "/srv/../etc"}, "mount_point"),
    ({"mount_point": "/etc"}, "system directory"), ({"mount_point": "/var/"}, "mount_point"),
    ({"mount_point": "//data"}, "mount_point"), ({"mount_point": 5}, "mount_point"),
    ({"mount_options": "defaults 0 0\n/dev/sdb /data ext4 defaults"}, "mount_options"),
    ({"mount_options": "rw,,noexec"}, "mount_options"), ({"mount_options": "rw#x"}, "mount_options"),
    ({"name": "control"}, "control"), ({"format_signature": ""}, "format_signature")])
def test_fstab_and_unit_injection_is_refused(bad, match):
    with pytest.raises(dd.PlanError, match=match):
        dd.validate_specs([dict({"lun": 0}, **bad)])


def test_plain_mount_points_and_options_are_kept():
    out = dd.validate_specs([{"lun": 0, "mount_point": "/var/lib/db-1/", "mount_options": "rw,noatime,x-systemd.after=a.service"}])
    assert out[0]["mount_point"] == "/var/lib/db-1"
    assert dd.fstab_line(out[0]).startswith("/dev/mapper/cvm_data_lun0 /var/lib/db-1 ext4 rw,noatime,x-systemd.after=")
    assert len(dd.fstab_line(out[0]).split()) == 6


def test_a_disk_swapped_or_written_while_attesting_is_not_the_same_disk(tmp_path):
    host = machine(tmp_path)
    before = dd.probe(host, spec())
    assert dd.same_disk(before, dd.probe(host, spec()))
    host.run = lambda args: (0, "TYPE=xfs\n", "")
    assert not dd.same_disk(before, dd.probe(host, spec()))
    assert not dd.same_disk(before, dict(before, device="/dev/sdd", kernel_name="sdd"))
    assert not dd.same_disk(before, dict(before, signature="ext4"))
    assert not dd.same_disk(before, dict(before, holders=["dm-0"]))


def test_only_a_luks2_mapping_of_the_disk_counts_as_opened():
    assert dd.mapping_of("CRYPT-LUKS2-0123-cvm_data_lun0", ["sdc"], "sdc")
    assert not dd.mapping_of("CRYPT-LUKS2-0123-cvm_data_lun0", ["sdd"], "sdc")
    assert not dd.mapping_of("CRYPT-LUKS2-0123-x", ["sdc", "sdd"], "sdc")
    assert not dd.mapping_of("LVM-abc", ["sdc"], "sdc")
    assert not dd.mapping_of("", [], "sdc")
