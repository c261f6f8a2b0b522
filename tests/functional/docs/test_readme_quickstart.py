# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""README.md's quick start, run exactly as written: its shell blocks in order in one bash session, its file blocks
(a first line `# <file name>`) written where the shell is at that point. A new user's HOME, no AZURE_* or ANSIBLE_*
settings, a fresh venv from requirements.txt. If the README drifts from the product, this fails.

Cost: about a minute (the venv install is most of it; pip's cache makes repeats faster)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def quickstart_section(text: str) -> str:
    start = text.index("\n## Quick start")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else len(text)]


def quickstart_script(readme: str) -> str:
    """One bash script: shell blocks as they are, file blocks as heredocs creating the named file."""
    parts = ["set -e -o pipefail", "set -x"]
    for lang, body in FENCE.findall(quickstart_section(readme)):
        if lang == "sh":
            parts.append(body)
            continue
        first = body.splitlines()[0]
        name = re.fullmatch(r"# ([\w.\-/]+)", first)
        assert name, "a %s block in the quick start must start with '# <file name>', not %r" % (lang, first)
        assert "QUICKSTART_EOF" not in body
        parts.append("cat > %s <<'QUICKSTART_EOF'\n%sQUICKSTART_EOF" % (name.group(1), body))
    return "\n".join(parts) + "\n"


def test_quickstart_script_is_every_block_of_the_section():
    script = quickstart_script((REPO / "README.md").read_text())
    assert "tests/simulator/run --env-file" in script
    assert "cat > first.yml <<" in script and "cat > ansible.cfg <<" in script
    assert script.count("ansible-playbook first.yml") == 2


def _environment(home: Path) -> dict:
    python_bin = str(Path(os.path.realpath(sys.executable)).parent)       # the base interpreter, not this venv
    env = {"HOME": str(home), "PATH": python_bin + ":/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "PIP_CACHE_DIR": os.path.expanduser("~/.cache/pip")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    user_pip_conf = Path(os.path.expanduser("~/.config/pip/pip.conf"))
    if user_pip_conf.is_file() and "PIP_CONFIG_FILE" not in env:
        env["PIP_CONFIG_FILE"] = str(user_pip_conf)
    return env


def _recaps(output: str) -> list[dict]:
    return [dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
            for line in re.findall(r"^localhost\s+:\s+(ok=.*)$", output, re.M)]


def test_readme_quickstart_runs_as_written(tmp_path):
    help_text = subprocess.run([sys.executable, str(REPO / "tests/simulator/run"), "--help"], capture_output=True,
                               text=True, timeout=60, check=False).stdout
    assert "--env-file" in help_text, "the README's quick start needs `tests/simulator/run --env-file` (issue 14)"
    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "quickstart.sh"
    script.write_text(quickstart_script((REPO / "README.md").read_text()))
    proc = subprocess.Popen(["bash", str(script)], cwd=str(REPO), env=_environment(home), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _unused = proc.communicate(timeout=900)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)       # the simulator, if the script stopped before `kill %1`
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, output[-6000:]
    recaps = _recaps(output)
    assert len(recaps) == 2, output[-6000:]
    assert recaps[0]["failed"] == 0 and recaps[0]["changed"] >= 6, recaps
    assert recaps[1]["failed"] == 0 and recaps[1]["changed"] == 0, output[-6000:]
    assert '"tee": "SNP"' in output and "DiskWithVMGuestState" in output
