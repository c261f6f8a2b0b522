# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the attestation proof (helpers live in ga_helpers.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import ak_testca
from ga_helpers import REPO, FakeImds, HostSwtpm, Runner, hcl_testchain


@pytest.fixture()
def host_swtpm():
    for tool in ("swtpm", "tpm2_quote"):
        if shutil.which(tool) is None:
            pytest.fail("%s is missing: install swtpm and tpm2-tools (bindep.txt)" % tool, pytrace=False)
    tpm = HostSwtpm()
    try:
        yield tpm
    finally:
        tpm.close()


@pytest.fixture()
def fake_imds():
    imds = FakeImds()
    try:
        yield imds
    finally:
        imds.close()


@pytest.fixture(scope="session")
def collections_path():
    """ANSIBLE_COLLECTIONS_PATH with confidential.azure = this working tree."""
    root = tempfile.mkdtemp(prefix="ge-collections-")
    target = Path(root) / "ansible_collections" / "confidential"
    target.mkdir(parents=True)
    (target / "azure").symlink_to(REPO)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def runner(collections_path, tmp_path):
    return Runner(collections_path, tmp_path)


@pytest.fixture(scope="session")
def test_chain():
    """One test AMD chain (ARK/ASK/VCEK) per session: RSA-4096 key generation is slow."""
    return hcl_testchain.make_test_chain()


@pytest.fixture(scope="session")
def vtpm_ca():
    """A TEST vTPM CA (root + intermediate) that issues the swtpm's AK certificate; trusted only explicitly."""
    return ak_testca.shared_ca()
