# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection the way users do (ansible-playbook with the collection on ANSIBLE_COLLECTIONS_PATH) against
the local simulator, and read the simulator's request log.

    sim = Simulator.start(tmp_dir)             # or the `simulator` fixture of tests/functional/conftest.py
    env = sim.env()                           # AZURE_* variables + AZURE_CLOUD_ENVIRONMENT file
    result = run_module("vm", {...}, env, check=False, diff=True)
    out = run_playbook("playbooks/provision.yml", env, extra_vars={...})
    mark = sim.mark(); ...; sim.requests(since=mark)
"""
from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
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


class Simulator:
    """A simulator process started by a test (use the conftest fixture when there is one)."""

    def __init__(self, proc, info: dict, workdir: Path):
        self.proc = proc
        self.info = info
        self.workdir = workdir
        self.arm = info["cloud_environment"]["arm_endpoint"].rstrip("/")
        ca = info["cloud_environment"].get("ca_bundle")
        self._ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()

    @classmethod
    def start(cls, workdir, *extra_args) -> "Simulator":
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "simulator" / "run"), "--state-dir",
                                 str(workdir / "sim")] + list(extra_args),
                                stdout=subprocess.PIPE, stderr=open(workdir / "sim.err", "wb"), text=True)
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise RuntimeError("simulator did not start: %s" % (workdir / "sim.err").read_text()[-2000:])
        return cls(proc, json.loads(line), workdir)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    # -- admin API -------------------------------------------------------------------------------------------
    def admin(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.arm + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ctx, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def reset(self):
        return self.admin("POST", "/_sim/reset")

    def mark(self) -> int:
        return self.admin("GET", "/_sim/requests/mark")["mark"]

    def requests(self, since: int = 0) -> list:
        return self.admin("GET", "/_sim/requests?since=%d" % since)["requests"]

    def fault(self, **spec):
        return self.admin("POST", "/_sim/faults", spec)

    def clear_faults(self):
        return self.admin("DELETE", "/_sim/faults")

    def state(self):
        return self.admin("GET", "/_sim/state")

    # -- environment for ansible -----------------------------------------------------------------------------
    def env(self, extra=None) -> dict:
        cloud_file = self.workdir / "cloud_environment.json"
        cloud_file.write_text(json.dumps(self.info["cloud_environment"]))
        env = ansible_env()
        env.update({
            "AZURE_SUBSCRIPTION_ID": self.info["subscription_id"],
            "AZURE_CLIENT_ID": self.info["client_id"],
            "AZURE_SECRET": self.info["client_secret"],
            "AZURE_TENANT": self.info["tenant_id"],
            "AZURE_CLOUD_ENVIRONMENT": str(cloud_file),
        })
        env.update(extra or {})
        return env


def ansible_env() -> dict:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("AZURE_"):
            del env[name]
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "PYTHONPATH": "",
    })
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
        raise KeyError("no task %r in %s" % (name, [n for n, _ in self.tasks()]))


def run_playbook(playbook, env, extra_vars=None, check=False, diff=False, timeout=900) -> PlaybookResult:
    cmd = [_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
    try:
        start = proc.stdout.index("{")
        data = json.loads(proc.stdout[start:])
    except ValueError:
        data = None
    result = PlaybookResult(proc, data)
    if data is None:
        raise AssertionError("ansible-playbook output is not JSON (rc %s):\n%s\n%s" % (proc.returncode,
                                                                                     proc.stdout[-3000:],
                                                                                     proc.stderr[-3000:]))
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
