# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""List every documentable plugin and role of an installed collection.

    list_plugins.py INSTALLED_COLLECTION_DIR ANSIBLE-DOC-COMMAND...

Prints ``<type> <name>`` lines for ansible-doc.  Plugins come from the files in
plugins/<dir>/ (one plugin per file) and, for the types that may hold several
plugins per file (filter, test), from ``ansible-doc -t <type> -l`` as well.
Roles are the directories under roles/.  module_utils, doc_fragments and action
plugins (documented by their module) are not standalone docs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

DIR_TO_TYPE = {
    'modules': 'module', 'inventory': 'inventory', 'lookup': 'lookup', 'filter': 'filter',
    'test': 'test', 'callback': 'callback', 'connection': 'connection', 'become': 'become',
    'cache': 'cache', 'vars': 'vars', 'strategy': 'strategy', 'shell': 'shell', 'cliconf': 'cliconf',
    'httpapi': 'httpapi', 'netconf': 'netconf', 'terminal': 'terminal',
}
MULTI = ('filter', 'test')


def main():
    installed, doc = sys.argv[1], sys.argv[2:]
    found = set()
    plugins = os.path.join(installed, 'plugins')
    for dirname, ptype in sorted(DIR_TO_TYPE.items()):
        path = os.path.join(plugins, dirname)
        if not os.path.isdir(path):
            continue
        for filename in sorted(os.listdir(path)):
            base, ext = os.path.splitext(filename)
            if ptype in MULTI or base.startswith('_') or ext not in ('.py', '.yml', '.yaml'):
                continue
            found.add((ptype, base))
        if ptype in MULTI:
            out = subprocess.run(doc + ['-t', ptype, '-l', '-j', 'confidential.azure'],
                                 capture_output=True, text=True, check=False).stdout
            for fqcn in json.loads(out or '{}'):
                found.add((ptype, fqcn.split('.', 2)[2]))
    roles = os.path.join(installed, 'roles')
    if os.path.isdir(roles):
        for name in sorted(os.listdir(roles)):
            if os.path.isdir(os.path.join(roles, name)):
                found.add(('role', name))
    for ptype, name in sorted(found):
        print(ptype, name)


if __name__ == '__main__':
    main()
