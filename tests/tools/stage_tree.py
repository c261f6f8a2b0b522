# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mirror the work tree into .build/ansible_collections/confidential/azure.

ansible-test only works on a collection that sits at
``.../ansible_collections/<namespace>/<name>``.  The mirror holds exactly the
files git knows about plus untracked files that are not ignored
(``git ls-files -co --exclude-standard``).  Files are copied only when size,
mtime or mode changed; files that disappeared from the tree are removed from the mirror
(ansible-test's scratch dir ``tests/output`` in the mirror is kept).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.')
    dest = os.path.join(root, '.build', 'ansible_collections', 'confidential', 'azure')
    out = subprocess.check_output(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=root)
    wanted = set()
    copied = 0
    for rel in sorted({p.decode() for p in out.split(b'\0') if p}):
        src = os.path.join(root, rel)
        if os.path.islink(src) or not os.path.isfile(src):
            continue  # deleted in the work tree, or not a regular file
        wanted.add(rel)
        dst = os.path.join(dest, rel)
        st = os.stat(src)
        try:
            dt = os.stat(dst)
            if (dt.st_size, int(dt.st_mtime), dt.st_mode) == (st.st_size, int(st.st_mtime), st.st_mode):
                continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
        copied += 1
    removed = 0
    for dirpath, dirnames, filenames in os.walk(dest):
        reldir = os.path.relpath(dirpath, dest)
        if reldir == '.':
            dirnames[:] = [d for d in dirnames if d != '.git']
        if reldir == 'tests':
            dirnames[:] = [d for d in dirnames if d != 'output']
        dirnames[:] = [d for d in dirnames if d != '__pycache__']
        for name in filenames:
            rel = os.path.normpath(os.path.join(reldir, name))
            if rel not in wanted and not rel.endswith('.pyc'):
                os.unlink(os.path.join(dirpath, name))
                removed += 1
    if not os.path.isdir(os.path.join(dest, '.git')):
        # ansible-test lists content with git when it finds a .git above the
        # collection; without one of its own the mirror would sit inside the
        # work tree's repo, where .build/ is ignored, and every target would
        # be skipped.  An empty repo suffices: ansible-test includes untracked,
        # non-ignored files.
        subprocess.check_call(['git', 'init', '-q', dest])
    print('stage: %s (%d files, %d copied, %d removed)' % (os.path.relpath(dest, root), len(wanted), copied, removed))


if __name__ == '__main__':
    main()
