# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._cvm import summary
from ansible_collections.confidential.azure.plugins.module_utils._inventory import hosts

SUB = '/subscriptions/s/resourceGroups/RG1/providers/'
NIC = SUB + 'Microsoft.Network/networkInterfaces/vm1-nic'
PIP = SUB + 'Microsoft.Network/publicIPAddresses/vm1-pip'


def vm(name='vm1', size='Standard_DC4as_v5', security='ConfidentialVM', enc='DiskWithVMGuestState', des=None,
       tags=None, location='eastus', nic=NIC):
    disk_sec = {'securityEncryptionType': enc}
    if des:
        disk_sec['diskEncryptionSet'] = {'id': des}
    return {'id': SUB + 'Microsoft.Compute/virtualMachines/' + name, 'name': name, 'location': location,
            'tags': tags or {},
            'properties': {'hardwareProfile': {'vmSize': size},
                           'securityProfile': {'securityType': security,
                                               'uefiSettings': {'secureBootEnabled': True, 'vTpmEnabled': True}},
                           'storageProfile': {'osDisk': {'managedDisk': {'securityProfile': disk_sec}}},
                           'osProfile': {'adminUsername': 'azureuser'},
                           'networkProfile': {'networkInterfaces': [{'id': nic, 'properties': {'primary': True}}]},
                           'instanceView': {'statuses': [{'code': 'ProvisioningState/succeeded'},
                                                         {'code': 'PowerState/running'}]}}}


NICS = [{'id': NIC.upper(), 'properties': {'ipConfigurations': [
    {'properties': {'privateIPAddress': '10.0.0.9', 'primary': False}},
    {'properties': {'privateIPAddress': '10.0.0.4', 'primary': True, 'publicIPAddress': {'id': PIP}}}]}}]
PIPS = [{'id': PIP, 'properties': {'ipAddress': '20.1.2.3'}}]


def index():
    return hosts.index_nics(NICS, hosts.index_public_ips(PIPS))


def test_host_vars_carry_tee_encryption_addresses_and_power_state():
    variables = hosts.host_vars(summary.vm_result(vm(des='/des/1')), index())
    assert variables['ansible_host'] == '10.0.0.4'  # the primary ip configuration first; ids compare case-blind
    assert variables['azure_private_ips'] == ['10.0.0.4', '10.0.0.9']
    assert variables['azure_public_ips'] == ['20.1.2.3']
    assert variables['azure_tee'] == 'SNP'
    assert variables['azure_security_encryption_type'] == 'DiskWithVMGuestState'
    assert variables['azure_disk_encryption_set'] == '/des/1'
    assert variables['azure_power_state'] == 'running'
    assert variables['azure_resource_group'] == 'RG1'
    assert variables['azure_admin_username'] == 'azureuser'


def test_host_address_choices():
    result = summary.vm_result(vm())
    assert hosts.host_vars(result, index(), 'public_ip')['ansible_host'] == '20.1.2.3'
    assert hosts.host_vars(result, index(), 'name')['ansible_host'] == 'vm1'
    assert 'ansible_host' not in hosts.host_vars(result, index(), 'none')
    assert 'ansible_host' not in hosts.host_vars(result, {}, 'private_ip')  # no address known: leave it unset


def test_filters():
    tdx = summary.vm_result(vm(size='Standard_DC4es_v5', tags={'env': 'prod', 'role': 'db'}, location='westeurope'))
    plain = summary.vm_result(vm(size='Standard_D2s_v5', security=None))
    assert hosts.wanted(tdx, confidential_only=True)
    assert not hosts.wanted(plain, confidential_only=True)
    assert hosts.wanted(plain, confidential_only=False)
    assert hosts.wanted(tdx, resource_groups=['rg1'])
    assert not hosts.wanted(tdx, resource_groups=['other'])
    assert hosts.wanted(tdx, locations=['WestEurope'])
    assert hosts.wanted(tdx, tags=['env:prod', 'role'])
    assert not hosts.wanted(tdx, tags=['env:dev'])
    assert not hosts.wanted(tdx, tags=['missing'])


def test_tee_group_is_the_lower_case_tee_and_none_without_one():
    assert hosts.tee_group({'azure_tee': 'SNP'}) == 'tee_snp'
    assert hosts.tee_group({'azure_tee': 'TDX'}) == 'tee_tdx'
    assert hosts.tee_group({'azure_tee': None}) is None
    assert hosts.tee_group({}) is None
