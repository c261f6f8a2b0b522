# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install the Debian packages from bindep.txt that are missing.

Understands the bindep line format ``name [platform:dpkg test]`` (profiles and
``platform:`` selectors; ``!`` negation).  A line is selected when it has no
profile or one of the requested profiles (default ``test``), and no platform or
``platform:dpkg`` / ``platform:debian``.  Packages already installed (dpkg
status "install ok installed") are left alone; for the rest ``apt-get update``
runs once and ``apt-get install -y --no-install-recommends`` installs them.
With --check it only reports what is missing (exit 1 if anything is).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

PLATFORMS = {'dpkg', 'debian', 'debian-12', 'ubuntu'}


def selected(selectors, profiles):
    platforms = [s.split(':', 1)[1] for s in selectors if s.startswith('platform:')]
    negated_platforms = [s[len('!platform:'):] for s in selectors if s.startswith('!platform:')]
    prof = [s for s in selectors if ':' not in s and not s.startswith('!')]
    negated_prof = [s[1:] for s in selectors if ':' not in s and s.startswith('!')]
    if platforms and not set(platforms) & PLATFORMS:
        return False
    if set(negated_platforms) & PLATFORMS:
        return False
    if prof and not set(prof) & profiles:
        return False
    if set(negated_prof) & profiles:
        return False
    return True


def packages(path, profiles):
    result = []
    with open(path) as handle:
        for line in handle:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            match = re.match(r'([A-Za-z0-9.+_-]+)\s*(?:\[([^\]]*)\])?', line)
            if not match:
                continue
            name, sel = match.group(1), (match.group(2) or '').split()
            if selected(sel, profiles):
                result.append(name)
    return result


def installed(name):
    proc = subprocess.run(['dpkg-query', '-W', '-f=${Status}', name], capture_output=True, text=True, check=False)
    return proc.returncode == 0 and proc.stdout.strip().endswith('install ok installed')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--file', default='bindep.txt')
    parser.add_argument('--profile', action='append', default=None)
    parser.add_argument('--check', action='store_true')
    args = parser.parse_args()
    if not os.path.exists(args.file):
        return 0
    wanted = packages(args.file, set(args.profile or ['test']))
    missing = [p for p in wanted if not installed(p)]
    if not missing:
        return 0
    print('bindep: missing %s' % ' '.join(missing), flush=True)
    if args.check:
        return 1
    if os.geteuid() != 0:
        sys.exit('bindep: not root; install them with: apt-get install %s' % ' '.join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    subprocess.check_call(['apt-get', 'update', '-qq'], env=env, stdin=subprocess.DEVNULL)
    subprocess.check_call(['apt-get', 'install', '-y', '-qq', '--no-install-recommends'] + missing,
                          env=env, stdin=subprocess.DEVNULL)
    return 0


if __name__ == '__main__':
    sys.exit(main())
