# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud endpoints: the public, China and US Government clouds by name, or a custom cloud.

Pure Python (no Ansible, no SDK import) so it is unit-tested directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os


class CloudConfigError(ValueError):
    """The cloud_environment setting cannot be used; the message says how to fix it."""


CUSTOM_KEYS = ('arm_endpoint', 'authority_host', 'keyvault_dns_suffix', 'attestation_endpoint', 'ca_bundle',
               'graph_endpoint', 'name')
REQUIRED_CUSTOM_KEYS = ('arm_endpoint', 'authority_host', 'keyvault_dns_suffix')


class CloudEnvironment:
    """Endpoints of one Azure cloud. URLs are stored without a trailing slash."""

    def __init__(self, name, arm_endpoint, authority_host, keyvault_dns_suffix,
                 attestation_endpoint=None, graph_endpoint=None, ca_bundle=None):
        self.name = name
        self.arm_endpoint = _strip(arm_endpoint)
        self.authority_host = _strip(authority_host)
        self.keyvault_dns_suffix = keyvault_dns_suffix.strip('.').lower()
        self.attestation_endpoint = _strip(attestation_endpoint) if attestation_endpoint else None
        self.graph_endpoint = _strip(graph_endpoint) if graph_endpoint else self.arm_endpoint
        self.ca_bundle = ca_bundle

    @property
    def arm_scope(self):
        return self.arm_endpoint + '/.default'

    @property
    def keyvault_scope(self):
        return 'https://%s/.default' % self.keyvault_dns_suffix

    @property
    def graph_scope(self):
        return self.graph_endpoint + '/.default'

    def vault_url(self, vault_name):
        return 'https://%s.%s/' % (vault_name, self.keyvault_dns_suffix)

    def to_dict(self):
        return dict(name=self.name, arm_endpoint=self.arm_endpoint, authority_host=self.authority_host,
                    keyvault_dns_suffix=self.keyvault_dns_suffix, attestation_endpoint=self.attestation_endpoint,
                    graph_endpoint=self.graph_endpoint, ca_bundle=self.ca_bundle)


def _strip(url):
    return url.rstrip('/') if url else url


KNOWN_CLOUDS = {
    'AzureCloud': dict(arm_endpoint='https://management.azure.com',
                       authority_host='https://login.microsoftonline.com',
                       keyvault_dns_suffix='vault.azure.net',
                       graph_endpoint='https://graph.microsoft.com'),
    'AzureChinaCloud': dict(arm_endpoint='https://management.chinacloudapi.cn',
                            authority_host='https://login.chinacloudapi.cn',
                            keyvault_dns_suffix='vault.azure.cn',
                            graph_endpoint='https://microsoftgraph.chinacloudapi.cn'),
    'AzureUSGovernment': dict(arm_endpoint='https://management.usgovcloudapi.net',
                              authority_host='https://login.microsoftonline.us',
                              keyvault_dns_suffix='vault.usgovcloudapi.net',
                              graph_endpoint='https://graph.microsoft.us'),
}

ALIASES = {
    'azurecloud': 'AzureCloud', 'azure_public_cloud': 'AzureCloud', 'public': 'AzureCloud',
    'azurechinacloud': 'AzureChinaCloud', 'azure_china_cloud': 'AzureChinaCloud', 'china': 'AzureChinaCloud',
    'azureusgovernment': 'AzureUSGovernment', 'azure_us_government': 'AzureUSGovernment',
    'azureusgovernmentcloud': 'AzureUSGovernment', 'usgovernment': 'AzureUSGovernment',
}


def from_setting(value, env=None):
    """Build a CloudEnvironment from the cloud_environment option or AZURE_CLOUD_ENVIRONMENT.

    value may be None (then the environment variable, then the public cloud), a cloud name,
    a dict of custom endpoints, a JSON object string, or the path of a JSON file with those keys.
    """
    env = os.environ if env is None else env
    if value is None or value == '':
        value = env.get('AZURE_CLOUD_ENVIRONMENT') or 'AzureCloud'
    if isinstance(value, dict):
        return _custom(value, 'cloud_environment')
    if not isinstance(value, str):
        raise CloudConfigError('cloud_environment must be a cloud name, a dict of endpoints or a path to a JSON file')
    text = value.strip()
    canonical = ALIASES.get(text.lower().replace('-', '_').replace(' ', '_'), text)
    if canonical in KNOWN_CLOUDS:
        return CloudEnvironment(canonical, **KNOWN_CLOUDS[canonical])
    if text.startswith('{'):
        return _custom(_load_json(text, 'cloud_environment'), 'cloud_environment')
    path = os.path.expanduser(text)
    if os.path.isfile(path):
        with open(path) as handle:
            data = _load_json(handle.read(), path)
        data = data.get('cloud_environment', data)
        return _custom(data, path)
    if text.lower().startswith('https://'):
        raise CloudConfigError(
            "cloud_environment %r looks like a metadata URL; pass a dict or a JSON file with arm_endpoint, "
            "authority_host and keyvault_dns_suffix instead (no endpoint discovery is made)" % text)
    raise CloudConfigError(
        "cloud_environment %r is not a known cloud (%s) nor an existing JSON file; pass one of those names, "
        "a dict with %s, or the path of a JSON file with those keys"
        % (text, ', '.join(sorted(KNOWN_CLOUDS)), ', '.join(REQUIRED_CUSTOM_KEYS)))


def _load_json(text, where):
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CloudConfigError('cloud_environment: %s is not valid JSON (%s)' % (where, exc))
    if not isinstance(data, dict):
        raise CloudConfigError('cloud_environment: %s must hold a JSON object' % where)
    return data


def _custom(data, where):
    unknown = sorted(set(data) - set(CUSTOM_KEYS))
    if unknown:
        raise CloudConfigError('cloud_environment (%s): unknown key(s) %s; allowed keys are %s'
                               % (where, ', '.join(unknown), ', '.join(CUSTOM_KEYS)))
    missing = [key for key in REQUIRED_CUSTOM_KEYS if not data.get(key)]
    if missing:
        raise CloudConfigError('cloud_environment (%s): missing %s' % (where, ', '.join(missing)))
    for key in ('arm_endpoint', 'authority_host', 'attestation_endpoint', 'graph_endpoint'):
        url = data.get(key)
        if url and not str(url).lower().startswith('https://'):
            raise CloudConfigError('cloud_environment (%s): %s must be an https:// URL (got %r); Azure clients '
                                   'refuse to send tokens over plain http' % (where, key, url))
    ca_bundle = data.get('ca_bundle')
    if ca_bundle:
        ca_bundle = os.path.expanduser(ca_bundle)
        if not os.path.isfile(ca_bundle):
            raise CloudConfigError('cloud_environment (%s): ca_bundle %s does not exist' % (where, ca_bundle))
    return CloudEnvironment(data.get('name') or 'custom', data['arm_endpoint'], data['authority_host'],
                            data['keyvault_dns_suffix'], attestation_endpoint=data.get('attestation_endpoint'),
                            graph_endpoint=data.get('graph_endpoint'), ca_bundle=ca_bundle)
