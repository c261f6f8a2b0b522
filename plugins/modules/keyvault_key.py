#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: keyvault_key
short_description: Customer-managed key for confidential VM disks, with a secure key release policy
version_added: 0.1.0
description:
  - Creates, updates, rotates or deletes a Key Vault key for confidential OS disk encryption (CMK). By default an
    exportable C(RSA-HSM) 3072 bit key with operations C(wrapKey) and C(unwrapKey) and a secure key release policy.
  - The release policy is checked locally against the secure key release grammar before it is sent (Key Vault
    accepts only the C(equals) operator; other grammar operators are rejected here with the path of the condition).
  - O(release_policy=default_cvm) builds the Azure CLI's default confidential VM policy
    (C(x-ms-compliance-status) equals C(azure-compliant-cvm)) for the attestation authority of O(location), read
    from C(Microsoft.Attestation/locations/{location}/defaultProvider) (one GET per run, unless the play's facts
    confirm the key's policy - see below), or for the authorities in O(release_policy_authorities) (no lookup).
  - O(release_policy=guest_cvm) builds the policy of a key that a confidential VM's B(guest) releases (attestation-bound
    data disks, role C(confidential.azure.data_disk_encryption)). A guest's attestation token carries the TEE claims
    under C(x-ms-isolation-tee), so this policy requires C(x-ms-isolation-tee.x-ms-compliance-status) equals
    C(azure-compliant-cvm) and C(x-ms-isolation-tee.x-ms-attestation-type) equals C(sevsnpvm) or C(tdxvm)
    (Microsoft's data-disk secure key release sample), for the same authorities as C(default_cvm).
  - Ensures that the Confidential VM Orchestrator service principal (appId C(bf7b6499-ff71-4aa2-97a4-f372087be7f0))
    holds C(get) and C(release) on the key - an access policy on access-policy vaults, the role
    C(Key Vault Crypto Service Release User) at key scope on RBAC vaults - and says how to create the principal
    when the tenant lacks it.
  - A run without changes reads the key (one GET), the vault (one GET; plus one filtered resource list when neither
    O(vault_id) nor O(vault_resource_group) is given), the orchestrator in Microsoft Graph (unless
    O(orchestrator_object_id) is given) and, on RBAC vaults, one filtered list of role assignments.
  - With the token cache on (O(token_cache) or E(CONFIDENTIAL_AZURE_TOKEN_CACHE)), facts the play already read are
    kept beside it in C(<token_cache>.facts) (mode 0600) - the region's attestation provider (24 hours), the vault's
    Key Vault challenge and the orchestrator grant confirmed by an earlier task (30 minutes). A run without changes
    then reads only the key. A cached fact only confirms that nothing changes; a key, release policy or grant that
    is written is always built from fresh reads, and a cached provider that does not match the key's policy is
    read again.
  - Never returns key material; only the key id, type, size, operations, attributes, tags and the decoded release
    policy.
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
  vault_url:
    description:
      - Base URL of the vault, C(https://<vault>.<keyvault_dns_suffix>/), for example C(https://myvault.vault.azure.net/).
      - The DNS suffix must be the one of the selected cloud (O(cloud_environment)).
    type: str
    required: true
  name:
    description: Key name (1-127 letters, digits and hyphens).
    type: str
    required: true
  state:
    description: C(absent) deletes the key (all versions; it stays in the vault's soft-delete bin).
    type: str
    choices: [present, absent]
    default: present
  recover_deleted:
    description:
      - When the key does not exist but a deleted key of this O(name) is in the vault's soft-delete bin, recover it
        (all its versions, same key id) instead of failing, then compare and update it like an existing key.
      - Without it such a run fails with Key Vault's C(ObjectIsDeletedButRecoverable) conflict before anything is
        written, because Key Vault does not let a new key take the name of a recoverable deleted key.
      - The deleted key is read (one more GET, C(keys/get) permission) only when the key itself is absent; the
        recovery needs the C(keys/recover) permission and waits up to 10 minutes until Key Vault serves the key
        again. Properties a key version cannot change (O(key_type), O(key_size), O(exportable)) that differ from
        the deleted key fail before the recovery unless O(rotate=true).
      - In check mode the deleted key is reported as it would come back (RV(key)), and O(rotation_policy) is
        compared as if the key had none.
      - Ignored with O(state=absent).
    type: bool
    default: false
  key_type:
    description:
      - C(RSA-HSM) (needs a Premium vault) is what confidential VM disk encryption needs.
      - C(RSA) (software key) cannot be exportable.
    type: str
    choices: [RSA-HSM, RSA]
    default: RSA-HSM
  key_size:
    description: RSA key size in bits (3072 recommended for confidential VMs).
    type: int
    choices: [2048, 3072, 4096]
    default: 3072
  key_ops:
    description:
      - Permitted key operations (in Key Vault; a released key is not bound by them). A confidential disk CMK needs
        C(wrapKey) and C(unwrapKey), the default.
      - With O(release_policy=guest_cvm) or O(release_principal_ids) the default is C([wrapKey]) and C(unwrapKey) or
        C(decrypt) are refused, because whoever holds C(keys/unwrap) or C(keys/decrypt) on the vault could then read
        what the key protects (a data disk's wrapped passphrase) in Key Vault without any attestation; the guest uses
        the released key itself.
    type: list
    elements: str
    choices: [encrypt, decrypt, sign, verify, wrapKey, unwrapKey, import, export]
  exportable:
    description:
      - Whether the key can be released (exported) to an attested environment. Confidential VM CMKs must be
        exportable; an exportable key needs O(release_policy).
    type: bool
    default: true
  release_policy:
    description:
      - The secure key release policy, as a dict or a JSON object string with the keys C(version) (C(1.0.0)) and
        C(anyOf) (one entry per attestation authority), or the string C(default_cvm) (confidential OS disk keys, released
        to the platform) or C(guest_cvm) (keys released to the guest, see O(release_principal_ids)).
      - C(default_cvm) and C(guest_cvm) need O(location) or O(release_policy_authorities).
      - Compared with the key's current policy ignoring key order, a trailing slash and the case of authority hosts.
    type: raw
  release_policy_authorities:
    description:
      - Attestation authorities (https URLs) for O(release_policy=default_cvm) or O(release_policy=guest_cvm), one
        policy entry each, for example
        C(https://sharedeus.eus.attest.azure.net).
    type: list
    elements: str
  location:
    description:
      - Region whose default attestation provider O(release_policy=default_cvm) or O(release_policy=guest_cvm) trusts
        (e.g. C(eastus)).
    type: str
  release_policy_immutable:
    description:
      - Make the release policy of this key version immutable. Irreversible; a later policy change needs a new
        version (O(rotate=true)).
    type: bool
    default: false
  enabled:
    description: Enable or disable the current key version. Left as it is when omitted (new keys are enabled).
    type: bool
  tags:
    description:
      - Key tags (string values), merged into the key's tags (see O(append_tags)); the key holds at most 15.
    type: dict
  append_tags:
    description:
      - Merge O(tags) into the key's existing tags; C(false) sets the tags to exactly O(tags).
    type: bool
    default: true
  rotate:
    description:
      - Create a new key version with the requested properties (changed every run while true).
      - Also the way to change O(key_type), O(key_size), O(exportable) or an immutable release policy.
    type: bool
    default: false
  rotation_policy:
    description: Automatic rotation policy of the key. Compared only when given (one more GET).
    type: dict
    suboptions:
      expiry_time:
        description: ISO 8601 duration new versions expire after (at least C(P28D)), for example C(P1Y).
        type: str
      lifetime_actions:
        description: At most one C(rotate) and one C(notify) action.
        type: list
        elements: dict
        default: []
        suboptions:
          action:
            description: What to do.
            type: str
            choices: [rotate, notify]
            required: true
          time_after_create:
            description: ISO 8601 duration after creation (C(rotate) only), for example C(P90D).
            type: str
          time_before_expiry:
            description: ISO 8601 duration before expiry, for example C(P30D); needs O(rotation_policy.expiry_time).
            type: str
  grant_confidential_vm_orchestrator:
    description:
      - Ensure the Confidential VM Orchestrator holds C(get) and C(release) on the key (access policy, or the role
        C(Key Vault Crypto Service Release User) at key scope on RBAC vaults).
    type: bool
    default: true
  release_principal_ids:
    description:
      - Object (principal) ids of service principals or managed identities that may release THIS key, for example
        the system-assigned identity of a confidential VM (RV(confidential.azure.vm#module:vm.identity.principal_id))
        whose guest opens attestation-bound data disks (role C(confidential.azure.data_disk_encryption)).
      - Each gets the built-in role C(Key Vault Crypto Service Release User)
        (C(08bbd89e-9f13-488c-ac41-acfcb10c90ab)) at the scope of this key only, C(<vault id>/keys/<name>), so it
        can release this key and no other key of the vault. Key Vault still releases only with an attestation token
        that satisfies O(release_policy), so use O(release_policy=guest_cvm) (or your own policy on the guest's
        C(x-ms-isolation-tee) claims); O(release_policy=default_cvm) is refused here, a guest token never satisfies it.
      - Needs a vault with Azure RBAC; on an access-policy vault (which can only grant per vault) the module fails
        before writing anything. Needs O(exportable=true).
      - Idempotent (one role assignment list at the vault decides; assignments have deterministic names). Principals
        removed from the list keep their assignment (remove it with C(az role assignment delete)). A principal that
        also holds a broader role able to release (this role at the vault or above, C(Key Vault Crypto Officer),
        C(Key Vault Administrator)) is named in a warning.
      - Ignored with O(state=absent).
    type: list
    elements: str
  orchestrator_object_id:
    description:
      - Object id of the Confidential VM Orchestrator service principal in your tenant. When omitted it is looked up
        in Microsoft Graph (needs directory read permission).
    type: str
  vault_id:
    description:
      - ARM id of the vault (for the orchestrator grant). Saves a lookup; needed when the vault is in another
        subscription.
    type: str
  vault_resource_group:
    description: Resource group of the vault in this subscription (instead of O(vault_id)); saves a lookup.
    type: str
  include_versions:
    description: Also return the list of key versions (one more request).
    type: bool
    default: false
notes:
  - The control node needs C(azure-core) and C(azure-identity).
"""

EXAMPLES = r"""
# vault is registered by the confidential.azure.keyvault example (vault cvm-keys in resource group cvm-rg);
# vault.vault.vault_uri is https://cvm-keys.vault.azure.net/ in Azure's public cloud.
- name: CMK for confidential OS disks, default CVM release policy of the region
  confidential.azure.keyvault_key:
    vault_url: "{{ vault.vault.vault_uri }}"
    vault_id: "{{ vault.vault.id }}"
    name: cvm-cmk
    release_policy: default_cvm
    location: eastus
  register: cmk

- name: Key with an explicit policy that also requires an SEV-SNP or TDX guest
  confidential.azure.keyvault_key:
    vault_url: "{{ vault.vault.vault_uri }}"
    vault_id: "{{ vault.vault.id }}"
    name: cvm-cmk-strict
    release_policy:
      version: 1.0.0
      anyOf:
        - authority: https://sharedeus.eus.attest.azure.net
          allOf:
            - claim: x-ms-compliance-status
              equals: azure-compliant-cvm
            - anyOf:
                - {claim: x-ms-attestation-type, equals: sevsnpvm}
                - {claim: x-ms-attestation-type, equals: tdxvm}

- name: Data-disk key that only an attested confidential VM's guest can release (role data_disk_encryption)
  confidential.azure.keyvault_key:
    vault_url: "{{ vault.vault.vault_uri }}"
    vault_id: "{{ vault.vault.id }}"
    name: datadisk
    release_policy: guest_cvm
    location: eastus
    grant_confidential_vm_orchestrator: false
  # then grant the VMs' identities with release_principal_ids (docs/user/data-disks.md)

- name: Yearly rotation policy; -e rotate_cmk=true creates a new version now (changed on every such run)
  confidential.azure.keyvault_key:
    vault_url: "{{ vault.vault.vault_uri }}"
    vault_id: "{{ vault.vault.id }}"
    name: cvm-cmk
    release_policy: default_cvm
    location: eastus
    rotate: "{{ rotate_cmk | default(false) }}"
    rotation_policy:
      expiry_time: P2Y
      lifetime_actions:
        - {action: rotate, time_after_create: P1Y}
        - {action: notify, time_before_expiry: P30D}
"""

RETURN = r"""
key:
  description:
    - The key (latest version) as M(confidential.azure.keyvault_key_info) returns it; empty when absent.
    - In check mode, a key O(recover_deleted) would recover as the deleted key reads, and a key the run would create
      as the create request would make it (RV(key.kid) without a version, RV(key.version) null).
  returned: always
  type: dict
  contains:
    kid:
      description: Versioned key id.
      type: str
      sample: https://cvm-keys.vault.azure.net/keys/cvm-cmk/0123456789abcdef0123456789abcdef
    key_url:
      description: Same as RV(key.kid); the versioned key URL a disk encryption set needs.
      type: str
    name:
      description: Key name.
      type: str
    version:
      description: Current version.
      type: str
    vault_url:
      description: Vault base URL.
      type: str
    kty:
      description: Key type.
      type: str
      sample: RSA-HSM
    key_size:
      description: RSA modulus length in bits.
      type: int
      sample: 3072
    key_ops:
      description: Permitted operations.
      type: list
      elements: str
    exportable:
      description: Whether the key can be released.
      type: bool
    enabled:
      description: Whether the version is enabled.
      type: bool
    attributes:
      description: Key Vault attributes (created, updated, recoveryLevel, ...).
      type: dict
    tags:
      description: Tags.
      type: dict
    release_policy:
      description: The decoded release policy.
      type: dict
    release_policy_immutable:
      description: Whether the policy is immutable.
      type: bool
    managed:
      description: Whether Key Vault manages the key's lifetime (certificate keys).
      type: bool
    versions:
      description: Versions, oldest first (with O(include_versions)).
      type: list
      elements: dict
    rotation_policy:
      description: Rotation policy (with O(rotation_policy)).
      type: dict
orchestrator_grant:
  description: The Confidential VM Orchestrator's permissions on the key.
  returned: when O(grant_confidential_vm_orchestrator=true) and O(state=present)
  type: dict
  contains:
    mode:
      description: C(access_policy) or C(rbac); null in check mode when the vault does not exist yet (see RV(orchestrator_grant.note)).
      type: str
    note:
      description: Why the grant is only planned (check mode, the vault does not exist yet).
      type: str
      returned: when the vault does not exist yet in check mode
    principal_id:
      description: Orchestrator object id.
      type: str
    scope:
      description: Vault id (access policy) or key scope (RBAC).
      type: str
    before:
      description: Permissions (access policy) or role names (RBAC) held before the run.
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
    permissions:
      description: The wanted key permissions.
      type: list
      elements: str
release_grant:
  description: The key-scope release grants of O(release_principal_ids).
  returned: when O(release_principal_ids) is not empty and O(state=present)
  type: dict
  contains:
    scope:
      description: The key's scope, C(<vault id>/keys/<name>).
      type: str
    role:
      description: C(Key Vault Crypto Service Release User).
      type: str
    role_id:
      description: The role definition GUID, C(08bbd89e-9f13-488c-ac41-acfcb10c90ab).
      type: str
    principal_ids:
      description: The principals asked for (de-duplicated).
      type: list
      elements: str
    held:
      description: Principals that held the role at this key's scope before the run.
      type: list
      elements: str
    missing:
      description: Principals that were (or in check mode would be) granted the role.
      type: list
      elements: str
    broader:
      description: Broader assignments that also let a principal release (principal_id, role, scope).
      type: list
      elements: dict
access_waits:
  description:
    - Data-plane requests that were refused with 403 and retried while access granted moments earlier took effect
      (see O(access_propagation_timeout)); what each waited for and how long.
  returned: when a request waited
  type: list
  elements: dict
  sample:
    - request: POST https://cvm-keys.vault.azure.net/keys/cvm-cmk/create
      waited_for: keys create permission
      principal_id: 3f0e0c4e-1b7a-4c55-9d7e-2f1b2a3c4d5e
      waited_seconds: 6.0
      attempts: 3
      outcome: granted
deleted_key:
  description: The key that was deleted.
  returned: when O(state=absent) removed a key
  type: dict
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create key cvm-cmk", "set the rotation policy of key cvm-cmk"]
diff:
  description:
    - Exactly the properties that change (before / after).
    - A key O(recover_deleted) recovers shows C(state) V(deleted) before and V(present) after.
  returned: in diff mode
  type: dict
"""

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._keyvault.backends import run_key


def argument_spec():
    return dict(
        vault_url=dict(type='str', required=True),
        name=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        recover_deleted=dict(type='bool', default=False),
        key_type=dict(type='str', choices=['RSA-HSM', 'RSA'], default='RSA-HSM'),
        key_size=dict(type='int', choices=[2048, 3072, 4096], default=3072),
        key_ops=dict(type='list', elements='str',
                     choices=['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey', 'import', 'export']),
        exportable=dict(type='bool', default=True),
        release_policy=dict(type='raw'),
        release_policy_authorities=dict(type='list', elements='str'),
        location=dict(type='str'),
        release_policy_immutable=dict(type='bool', default=False),
        enabled=dict(type='bool'),
        tags=dict(type='dict'),
        append_tags=dict(type='bool', default=True),
        rotate=dict(type='bool', default=False),
        rotation_policy=dict(type='dict', options=dict(
            expiry_time=dict(type='str'),
            lifetime_actions=dict(type='list', elements='dict', default=[], options=dict(
                action=dict(type='str', choices=['rotate', 'notify'], required=True),
                time_after_create=dict(type='str'),
                time_before_expiry=dict(type='str'),
            )),
        )),
        grant_confidential_vm_orchestrator=dict(type='bool', default=True),
        release_principal_ids=dict(type='list', elements='str'),
        orchestrator_object_id=dict(type='str'),
        vault_id=dict(type='str'),
        vault_resource_group=dict(type='str'),
        include_versions=dict(type='bool', default=False),
    )


def main():
    m = AzureModule(argument_spec=argument_spec(), supports_check_mode=True,
                    mutually_exclusive=[('vault_id', 'vault_resource_group')])
    m.exit_json(**m.run(lambda: run_key(m)))


if __name__ == '__main__':
    main()
