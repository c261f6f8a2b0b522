# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: cvm
short_description: Azure (confidential) virtual machines as an inventory
version_added: 0.1.0
author:
  - confidential.azure maintainers (@confidential-azure)
description:
  - Lists the virtual machines of a subscription, optionally only confidential ones, with their confidential
    summary (TEE, OS disk encryption type, disk encryption set), addresses, power state and tags.
  - Uses the same credentials and O(cloud_environment) options as the collection's modules, so it works
    against Azure, sovereign clouds, Azure Stack Hub and the collection's local simulator alike.
  - Makes three list calls per subscription (VMs with instance view, network interfaces, public IPs),
    whatever the number of VMs. Works with inventory cache plugins.
  - The inventory file name must end with C(cvm.yml) or C(cvm.yaml).
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - confidential.azure.azure_inventory
options:
  plugin:
    description: Marks this as an inventory file of this plugin.
    type: str
    required: true
    choices: [confidential.azure.cvm]
  confidential_only:
    description: Only VMs whose security type is C(ConfidentialVM).
    type: bool
    default: true
  resource_groups:
    description: Only VMs in these resource groups (listed per group instead of the whole subscription).
    type: list
    elements: str
    default: []
  locations:
    description: Only VMs in these regions.
    type: list
    elements: str
    default: []
  tags:
    description: Only VMs with all these tags, each C(key) or C(key:value).
    type: list
    elements: str
    default: []
  host_address:
    description:
      - What C(ansible_host) is set to. V(private_ip) and V(public_ip) take the primary NIC's first address.
    type: str
    choices: [private_ip, public_ip, name, none]
    default: private_ip
  tee_groups:
    description:
      - Puts each confidential VM in V(tee_snp) or V(tee_tdx) (its TEE in lower case), with no other configuration,
        so a play for V(tee_snp) works from a bare inventory file.
      - O(keyed_groups), O(groups) and O(compose) work as well and add their own groups (the example's
        C(tee) keyed group makes V(tee_SNP) and V(tee_TDX)).
    type: bool
    default: true
  hostname_source:
    description: Inventory host names are the VM name, or C(<resource group>_<name>) to keep them unique.
    type: str
    choices: [name, resource_group_name]
    default: name
'''

EXAMPLES = r'''
# minimal.cvm.yml: every confidential VM of the subscription, in the groups tee_snp and tee_tdx
plugin: confidential.azure.cvm
---
# fleet.cvm.yml: every confidential VM, grouped by TEE and by resource group
plugin: confidential.azure.cvm
confidential_only: true
host_address: private_ip
keyed_groups:
  - key: azure_tee
    prefix: tee
  - key: azure_resource_group
    prefix: rg
  - key: azure_tags.role | default('none')
    prefix: role
groups:
  cmk: azure_disk_encryption_set is not none
compose:
  ansible_user: azure_admin_username | default('azureuser')
'''

import subprocess

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.confidential.azure.plugins.module_utils._azure import api_versions
from ansible_collections.confidential.azure.plugins.module_utils._azure.cloud import CloudConfigError
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureError
from ansible_collections.confidential.azure.plugins.module_utils._cvm import summary
from ansible_collections.confidential.azure.plugins.module_utils._inventory import hosts

AUTH_OPTIONS = ('auth_source', 'profile', 'subscription_id', 'client_id', 'secret', 'tenant', 'ad_user', 'password',
                'x509_certificate_path', 'thumbprint', 'adfs_authority_url', 'cloud_environment',
                'cert_validation_mode', 'disable_instance_discovery', 'token_cache')


def _run_command(args):
    proc = subprocess.run(args, capture_output=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'confidential.azure.cvm'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('cvm.yml', 'cvm.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        listing = None
        if use_cache:
            try:
                listing = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if listing is None:
            listing = self._fetch()
        if update_cache:
            self._cache[cache_key] = listing
        self._populate(listing)

    def _session(self):
        from ansible_collections.confidential.azure.plugins.module_utils._azure.session import AzureSession
        params = dict((name, self.get_option(name)) for name in AUTH_OPTIONS)
        return AzureSession(params, run_command=_run_command)

    def _fetch(self):
        try:
            session = self._session()
            sub = session.subscription_id
            scopes = ['/subscriptions/%s' % sub]
            if self.get_option('resource_groups'):
                scopes = ['/subscriptions/%s/resourceGroups/%s' % (sub, rg)
                          for rg in self.get_option('resource_groups')]
            vms, nics, pips = [], [], []
            for scope in scopes:
                vms += session.arm.list(scope + '/providers/Microsoft.Compute/virtualMachines',
                                        api_versions.VIRTUAL_MACHINES, params={'$expand': 'instanceView'})
            for scope in scopes:  # addresses are host vars whatever host_address says
                nics += session.arm.list(scope + '/providers/Microsoft.Network/networkInterfaces',
                                         api_versions.NETWORK)
                pips += session.arm.list(scope + '/providers/Microsoft.Network/publicIPAddresses',
                                         api_versions.NETWORK)
        except (AzureError, CloudConfigError) as exc:
            raise AnsibleError('confidential.azure.cvm: %s' % exc)
        return dict(vms=vms, nics=nics, public_ips=pips)

    def _populate(self, listing):
        nic_index = hosts.index_nics(listing['nics'], hosts.index_public_ips(listing['public_ips']))
        strict = self.get_option('strict')
        for vm in listing['vms']:
            result = summary.vm_result(vm)
            if not hosts.wanted(result, self.get_option('confidential_only'), self.get_option('resource_groups'),
                                self.get_option('locations'), self.get_option('tags')):
                continue
            name = result['name']
            if self.get_option('hostname_source') == 'resource_group_name':
                name = '%s_%s' % (result['resource_group'], result['name'])
            self.inventory.add_host(name)
            variables = hosts.host_vars(result, nic_index, self.get_option('host_address'))
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)
            group = hosts.tee_group(variables) if self.get_option('tee_groups') else None
            if group:
                self.inventory.add_group(group)
                self.inventory.add_child(group, name)
            self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)
