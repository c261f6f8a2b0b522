# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._cvm import images


def test_ubuntu_2004_cvm_image_is_snp_only():
    info = images.lookup("Canonical", "0001-com-ubuntu-confidential-vm-focal", "20_04-lts-cvm")
    assert info["known"] and info["cvm"] and info["tees"] == ["SNP"] and info["os_type"] == "Linux"


def test_ubuntu_2204_cvm_image_supports_both_tees_case_insensitive():
    info = images.lookup("canonical", "0001-COM-ubuntu-confidential-vm-jammy", "22_04-LTS-cvm")
    assert info["known"] and sorted(info["tees"]) == ["SNP", "TDX"]


@pytest.mark.parametrize("sku", ["9_2_cvm_sev_snp", "9_3_cvm_sev_snp", "9_4_cvm"])
def test_rhel_is_snp_only_even_when_not_catalogued(sku):
    info = images.lookup("RedHat", "rhel-cvm", sku)
    assert info["tees"] == ["SNP"] and info["cvm"]


def test_windows_image_is_windows():
    info = images.lookup("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-smalldisk-g2")
    assert info["os_type"] == "Windows" and info["cvm"]


def test_plain_ubuntu_image_is_not_a_cvm_image():
    info = images.lookup("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2")
    assert not info["cvm"] and not info["known"]


def test_unlisted_image_marked_cvm_by_name_is_accepted():
    info = images.lookup("Contoso", "hardened-cvm", "v1")
    assert info["cvm"] and not info["known"]


def test_parse_urn():
    assert images.parse_urn("Canonical:ubuntu-24_04-lts:cvm") == {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "cvm", "version": "latest"}
    assert images.parse_urn("a:b:c:1.2.3")["version"] == "1.2.3"
    assert images.parse_urn("a:b") is None and images.parse_urn("a::c") is None
