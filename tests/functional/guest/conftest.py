# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest fixtures for tests that need the qemu + swtpm guest.

``guest`` is session scoped: ONE boot per pytest session (tests reboot it
when they need to). If qemu cannot be installed or the guest cannot boot the
fixture raises -> the tests ERROR with the harness message; they never skip.

Other suites can reuse the harness::

    sys.path.insert(0, str(REPO / "tests" / "guest"))
    from harness import Guest
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "guest"))

from harness import Guest, HarnessError  # noqa: E402


@pytest.fixture(scope="session")
def guest():
    g = Guest(name=os.environ.get("CONFIDENTIAL_AZURE_GUEST_NAME", "pytest-%d" % os.getpid()),
              temp_disk_size=os.environ.get("CONFIDENTIAL_AZURE_TEMP_DISK_SIZE", "1G"))
    try:
        g.up(register_teardown=True)
    except HarnessError as e:
        g.down()
        pytest.fail("guest harness could not boot the test guest: %s" % e, pytrace=False)
    try:
        yield g
    finally:
        g.down()
