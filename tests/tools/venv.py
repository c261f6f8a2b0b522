# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create or refresh a virtual environment, idempotently.

    venv.py --python PY --dir .venv [-r FILE]... [-c FILE]... [SPEC]...

A stamp file inside the venv records a hash of the interpreter version, the
content of every requirement/constraint file and the extra specs.  When the
stamp matches, nothing runs (fast no-op); when it differs, pip installs into the
existing venv (or a new one when the interpreter changed).  pip's output goes to
``<dir>/pip.log`` and is shown only when pip fails.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys

STAMP = '.confidential-azure-stamp'


def digest(args, version):
    h = hashlib.sha256()
    h.update(version.encode())
    for kind, paths in (('r', args.requirement), ('c', args.constraint)):
        for path in paths:
            h.update(('%s:%s\n' % (kind, path)).encode())
            with open(path, 'rb') as handle:
                h.update(handle.read())
    for spec in args.spec:
        h.update(('s:%s\n' % spec).encode())
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--python', required=True)
    parser.add_argument('--dir', required=True)
    parser.add_argument('-r', '--requirement', action='append', default=[])
    parser.add_argument('-c', '--constraint', action='append', default=[])
    parser.add_argument('spec', nargs='*')
    args = parser.parse_args()

    python = shutil.which(args.python) or args.python
    if not os.path.exists(python):
        sys.exit('venv.py: interpreter %s not found' % args.python)
    version = subprocess.check_output([python, '-c', 'import sys; print(sys.version)'], text=True).strip()
    want = digest(args, version)
    stamp = os.path.join(args.dir, STAMP)
    vpy = os.path.join(args.dir, 'bin', 'python')

    if os.path.exists(stamp) and os.path.exists(vpy):
        with open(stamp) as handle:
            if handle.read().strip() == want:
                return 0
    if os.path.exists(vpy):
        have = subprocess.run([vpy, '-c', 'import sys; print(sys.version)'], text=True,
                              capture_output=True, check=False).stdout.strip()
        if have != version:
            shutil.rmtree(args.dir)
    if not os.path.exists(vpy):
        print('venv: creating %s with %s' % (args.dir, python), flush=True)
        subprocess.check_call([python, '-m', 'venv', args.dir])
    else:
        print('venv: updating %s' % args.dir, flush=True)

    cmd = [vpy, '-m', 'pip', 'install', '--disable-pip-version-check', '--upgrade-strategy', 'only-if-needed']
    for path in args.requirement:
        cmd += ['-r', path]
    for path in args.constraint:
        cmd += ['-c', path]
    cmd += args.spec
    log = os.path.join(args.dir, 'pip.log')
    with open(log, 'w') as handle:
        handle.write('$ %s\n' % ' '.join(cmd))
        handle.flush()
        rc = subprocess.call(cmd, stdout=handle, stderr=subprocess.STDOUT)
    if rc != 0:
        with open(log) as handle:
            lines = [line for line in handle if 'is ignored: it is neither' not in line]
        sys.stderr.write(''.join(lines[-40:]))
        sys.exit('venv: pip install into %s failed (rc=%d), full log: %s' % (args.dir, rc, log))
    if os.path.exists(stamp):
        os.unlink(stamp)
    with open(stamp, 'w') as handle:
        handle.write(want + '\n')
    print('venv: %s ready' % args.dir, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
