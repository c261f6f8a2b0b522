# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn listed VMs, NICs and public IPs into inventory hosts and their variables. Pure Python."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


HOST_ADDRESS_CHOICES = ('private_ip', 'public_ip', 'name', 'none')


def _low(rid):
    return (rid or '').rstrip('/').lower()


def index_public_ips(public_ips):
    return dict((_low(p.get('id')), (p.get('properties') or {}).get('ipAddress')) for p in public_ips or [])


def index_nics(nics, public_ip_index):
    """nic id -> {'private_ips': [...], 'public_ips': [...]} with the primary ip configuration first."""
    out = {}
    for nic in nics or []:
        configs = sorted((nic.get('properties') or {}).get('ipConfigurations') or [],
                         key=lambda c: not (c.get('properties') or {}).get('primary'))
        private, public = [], []
        for config in configs:
            props = config.get('properties') or {}
            if props.get('privateIPAddress'):
                private.append(props['privateIPAddress'])
            pip = public_ip_index.get(_low((props.get('publicIPAddress') or {}).get('id')))
            if pip:
                public.append(pip)
        out[_low(nic.get('id'))] = dict(private_ips=private, public_ips=public)
    return out


def _addresses(vm_result, nic_index):
    nics = sorted(vm_result.get('network_interfaces') or [], key=lambda n: not n.get('primary'))
    private, public = [], []
    for nic in nics:
        found = nic_index.get(_low(nic.get('id'))) or {}
        private.extend(found.get('private_ips') or [])
        public.extend(found.get('public_ips') or [])
    return private, public


def wanted(vm_result, confidential_only=False, resource_groups=None, locations=None, tags=None):
    """Filters of the inventory file; resource group and location compare case-insensitively."""
    conf = vm_result.get('confidential') or {}
    if confidential_only and conf.get('security_type') != 'ConfidentialVM':
        return False
    groups = [g.lower() for g in resource_groups or []]
    if groups and (vm_result.get('resource_group') or '').lower() not in groups:
        return False
    if locations and (vm_result.get('location') or '').lower() not in [loc.lower() for loc in locations]:
        return False
    if tags:
        own = vm_result.get('tags') or {}
        for item in tags:
            key, sep, value = item.partition(':')
            if key not in own or (sep and own[key] != value):
                return False
    return True


def host_vars(vm_result, nic_index, host_address='private_ip'):
    """Variables for one host; ansible_host per host_address (private_ip, public_ip, name or none)."""
    private, public = _addresses(vm_result, nic_index)
    conf = vm_result.get('confidential') or {}
    out = dict(
        azure_id=vm_result.get('id'),
        azure_name=vm_result.get('name'),
        azure_vm_id=vm_result.get('vm_id'),
        azure_resource_group=vm_result.get('resource_group'),
        azure_location=vm_result.get('location'),
        azure_zones=vm_result.get('zones') or [],
        azure_size=vm_result.get('size'),
        azure_tags=vm_result.get('tags') or {},
        azure_power_state=vm_result.get('power_state'),
        azure_provisioning_state=vm_result.get('provisioning_state'),
        azure_os_type=vm_result.get('os_type'),
        azure_private_ips=private,
        azure_public_ips=public,
        azure_security_type=conf.get('security_type'),
        azure_tee=conf.get('tee'),
        azure_security_encryption_type=conf.get('security_encryption_type'),
        azure_disk_encryption_set=conf.get('disk_encryption_set'),
        azure_confidential=conf,
    )
    if vm_result.get('admin_username'):
        out['azure_admin_username'] = vm_result['admin_username']
    address = None
    if host_address == 'private_ip':
        address = (private or [None])[0]
    elif host_address == 'public_ip':
        address = (public or [None])[0]
    elif host_address == 'name':
        address = vm_result.get('name')
    if address:
        out['ansible_host'] = address
    return out


def tee_group(variables):
    """The default group of a host: tee_snp / tee_tdx from its TEE, None when the VM has no TEE."""
    tee = variables.get('azure_tee')
    if not tee or not isinstance(tee, str):
        return None
    return 'tee_' + ''.join(c if c.isalnum() else '_' for c in tee.lower())
