# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""confidential.azure.data_disk_encryption in a real guest (qemu + swtpm) against the simulator.

The guest's swtpm is provisioned like an Azure SEV-SNP vTPM (AK, HCL report, AK certificate from a TEST vTPM CA);
the simulator trusts those TEST roots explicitly and plays Azure: the VM's managed identity (IMDS stand-in), MAA's
AzureGuest attestation and Key Vault release. The guest reaches the simulator over qemu user networking
(10.0.2.2 = the host's 127.0.0.1; the vault's own loopback address through a guestfwd relay).

One guest for the module (one boot, two reboots); the tests build on each other: a disk with data is refused and
nothing is written -> an emptied disk is formatted, opened after attestation and mounted, marker not on the raw
disk -> the key is rotated, a run re-wraps (same keyslot and volume key), after a reboot the unit opens the disk
with the new key version, a re-run changes nothing and reports the boot's attestation -> the release policy stops
matching, after a reboot the disk stays closed, nothing is mounted, the unit, the status file and the role's
result say why.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "attestation"))

import ak_testca  # noqa: E402  pylint: disable=wrong-import-position
import skr_setup  # noqa: E402  pylint: disable=wrong-import-position
from ga_helpers import hcl_testchain, swtpm_tcti  # noqa: E402  pylint: disable=wrong-import-position
from harness import Guest, HarnessError  # noqa: E402  pylint: disable=wrong-import-position
from roletools import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

PB = "data_disk.yml"
RAW = "/dev/disk/azure/data/by-lun/0"
MAPPER = "/dev/mapper/cvm_data_lun0"
MOUNT = "/data"
UNIT = "confidential-azure-data-disk@cvm_data_lun0.service"
GUEST_CA = "/etc/confidential-azure/test-ca.pem"
VAULT_RELAY = "10.0.2.100"


class DiskGuest(object):
    def __init__(self, sim):
        self.sim = sim
        self.env = None
        self.port = int(sim.base_url.rsplit(":", 1)[1])
        self.guest = Guest(name="datadisk-%d" % os.getpid(), temp_disk_size="64M", tpm_setup=self._provision)

    def _provision(self, ctx):
        """Runs before qemu starts: the vTPM, then the controller side (its vault address feeds the guestfwd)."""
        ca = ak_testca.shared_ca()
        with swtpm_tcti(ctx) as tcti:
            material = ak_testca.provision(tcti, ca, chain=hcl_testchain.make_test_chain(),
                                           vm_unique_id=str(uuid.uuid4()).upper())
        for pem in (material["ark_pem"], ak_testca.pem(ca["root"]), ak_testca.pem(ca["intermediate"])):
            self.sim.add_trust_root(pem.encode())
        self.env = skr_setup.setup(self.sim, material["thim"])
        vault_ip = self.env["vault"]["vault_uri"].split("//")[1].split(":")[0]
        self.guest.guestfwd = [(VAULT_RELAY, self.port, vault_ip, self.port)]
        self.vault_ip = vault_ip

    def role_vars(self):
        return {"data_disk_encryption_key_id": self.env["key_id"],
                "data_disk_encryption_maa_url": self.env["maa_url"],
                "data_disk_encryption_imds_url": self.env["imds_url"],
                "data_disk_encryption_vault_resource": self.env["vault_resource"],
                "data_disk_encryption_ca_file": GUEST_CA,
                "data_disk_encryption_connect_to": [
                    "127.0.0.1:%d:10.0.2.2:%d" % (self.port, self.port),
                    "%s:%d:%s:%d" % (self.vault_ip, self.port, VAULT_RELAY, self.port)],
                "data_disk_encryption_disks": [{"lun": 0, "mount_point": MOUNT}]}


@pytest.fixture(scope="module")
def dg(simulator):
    simulator.reset()
    d = DiskGuest(simulator)
    try:
        d.guest.up(register_teardown=True)
    except HarnessError as exc:
        d.guest.down()
        pytest.fail("guest harness could not boot the test guest: %s" % exc, pytrace=False)
    try:
        with open(simulator.ca_bundle) as fh:
            d.guest.ssh("mkdir -p /etc/confidential-azure && cat > %s" % GUEST_CA, input=fh.read())
        yield d
    finally:
        d.guest.down()


def sh(dg, cmd, check=True):
    return dg.guest.ssh(cmd, check=check).stdout


def run(dg, extra=None):
    v = dg.role_vars()
    v.update(extra or {})
    r = run_playbook(dg.guest.inventory_path, PB, v)
    print("ansible-playbook %.1f s rc=%d changed=%d\n%s" % (r.seconds, r.rc, r.changed, r.output[-5000:]))
    return r


def raw_fingerprint(dg):
    return sh(dg, "dd if=%s bs=1M count=8 status=none | sha256sum" % RAW)


def status_file(dg):
    return json.loads(sh(dg, "cat /run/confidential-azure/data-disks/cvm_data_lun0.json"))


def luks_keys(dg):
    """Keyslots and the volume key digest: unchanged means the data was not re-encrypted."""
    meta = json.loads(sh(dg, "cryptsetup luksDump --dump-json-metadata %s" % RAW))
    return meta["keyslots"], meta["digests"], [t["kid"] for t in meta["tokens"].values()]


def the_disk(result):
    disks = result["disks"]
    assert [d["name"] for d in disks] == ["cvm_data_lun0"], disks
    return disks[0]


def test_disk_holding_data_is_refused_and_untouched(dg):
    assert sh(dg, "readlink -f %s" % RAW).strip() == "/dev/vdc"
    before = raw_fingerprint(dg)
    r = run(dg)
    assert r.rc != 0 and r.result["failed"] and r.result["stage"] == "plan"
    assert "format_signature" in r.result["msg"] and "ext4" in r.result["msg"]
    disk = the_disk(r.result)
    assert disk["opened"] is False and disk["mounted"] is False and disk["stage"] == "plan"
    assert "format_signature" in disk["reason"]
    assert raw_fingerprint(dg) == before
    assert sh(dg, "ls /dev/mapper").split() == ["control"]
    # refused before anything is written: no configuration for the boot units, no fstab line
    assert sh(dg, "test -e /etc/confidential-azure/data-disks.json && echo yes || echo no").strip() == "no"
    assert "cvm_data_lun0" not in sh(dg, "cat /etc/fstab")


def test_empty_disk_opens_after_attestation_and_data_is_encrypted(dg):
    sh(dg, "wipefs -a -q %s" % RAW)
    r = run(dg)
    assert r.rc == 0 and r.changed > 0
    res = r.result
    assert res["planned"][0]["action"] == "format"
    disk = the_disk(res)
    assert disk["state"] == "opened" and disk["opened"] is True and disk["mounted"] is True
    assert disk["action"] == "format" and disk["stage"] is None and disk["reason"] is None
    assert disk["key_id"].startswith(dg.env["key_id"] + "/") and disk["key_id"] == res["key_id"]
    assert disk["key_version"] == disk["key_id"].rsplit("/", 1)[1]
    assert disk["maa"]["compliance_status"] == "azure-compliant-cvm" and disk["maa"]["tee_type"] == "sevsnpvm"
    assert disk["maa"]["iss"] == dg.env["maa_url"]
    assert sh(dg, "findmnt -n -o SOURCE %s" % MOUNT).strip() == MAPPER
    assert sh(dg, "cryptsetup isLuks --type luks2 %s && echo luks2" % RAW).strip() == "luks2"
    marker = "data-disk-marker-" + secrets.token_hex(16)
    sh(dg, "echo %s > %s/marker && sync && echo 3 > /proc/sys/vm/drop_caches" % (marker, MOUNT))
    assert sh(dg, "grep -a -c %s %s || true" % (marker, RAW)).strip() == "0"
    assert sh(dg, "grep -a -c %s %s || true" % (marker, MAPPER)).strip() != "0"     # the grep can find it
    # the unit's work directory is gone: only the wrapped passphrase remains, in the LUKS2 token
    assert sh(dg, "ls /run/confidential-azure-data-disk-cvm_data_lun0 2>/dev/null | wc -l").strip() == "0"
    dg.marker = marker


def test_key_rotation_rewraps_the_disk_opens_after_reboot_and_a_rerun_changes_nothing(dg):
    old_kid = status_file(dg)["key_id"]
    slots, digests, kids = luks_keys(dg)
    assert kids == [old_kid]
    skr_setup.set_key(dg.sim, dg.env["vault"], skr_setup.cvm_policy(dg.env["maa_url"]), rotate=True)
    r = run(dg)
    assert r.rc == 0 and r.changed > 0
    assert r.result["planned"][0]["action"] == "rewrap" and r.result["planned"][0]["previous_key_id"] == old_kid
    new_kid = r.result["key_id"]
    assert new_kid != old_kid and new_kid.startswith(dg.env["key_id"] + "/")
    assert luks_keys(dg) == (slots, digests, [new_kid])        # same keyslot and volume key: data not re-encrypted
    assert the_disk(r.result)["key_id"] == new_kid

    dg.guest.reboot()
    assert sh(dg, "findmnt -n -o SOURCE %s" % MOUNT).strip() == MAPPER
    assert sh(dg, "cat %s/marker" % MOUNT).strip() == dg.marker
    st = status_file(dg)
    assert st["state"] == "opened" and st["key_id"] == new_kid
    assert "opened cvm_data_lun0" in sh(dg, "journalctl -b -u %s --no-pager" % UNIT)

    again = run(dg)       # after a reboot the unit has opened and mounted it: the role only reports
    assert again.rc == 0 and again.changed == 0
    assert again.result["planned"][0]["action"] == "keep"
    disk = the_disk(again.result)
    assert disk["opened"] and disk["mounted"] and disk["key_id"] == new_kid and disk["time"] == st["time"]
    assert disk["maa"] == st["maa"]            # the claims of the boot's attestation, read from the status file


def test_policy_the_vm_no_longer_satisfies_keeps_the_disk_closed(dg):
    skr_setup.set_key(dg.sim, dg.env["vault"], skr_setup.cvm_policy(dg.env["maa_url"], tee_types=("tdxvm",)))
    dg.guest.reboot()
    assert not sh(dg, "findmnt -n -o SOURCE %s || true" % MOUNT).strip()
    assert sh(dg, "test -e %s && echo open || echo closed" % MAPPER).strip() == "closed"
    assert sh(dg, "ls -A %s | wc -l" % MOUNT).strip() == "0"          # nothing mounted in its place
    st = status_file(dg)
    assert st["state"] == "closed" and st["stage"] == "release", st
    assert "403" in st["reason"], st
    assert st["maa"]["tee_type"] == "sevsnpvm"          # attested fine; the policy wants another TEE
    assert sh(dg, "systemctl is-failed %s || true" % UNIT).strip() == "failed"
    assert "stays closed" in sh(dg, "journalctl -b -u %s --no-pager | tail -5" % UNIT)
    # the boot finished because the unit failed, not because the mapper device's job waited out its timeout
    assert "Timed out waiting for device" not in sh(dg, "journalctl -b --no-pager -u dev-mapper-cvm_data_lun0.device")
    assert sh(dg, "systemctl list-jobs --no-legend | wc -l").strip() == "0"

    r = run(dg)           # the role reads the unit's status and fails, saying why
    assert r.rc != 0 and r.result["failed"] and r.result["stage"] == "release"
    disk = the_disk(r.result)
    assert disk["opened"] is False and disk["mounted"] is False and disk["state"] == "closed"
    assert disk["stage"] == "release" and "403" in disk["reason"] and disk["key_id"] is None
    assert sh(dg, "test -e %s && echo open || echo closed" % MAPPER).strip() == "closed"
