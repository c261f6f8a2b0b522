#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: sku_info
short_description: Confidential-capable VM sizes in a region, with their TEE
version_added: 0.1.0
description:
  - Lists VM sizes that can run confidential VMs in a region, with the TEE (C(SNP) or C(TDX)) taken from the
    C(ConfidentialComputingType) capability of the resource SKU, vCPUs, memory, temp disk
    (C(MaxResourceVolumeMB)), zones, and the restrictions that apply to this subscription.
  - When a SKU has no C(ConfidentialComputingType) capability but its size family is a known confidential
    family, the TEE comes from the family table and C(tee_source) says C(family_table).
author:
  - confidential.azure maintainers (@confidential-azure)
extends_documentation_fragment:
  - confidential.azure.azure
attributes:
  check_mode:
    support: full
    description: Read only.
options:
  location:
    description: Region, for example C(eastus).
    type: str
    required: true
  tee:
    description: Only sizes with this TEE.
    type: str
    choices: [SNP, TDX]
  sizes:
    description: Only these sizes.
    type: list
    elements: str
  available_only:
    description: Leave out sizes restricted for this subscription in the region.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: TDX sizes available to this subscription in East US
  confidential.azure.sku_info:
    location: eastus
    tee: TDX
    available_only: true
  register: tdx
'''

RETURN = r'''
skus:
  description: Confidential-capable sizes, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Size name.
      type: str
    tee:
      description: SNP or TDX.
      type: str
    tee_source:
      description: C(capability) or C(family_table).
      type: str
    vcpus:
      description: vCPUs.
      type: int
    memory_gb:
      description: Memory in GB.
      type: float
    temp_disk:
      description: Whether the size has a local temp disk.
      type: bool
    temp_disk_mb:
      description: MaxResourceVolumeMB.
      type: int
    zones:
      description: Zones offering the size.
      type: list
      elements: str
    available_zones:
      description: Zones not restricted for this subscription.
      type: list
      elements: str
    restrictions:
      description: Restrictions (type, reason_code, values, locations, zones).
      type: list
      elements: dict
    available:
      description: False when the size is restricted in the region for this subscription.
      type: bool
notes:
  description: Remarks, e.g. sizes whose TEE came from the family table.
  returned: always
  type: list
  elements: str
'''

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._cvm.info import sku_info


def main():
    module = AzureModule(argument_spec=dict(
        location=dict(type='str', required=True),
        tee=dict(type='str', choices=['SNP', 'TDX']),
        sizes=dict(type='list', elements='str'),
        available_only=dict(type='bool', default=False),
    ), supports_check_mode=True)
    skus, notes = module.run(lambda: sku_info(module))
    module.exit_json(changed=False, skus=skus, notes=notes)


if __name__ == '__main__':
    main()
