# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of REST api-versions this collection speaks (each defined in the official specs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

VIRTUAL_MACHINES = '2026-04-01'
DISKS = '2026-03-02'
DISK_ENCRYPTION_SETS = '2026-03-02'
RESOURCE_SKUS = '2021-07-01'
NETWORK = '2024-05-01'
KEYVAULT_MANAGEMENT = '2024-11-01'
RESOURCES = '2025-04-01'
AUTHORIZATION = '2022-04-01'
ATTESTATION_PROVIDERS = '2020-10-01'
