# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every relative link in README.md, CONTRIBUTING.md and docs/ points at a file (and heading) that exists."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def documents():
    return [REPO / "README.md", REPO / "CONTRIBUTING.md"] + sorted((REPO / "docs").rglob("*.md"))


def test_relative_links_resolve():
    broken = []
    for doc in documents():
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _sep, anchor = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            if not dest.exists():
                broken.append("%s: %s (no such file)" % (doc.relative_to(REPO), target))
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append("%s: %s (no such heading)" % (doc.relative_to(REPO), target))
    assert not broken, "\n".join(broken)


def test_readme_stays_short_and_keeps_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) < 15000
    assert "make demo" in text and "make test" in text
