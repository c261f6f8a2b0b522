# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run roles of this collection against a harness guest with ansible-playbook."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[3]
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"


def collections_path() -> str:
    """ANSIBLE_COLLECTIONS_PATH with this checkout as confidential.azure (+ .build/collections)."""
    # one link per checkout: several worktrees run guest tests at the same time and must not re-point each other's link
    tag = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
    root = Path(tempfile.gettempdir()) / ("confidential-azure-colls-%d-%s" % (os.getuid(), tag))
    link = root / "ansible_collections" / "confidential" / "azure"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and os.readlink(link) == str(REPO)):
        tmp = link.with_name("azure.tmp%d" % os.getpid())
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(REPO)
        os.replace(tmp, link)
    paths = [str(root)]
    for build in (REPO / ".build", REPO / ".build" / "collections"):
        if (build / "ansible_collections").is_dir():
            paths.append(str(build))
    extra = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    if extra:
        paths.append(extra)
    return os.pathsep.join(paths)


def ansible_playbook() -> str:
    cand = Path(sys.executable).parent / "ansible-playbook"
    if cand.exists():
        return str(cand)
    found = shutil.which("ansible-playbook")
    if not found:
        raise RuntimeError("ansible-playbook not found (install ansible-core: make venv)")
    return found


@dataclass
class PlaybookRun:
    rc: int
    output: str
    seconds: float

    def recap(self, key: str) -> int:
        m = re.search(r"\b%s=(\d+)" % key, self.output.split("PLAY RECAP")[-1])
        return int(m.group(1)) if m else -1

    @property
    def changed(self) -> int:
        return self.recap("changed")

    @property
    def failed(self) -> int:
        return self.recap("failed")

    result: Optional[dict] = None


def env() -> dict:
    e = dict(os.environ)
    e.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_TIMEOUT": "60",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    })
    return e


def playbook_cmd(inventory: str, playbook: str, extra_vars: Optional[dict] = None,
                 check: bool = False) -> List[str]:
    cmd = [ansible_playbook(), "-i", inventory, str(PLAYBOOKS / playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    return cmd


def run_playbook(inventory: str, playbook: str, extra_vars: Optional[dict] = None,
                 check: bool = False, timeout: float = 1800) -> PlaybookRun:
    fd, result_file = tempfile.mkstemp(prefix="tde-result-", suffix=".json")
    os.close(fd)
    os.unlink(result_file)
    extra = dict(extra_vars or {}, tde_result_file=result_file)
    t0 = time.monotonic()
    r = subprocess.run(playbook_cmd(inventory, playbook, extra, check), env=env(), check=False,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    run = PlaybookRun(r.returncode, r.stdout, time.monotonic() - t0)
    if os.path.exists(result_file):
        with open(result_file) as fh:
            run.result = json.load(fh)
        os.unlink(result_file)
    return run
