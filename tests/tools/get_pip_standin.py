# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip bootstrap script that ansible-test caches.

ansible-test bootstraps pip into each virtual environment it creates by running
``~/.ansible/test/cache/get_pip_<X_Y>.py`` with the interpreter of the new venv
(which has no pip yet) and pip-install style arguments, for example::

    python get_pip_24_2.py --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

This stand-in accepts the same arguments.  It runs pip straight out of the pip
wheel that ``tests/tools/ansible_test_cache.py`` placed beside it (a wheel is a
zip archive that Python can import from) and asks that pip to install the
requested packages.  The wheel directory is used as a find-links source so pip
itself installs without any download.
"""
from __future__ import annotations

import glob
import os
import re
import sys


def _version_from_name(path):
    match = re.match(r'get_pip_(\d+(?:_\d+)*)\.py[co]?$', os.path.basename(path))
    if not match:
        raise SystemExit('cannot tell the pip version from script name %r' % path)
    return match.group(1).replace('_', '.')


def _split_args(argv):
    options, packages = [], []
    want_setuptools = want_wheel = True
    for arg in argv:
        if arg == '--no-setuptools':
            want_setuptools = False
        elif arg == '--no-wheel':
            want_wheel = False
        elif arg.startswith('-'):
            options.append(arg)
        else:
            packages.append(arg)
    return options, packages, want_setuptools, want_wheel


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    version = _version_from_name(__file__)
    wheels = sorted(glob.glob(os.path.join(here, 'pip-%s-*.whl' % version)))
    if not wheels:
        raise SystemExit('pip %s wheel not found beside %s; run tests/tools/ansible_test_cache.py' % (version, __file__))
    wheel = wheels[0]

    options, packages, want_setuptools, want_wheel = _split_args(argv)
    if not any(re.match(r'pip\b', p) for p in packages):
        packages.insert(0, 'pip==%s' % version)
    if want_setuptools:
        packages.append('setuptools')
    if want_wheel:
        packages.append('wheel')

    names = {re.split(r'[<>=!~ \[;]', p, maxsplit=1)[0].lower() for p in packages}
    source = ['--find-links', here]
    if names == {'pip'}:
        source.insert(0, '--no-index')

    sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    return pip_main(['install', '--upgrade', '--force-reinstall'] + source + options + packages)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
