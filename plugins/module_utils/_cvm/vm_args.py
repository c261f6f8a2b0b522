# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of one confidential VM, shared by the vm module and each item of vm_batch."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

MUTUALLY_EXCLUSIVE = [('network_interfaces', 'subnet_id')]
DISK_TYPES = ['Standard_LRS', 'StandardSSD_LRS', 'Premium_LRS', 'StandardSSD_ZRS', 'Premium_ZRS', 'PremiumV2_LRS',
              'UltraSSD_LRS']
CACHING = ['None', 'ReadOnly', 'ReadWrite']


def vm_argument_spec():
    """The vm module's options (without the authentication options); vm_batch validates each VM with it."""
    return dict(
        name=dict(type='str', required=True),
        resource_group=dict(type='str', required=True),
        location=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        size=dict(type='str'),
        tee=dict(type='str', choices=['SNP', 'TDX']),
        image=dict(type='dict', options=dict(
            publisher=dict(type='str'),
            offer=dict(type='str'),
            sku=dict(type='str'),
            version=dict(type='str', default='latest'),
            id=dict(type='str'),
            os_type=dict(type='str', choices=['Linux', 'Windows']),
        )),
        admin_username=dict(type='str'),
        admin_password=dict(type='str', no_log=True),
        ssh_public_keys=dict(type='list', elements='str'),
        computer_name=dict(type='str'),
        custom_data=dict(type='str', no_log=True),
        network_interfaces=dict(type='list', elements='str'),
        subnet_id=dict(type='str'),
        nic_name=dict(type='str'),
        public_ip=dict(type='bool', default=False),
        accelerated_networking=dict(type='bool', default=False),
        security_encryption_type=dict(type='str', choices=['VMGuestStateOnly', 'DiskWithVMGuestState',
                                                           'NonPersistedTPM']),
        disk_encryption_set=dict(type='str'),
        secure_boot=dict(type='bool'),
        vtpm=dict(type='bool'),
        encryption_at_host=dict(type='bool'),
        os_disk_size_gb=dict(type='int'),
        os_disk_type=dict(type='str', choices=DISK_TYPES),
        os_disk_caching=dict(type='str', choices=CACHING),
        os_disk_ephemeral=dict(type='bool', default=False),
        data_disks=dict(type='list', elements='dict', options=dict(
            lun=dict(type='int', required=True),
            size_gb=dict(type='int', required=True),
            storage_account_type=dict(type='str', default='Premium_LRS', choices=DISK_TYPES),
            caching=dict(type='str', choices=CACHING),
            name=dict(type='str'),
            max_shares=dict(type='int'),
        )),
        zone=dict(type='str', choices=['1', '2', '3']),
        boot_diagnostics=dict(type='bool'),
        priority=dict(type='str', choices=['Regular', 'Spot', 'Low']),
        power_state=dict(type='str', choices=['running', 'stopped', 'deallocated']),
        identity=dict(type='dict', options=dict(
            type=dict(type='str', required=True,
                      choices=['SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned', 'None']),
            user_assigned_identities=dict(type='dict', options=dict(
                id=dict(type='list', elements='str', default=[]),
                append=dict(type='bool', default=True),
            )),
        )),
        tags=dict(type='dict'),
        append_tags=dict(type='bool', default=True),
        allow_recreate=dict(type='bool', default=False),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=1800),
    )
