"""The modules' EXAMPLES, concatenated in the documented order, are one playbook that works as written, and the
inventory plugin's EXAMPLES list what it created.

A new user copies EXAMPLES from ``ansible-doc``; if they drift apart (different names, registered variables that
no other example sets, options a module no longer has) this test fails.  The simulator is started the way the
README tells users to (``tests/simulator/run --env-file``), and the playbook sees only that environment plus an
SSH key in ``~/.ssh`` (what a user has)."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from helpers import REPO, ansible_env, run_playbook
from simctl import start_simulator, stop_simulator

CHAIN = ["resource_group", "keyvault", "keyvault_key", "disk_encryption_set", "virtual_network", "vm", "vm_batch",
         "vm_info", "sku_info"]


def examples_text(path: Path) -> str:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLES" for t in node.targets):
            return node.value.value
    raise AssertionError("%s has no EXAMPLES" % path)


def examples(module: str) -> list:
    """The EXAMPLES block of a module file, parsed as YAML (a list of tasks)."""
    tasks = yaml.safe_load(examples_text(REPO / "plugins" / "modules" / (module + ".py")))
    assert isinstance(tasks, list) and tasks, "%s: EXAMPLES is not a task list" % module
    return tasks


def inventory_examples() -> dict:
    """The inventory plugin's EXAMPLES: one config file per block that starts with '# NAME.cvm.yml: ...'."""
    files = {}
    for block in examples_text(REPO / "plugins" / "inventory" / "cvm.py").strip().split("\n---\n"):
        name = block.split(":", 1)[0][2:].strip()
        assert name.endswith(".cvm.yml"), block
        files[name] = block + "\n"
    return files


def inventory(config: Path, env: dict) -> dict:
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(config), "--list"],
                          env=ansible_env(env), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def members(listing: dict, group: str) -> set:
    return set(listing.get(group, {}).get("hosts", []))


def sourced(env_file: Path) -> dict:
    """The variables a user gets from `source env_file` (and nothing else from this process)."""
    out = subprocess.run(["env", "-i", "bash", "-c", "set -a; . %s; env -0" % env_file], capture_output=True,
                         check=True).stdout.decode()
    skip = ("PWD=", "SHLVL=", "_=")
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item and not item.startswith(skip))


@pytest.fixture
def user_env(tmp_path):
    state = tmp_path / "sim"
    state.mkdir()
    env_file = tmp_path / "azsim.env"
    sim = start_simulator(str(state), ["--env-file", str(env_file)])
    try:
        home = tmp_path / "home"
        (home / ".ssh").mkdir(parents=True)
        key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        (home / ".ssh" / "id_ed25519.pub").write_bytes(key + b" user@example\n")
        env = sourced(env_file)
        assert {"AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_TENANT",
                "AZURE_CLOUD_ENVIRONMENT", "REQUESTS_CA_BUNDLE"} <= set(env), env
        env["HOME"] = str(home)
        yield env
    finally:
        stop_simulator(sim)


def test_examples_chain_into_one_idempotent_playbook_and_the_inventory_examples_list_it(user_env, tmp_path):
    tasks = [task for module in CHAIN for task in examples(module)]
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Module EXAMPLES, in order", "hosts": "localhost",
                                         "gather_facts": False, "tasks": tasks}], sort_keys=False))
    first = run_playbook(playbook, user_env, timeout=1500)
    failed = [(name, r.get("msg")) for name, r in first.tasks() if r.get("failed")]
    assert first.rc == 0 and not failed, (failed, first.stderr[-2000:])
    assert first.stats.get("changed", 0) > 0
    second = run_playbook(playbook, user_env, timeout=1500)
    changed = [name for name, r in second.tasks() if r.get("changed")]
    assert second.rc == 0 and not changed, changed
    for name, text in inventory_examples().items():
        (tmp_path / name).write_text(text)
    minimal = inventory(tmp_path / "minimal.cvm.yml", user_env)
    assert members(minimal, "tee_snp") == {"cvm-snp-1", "batch-snp-1"}
    assert members(minimal, "tee_tdx") == {"cvm-1", "cvm-2", "batch-tdx-1"}
    fleet = inventory(tmp_path / "fleet.cvm.yml", user_env)
    assert members(fleet, "rg_cvm_rg") == {"cvm-snp-1", "cvm-1", "cvm-2", "batch-snp-1", "batch-tdx-1"}
    assert members(fleet, "tee_SNP") == {"cvm-snp-1", "batch-snp-1"}
    assert members(fleet, "cmk") == {"cvm-snp-1", "cvm-1", "cvm-2", "batch-snp-1", "batch-tdx-1"}
    user = fleet["_meta"]["hostvars"]["cvm-1"]["ansible_user"]
    assert (user.get("__ansible_unsafe") if isinstance(user, dict) else user) == "azureuser"
