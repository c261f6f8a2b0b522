#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: disk_encryption_set
short_description: Manage a confidential disk encryption set (customer-managed key for confidential OS disks)
version_added: 0.1.0
description:
  - Creates, updates or deletes a C(Microsoft.Compute/diskEncryptionSets) resource, by default with
    C(encryptionType=ConfidentialVmEncryptedWithCustomerKey) for confidential VM OS disks.
  - Before creating the set (or changing its key) the module reads the vault (it must have purge protection) and the
    key from the Key Vault data plane, and fails with the reason when the key is not an exportable HSM key with a
    release policy; nothing is written then.
  - Changing the key of a confidential set finds the VMs that use it; see O(deallocate_for_key_change).
  - Optionally grants the set's identity the key permissions get, wrapKey and unwrapKey on the vault (access policy,
    or the role Key Vault Crypto Service Encryption User on an RBAC vault).
author:
  - confidential.azure maintainers (@confidential-azure)
requirements:
  - azure-mgmt-compute >= 33.0.0
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
    description: Name of the disk encryption set.
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
    description: Whether the set exists.
    type: str
    choices: [present, absent]
    default: present
  encryption_type:
    description: Encryption type; C(ConfidentialVmEncryptedWithCustomerKey) for confidential OS disks.
      Cannot change on an existing set.
    type: str
    choices: [ConfidentialVmEncryptedWithCustomerKey, EncryptionAtRestWithCustomerKey,
              EncryptionAtRestWithPlatformAndCustomerKeys]
    default: ConfidentialVmEncryptedWithCustomerKey
  key_url:
    description: Versioned key URL (C(https://<vault>/keys/<name>/<version>), M(confidential.azure.keyvault_key)
      returns it as C(key.kid)). Unversioned URLs are rejected.
    type: str
  source_vault:
    description: Key Vault holding the key (name in O(resource_group) or resource id). Omit when the vault is in
      another subscription.
    type: str
  identity:
    description: Identity the set uses to reach the key.
    type: str
    choices: [SystemAssigned, UserAssigned]
    default: SystemAssigned
  user_assigned_identity:
    description: Resource id of the user-assigned managed identity (with O(identity=UserAssigned)).
    type: str
  user_assigned_identity_principal_id:
    description: Principal (object) id of O(user_assigned_identity), needed by O(grant_key_permissions).
    type: str
  rotation_to_latest_key_version:
    description: Follow new versions of the key automatically.
    type: bool
    default: false
  federated_client_id:
    description: Multi-tenant application client id for a key in another tenant (needs O(identity=UserAssigned)).
    type: str
  grant_key_permissions:
    description: Ensure the set's identity holds get, wrapKey and unwrapKey on O(source_vault).
    type: bool
    default: false
  deallocate_for_key_change:
    description:
      - Azure changes the key of a confidential set only while the VMs that use it are deallocated. With C(false)
        a key change fails naming the VMs that are not deallocated; with C(true) the module deallocates them,
        changes the key and starts those that were running (each step in RV(actions)).
    type: bool
    default: false
  grant_scope:
    description: On RBAC vaults, assign the role at the key (default) or the vault scope.
    type: str
    choices: [key, vault]
    default: key
  tags:
    description: Tags.
    type: dict
  append_tags:
    description: Merge O(tags) into existing tags instead of replacing them.
    type: bool
    default: true
  wait:
    description: Wait for the operation; with C(false) return once Azure accepted it, with RV(operation).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
seealso:
  - module: confidential.azure.keyvault_key
  - module: confidential.azure.vm
'''

EXAMPLES = r'''
- name: Confidential disk encryption set with its grant on the vault
  confidential.azure.disk_encryption_set:
    resource_group: cvm-rg
    name: cvm-des
    key_url: "{{ cmk.key.kid }}"
    source_vault: cvm-keys
    grant_key_permissions: true
  register: des

- name: Rotate to a new key version; deallocate the VMs on the set meanwhile and start them again
  confidential.azure.disk_encryption_set:
    resource_group: cvm-rg
    name: cvm-des
    key_url: "{{ cmk.key.kid }}"
    source_vault: cvm-keys
    deallocate_for_key_change: true
'''

RETURN = r'''
disk_encryption_set:
  description: The set; C({}) when absent.
  returned: always
  type: dict
  contains:
    id:
      description: Resource id.
      type: str
    encryption_type:
      description: Encryption type.
      type: str
    key_url:
      description: Active key URL.
      type: str
    source_vault:
      description: Vault resource id.
      type: str
    identity:
      description: type, principal_id, tenant_id, user_assigned_identities.
      type: dict
    rotation_to_latest_key_version:
      description: Auto rotation.
      type: bool
    provisioning_state:
      description: Provisioning state.
      type: str
grant:
  description: Result of the key permission grant (mode, scope, before, after, missing, changed).
  returned: when grant_key_permissions is true
  type: dict
operation:
  description: With O(wait=false), what a later task waits on.
  returned: when an operation was not waited for
  type: dict
actions:
  description: What the module did (or would do).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._cvm.des_manager import DesManager


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        resource_group=dict(type='str', required=True),
        location=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        encryption_type=dict(type='str', default='ConfidentialVmEncryptedWithCustomerKey',
                             choices=['ConfidentialVmEncryptedWithCustomerKey', 'EncryptionAtRestWithCustomerKey',
                                      'EncryptionAtRestWithPlatformAndCustomerKeys']),
        key_url=dict(type='str', no_log=False),
        source_vault=dict(type='str'),
        identity=dict(type='str', choices=['SystemAssigned', 'UserAssigned'], default='SystemAssigned'),
        user_assigned_identity=dict(type='str'),
        user_assigned_identity_principal_id=dict(type='str'),
        rotation_to_latest_key_version=dict(type='bool', default=False),
        federated_client_id=dict(type='str'),
        grant_key_permissions=dict(type='bool', default=False),
        deallocate_for_key_change=dict(type='bool', default=False),
        grant_scope=dict(type='str', choices=['key', 'vault'], default='key'),
        tags=dict(type='dict'),
        append_tags=dict(type='bool', default=True),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=600),
    )


def main():
    module = AzureModule(argument_spec=argument_spec(), supports_check_mode=True)
    DesManager(module).run()


if __name__ == '__main__':
    main()
