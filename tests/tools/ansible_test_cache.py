# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install the offline get-pip stand-in into ansible-test's cache.

Run with the Python of a venv that has ansible-core installed.  It asks the
installed ansible-test which pip version it bootstraps for every Python version
it supports, downloads that pip wheel (by package name, with pip) into
``~/.ansible/test/cache`` and installs ``get_pip_standin.py`` there as
``get_pip_<X_Y>.py``.  Idempotent: nothing is downloaded when the files exist.
"""
from __future__ import annotations

import filecmp
import glob
import os
import shutil
import subprocess
import sys
import types

CACHE = os.path.expanduser('~/.ansible/test/cache')
STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'get_pip_standin.py')


def pip_versions():
    # pylint: disable=import-outside-toplevel
    from ansible_test._internal.python_requirements import get_venv_packages
    from ansible_test._util.target.common import constants

    versions = set()
    for name in ('REMOTE_ONLY_PYTHON_VERSIONS', 'CONTROLLER_PYTHON_VERSIONS'):
        for python_version in getattr(constants, name, ()):
            versions.add(get_venv_packages(types.SimpleNamespace(version=python_version))['pip'])
    return sorted(versions)


def main():
    os.makedirs(CACHE, exist_ok=True)
    for version in pip_versions():
        if not glob.glob(os.path.join(CACHE, 'pip-%s-*.whl' % version)):
            subprocess.check_call([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
                                   '--only-binary=:all:', '--dest', CACHE, 'pip==%s' % version])
        target = os.path.join(CACHE, 'get_pip_%s.py' % version.replace('.', '_'))
        if not (os.path.exists(target) and filecmp.cmp(STANDIN, target, shallow=False)):
            shutil.copyfile(STANDIN, target)
        print('ansible-test pip %s bootstrap: %s' % (version, target))


if __name__ == '__main__':
    main()
