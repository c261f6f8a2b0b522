# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure import cloud


def test_public_cloud_is_the_default():
    env = cloud.from_setting(None, env={})
    assert env.name == 'AzureCloud'
    assert env.arm_endpoint == 'https://management.azure.com'
    assert env.keyvault_scope == 'https://vault.azure.net/.default'
    assert env.graph_endpoint == 'https://graph.microsoft.com'


@pytest.mark.parametrize('name,arm', [
    ('AzureChinaCloud', 'https://management.chinacloudapi.cn'),
    ('azure_china_cloud', 'https://management.chinacloudapi.cn'),
    ('AzureUSGovernment', 'https://management.usgovcloudapi.net'),
    ('azureusgovernment', 'https://management.usgovcloudapi.net'),
])
def test_sovereign_clouds_by_name(name, arm):
    assert cloud.from_setting(name, env={}).arm_endpoint == arm


def test_custom_cloud_dict_with_ca_bundle(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('-----BEGIN CERTIFICATE-----\n')
    env = cloud.from_setting({'arm_endpoint': 'https://127.0.0.1:8443/', 'authority_host': 'https://127.0.0.1:8443',
                              'keyvault_dns_suffix': 'vault.local', 'attestation_endpoint': 'https://127.0.0.1:8443/maa',
                              'ca_bundle': str(ca)}, env={})
    assert env.name == 'custom'
    assert env.arm_endpoint == 'https://127.0.0.1:8443'
    assert env.graph_endpoint == env.arm_endpoint  # a custom cloud serves Graph where ARM is unless told otherwise
    assert env.keyvault_scope == 'https://vault.local/.default'
    assert env.ca_bundle == str(ca)
    assert env.vault_url('kv1') == 'https://kv1.vault.local/'


def test_custom_cloud_from_env_var_json_file(tmp_path):
    path = tmp_path / 'cloud.json'
    path.write_text(json.dumps({'arm_endpoint': 'https://arm.local', 'authority_host': 'https://login.local',
                                'keyvault_dns_suffix': 'vault.local'}))
    env = cloud.from_setting(None, env={'AZURE_CLOUD_ENVIRONMENT': str(path)})
    assert env.arm_endpoint == 'https://arm.local'


def test_simulator_first_line_shape_is_accepted(tmp_path):
    """The simulator prints {"cloud_environment": {...}, ...}; a file with that whole object also works."""
    path = tmp_path / 'sim.json'
    path.write_text(json.dumps({'cloud_environment': {'arm_endpoint': 'https://a.local', 'authority_host':
                                                      'https://a.local', 'keyvault_dns_suffix': 'v.local'},
                                'subscription_id': 'x'}))
    assert cloud.from_setting(str(path), env={}).arm_endpoint == 'https://a.local'


@pytest.mark.parametrize('value,fragment', [
    ({'arm_endpoint': 'https://a', 'authority_host': 'https://b'}, 'missing keyvault_dns_suffix'),
    ({'arm_endpoint': 'http://a', 'authority_host': 'https://b', 'keyvault_dns_suffix': 'v'}, 'must be an https://'),
    ({'arm_endpoint': 'https://a', 'authority_host': 'https://b', 'keyvault_dns_suffix': 'v', 'arm_endpiont': 'x'},
     'unknown key(s) arm_endpiont'),
    ({'arm_endpoint': 'https://a', 'authority_host': 'https://b', 'keyvault_dns_suffix': 'v',
      'ca_bundle': '/nonexistent/ca.pem'}, 'does not exist'),
    ('AzureMoonCloud', 'is not a known cloud'),
    ('{not json', 'not valid JSON'),
    (42, 'must be a cloud name'),
])
def test_bad_cloud_settings_name_the_problem(value, fragment):
    with pytest.raises(cloud.CloudConfigError) as exc:
        cloud.from_setting(value, env={})
    assert fragment in str(exc.value)
