# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml: `ansible-builder create` makes a complete build context (tests/tools/ee_context.sh
builds the collection tarball first). Building the image itself needs a container engine, which is not here."""
from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from helpers import REPO


def test_ansible_builder_create_makes_the_build_context(tmp_path):
    context = tmp_path / "context"
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path),
           "VENV_BIN": str(Path(sys.executable).parent)}
    proc = subprocess.run([str(REPO / "tests" / "tools" / "ee_context.sh"), str(context)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    build = context / "_build"
    containerfile = (context / "Containerfile").read_text()
    # the collection from its tarball, plus its dependencies, installed by ansible-galaxy in the galaxy stage
    reqs = yaml.safe_load((build / "requirements.yml").read_text())
    names = [c["name"] for c in reqs["collections"]]
    assert names[0] == "/build/confidential-azure.tar.gz"
    assert {"community.general", "ansible.posix"} <= set(names)
    assert "community.crypto" not in names   # nothing in the collection uses it
    assert "COPY _build/build/confidential-azure.tar.gz /build/confidential-azure.tar.gz" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    # the control-node Python requirements and the system packages come from the repo's files
    assert (build / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    # the tarball in the context is this collection with its playbooks, roles and plugins
    with tarfile.open(build / "build" / "confidential-azure.tar.gz") as tar:
        members = set(tar.getnames())
    for path in ("MANIFEST.json", "playbooks/rollout.yml", "playbooks/tasks/rollout_summary.yml",
                 "plugins/inventory/cvm.py", "plugins/modules/vm.py", "roles/guest_attestation/tasks/main.yml",
                 "meta/runtime.yml"):
        assert path in members, path
    assert not any(m.startswith((".venv", ".build")) for m in members)
