#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: vm_batch
short_description: Create, update or remove many Azure confidential VMs in one task
version_added: 0.1.0
description:
  - Does for each VM of O(vms) exactly what M(confidential.azure.vm) does (the same options, checks, idempotence,
    check and diff mode, NIC clean-up on refusal), in one process with one session and up to O(parallel) VMs at
    once. A fleet started with C(wait=false) is accepted by Azure in seconds instead of one module run per VM.
  - Before any request, the batch is checked (a VM named twice, secrets or authentication options inside an item)
    and then every VM's options and confidential VM limits; a problem with the batch stops every VM, a VM with bad
    options is reported failed and not started while the others go on.
  - One VM's Azure error does not stop the others. The task fails when any VM failed; RV(vms) has every VM's
    result either way (use C(failed_when) to handle failed VMs yourself, as C(playbooks/rollout.yml) does).
author:
  - confidential.azure maintainers (@confidential-azure)
requirements:
  - azure-mgmt-compute >= 33.0.0
extends_documentation_fragment:
  - confidential.azure.azure
attributes:
  check_mode:
    support: full
    description: Reports per VM what would change; sends no write request.
  diff_mode:
    support: full
    description: One diff per VM that would change.
options:
  vms:
    description:
      - The VMs, each a dict of M(confidential.azure.vm) options (see C(ansible-doc confidential.azure.vm)); an
        item's options win over O(defaults). C(name) is required; C(resource_group) in the item or in O(defaults).
      - An item value C(null) removes that option's default for this VM; an item's C(network_interfaces) drops the
        default C(subnet_id) (and the other way round).
      - An item may not hold O(admin_password), O(custom_data) or authentication options; give those as task
        options.
    type: list
    elements: dict
    required: true
  defaults:
    description:
      - M(confidential.azure.vm) options every VM of O(vms) shares (for example resource_group, size, image,
        subnet_id, disk_encryption_set, wait). A dict option given in an item (image, tags, identity) replaces
        the default's whole dict.
    type: dict
    default: {}
  admin_password:
    description:
      - Administrator password of every VM the batch may create (M(confidential.azure.vm)'s O(admin_password)).
      - Given only to the VMs with the full definition (size and image) and C(state=present); a VM managed
        without them (tags, power state of an existing VM) does not get it.
    type: str
  custom_data:
    description:
      - cloud-init / custom data of every VM the batch may create (M(confidential.azure.vm)'s O(custom_data)),
        given as O(admin_password) is.
    type: str
  parallel:
    description:
      - How many VMs are handled at the same time (1 to 50). Azure throttling (429) is retried as in every module,
        honouring Retry-After.
      - Reads every new VM needs alike (the region's resource SKUs, the disk encryption set and its vault, the
        subnet's virtual network, the resource group) are made once per batch.
    type: int
    default: 10
'''

EXAMPLES = r'''
- name: Start two confidential VMs (SEV-SNP and TDX) in one task, without waiting
  confidential.azure.vm_batch:
    defaults:
      resource_group: cvm-rg
      size: Standard_DC2as_v5
      image: {publisher: Canonical, offer: 0001-com-ubuntu-confidential-vm-jammy, sku: 22_04-lts-cvm}
      admin_username: azureuser
      ssh_public_keys: ["{{ lookup('file', '~/.ssh/id_ed25519.pub') }}"]
      subnet_id: "{{ vnet.virtual_network.subnets[0].id }}"
      security_encryption_type: DiskWithVMGuestState
      disk_encryption_set: cvm-des
      tags: {fleet: batch}
      wait: false
    vms:
      - name: batch-snp-1
      - name: batch-tdx-1
        size: Standard_DC2es_v5
        image: {publisher: Canonical, offer: ubuntu-24_04-lts, sku: cvm}
  register: batch

- name: Wait once for the whole batch
  confidential.azure.vm_info:
    resource_group: cvm-rg
    tags: ["fleet:batch"]
  register: batch_state
  # count the VMs too: a filter that matches nothing would otherwise "wait" for zero VMs
  until: >-
    batch_state.vms | length == 2 and
    batch_state.vms | rejectattr('provisioning_state', 'in', ['Succeeded', 'Failed']) | list | length == 0
  retries: 60
  delay: 20
  failed_when: batch_state.vms | selectattr('provisioning_state', 'equalto', 'Failed') | list | length > 0

- name: Show which VMs the batch created (actions of each VM)
  ansible.builtin.debug:
    msg: "{{ batch.vms | map(attribute='name') | zip(batch.vms | map(attribute='actions')) | list }}"
'''

RETURN = r'''
vms:
  description: One result per item of O(vms), in order.
  returned: always (also when the task fails because a VM failed)
  type: list
  elements: dict
  contains:
    item:
      description: The item's place, C(vms[INDEX] (NAME)).
      type: str
    name:
      description: VM name.
      type: str
    resource_group:
      description: The VM's resource group.
      type: str
    failed:
      description: Whether this VM failed (bad options, a refused or failed request).
      type: bool
    msg:
      description: Why this VM failed.
      type: str
      returned: when failed
    changed:
      description: Whether this VM was (or in check mode would be) changed.
      type: bool
    actions:
      description: What was (or would be) done to this VM, in order, as M(confidential.azure.vm) reports them.
      type: list
      elements: str
    vm:
      description: The VM in the shape M(confidential.azure.vm) returns; C({}) when absent or not started.
      type: dict
    operation:
      description: With C(wait=false), the operation Azure accepted (what a later task waits on); after a
        C(wait_timeout) time-out, the operation still running.
      type: dict
      returned: when an operation was started and not waited for, or timed out
    errors:
      description: Every problem with this VM's options, found before any request.
      type: list
      elements: str
      returned: when the VM's options were refused
    azure_error:
      description: Azure's error (status, code, message) when Azure refused or failed a request for this VM.
      type: dict
      returned: when Azure answered with an error
    diff:
      description: This VM's before / after (diff mode).
      type: dict
      returned: in diff mode
    left_behind:
      description: What a refused create could not delete again (kind, id, error of each NIC or public IP).
      type: list
      elements: dict
      returned: when something was left behind
'''

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._cvm.batch import run_batch


def main():
    module = AzureModule(argument_spec=dict(
        vms=dict(type='list', elements='dict', required=True),
        defaults=dict(type='dict', default={}),
        admin_password=dict(type='str', no_log=True),
        custom_data=dict(type='str', no_log=True),
        parallel=dict(type='int', default=10),
    ), supports_check_mode=True)
    run_batch(module)


if __name__ == '__main__':
    main()
