"""`python tests/simulator/run --env-file PATH`: `source PATH` is all a user does before running a module.

The test starts the simulator as a user would, sources the file in bash, and runs one module with `ansible -m`
in an environment holding nothing Azure but what the file exported."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from helpers import collections_path
from simctl import SIM_RUN, Simulator, stop_simulator

EXPORTS = ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_TENANT", "AZURE_CLOUD_ENVIRONMENT",
           "REQUESTS_CA_BUNDLE")


def _start(tmp_path, env_file):
    proc = subprocess.Popen([sys.executable, SIM_RUN, "--port", "0", "--state-dir", str(tmp_path / "state"),
                             "--env-file", str(env_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError("simulator did not start: %s" % proc.stderr.read())
    info = json.loads(line)
    return Simulator(proc, info, os.path.splitext(str(env_file))[0] + ".cloud.json"), info


def test_source_env_file_then_run_a_module(tmp_path):
    env_file = tmp_path / "conf" / "azsim.env"
    sim, info = _start(tmp_path, env_file)
    try:
        text = env_file.read_text()
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600        # it holds the client secret
        cloud_file = tmp_path / "conf" / "azsim.cloud.json"
        assert json.loads(cloud_file.read_text()) == info["cloud_environment"]
        assert stat.S_IMODE(cloud_file.stat().st_mode) == 0o600
        # the first stdout line keeps its fields and lists the subscriptions, the default first
        assert sim.subscriptions[0] == info["subscription_id"] and len(sim.subscriptions) >= 2

        venv_bin = os.path.dirname(sys.executable)
        base_env = {"PATH": venv_bin + os.pathsep + "/usr/bin:/bin", "HOME": str(tmp_path),
                    "ANSIBLE_COLLECTIONS_PATH": collections_path(), "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                    "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
                    "ANSIBLE_NOCOLOR": "1", "LANG": "C.UTF-8"}
        script = 'set -e; source "$1"; env | grep -E "^(AZURE_|REQUESTS_CA_BUNDLE=)" | sort; ' \
                 'ansible localhost -c local -m confidential.azure.resource_group ' \
                 '-a "name=rg-from-env-file location=eastus"'
        proc = subprocess.run(["bash", "-c", script, "bash", str(env_file)], env=base_env, capture_output=True,
                              text=True, timeout=300, cwd=str(tmp_path), check=False)
        assert proc.returncode == 0, (text, proc.stdout[-3000:], proc.stderr[-3000:])
        exported = dict(line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith(("AZURE_",
                                                                                                   "REQUESTS_")))
        assert sorted(exported) == sorted(EXPORTS), exported
        assert exported["AZURE_CLOUD_ENVIRONMENT"] == str(cloud_file)
        assert exported["AZURE_SUBSCRIPTION_ID"] == info["subscription_id"]
        assert "CHANGED" in proc.stdout, proc.stdout[-3000:]
        status, _h, group = sim.call("GET", sim.rg_path("rg-from-env-file"), api_version="2021-04-01")
        assert status == 200 and group["location"] == "eastus", group
    finally:
        stop_simulator(sim)
