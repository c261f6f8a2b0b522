#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: resource_group
short_description: Resource group for a confidential VM rollout
version_added: 0.1.0
description:
  - Creates, re-tags or deletes an Azure resource group. A run without changes makes one GET.
  - O(state=absent) deletes the group B(and everything in it).
author:
  - confidential.azure maintainers (@confidential-azure)
extends_documentation_fragment:
  - confidential.azure.azure
attributes:
  check_mode:
    support: full
    description: Reads only; reports what would change.
  diff_mode:
    support: full
    description: The diff holds exactly the properties that would change.
options:
  name:
    description: Resource group name.
    type: str
    required: true
  location:
    description: Region. Required with O(state=present); a resource group cannot move.
    type: str
  state:
    description: C(absent) deletes the group and all its resources.
    type: str
    choices: [present, absent]
    default: present
  tags:
    description:
      - Tags, merged into the group's tags (see O(append_tags)).
    type: dict
  append_tags:
    description:
      - Merge O(tags) into the existing tags; C(false) sets the tags to exactly O(tags).
    type: bool
    default: true
  wait:
    description: Wait for a delete to finish; C(false) returns RV(operation) to wait on later.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1800
notes:
  - The control node needs C(azure-core) and C(azure-identity).
"""

EXAMPLES = r"""
- name: Resource group for the rollout
  confidential.azure.resource_group:
    name: cvm-rg
    location: eastus
    tags:
      owner: platform
"""

RETURN = r"""
resource_group:
  description: The resource group; empty when absent (or not yet created in check mode).
  returned: always
  type: dict
  contains:
    id:
      description: ARM id.
      type: str
    name:
      description: Name.
      type: str
    location:
      description: Region.
      type: str
    tags:
      description: Tags.
      type: dict
    provisioning_state:
      description: Provisioning state.
      type: str
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create resource group cvm-rg in eastus"]
operation:
  description: The unfinished delete with O(wait=false).
  returned: when an operation is still running
  type: dict
diff:
  description: Exactly the properties that change (before / after).
  returned: in diff mode
  type: dict
"""

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._resource_group.manager import run_resource_group


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        location=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        tags=dict(type='dict'),
        append_tags=dict(type='bool', default=True),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=1800),
    )


def main():
    m = AzureModule(argument_spec=argument_spec(), supports_check_mode=True,
                    required_if=[('state', 'present', ['location'])])
    m.exit_json(**m.run(lambda: run_resource_group(m)))


if __name__ == '__main__':
    main()
