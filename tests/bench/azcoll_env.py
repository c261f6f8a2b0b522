#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install azure.azcollection for the side-by-side benchmark, in its OWN venv, idempotently.

azure.azcollection has no standalone PyPI distribution: it comes out of the `ansible` community package
(ansible 12.3.0 bundles azure.azcollection 3.12.0). The wheel is fetched with pip (no dependencies), only the
azure/azcollection tree is extracted to ~/.cache/confidential-azure/azcoll/ansible_collections/azure/azcollection,
and a Python 3.11 venv ~/.cache/confidential-azure/azcoll-venv gets the collection's own pinned requirements.txt
(all of it: azure_rm_common imports ~50 SDK packages in one try block, so vm_info needs nearly all of them).

  python tests/bench/azcoll_env.py   -> prints the venv python path
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ANSIBLE_PACKAGE = "ansible==12.3.0"
CACHE = Path(os.environ.get("CONFIDENTIAL_AZURE_CACHE", str(Path.home() / ".cache" / "confidential-azure")))
COLL = CACHE / "azcoll"
VENV = CACHE / "azcoll-venv"
PREFIX = "ansible_collections/azure/azcollection/"


def ensure():
    manifest = COLL / PREFIX / "MANIFEST.json"
    if not manifest.exists():
        with tempfile.TemporaryDirectory() as dl:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", dl, ANSIBLE_PACKAGE],
                           check=True)
            wheel = next(Path(dl).glob("ansible-*.whl"))
            with zipfile.ZipFile(wheel) as z:
                z.extractall(COLL, members=[n for n in z.namelist() if n.startswith(PREFIX)])
    reqs = COLL / PREFIX / "requirements.txt"
    stamp = VENV / ".requirements-stamp"
    if not (stamp.exists() and stamp.read_text() == reqs.read_text()):
        if not (VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(reqs)], check=True)
        stamp.write_text(reqs.read_text())
    version = json.loads(manifest.read_text())["collection_info"]["version"]
    return str(VENV / "bin" / "python"), version


if __name__ == "__main__":
    print(json.dumps(dict(zip(("python", "azcollection_version"), ensure()))))
