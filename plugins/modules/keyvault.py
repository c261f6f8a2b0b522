#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: keyvault
short_description: Key Vault for confidential VM customer-managed keys (Premium, purge protection)
version_added: 0.1.0
description:
  - Creates, updates or deletes an Azure Key Vault (C(Microsoft.KeyVault/vaults)) fit for confidential VM CMKs.
  - On creation the defaults are what the CMK chain needs - Premium SKU, purge protection on, 90 days soft delete,
    access policies. On an existing vault only the options you give are compared, so the module never flips a
    setting you did not ask about.
  - O(access_policies) are ensured at least (missing permissions are added with C(accessPolicies/add)); entries
    and permissions of other principals - for example grants made by M(confidential.azure.keyvault_key) and
    M(confidential.azure.disk_encryption_set) - are kept.
  - Unless O(grant_automation_principal=false), the principal running Ansible (its object id is the C(oid) claim
    of its own access token) gets the data-plane rights the following key tasks need, which Azure never gives the
    creator of a vault - on an access-policy vault an access policy with the key permissions C(get), C(list),
    C(create), C(update), C(import), C(delete), C(recover), C(rotate), C(getrotationpolicy) and
    C(setrotationpolicy); on an RBAC vault the role C(Key Vault Crypto Officer) at vault scope (this needs
    C(Microsoft.Authorization/roleAssignments/write), for example User Access Administrator). Grants take effect
    after a delay; later data-plane tasks wait for them (see O(access_propagation_timeout)).
  - Refuses, before any request, a vault that a confidential disk encryption set could not use (purge protection
    off, or the Standard SKU) unless O(allow_unfit_for_confidential_disks=true).
  - A run without changes makes one GET (plus, on an RBAC vault, one filtered list of the principal's role
    assignments).
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
    description: Vault name (3-24 letters, digits and hyphens); globally unique DNS name.
    type: str
    required: true
  resource_group:
    description: Resource group of the vault.
    type: str
    required: true
  location:
    description: Region. Required with O(state=present); a vault cannot move.
    type: str
  state:
    description: C(absent) deletes the vault (it stays soft-deleted for its retention period).
    type: str
    choices: [present, absent]
    default: present
  sku:
    description: C(premium) is needed for HSM-protected and exportable keys (confidential VM CMK). Default on creation C(premium).
    type: str
    choices: [premium, standard]
  tenant_id:
    description: Entra ID tenant of the vault. Default on creation - the tenant of the credentials.
    type: str
  enable_purge_protection:
    description:
      - Purge protection (required for confidential VM CMKs). Default on creation C(true). Cannot be turned off once on.
      - V(false) is refused unless O(allow_unfit_for_confidential_disks=true).
    type: bool
  allow_unfit_for_confidential_disks:
    description:
      - Allow a vault that a confidential disk encryption set cannot use - O(enable_purge_protection=false) or
        O(sku=standard). Without it such a vault is refused before anything is written.
    type: bool
    default: false
  grant_automation_principal:
    description:
      - Give the principal running Ansible (object id from the C(oid) claim of its access token) the key permissions
        the collection's key tasks need - an access policy on an access-policy vault, the role
        C(Key Vault Crypto Officer) at vault scope on an RBAC vault. Shown in check mode and diff; a re-run adds
        nothing.
      - Set V(false) when you manage the principal's data-plane access yourself.
    type: bool
    default: true
  soft_delete_retention_days:
    description: Soft delete retention, 7 to 90 days. Default on creation 90; cannot change afterwards.
    type: int
  enable_rbac_authorization:
    description: Authorize data-plane access with Azure RBAC instead of access policies. Default on creation C(false).
    type: bool
  enabled_for_disk_encryption:
    description: Let Azure Disk Encryption retrieve secrets and unwrap keys.
    type: bool
  network_default_action:
    description: Default action of the vault firewall (trusted Azure services always bypass it).
    type: str
    choices: [Allow, Deny]
  access_policies:
    description: Principals that must hold at least these permissions (access-policy vaults).
    type: list
    elements: dict
    suboptions:
      object_id:
        description: Object id of the user, group or service principal.
        type: str
        required: true
      tenant_id:
        description: Tenant of the principal. Defaults to the vault's tenant.
        type: str
      keys:
        description: Key permissions, for example C(get), C(create), C(release).
        type: list
        elements: str
        default: []
      secrets:
        description: Secret permissions.
        type: list
        elements: str
        default: []
      certificates:
        description: Certificate permissions.
        type: list
        elements: str
        default: []
  tags:
    description:
      - Tags, merged into the vault's tags (see O(append_tags)).
    type: dict
  append_tags:
    description:
      - Merge O(tags) into the existing tags; C(false) sets the tags to exactly O(tags).
    type: bool
    default: true
  wait:
    description: Wait for the create, update or delete to finish; C(false) returns RV(operation) to wait on later.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
notes:
  - The control node needs C(azure-core) and C(azure-identity).
"""

EXAMPLES = r"""
- name: Premium vault with purge protection for confidential VM keys; the principal running Ansible gets key access
  confidential.azure.keyvault:
    name: cvm-keys
    resource_group: cvm-rg
    location: eastus
  register: vault

- name: RBAC vault, firewall closed
  confidential.azure.keyvault:
    name: cvm-keys-rbac
    resource_group: cvm-rg
    location: eastus
    enable_rbac_authorization: true
    network_default_action: Deny
"""

RETURN = r"""
vault:
  description:
    - The vault; empty when absent.
    - In check mode, for a vault the module would create, the vault it would create, in the same shape (as
      M(confidential.azure.vm) and M(confidential.azure.disk_encryption_set) do) - RV(vault.id) and
      RV(vault.vault_uri) (C(https://<name>.<the cloud's keyvault_dns_suffix>/)) are known before the vault exists,
      the other properties are those the create request sets, and RV(vault.provisioning_state) is null.
  returned: always
  type: dict
  contains:
    id:
      description: ARM id (what O(confidential.azure.keyvault_key#module:vault_id) takes).
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
    tags:
      description: Tags.
      type: dict
    sku:
      description: C(premium) or C(standard).
      type: str
    tenant_id:
      description: Tenant.
      type: str
    vault_uri:
      description: Data-plane URL (what O(confidential.azure.keyvault_key#module:vault_url) takes).
      type: str
    enable_rbac_authorization:
      description: RBAC mode.
      type: bool
    enable_purge_protection:
      description: Purge protection.
      type: bool
    enable_soft_delete:
      description: Soft delete.
      type: bool
    soft_delete_retention_days:
      description: Retention.
      type: int
    enabled_for_disk_encryption:
      description: Azure Disk Encryption access.
      type: bool
    network_default_action:
      description: Firewall default action.
      type: str
    access_policies:
      description: Access policies (object_id, tenant_id, keys, secrets, certificates).
      type: list
      elements: dict
    provisioning_state:
      description: Provisioning state; null for the vault check mode would create.
      type: str
automation_grant:
  description: The data-plane access of the principal running Ansible (with O(grant_automation_principal=true)).
  returned: when O(state=present) and O(grant_automation_principal=true)
  type: dict
  contains:
    mode:
      description: C(access_policy) or C(rbac).
      type: str
    principal_id:
      description: Object id of the principal (the C(oid) claim of its token).
      type: str
    scope:
      description: The vault id.
      type: str
    permissions:
      description: The key permissions it needs.
      type: list
      elements: str
    before:
      description: Key permissions (access policy) or role names (RBAC) it held before the run.
      type: list
      elements: str
    after:
      description: Held after the run.
      type: list
      elements: str
    missing:
      description: What was (or in check mode would be) added.
      type: list
      elements: str
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create key vault cvmkv01"]
operation:
  description: The unfinished operation with O(wait=false).
  returned: when an operation is still running
  type: dict
diff:
  description: Exactly the properties that change (before / after).
  returned: in diff mode
  type: dict
"""

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._keyvault.backends import run_vault


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        resource_group=dict(type='str', required=True),
        location=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        sku=dict(type='str', choices=['premium', 'standard']),
        tenant_id=dict(type='str'),
        enable_purge_protection=dict(type='bool'),
        soft_delete_retention_days=dict(type='int'),
        enable_rbac_authorization=dict(type='bool'),
        enabled_for_disk_encryption=dict(type='bool'),
        network_default_action=dict(type='str', choices=['Allow', 'Deny']),
        access_policies=dict(type='list', elements='dict', options=dict(
            object_id=dict(type='str', required=True),
            tenant_id=dict(type='str'),
            keys=dict(type='list', elements='str', default=[], no_log=False),
            secrets=dict(type='list', elements='str', default=[], no_log=False),
            certificates=dict(type='list', elements='str', default=[]),
        )),
        tags=dict(type='dict'),
        append_tags=dict(type='bool', default=True),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=600),
        grant_automation_principal=dict(type='bool', default=True),
        allow_unfit_for_confidential_disks=dict(type='bool', default=False),
    )


def main():
    m = AzureModule(argument_spec=argument_spec(), supports_check_mode=True,
                    required_if=[('state', 'present', ['location'])])
    m.exit_json(**m.run(lambda: run_vault(m)))


if __name__ == '__main__':
    main()
