#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task overhead of confidential.azure.vm_info vs azure.azcollection.azure_rm_virtualmachine_info.

Both modules read the same VM from the same local simulator, in one run on the same machine, through the same
ansible-playbook (the project's .venv, ansible-core 2.19), alternating rounds so machine noise hits both sides.

  python tests/bench/azcollection_compare.py [--rounds 3] [--tasks 5] [--json OUT]

azure.azcollection (3.12, taken from the `ansible` community package on PyPI) lives in its OWN venv with its
pinned requirements.txt (tests/bench/azcoll_env.sh installs it into ~/.cache/confidential-azure/azcoll-venv).
Pointing it at the simulator: its documented custom-cloud route (cloud_environment = an ARM metadata URL) is
broken in 3.12 with its own pinned azure-cli-core 2.75 (it calls azure.cli.core.cloud.get_cloud_from_metadata_endpoint,
which that azure-cli-core does not have: "'AttributeError' object has no attribute 'message'"). So the whole
benchmark re-executes itself in a private mount + network namespace (unshare --mount --net; nothing global is
touched): a private /etc/hosts bind-mounted in that namespace maps management.azure.com and
login.microsoftonline.com to 127.0.0.1, where a TLS relay (certificate for those names from a throw-away bench CA)
forwards to the simulator. azure.azcollection keeps its defaults (AzureCloud) plus disable_instance_discovery and
REQUESTS_CA_BUNDLE; our collection is given the same two public endpoints (custom cloud file), so BOTH sides talk
to the same relay and simulator.

How the numbers are taken (honestly, per module process):
  * every task's interpreter (ansible_python_interpreter) is a tiny wrapper, tests/bench/_rsswrap.py, which
    runs the real interpreter of that side as its child with the module on stdin/argv, waits, and records the
    child's wall time and ru_maxrss from getrusage(RUSAGE_CHILDREN) (the peak RSS of the module process, i.e.
    AnsiballZ + the module, which runs in the same process). The wrapper's own memory is not counted.
  * playbook wall time per task = (ansible-playbook wall time with N tasks - with 0 tasks) / N: what a user
    waits for per task, controller overhead included (the same controller for both sides).
Prints one JSON object. Never asserts a number.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "functional"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from simctl import start_simulator, stop_simulator  # noqa: E402
from _tls_relay import NAMES, Relay, make_certs  # noqa: E402
from helpers import collections_path, run_module, run_playbook  # noqa: E402

CACHE = Path(os.environ.get("CONFIDENTIAL_AZURE_CACHE", str(Path.home() / ".cache" / "confidential-azure")))
AZCOLL_VENV = CACHE / "azcoll-venv"
AZCOLL_COLLECTIONS = CACHE / "azcoll"
WRAPPER = Path(__file__).resolve().parent / "_rsswrap.py"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 bench@host"
JAMMY = {"publisher": "Canonical", "offer": "0001-com-ubuntu-confidential-vm-jammy", "sku": "22_04-lts-cvm"}
RG, VM = "rg-bench", "cvm-bench"


def azcoll_version():
    manifest = AZCOLL_COLLECTIONS / "ansible_collections" / "azure" / "azcollection" / "MANIFEST.json"
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text())["collection_info"]["version"]


def make_interpreter(workdir: Path, side: str, real_python: str) -> Path:
    """An executable that runs the wrapper under `real_python`'s venv-less base (plain interpreter, -I -S)."""
    path = workdir / ("python-%s" % side)
    log = workdir / ("rss-%s.jsonl" % side)
    path.write_text("#!/bin/sh\nRSSWRAP_LOG=%s RSSWRAP_PYTHON=%s exec %s -I -S %s \"$@\"\n" % (
        log, real_python, sys.executable, WRAPPER))
    path.chmod(0o755)
    return path


def read_log(workdir: Path, side: str) -> list:
    log = workdir / ("rss-%s.jsonl" % side)
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def play(tasks, interpreter, environment):
    return [{"hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": str(interpreter)},
             "environment": environment, "tasks": tasks}]


PLAYBOOK_TIMEOUT = 300  # one playbook of a few tasks takes seconds; a stalled one is recorded, not waited for


def run_side(workdir: Path, name: str, tasks: list, interpreter: Path, environment: dict, base_env: dict):
    """(result, wall seconds) of one playbook; (None, None) when it did not finish within PLAYBOOK_TIMEOUT."""
    path = workdir / ("play-%s-%d.json" % (name, len(tasks)))
    path.write_text(json.dumps(play(tasks, interpreter, environment)))
    t0 = time.monotonic()
    try:
        out = run_playbook(path, base_env, timeout=PLAYBOOK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, None
    wall = time.monotonic() - t0
    return out, wall


def summarize(values):
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "n": len(values)}


def module_figures(recs):
    """Wall, CPU and peak RSS of the module processes the wrapper recorded (only those that exited 0)."""
    recs = [r for r in recs if r.get("rc", 0) == 0]
    return {"module_process_wall_s": summarize([r["wall_s"] for r in recs]),
            "module_process_cpu_s": summarize([r["cpu_s"] for r in recs if "cpu_s" in r]),
            "module_process_peak_rss_mb": summarize([r["maxrss_kb"] / 1024.0 for r in recs])}


def ratios(sides):
    """ours / azure.azcollection (wall, CPU, peak RSS) and token cache on / off (wall, CPU), medians."""
    def ratio(a, b, key, stat="median"):
        if not (sides.get(a) or {}).get(key) or not (sides.get(b) or {}).get(key):
            return None
        return round(sides[a][key][stat] / sides[b][key][stat], 3)

    out = {"ratio_module_wall": ratio("ours", "azcollection", "module_process_wall_s"),
           "ratio_module_cpu": ratio("ours", "azcollection", "module_process_cpu_s"),
           "ratio_peak_rss": ratio("ours", "azcollection", "module_process_peak_rss_mb", "max"),
           "token_cache_ratio_module_wall": ratio("ours_token_cache", "ours", "module_process_wall_s"),
           "token_cache_ratio_module_cpu": ratio("ours_token_cache", "ours", "module_process_cpu_s"),
           "ratio_module_wall_token_cache": ratio("ours_token_cache", "azcollection", "module_process_wall_s")}
    if all((sides.get(k) or {}).get("playbook_wall_per_task_s") for k in ("ours", "azcollection")):
        out["ratio_playbook_wall_per_task"] = ratio("ours", "azcollection", "playbook_wall_per_task_s")
    return out


def from_logs(workdir: Path, out_json=None):
    """Module-process figures only (no playbook wall times) from the wrapper logs of an interrupted run."""
    result = {"measured": True, "partial": "rebuilt from the per-task wrapper logs of an interrupted run; "
              "playbook wall per task not available", "azcollection_version": azcoll_version(), "sides": {},
              "requests": {}}
    for side in ("ours", "ours_token_cache", "azcollection"):
        result["sides"][side] = dict(module_figures(read_log(workdir, side)), playbook_wall_per_task_s=None)
    result.update(ratios(result["sides"]))
    text = json.dumps(result, indent=1)
    print(text)
    if out_json:
        Path(out_json).write_text(text + "\n")
    return result


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=5, help="tasks per playbook")
    ap.add_argument("--json")
    ap.add_argument("--from-logs", help="rebuild the module-process figures from an interrupted run's work dir")
    args = ap.parse_args(argv)
    if args.from_logs:
        return from_logs(Path(args.from_logs), args.json)

    if os.environ.get("CAZURE_BENCH_NETNS") != "1":
        # re-run in a private mount + network namespace with a private /etc/hosts (nothing global changes)
        hosts = Path(tempfile.mkdtemp(prefix="cazure-netns-")) / "hosts"
        hosts.write_text("127.0.0.1 localhost\n" + "".join("127.0.0.1 %s\n" % n for n in NAMES))
        cmd = ["unshare", "--mount", "--net", "sh", "-c",
               'mount --bind "$0" /etc/hosts && ip link set lo up && exec "$@"', str(hosts),
               sys.executable, str(Path(__file__).resolve())] + list(argv if argv is not None else sys.argv[1:])
        return subprocess.call(cmd, env=dict(os.environ, CAZURE_BENCH_NETNS="1"))

    version = azcoll_version()
    azpy = AZCOLL_VENV / "bin" / "python"
    if version is None or not azpy.exists():
        result = {"measured": False, "reason": "azure.azcollection venv missing: run tests/bench/azcoll_env.sh"}
        print(json.dumps(result))
        return result

    load_at_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="cazure-azcoll-"))
    (tmp / "sim").mkdir()
    sim = start_simulator(str(tmp / "sim"))
    try:
        env = sim.env
        # the VM both sides read, created with the collection's own modules
        for mod, margs in (
                ("resource_group", {"name": RG, "location": "eastus"}),
                ("virtual_network", {"resource_group": RG, "name": "vnet1", "address_prefixes": ["10.0.0.0/16"],
                                     "subnets": [{"name": "default", "address_prefix": "10.0.1.0/24"}]}),
                ("vm", {"resource_group": RG, "name": VM, "size": "Standard_DC2as_v5", "image": dict(JAMMY),
                        "admin_username": "azureuser", "ssh_public_keys": [KEY],
                        "subnet_id": "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/"
                                     "virtualNetworks/vnet1/subnets/default" % (sim.subscription_id, RG)})):
            res = run_module(mod, margs, env, workdir=tmp)
            if res.get("failed"):
                raise RuntimeError("setup %s failed: %s" % (mod, res.get("msg")))

        # both sides through the same relay: public names -> 127.0.0.1:443 -> simulator
        relay_ca, relay_cert, relay_key = make_certs(str(tmp))
        bundle = tmp / "ca-bundle.pem"
        bundle.write_text(Path(relay_ca).read_text() + Path(sim.ca_bundle).read_text())
        Relay(int(sim.base_url.rsplit(":", 1)[1]), sim.ca_bundle, relay_cert, relay_key)
        cloud = dict(sim.info["cloud_environment"], arm_endpoint="https://management.azure.com/",
                     authority_host="https://login.microsoftonline.com", ca_bundle=str(bundle))
        cloud_file = tmp / "cloud-public-names.json"
        cloud_file.write_text(json.dumps(cloud))
        ours_py = REPO / ".venv" / "bin" / "python"
        ours_py = str(ours_py) if ours_py.exists() else sys.executable
        ours_int = make_interpreter(tmp, "ours", ours_py)
        ours_cache_int = make_interpreter(tmp, "ours_token_cache", ours_py)
        theirs_int = make_interpreter(tmp, "azcollection", str(azpy))
        info = sim.info
        ours_env = dict(env, AZURE_CLOUD_ENVIRONMENT=str(cloud_file), REQUESTS_CA_BUNDLE=str(bundle),
                        SSL_CERT_FILE=str(bundle))
        cache_env = dict(ours_env, CONFIDENTIAL_AZURE_TOKEN_CACHE=str(tmp / "token-cache.json"))
        theirs_env = {"AZURE_SUBSCRIPTION_ID": info["subscription_id"], "AZURE_CLIENT_ID": info["client_id"],
                      "AZURE_SECRET": info["client_secret"], "AZURE_TENANT": info["tenant_id"],
                      "AZURE_CLOUD_ENVIRONMENT": "AzureCloud", "AZURE_DISABLE_INSTANCE_DISCOVERY": "true",
                      "REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle)}
        base_env = {"ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (collections_path(), AZCOLL_COLLECTIONS)}

        def tasks(module, n):
            return [{"name": "t%d" % i, module: {"resource_group": RG, "name": VM}, "register": "r%d" % i}
                    for i in range(n)]

        sides = {
            "ours": ("confidential.azure.vm_info", ours_int, ours_env),
            "ours_token_cache": ("confidential.azure.vm_info", ours_cache_int, cache_env),
            "azcollection": ("azure.azcollection.azure_rm_virtualmachine_info", theirs_int, theirs_env),
        }
        walls = {k: [] for k in sides}
        empty = {k: [] for k in sides}
        requests = {}
        checks = {}
        stalled = []
        # the cached side measures what a play's later tasks cost: its first task (the one that fills the cache)
        # runs here, unrecorded (its own interpreter, no wrapper)
        warm, _wall = run_side(tmp, "warm-up", tasks(sides["ours_token_cache"][0], 1),
                               Path(ours_py), cache_env, base_env)
        if warm is None or warm.rc != 0:
            raise RuntimeError("token cache warm-up failed: %s" % (warm and json.dumps(warm.tasks())[:3000]))
        for rnd in range(args.rounds):
            for side, (module, interp, environment) in sides.items():
                out0, w0 = run_side(tmp, side, [], interp, environment, base_env)
                mark = sim.mark()
                out, w = run_side(tmp, side, tasks(module, args.tasks), interp, environment, base_env)
                log = sim.requests(since=mark)
                if out is None or out0 is None:
                    stalled.append("%s round %d" % (side, rnd + 1))
                    continue
                if out.rc != 0:
                    raise RuntimeError("%s failed: %s" % (side, json.dumps(out.tasks())[:3000]))
                walls[side].append(w)
                empty[side].append(w0)
                if side not in checks:
                    r = out.result("t0")
                    found = r.get("vms") if "vms" in r else r.get("virtual_machines")
                    checks[side] = {"found_vms": len(found or []), "keys": sorted(r)[:12]}
                    by = {}
                    for e in log:
                        by[e.get("service", "?")] = by.get(e.get("service", "?"), 0) + 1
                    requests[side] = {"per_playbook_of_%d_tasks" % args.tasks: len(log), "by_service": by}
        result = {"measured": True, "azcollection_version": version, "endpoint": "private netns: "
                  "management.azure.com / login.microsoftonline.com -> TLS relay -> simulator (both sides)", "rounds": args.rounds,
                  "tasks_per_playbook": args.tasks, "sides": {}, "requests": requests, "result_check": checks,
                  "stalled_playbooks": stalled, "playbook_timeout_s": PLAYBOOK_TIMEOUT,
                  "load_average": {"start": load_at_start, "end": os.getloadavg()}}
        for side in sides:
            per_task_play = [(w - w0) / args.tasks for w, w0 in zip(walls[side], empty[side])]
            result["sides"][side] = dict(module_figures(read_log(tmp, side)),
                                         playbook_wall_per_task_s=summarize(per_task_play))
        result.update(ratios(result["sides"]))
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
