#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: vm_info
short_description: Read confidential VMs with a confidential summary
version_added: 0.1.0
description:
  - Returns VMs by name, by resource group or across the subscription, filtered by tags, in the same shape
    M(confidential.azure.vm) returns, including a C(confidential) summary (TEE from the size family, security
    encryption type, disk encryption set, secure boot, vTPM, power state).
  - One request per call (the VM or the list, with the instance view).
author:
  - confidential.azure maintainers (@confidential-azure)
extends_documentation_fragment:
  - confidential.azure.azure
attributes:
  check_mode:
    support: full
    description: Read only.
options:
  name:
    description: VM name (needs O(resource_group)).
    type: str
  resource_group:
    description: Resource group; without it all VMs of the subscription are listed.
    type: str
  tags:
    description: Only VMs with all these tags (C(key) or C(key:value)).
    type: list
    elements: str
  confidential_only:
    description: Only VMs with C(securityType=ConfidentialVM).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: One VM
  confidential.azure.vm_info:
    resource_group: cvm-rg
    name: cvm-snp-1
  register: info

- name: Wait until a fleet started with wait=false has finished provisioning
  confidential.azure.vm_info:
    resource_group: cvm-rg
    tags: ["fleet:web"]
  register: fleet
  until: fleet.vms | rejectattr('provisioning_state', 'equalto', 'Succeeded') | list | length == 0
  retries: 60
  delay: 20
'''

RETURN = r'''
vms:
  description: The VMs (empty list when none match).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Resource id.
      type: str
    name:
      description: Name.
      type: str
    resource_group:
      description: Resource group.
      type: str
    location:
      description: Region.
      type: str
    size:
      description: VM size.
      type: str
    provisioning_state:
      description: Provisioning state.
      type: str
    power_state:
      description: Power state from the instance view.
      type: str
    tags:
      description: Tags.
      type: dict
    identity:
      description: Managed identities (type, principal_id of the system-assigned identity, tenant_id,
        user_assigned_identities as a list of id, principal_id, client_id), as M(confidential.azure.vm) returns them.
      type: dict
    confidential:
      description: tee (SNP or TDX, from the size family), tee_source, size_family, temp_disk, security_type,
        security_encryption_type, disk_encryption_set, customer_managed_key, secure_boot, vtpm, encryption_at_host,
        power_state.
      type: dict
'''

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._cvm.info import vm_info


def main():
    module = AzureModule(argument_spec=dict(
        name=dict(type='str'),
        resource_group=dict(type='str'),
        tags=dict(type='list', elements='str'),
        confidential_only=dict(type='bool', default=False),
    ), supports_check_mode=True, required_by=dict(name='resource_group'))
    module.exit_json(changed=False, vms=module.run(lambda: vm_info(module)))


if __name__ == '__main__':
    main()
