# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._cvm import sizes


@pytest.mark.parametrize("name, family, tee, temp", [
    ("Standard_DC4as_v5", "DCasv5", "SNP", False),
    ("Standard_DC2ads_v5", "DCadsv5", "SNP", True),
    ("Standard_EC8as_v5", "ECasv5", "SNP", False),
    ("Standard_EC16ads_v5", "ECadsv5", "SNP", True),
    ("Standard_DC2es_v5", "DCesv5", "TDX", False),
    ("Standard_DC4eds_v5", "DCedsv5", "TDX", True),
    ("Standard_EC8es_v5", "ECesv5", "TDX", False),
    ("Standard_EC32eds_v5", "ECedsv5", "TDX", True),
    ("Standard_DC2as_v6", "DCasv6", "SNP", False),
    ("Standard_EC4eds_v6", "ECedsv6", "TDX", True),
    ("Standard_EC96iads_v5", "ECadsv5", "SNP", True),
])
def test_confidential_size_maps_to_family_tee_and_temp_disk(name, family, tee, temp):
    info = sizes.parse_size(name)
    assert info.family == family
    assert info.known
    assert info.tee == tee
    assert info.temp_disk is temp


def test_constrained_vcpu_size_keeps_family_and_counts():
    info = sizes.parse_size("Standard_EC64-32as_v5")
    assert (info.family, info.vcpus, info.active_vcpus, info.tee) == ("ECasv5", 64, 32, "SNP")


def test_v6_temp_disk_is_nvme_and_v5_scsi():
    assert sizes.parse_size("Standard_DC2ads_v6").temp_disk_kind == "nvme"
    assert sizes.parse_size("Standard_DC2ads_v5").temp_disk_kind == "scsi"


@pytest.mark.parametrize("name", ["Standard_D4s_v5", "Standard_B2s_v2", "Standard_DC4s_v3"])
def test_non_confidential_sizes_parse_but_are_not_known(name):
    info = sizes.parse_size(name)
    assert info is not None and not info.known and info.tee is None


@pytest.mark.parametrize("name", ["", "DC4as_v5", "Standard_DC4as", "standard dc4", None, 42])
def test_garbage_is_not_a_size(name):
    assert sizes.parse_size(name) is None


def test_tee_of_and_family_lists():
    assert sizes.tee_of("Standard_DC4es_v5") == "TDX"
    assert sizes.tee_of("Standard_D4s_v5") is None
    assert "DCasv5" in sizes.families_for("SNP") and "DCasv5" not in sizes.families_for("TDX")
    assert set(sizes.families_for(temp_disk=True)) == {f for f, v in sizes.FAMILIES.items() if v[1]}


def test_resize_within_family_and_tee_is_in_place():
    assert sizes.resize_blocker("Standard_DC2as_v5", "Standard_DC8as_v5") is None
    assert sizes.resize_blocker("Standard_DC2as_v5", "Standard_EC8as_v5") is None
    assert sizes.resize_blocker("Standard_DC2as_v5", "standard_dc2as_v5") is None


def test_resize_across_tee_is_blocked_with_reason():
    reason = sizes.resize_blocker("Standard_DC2as_v5", "Standard_DC2es_v5")
    assert reason and "TEE" in reason and reason.startswith("size:")


def test_resize_between_temp_disk_classes_is_blocked():
    reason = sizes.resize_blocker("Standard_DC2as_v5", "Standard_DC2ads_v5")
    assert reason and "temp disk" in reason
