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


# -- ARM metadata endpoint URL (azure.azcollection's way of naming a custom cloud) -----------------------------------

PUBLIC_METADATA = [
    {'name': 'AzureChinaCloud', 'resourceManager': 'https://management.chinacloudapi.cn/',
     'authentication': {'loginEndpoint': 'https://login.chinacloudapi.cn'}, 'suffixes': {'keyVaultDns': 'vault.azure.cn'},
     'microsoftGraphResourceId': 'https://microsoftgraph.chinacloudapi.cn/'},
    {'name': 'AzureCloud', 'resourceManager': 'https://management.azure.com/',
     'authentication': {'loginEndpoint': 'https://login.microsoftonline.com', 'audiences': ['https://management.core.windows.net/']},
     'suffixes': {'keyVaultDns': 'vault.azure.net'}, 'microsoftGraphResourceId': 'https://graph.microsoft.com/'},
]
STACK_METADATA = {'name': 'AzureStackUser', 'resourceManager': 'https://management.local.azurestack.external/',
                  'authentication': {'loginEndpoint': 'https://adfs.local.azurestack.external/adfs'},
                  'suffixes': {'keyVaultDns': 'vault.local.azurestack.external'}}


@pytest.fixture
def fetches(monkeypatch):
    """Record metadata GETs; answer from a dict of URL -> document. The per-process memo starts empty."""
    calls, answers = [], {}

    def fake_fetch(url, ca_bundle, timeout=30):
        calls.append((url, ca_bundle))
        if url not in answers:
            raise cloud.CloudConfigError('cloud_environment: cannot read the cloud metadata from %s' % url)
        return answers[url]
    monkeypatch.setattr(cloud, '_fetch', fake_fetch)
    monkeypatch.setattr(cloud, '_DISCOVERED', {})
    return calls, answers


def _env(tmp_path, **extra):
    env = {'CONFIDENTIAL_AZURE_METADATA_CACHE': str(tmp_path / 'cache')}
    env.update(extra)
    return env


@pytest.mark.parametrize('given,url', [
    ('https://management.local.azurestack.external',
     'https://management.local.azurestack.external/metadata/endpoints?api-version=2022-09-01'),
    ('https://management.local.azurestack.external/metadata/endpoints/?api-version=2019-05-01',
     'https://management.local.azurestack.external/metadata/endpoints?api-version=2019-05-01'),
    ('https://127.0.0.1:8443/metadata/endpoints', 'https://127.0.0.1:8443/metadata/endpoints?api-version=2022-09-01'),
])
def test_metadata_url_accepts_the_arm_base_or_the_full_endpoint(given, url):
    assert cloud.metadata_url(given) == url


def test_metadata_url_must_be_https():
    with pytest.raises(cloud.CloudConfigError, match='must be https'):
        cloud.from_setting('http://management.local/metadata/endpoints?api-version=2022-09-01', env={})


def test_metadata_list_picks_the_cloud_of_the_url_host(fetches, tmp_path):
    calls, answers = fetches
    url = 'https://management.azure.com/metadata/endpoints?api-version=2022-09-01'
    answers[url] = PUBLIC_METADATA
    env = cloud.from_setting(url, env=_env(tmp_path))
    assert env.name == 'AzureCloud'
    assert (env.arm_endpoint, env.authority_host, env.keyvault_dns_suffix, env.graph_endpoint) == (
        'https://management.azure.com', 'https://login.microsoftonline.com', 'vault.azure.net', 'https://graph.microsoft.com')
    assert env.ca_bundle is None and calls == [(url, None)]


def test_metadata_single_cloud_from_env_var_with_ca_bundle(fetches, tmp_path):
    calls, answers = fetches
    ca = tmp_path / 'ca.pem'
    ca.write_text('-----BEGIN CERTIFICATE-----\n')
    url = 'https://management.local.azurestack.external/metadata/endpoints?api-version=2022-09-01'
    answers[url] = STACK_METADATA
    env = cloud.from_setting(None, env=_env(tmp_path, AZURE_CLOUD_ENVIRONMENT='https://management.local.azurestack.external',
                                            REQUESTS_CA_BUNDLE=str(ca)))
    assert env.name == 'AzureStackUser'
    assert env.authority_host == 'https://adfs.local.azurestack.external/adfs'
    assert env.keyvault_scope == 'https://vault.local.azurestack.external/.default'
    assert env.graph_endpoint == env.arm_endpoint
    assert env.ca_bundle == str(ca) and calls == [(url, str(ca))]


def test_metadata_is_read_once_per_process_and_then_from_the_file_cache(fetches, tmp_path, monkeypatch):
    calls, answers = fetches
    url = 'https://management.local.azurestack.external/metadata/endpoints?api-version=2022-09-01'
    answers[url] = STACK_METADATA
    for _attempt in range(3):
        cloud.from_setting(url, env=_env(tmp_path))
    assert len(calls) == 1
    monkeypatch.setattr(cloud, '_DISCOVERED', {})     # a new task (process) reads the cache, not the network
    assert cloud.from_setting(url, env=_env(tmp_path)).name == 'AzureStackUser'
    assert len(calls) == 1
    cache_files = list((tmp_path / 'cache').iterdir())
    assert len(cache_files) == 1 and oct(cache_files[0].stat().st_mode & 0o777) == '0o600'


def test_metadata_cache_is_ignored_when_others_could_write_it_or_it_is_stale(fetches, tmp_path, monkeypatch):
    calls, answers = fetches
    url = 'https://management.local.azurestack.external/metadata/endpoints?api-version=2022-09-01'
    answers[url] = STACK_METADATA
    cloud.from_setting(url, env=_env(tmp_path))
    path = next((tmp_path / 'cache').iterdir())
    path.chmod(0o666)
    monkeypatch.setattr(cloud, '_DISCOVERED', {})
    cloud.from_setting(url, env=_env(tmp_path))
    assert len(calls) == 2
    path.chmod(0o600)
    assert cloud._read_cache(url, _env(tmp_path), now=path.stat().st_mtime + cloud.METADATA_CACHE_TTL + 1) is None
    assert cloud._read_cache(url, _env(tmp_path)) == STACK_METADATA


def test_metadata_cache_off(fetches, tmp_path, monkeypatch):
    calls, answers = fetches
    url = 'https://management.local.azurestack.external/metadata/endpoints?api-version=2022-09-01'
    answers[url] = STACK_METADATA
    cloud.from_setting(url, env={'CONFIDENTIAL_AZURE_METADATA_CACHE': 'off', 'HOME': str(tmp_path)})
    monkeypatch.setattr(cloud, '_DISCOVERED', {})
    cloud.from_setting(url, env={'CONFIDENTIAL_AZURE_METADATA_CACHE': 'off', 'HOME': str(tmp_path)})
    assert len(calls) == 2 and not (tmp_path / '.cache').exists()


def test_metadata_claiming_a_known_name_for_other_endpoints_is_custom(fetches, tmp_path):
    _calls, answers = fetches
    url = 'https://arm.example.test/metadata/endpoints?api-version=2022-09-01'
    answers[url] = dict(STACK_METADATA, name='AzureCloud', resourceManager='https://arm.example.test/')
    assert cloud.from_setting(url, env=_env(tmp_path)).name == 'custom'


@pytest.mark.parametrize('document,message', [
    ({'galleryEndpoint': 'https://g', 'authentication': {'loginEndpoint': 'https://login'}},
     'no resourceManager, suffixes.keyVaultDns'),
    (dict(STACK_METADATA, suffixes={}), 'no suffixes.keyVaultDns'),
    (dict(STACK_METADATA, authentication={'loginEndpoint': 'http://adfs.local'}), 'authority_host must be an https'),
    ([dict(STACK_METADATA, resourceManager='https://a/'), dict(STACK_METADATA, resourceManager='https://b/')],
     'lists no cloud whose resourceManager'),
    ('a string', 'neither a cloud nor a list'),
])
def test_unusable_metadata_fails_with_the_missing_field(fetches, tmp_path, document, message):
    _calls, answers = fetches
    url = 'https://management.local.azurestack.external/metadata/endpoints?api-version=2022-09-01'
    answers[url] = document
    with pytest.raises(cloud.CloudConfigError, match=message):
        cloud.from_setting(url, env=_env(tmp_path))
    assert not (tmp_path / 'cache').exists()        # nothing unusable is cached


def test_unreachable_metadata_says_how_to_trust_a_private_ca(tmp_path, monkeypatch):
    monkeypatch.setattr(cloud, '_DISCOVERED', {})
    with pytest.raises(cloud.CloudConfigError, match='REQUESTS_CA_BUNDLE'):
        cloud.from_setting('https://127.0.0.1:1/metadata/endpoints', env=_env(tmp_path))


def test_missing_ca_bundle_file_is_named(tmp_path):
    with pytest.raises(cloud.CloudConfigError, match='REQUESTS_CA_BUNDLE /nonexistent.pem does not exist'):
        cloud.from_setting('https://arm.local', env=_env(tmp_path, REQUESTS_CA_BUNDLE='/nonexistent.pem'))
