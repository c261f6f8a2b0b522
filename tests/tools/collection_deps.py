# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provide the collections that galaxy.yml depends on, without Galaxy.

Galaxy is not reachable here, but PyPI is, and the ``ansible`` community package
on PyPI bundles community.crypto, community.general and ansible.posix.  This
script downloads that one wheel (``pip download --no-deps``, cached under
.build/downloads) and extracts only the collections named in galaxy.yml's
``dependencies`` into .build/ansible_collections/, next to the staged copy of
this collection, which is where ansible-test, ansible-lint and ansible-doc look
(ANSIBLE_COLLECTIONS_PATH=.build).  Each extracted collection's version is
checked against the range in galaxy.yml.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

# The ansible community package release that carries the dependencies.
ANSIBLE_PACKAGE = 'ansible==12.3.0'


def parse_version(text):
    return tuple(int(x) for x in re.findall(r'\d+', text)[:3])


def satisfies(version, spec):
    have = parse_version(version)
    for clause in spec.split(','):
        clause = clause.strip()
        if not clause or clause == '*':
            continue
        op, ver = re.match(r'(>=|<=|==|!=|>|<)?\s*(.+)', clause).groups()
        want = parse_version(ver)
        ok = {'>=': have >= want, '<=': have <= want, '>': have > want, '<': have < want,
              '!=': have != want, '==': have == want, None: have == want}[op]
        if not ok:
            return False
    return True


def galaxy_dependencies(root):
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(root, 'galaxy.yml')) as handle:
        return (yaml.safe_load(handle) or {}).get('dependencies') or {}


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.')
    build = os.path.join(root, '.build')
    deps = galaxy_dependencies(root)
    wanted = [[fqcn, str(spec)] for fqcn, spec in sorted(deps.items())]
    pinned = ANSIBLE_PACKAGE.split('==')[1]
    downloads = os.path.join(build, 'downloads')
    wheel_glob = os.path.join(downloads, 'ansible-%s-py3-none-any.whl' % pinned)
    marker = os.path.join(build, 'ansible_collections', '.deps-from-ansible-%s' % pinned)

    if os.path.exists(marker):
        with open(marker) as handle:
            if json.load(handle) == wanted:
                return 0

    if not glob.glob(wheel_glob):
        os.makedirs(downloads, exist_ok=True)
        print('collection deps: downloading %s (about 55 MB)' % ANSIBLE_PACKAGE, flush=True)
        subprocess.check_call([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
                               '--only-binary=:all:', '--dest', downloads, ANSIBLE_PACKAGE],
                              stderr=subprocess.DEVNULL)
    wheel = glob.glob(wheel_glob)[0]

    failures = []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for fqcn, spec in sorted(deps.items()):
            namespace, name = fqcn.split('.')
            prefix = 'ansible_collections/%s/%s/' % (namespace, name)
            members = [n for n in names if n.startswith(prefix)]
            if not members:
                failures.append('%s: not in %s' % (fqcn, ANSIBLE_PACKAGE))
                continue
            target = os.path.join(build, 'ansible_collections', namespace, name)
            if os.path.exists(target):
                shutil.rmtree(target)
            for member in members:
                if not member.endswith('/'):
                    archive.extract(member, build)
            with open(os.path.join(target, 'MANIFEST.json')) as handle:
                version = json.load(handle)['collection_info']['version']
            if not satisfies(version, str(spec)):
                failures.append('%s %s does not satisfy %s from galaxy.yml' % (fqcn, version, spec))
            print('collection deps: %s %s (galaxy.yml wants %s)' % (fqcn, version, spec))
    if failures:
        sys.exit('collection deps: ' + '; '.join(failures))
    with open(marker, 'w') as handle:
        json.dump(wanted, handle)
    return 0


if __name__ == '__main__':
    sys.exit(main())
