#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: keyvault_key_info
short_description: Read a Key Vault key and its release policy
version_added: 0.1.0
description:
  - Returns a key in the shape M(confidential.azure.keyvault_key) returns it (latest version, decoded release policy),
    optionally with its versions and rotation policy. Never returns key material.
  - One GET for the key, plus one per option O(include_versions) and O(include_rotation_policy).
author:
  - confidential.azure maintainers (@confidential-azure)
extends_documentation_fragment:
  - confidential.azure.azure
attributes:
  check_mode:
    support: full
    description: Reads only.
options:
  vault_url:
    description: Base URL of the vault, C(https://<vault>.<keyvault_dns_suffix>/).
    type: str
    required: true
  name:
    description: Key name.
    type: str
    required: true
  include_versions:
    description: Also return the key's versions.
    type: bool
    default: false
  include_rotation_policy:
    description: Also return the key's rotation policy.
    type: bool
    default: false
notes:
  - The control node needs C(azure-core) and C(azure-identity).
"""

EXAMPLES = r"""
- name: Read the CMK
  confidential.azure.keyvault_key_info:
    vault_url: "{{ vault.vault.vault_uri }}"
    name: cvm-cmk
  register: cmk

- name: Stop unless the key can be released to compliant confidential VMs only
  ansible.builtin.assert:
    that:
      - cmk.exists
      - cmk.key.exportable
      - cmk.key.release_policy.anyOf | length > 0
"""

RETURN = r"""
exists:
  description: Whether the key exists.
  returned: always
  type: bool
key:
  description:
    - The key as M(confidential.azure.keyvault_key) returns it (kid, key_url, name, version, vault_url, kty, key_size,
      key_ops, exportable, enabled, attributes, tags, release_policy, release_policy_immutable, managed, and with the
      options versions and rotation_policy); empty when the key does not exist.
  returned: always
  type: dict
access_waits:
  description:
    - Requests refused with 403 and retried while access granted moments earlier took effect (see
      O(access_propagation_timeout)); what each waited for and how long.
  returned: when a request waited
  type: list
  elements: dict
"""

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._keyvault.backends import run_key_info


def argument_spec():
    return dict(
        vault_url=dict(type='str', required=True),
        name=dict(type='str', required=True),
        include_versions=dict(type='bool', default=False),
        include_rotation_policy=dict(type='bool', default=False),
    )


def main():
    m = AzureModule(argument_spec=argument_spec(), supports_check_mode=True)
    m.exit_json(**m.run(lambda: run_key_info(m)))


if __name__ == '__main__':
    main()
