#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet benchmark: playbooks/rollout.yml (control phase) for N = 1, 10, 50 VMs with a 20 s simulated
provisioning delay per VM create, ANSIBLE_FORKS=5. Reuses the fleet helper's runner
(tests/functional/fleet/fleet_helpers.py: run_rollout, vm_puts, vm_list_gets).

  python tests/bench/fleet_bench.py [--sizes 1,10,50] [--delay 20] [--forks 5] [--json OUT]

Figures per N: playbook wall time, VM phase (first VM create request -> last wait poll, from the simulator's
request log), number of VM creates. Target: 50 VMs <= 1.5 x one VM. Too slow for `make test`; `make bench` only.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "functional"))
sys.path.insert(0, str(REPO / "tests" / "functional" / "fleet"))

from simctl import start_simulator, stop_simulator  # noqa: E402
from fleet_helpers import run_rollout, vm_list_gets, vm_puts  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10,50")
    ap.add_argument("--delay", type=float, default=20.0)
    ap.add_argument("--forks", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="cazure-fleet-"))
    (tmp / "sim").mkdir()
    sim = start_simulator(str(tmp / "sim"))
    result = {"measured": True, "provisioning_delay_s": args.delay, "forks": args.forks, "runs": {}}
    try:
        for n in sizes:
            sim.reset()
            sim.set_delay(args.delay, pattern=r"/providers/Microsoft\.Compute/virtualMachines/")
            rg = "rg-fleet-%d" % n
            out, summary, log, wall = run_rollout(sim, tmp, rg, forks=args.forks, rollout_vm_count=n,
                                                  rollout_vm_prefix="f%d" % n)
            puts, lists = vm_puts(log, rg), vm_list_gets(log, rg)
            run = {"rc": out.rc, "playbook_wall_s": round(wall, 2), "vm_creates": len(puts),
                   "vms_succeeded": sum(1 for v in (summary or {}).get("vms", [])
                                        if v.get("provisioning_state") == "Succeeded")}
            if puts and lists:
                first = min(e["time"] for e in puts)
                run["start_window_s"] = round(max(e["time"] for e in puts) - first, 2)
                run["vm_phase_s"] = round(max(e["time"] for e in lists) - first, 2)
            if out.rc != 0:
                run["error"] = out.stdout[-1500:]
            result["runs"][str(n)] = run
            print(json.dumps({"n": n, **run}), file=sys.stderr)
        one, big = result["runs"].get("1"), result["runs"].get(str(max(sizes)))
        if one and big and one.get("vm_phase_s") and big.get("vm_phase_s"):
            result["largest"] = max(sizes)
            result["ratio_playbook_wall"] = round(big["playbook_wall_s"] / one["playbook_wall_s"], 3)
            result["ratio_vm_phase"] = round(big["vm_phase_s"] / one["vm_phase_s"], 3)
    finally:
        stop_simulator(sim)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
