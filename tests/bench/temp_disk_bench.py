#!/usr/bin/env python
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the temp_disk_encryption role in the qemu guest (measured, not asserted).

  python tests/bench/temp_disk_bench.py [--name bench] [--attach] [--size 1G] [--json OUT]

Boots a guest (or --attach to a running one whose temp disk is still raw),
then measures:
  * raw temp disk throughput (fio: 1 MiB sequential write/read, 4 KiB random
    read/write, direct I/O) on /dev/disk/azure/resource,
  * role run time on a fresh disk and on a second, no-change run,
  * the same fio jobs on the dm-crypt mapping /dev/mapper/azure_tmp
    (file system unmounted for the measurement).
Under TCG (no KVM here) absolute numbers say little about real hardware; the
raw/encrypted ratio is the interesting part, and even that is skewed because
AES-NI is emulated.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "guest"))
sys.path.insert(0, str(REPO / "tests" / "functional" / "guest"))

from harness import Guest  # noqa: E402
from roletools import run_playbook  # noqa: E402

JOBS = [
    ("seq_write_1m", "write", "1M"),
    ("seq_read_1m", "read", "1M"),
    ("rand_read_4k", "randread", "4k"),
    ("rand_write_4k", "randwrite", "4k"),
]


def fio(guest: Guest, dev: str, runtime: int) -> dict:
    out = {}
    for name, rw, bs in JOBS:
        cmd = ("fio --name=%s --filename=%s --rw=%s --bs=%s --direct=1 --ioengine=libaio --iodepth=16 "
               "--size=256M --runtime=%d --time_based --group_reporting --output-format=json"
               % (name, dev, rw, bs, runtime))
        data = json.loads(guest.ssh(cmd, timeout=600).stdout)
        job = data["jobs"][0]
        side = job["read"] if "read" in rw else job["write"]
        out[name] = {"MiB_s": round(side["bw_bytes"] / 1048576, 1), "iops": round(side["iops"])}
    return out


def _stop(signum, frame):
    """SIGTERM (make bench's budget ran out) unwinds through main()'s finally, which stops the guest."""
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="bench")
    ap.add_argument("--attach", action="store_true", help="use a running guest (temp disk not yet encrypted)")
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runtime", type=int, default=10, help="seconds per fio job")
    ap.add_argument("--json", help="write the results here too")
    a = ap.parse_args()
    res: dict = {"accel": None, "note": "TCG emulation: absolute figures are not representative"}
    guest = Guest.attach(a.name) if a.attach else Guest(name=a.name, temp_disk_size=a.size)
    try:
        if not a.attach:
            t0 = time.monotonic()
            guest.up()
            res["boot_to_ssh_seconds"] = round(time.monotonic() - t0, 1)
        res["accel"] = guest.state.get("accel")
        res["raw"] = fio(guest, "/dev/disk/azure/resource", a.runtime)
        runs = []
        for label in ("fresh", "no_change"):
            r = run_playbook(guest.inventory_path, "temp_disk.yml", {"temp_disk_encryption_swap_size_mb": 0})
            if r.rc != 0:
                print(r.output[-3000:], file=sys.stderr)
                return 1
            runs.append({"run": label, "seconds": round(r.seconds, 1), "changed": r.changed})
        res["role_runs"] = runs
        guest.ssh("umount /mnt")
        res["encrypted"] = fio(guest, "/dev/mapper/azure_tmp", a.runtime)
        res["encrypted_vs_raw"] = dict(
            (k, round(res["encrypted"][k]["MiB_s"] / res["raw"][k]["MiB_s"], 2) if res["raw"][k]["MiB_s"] else None)
            for k in res["raw"])
    finally:
        if not a.attach:
            guest.down()
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
