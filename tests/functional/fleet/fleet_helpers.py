# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run playbooks/rollout.yml against a simulator and read what it did (summary JSON, request log)."""
from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

from helpers import REPO, run_playbook

ROLLOUT = REPO / "playbooks" / "rollout.yml"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 fleet@test"
VM_PATH = re.compile(r"/providers/Microsoft\.Compute/virtualMachines/([^/?]+)$", re.I)
VM_LIST = re.compile(r"/resourceGroups/([^/]+)/providers/Microsoft\.Compute/virtualMachines$", re.I)


def rollout_vars(workdir: Path, rg: str, **extra) -> dict:
    evars = {
        "rollout_name": rg,
        "rollout_resource_group": rg,
        "rollout_vault_name": "kv-%s" % uuid.uuid4().hex[:10],
        "rollout_ssh_public_keys": [KEY],
        "rollout_guest_phase": False,
        "rollout_poll_delay": 2,
        "rollout_summary_path": str(workdir / ("summary-%s.json" % rg)),
        "rollout_token_cache": str(workdir / "token-cache.json"),
    }
    evars.update(extra)
    return evars


def run_rollout(sim, workdir: Path, rg: str, forks: int = 20, check: bool = False, **extra):
    """Returns (PlaybookResult, summary dict, request-log slice, wall seconds); ``check``: ansible-playbook --check."""
    evars = rollout_vars(workdir, rg, **extra)
    mark = sim.mark()
    t0 = time.monotonic()
    env = dict(sim.env, ANSIBLE_FORKS=str(forks))
    out = run_playbook(ROLLOUT, env, extra_vars=evars, check=check)
    wall = time.monotonic() - t0
    summary_file = Path(evars["rollout_summary_path"])
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    return out, summary, sim.requests(since=mark), wall


def vm_puts(entries, rg=None):
    return [e for e in entries if e.get("service") == "arm" and e["method"] == "PUT"
            and VM_PATH.search(e["path"].split("?")[0])
            and (rg is None or ("/resourcegroups/%s/" % rg.lower()) in e["path"].lower())]


def vm_list_gets(entries, rg):
    """The resource-group-wide VM list calls (vm_info's wait for the fleet)."""
    out = []
    for e in entries:
        m = VM_LIST.search(e["path"].split("?")[0]) if e.get("service") == "arm" and e["method"] == "GET" else None
        if m and m.group(1).lower() == rg.lower():
            out.append(e)
    return out
