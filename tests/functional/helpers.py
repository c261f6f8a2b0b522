# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection the way users do (ansible-playbook with the collection on ANSIBLE_COLLECTIONS_PATH) against
the local simulator (the ``simulator`` / ``fresh_simulator`` fixtures of conftest.py).

    result = run_module("vm", {...}, simulator.env, check=False, diff=True)   # the task result dict
    out = run_playbook("playbooks/provision.yml", simulator.env, extra_vars={...})
    out.stats["changed"], out.result("task name")
    mark = simulator.mark(); ...; arm_requests(simulator.requests(since=mark), writes_only=True)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_COLLECTIONS_DIR = None


def collections_path() -> str:
    """A temp dir with ansible_collections/confidential/azure -> this working tree (created once per process)."""
    global _COLLECTIONS_DIR
    if _COLLECTIONS_DIR is None:
        root = tempfile.mkdtemp(prefix="cazure-collections-")
        target = Path(root) / "ansible_collections" / "confidential"
        target.mkdir(parents=True)
        (target / "azure").symlink_to(REPO)
        _COLLECTIONS_DIR = root
    return _COLLECTIONS_DIR


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def ansible_env(extra=None) -> dict:
    """Environment for ansible-playbook: this collection on ANSIBLE_COLLECTIONS_PATH, JSON output, the test
    interpreter, plus ``extra`` (e.g. the simulator's AZURE_* variables)."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("AZURE_"):
            del env[name]
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
        "ANSIBLE_STDOUT_CALLBACK": "cazure_json",
        "ANSIBLE_CALLBACK_PLUGINS": str(Path(__file__).resolve().parent / "callback_plugins"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "PYTHONPATH": "",
    })
    env.update(extra or {})
    return env


class PlaybookResult:
    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    @property
    def stats(self) -> dict:
        return (self.data or {}).get("stats", {}).get("localhost", {})

    def tasks(self) -> list:
        """[(task name, result dict)] for localhost, in order."""
        out = []
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                result = task.get("hosts", {}).get("localhost")
                if result is not None:
                    out.append((task["task"]["name"], result))
        return out

    def result(self, name: str) -> dict:
        for task_name, result in self.tasks():
            if task_name == name:
                return result
        raise KeyError("no task %r in %s" % (name, [task[0] for task in self.tasks()]))


def run_playbook(playbook, env, extra_vars=None, check=False, diff=False, timeout=900) -> PlaybookResult:
    cmd = [_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, cwd=str(REPO),
                          check=False)
    try:
        start = proc.stdout.index("{")
        data = json.loads(proc.stdout[start:])
    except ValueError:
        data = None
    result = PlaybookResult(proc, data)
    if data is None:
        raise AssertionError("ansible-playbook output is not JSON (rc %s):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return result


def run_module(module, args, env, check=False, diff=False, workdir=None, fqcn_prefix="confidential.azure."):
    """Run one module as a one-task playbook; returns the task result dict (with 'failed', 'changed', ...)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="cazure-task-"))
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "task", fqcn_prefix + module: args, "register": "out", "ignore_errors": True}]}]
    path = workdir / ("task-%s.json" % module)
    path.write_text(json.dumps(play))
    return run_playbook(path, env, check=check, diff=diff).result("task")


def arm_requests(entries, writes_only=False):
    """ARM requests from a request-log slice (no token or admin requests)."""
    out = [e for e in entries if e.get("service") == "arm" and not e["path"].startswith("/_sim")]
    if writes_only:
        out = [e for e in out if e["method"] != "GET"]
    return out


def sent_attestation(agent, attest):
    """Call ``attest()`` and return the body of the AzureGuest request the guest agent (roles/data_disk_encryption/
    files/agent.py, imported as ``agent``) sent on the way: the evidence exactly as MAA receives it."""
    seen = {}
    orig = agent.Http.request

    def spy(self, method, url, stage, headers=None, body=None):
        if stage == "attestation":
            seen["body"] = body
        return orig(self, method, url, stage, headers, body)
    agent.Http.request = spy
    try:
        attest()
    finally:
        agent.Http.request = orig
    assert "body" in seen, "the agent sent no attestation request"
    return seen["body"]
