#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: virtual_network
short_description: A small virtual network with subnets for confidential VMs
version_added: 0.1.0
description:
  - Creates, updates or deletes a virtual network and its subnets (address prefixes only), enough for the
    confidential VM chain on a fresh subscription. Properties of existing subnets that this module does not
    manage (NSG, route table, delegations) are kept.
author:
  - confidential.azure maintainers (@confidential-azure)
extends_documentation_fragment:
  - confidential.azure.azure
attributes:
  check_mode:
    support: full
    description: Reports what would change; sends no write request.
  diff_mode:
    support: full
    description: Shows exactly the properties that would change.
options:
  name:
    description: Virtual network name.
    type: str
    required: true
  resource_group:
    description: Resource group.
    type: str
    required: true
  location:
    description: Region; defaults to the resource group's (read only when creating).
    type: str
  state:
    description: Whether the network exists.
    type: str
    choices: [present, absent]
    default: present
  address_prefixes:
    description: Address space, for example C(['10.10.0.0/16']).
    type: list
    elements: str
  subnets:
    description: Subnets inside the address space.
    type: list
    elements: dict
    suboptions:
      name:
        description: Subnet name.
        type: str
        required: true
      address_prefix:
        description: Subnet prefix.
        type: str
        required: true
  purge_subnets:
    description: Remove subnets not listed in O(subnets).
    type: bool
    default: false
  tags:
    description: Tags.
    type: dict
  append_tags:
    description: Merge O(tags) into existing tags instead of replacing them.
    type: bool
    default: true
  wait:
    description: Wait for the operation.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
'''

EXAMPLES = r'''
- name: Network for confidential VMs
  confidential.azure.virtual_network:
    resource_group: cvm-rg
    name: cvm-vnet
    address_prefixes: [10.10.0.0/16]
    subnets:
      - name: default
        address_prefix: 10.10.1.0/24
  register: vnet
'''

RETURN = r'''
virtual_network:
  description: The network; empty when absent.
  returned: always
  type: dict
  contains:
    id:
      description: Resource id.
      type: str
    address_prefixes:
      description: Address space.
      type: list
      elements: str
    subnets:
      description: Subnets (name, id, address_prefix).
      type: list
      elements: dict
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
operation:
  description: With O(wait=false), what a later task waits on (poll_url, status, done, resource_url, poll_mode).
  returned: when an operation was started and not waited for
  type: dict
diff:
  description: The managed properties before and after.
  returned: in diff mode
  type: dict
'''

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._cvm.network_manager import run_vnet


def main():
    module = AzureModule(argument_spec=dict(
        name=dict(type='str', required=True),
        resource_group=dict(type='str', required=True),
        location=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        address_prefixes=dict(type='list', elements='str'),
        subnets=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            address_prefix=dict(type='str', required=True),
        )),
        purge_subnets=dict(type='bool', default=False),
        tags=dict(type='dict'),
        append_tags=dict(type='bool', default=True),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=600),
    ), supports_check_mode=True)
    run_vnet(module)


if __name__ == '__main__':
    main()
