#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: vm
short_description: Create, update and remove Azure confidential VMs (AMD SEV-SNP, Intel TDX)
version_added: 0.1.0
description:
  - Manages a confidential VM (C(securityType=ConfidentialVM)) with confidential OS disk encryption using a
    platform-managed key or a customer-managed key through a confidential disk encryption set.
  - Every documented confidential VM limitation (size family and TEE, OS and TEE, CVM image, vTPM, secure boot,
    no Spot, no accelerated networking, no ultra or shared disks, no ephemeral OS disk) is checked before any
    request is sent; the error names the parameter and the fix.
  - A run that changes nothing reads the VM once (with its instance view) and, when the module manages the NIC,
    the NIC (and public IP) once.
  - Before anything is written (the NIC included) a new VM is checked against what Azure answers (the size is
    offered in the location and zone and not restricted for the subscription (one resource SKU read; see
    M(confidential.azure.sku_info)), the disk encryption set exists, is C(ConfidentialVmEncryptedWithCustomerKey),
    is in the VM's region and its vault has purge protection, and the subnet's virtual network is in the VM's
    region). A NIC of the module's name in another region is never reused.
  - When Azure refuses the VM, the NIC and public IP this run created are deleted again (what could not be deleted
    is returned in C(left_behind)). O(state=absent) removes the module's own NIC and public IP (tagged
    C(confidential.azure.vm)) also when the VM was never created.
  - Every option is managed on an existing VM, also without O(size) and O(image) - compared and changed in place
    (O(size) within the TEE and temp-disk class, O(tags), O(data_disks) added, O(boot_diagnostics), O(identity)),
    changed while deallocated (O(secure_boot), O(encryption_at_host), O(os_disk_size_gb) growing,
    O(os_disk_caching), O(network_interfaces)), or refused with "cannot change X on an existing VM (recreate with
    allow_recreate)" (O(location), O(tee), O(image), O(zone), O(admin_username), O(ssh_public_keys),
    O(computer_name), O(security_encryption_type), O(disk_encryption_set), O(os_disk_type), O(vtpm),
    O(priority)). O(admin_password) and O(custom_data) are used at creation only (Azure never returns them);
    O(subnet_id) and O(network_interfaces) need the full definition.
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
    description: VM name.
    type: str
    required: true
  resource_group:
    description: Resource group of the VM (and of the NIC, public IP and disks it creates).
    type: str
    required: true
  location:
    description: Azure region. Defaults to the resource group's region (read only when the VM is created).
    type: str
  state:
    description: C(present) creates or updates the VM; C(absent) deletes it with the OS disk, the data disks and
      the NIC (and public IP) this module created, nothing else (the NIC and public IP also when the VM was never
      created).
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Confidential VM size, for example C(Standard_DC2as_v5) (AMD SEV-SNP) or C(Standard_DC2es_v5) (Intel TDX).
      - Resizing within the same TEE and temp-disk class happens in place (Azure may require the VM to be
        deallocated when the new size is not available on the current hardware cluster; the error then says so).
    type: str
  tee:
    description: Optional assertion of the TEE; the run fails before any request when O(size) is in another family.
    type: str
    choices: [SNP, TDX]
  image:
    description: The OS image. A marketplace reference (O(image.publisher), O(image.offer), O(image.sku),
      O(image.version)) or O(image.id) of a gallery image (version) or managed image marked for confidential VMs.
    type: dict
    suboptions:
      publisher:
        description: Marketplace publisher, for example C(Canonical).
        type: str
      offer:
        description: Marketplace offer, for example C(0001-com-ubuntu-confidential-vm-jammy).
        type: str
      sku:
        description: Marketplace SKU, for example C(22_04-lts-cvm).
        type: str
      version:
        description: Image version; C(latest) matches any version on later runs.
        type: str
        default: latest
      id:
        description: Resource id of a gallery image, gallery image version or managed image.
        type: str
      os_type:
        description: OS of an O(image.id) image (marketplace images are classified from the catalogue).
        type: str
        choices: [Linux, Windows]
  admin_username:
    description: Administrator user name (set at creation; Azure cannot change it later).
    type: str
  admin_password:
    description: Administrator password (Windows, or Linux without SSH keys). Only used at creation.
    type: str
  ssh_public_keys:
    description: OpenSSH public key lines for the admin user (Linux). Password login is disabled when no password
      is given. Azure takes RSA keys of at least 2048 bits and Ed25519 keys; ECDSA, DSA and security-key types are
      refused before any request.
    type: list
    elements: str
  computer_name:
    description: Host name inside the guest; defaults to O(name). Windows allows at most 15 characters.
    type: str
  custom_data:
    description: cloud-init / custom data text, base64-encoded by the module. Only used at creation; Azure does
      not return it, so later runs cannot compare it. Treated as a secret.
    type: str
  network_interfaces:
    description: Existing NICs (names in O(resource_group) or resource ids); the first is primary.
      Mutually exclusive with O(subnet_id).
    type: list
    elements: str
  subnet_id:
    description: Create a NIC (C(<name>-nic)) in this subnet, accelerated networking off.
    type: str
  nic_name:
    description: Name of the NIC created in O(subnet_id); default C(<name>-nic).
    type: str
  public_ip:
    description: Give the created NIC a Standard static public IP (C(<name>-pip)).
    type: bool
    default: false
  accelerated_networking:
    description: Confidential VMs do not support accelerated networking; C(true) is rejected.
    type: bool
    default: false
  security_encryption_type:
    description:
      - C(DiskWithVMGuestState) encrypts the OS disk and the VM guest state (confidential OS disk encryption,
        platform key or O(disk_encryption_set)); C(VMGuestStateOnly) encrypts only the guest state (vTPM, UEFI);
        C(NonPersistedTPM) does not persist the vTPM state.
        When not given, C(DiskWithVMGuestState) at creation and later runs leave it as it is.
    type: str
    choices: [VMGuestStateOnly, DiskWithVMGuestState, NonPersistedTPM]
  disk_encryption_set:
    description: Confidential disk encryption set (name in O(resource_group) or id) holding the customer-managed key;
      placed in C(osDisk.managedDisk.securityProfile.diskEncryptionSet). Needs C(DiskWithVMGuestState).
    type: str
  secure_boot:
    description: UEFI secure boot; default C(true) at creation and required with C(DiskWithVMGuestState). When not
      given, later runs leave it as it is.
    type: bool
  vtpm:
    description: Virtual TPM; confidential VMs require it (always on; C(false) is rejected).
    type: bool
  encryption_at_host:
    description: Encryption at host for temp disk and caches. Changing it needs the VM deallocated.
    type: bool
  os_disk_size_gb:
    description: OS disk size in GB; it can grow (VM deallocated), never shrink.
    type: int
  os_disk_type:
    description: OS disk storage type (default C(Premium_LRS) at creation).
    type: str
    choices: [Standard_LRS, StandardSSD_LRS, Premium_LRS, StandardSSD_ZRS, Premium_ZRS, PremiumV2_LRS, UltraSSD_LRS]
  os_disk_caching:
    description: OS disk caching.
    type: str
    choices: [None, ReadOnly, ReadWrite]
  os_disk_ephemeral:
    description: Ephemeral OS disks are not supported with confidential VMs; C(true) is rejected.
    type: bool
    default: false
  data_disks:
    description: Empty managed data disks created with the VM (deleted with it). New LUNs are attached in place;
      LUNs removed from the list are detached and deleted.
    type: list
    elements: dict
    suboptions:
      lun:
        description: Logical unit number (0-63).
        type: int
        required: true
      size_gb:
        description: Size in GB.
        type: int
        required: true
      storage_account_type:
        description: Storage type; ultra disks are rejected.
        type: str
        default: Premium_LRS
        choices: [Standard_LRS, StandardSSD_LRS, Premium_LRS, StandardSSD_ZRS, Premium_ZRS, PremiumV2_LRS, UltraSSD_LRS]
      caching:
        description: Host caching.
        type: str
        choices: [None, ReadOnly, ReadWrite]
      name:
        description: Disk name; default C(<vm>-data-<lun>).
        type: str
      max_shares:
        description: Shared disks are not supported with confidential VMs; more than 1 is rejected.
        type: int
  zone:
    description: Availability zone.
    type: str
    choices: ['1', '2', '3']
  boot_diagnostics:
    description: Boot diagnostics (managed storage); off at creation when not given, changed in place.
    type: bool
  priority:
    description: Only C(Regular) (the default); Spot and Low priority are rejected (not supported for confidential
      VMs).
    type: str
    choices: [Regular, Spot, Low]
  identity:
    description:
      - Managed identities of the VM (the shape of azure.azcollection's C(azure_rm_virtualmachine)). The
        system-assigned identity's principal id is returned in RV(vm.identity.principal_id), for example to grant it
        a role on a key. Changed in place.
      - When not given, later runs leave the identities as they are.
    type: dict
    suboptions:
      type:
        description: C(None) removes every identity.
        type: str
        required: true
        choices: [SystemAssigned, UserAssigned, 'SystemAssigned, UserAssigned', 'None']
      user_assigned_identities:
        description: User-assigned identities (with a type that includes C(UserAssigned)).
        type: dict
        suboptions:
          id:
            description: Resource ids of user-assigned managed identities.
            type: list
            elements: str
            default: []
          append:
            description: Keep user-assigned identities the VM already has that are not in O(identity.user_assigned_identities.id).
            type: bool
            default: true
  power_state:
    description: Desired power state. When not given, a new VM runs and later runs leave the power state alone.
    type: str
    choices: [running, stopped, deallocated]
  tags:
    description: Tags.
    type: dict
  append_tags:
    description: Merge O(tags) into the existing tags instead of replacing them.
    type: bool
    default: true
  allow_recreate:
    description: Delete and recreate the VM when a requested change cannot be made in place.
    type: bool
    default: false
  wait:
    description:
      - Wait for long operations. With C(false) the module returns once Azure accepted the VM request (the NIC and public
        IP requests are not waited for either), with
        RV(operation) describing what to wait on; start a fleet this way, then run the module again with
        C(wait=true) (it waits for a VM still provisioning, then converges) or poll M(confidential.azure.vm_info)
        until RV(confidential.azure.vm_info#module:vms[].provisioning_state) is C(Succeeded).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each long operation.
    type: int
    default: 1800
seealso:
  - module: confidential.azure.vm_info
  - module: confidential.azure.disk_encryption_set
  - module: confidential.azure.sku_info
'''

EXAMPLES = r'''
- name: Confidential VM (AMD SEV-SNP) with a customer-managed key
  confidential.azure.vm:
    resource_group: cvm-rg
    name: cvm-snp-1
    size: Standard_DC2as_v5
    image:
      publisher: Canonical
      offer: 0001-com-ubuntu-confidential-vm-jammy
      sku: 22_04-lts-cvm
    admin_username: azureuser
    ssh_public_keys:
      - "{{ lookup('file', '~/.ssh/id_ed25519.pub') }}"
    subnet_id: "{{ vnet.virtual_network.subnets[0].id }}"
    security_encryption_type: DiskWithVMGuestState
    disk_encryption_set: "{{ des.disk_encryption_set.id }}"
    tags:
      app: demo

- name: Start a fleet (Intel TDX) without waiting
  confidential.azure.vm:
    resource_group: cvm-rg
    name: "cvm-{{ item }}"
    size: Standard_DC2es_v5
    image: {publisher: Canonical, offer: ubuntu-24_04-lts, sku: cvm}
    admin_username: azureuser
    ssh_public_keys: ["{{ lookup('file', '~/.ssh/id_ed25519.pub') }}"]
    subnet_id: "{{ vnet.virtual_network.subnets[0].id }}"
    disk_encryption_set: cvm-des
    tags:
      fleet: web
    wait: false
  loop: [1, 2]

- name: Then wait for all of them
  confidential.azure.vm_info:
    resource_group: cvm-rg
    tags: ["fleet:web"]
  register: fleet
  until: fleet.vms | rejectattr('provisioning_state', 'equalto', 'Succeeded') | list | length == 0
  retries: 60
  delay: 20

- name: Give a VM a system-assigned managed identity (changed in place) and keep its principal id
  confidential.azure.vm:
    resource_group: cvm-rg
    name: cvm-snp-1
    identity:
      type: SystemAssigned
  register: cvm_identity

- name: Show the principal id to grant a key role to
  ansible.builtin.debug:
    msg: "{{ cvm_identity.vm.identity.principal_id }}"

- name: Deallocate
  confidential.azure.vm:
    resource_group: cvm-rg
    name: cvm-snp-1
    power_state: deallocated

- name: Remove a retired VM with its OS disk and the NIC it created (nothing to do once it is gone)
  confidential.azure.vm:
    resource_group: cvm-rg
    name: cvm-retired
    state: absent
'''

RETURN = r'''
vm:
  description: The VM in the shape M(confidential.azure.vm_info) returns; C({}) when absent.
  returned: always
  type: dict
  contains:
    id:
      description: Resource id.
      type: str
    name:
      description: VM name.
      type: str
    size:
      description: VM size.
      type: str
    provisioning_state:
      description: ARM provisioning state.
      type: str
    power_state:
      description: running, stopped, deallocated, starting, ... (from the instance view).
      type: str
    confidential:
      description: Confidential summary (tee, security_encryption_type, disk_encryption_set, secure_boot, vtpm,
        encryption_at_host, power_state).
      type: dict
    network_interfaces:
      description: NIC references (id, name, primary, delete_option).
      type: list
      elements: dict
    identity:
      description: Managed identities; C(principal_id) is the system-assigned identity's principal (object) id,
        C(user_assigned_identities) a list of C(id), C(principal_id), C(client_id).
      type: dict
      contains:
        type:
          description: C(None), C(SystemAssigned), C(UserAssigned) or C(SystemAssigned, UserAssigned).
          type: str
        principal_id:
          description: Principal (object) id of the system-assigned identity.
          type: str
        tenant_id:
          description: Tenant of the system-assigned identity.
          type: str
        user_assigned_identities:
          description: The user-assigned identities.
          type: list
          elements: dict
    os_disk:
      description: OS disk (name, id, size_gb, storage_account_type, caching, delete_option).
      type: dict
    data_disks:
      description: Data disks.
      type: list
      elements: dict
operation:
  description: With O(wait=false), what a later task waits on (poll_url, status, done, resource_url, poll_mode).
  returned: when an operation was started and not waited for
  type: dict
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
'''

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._cvm.vm_args import MUTUALLY_EXCLUSIVE, vm_argument_spec
from ansible_collections.confidential.azure.plugins.module_utils._cvm.vm_manager import VmManager


def main():
    module = AzureModule(argument_spec=vm_argument_spec(), supports_check_mode=True,
                         mutually_exclusive=MUTUALLY_EXCLUSIVE)
    VmManager(module).run()


if __name__ == '__main__':
    main()
