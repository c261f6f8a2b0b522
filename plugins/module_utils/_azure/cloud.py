# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud endpoints: the public, China and US Government clouds by name, or a custom cloud.

A custom cloud is a dict, a JSON file, or (as azure.azcollection and the Azure CLI take it) an ARM metadata
endpoint URL, discovered once and cached. Pure Python (no Ansible, no SDK import) so it is unit-tested directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import stat
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit


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
    if text.lower().startswith(('https://', 'http://')):
        return from_metadata_url(text, env)
    raise CloudConfigError(
        "cloud_environment %r is not a known cloud (%s) nor an existing JSON file; pass one of those names, "
        "a dict with %s, the path of a JSON file with those keys, or an ARM metadata URL "
        "(https://<arm>/metadata/endpoints?api-version=2022-09-01)"
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


# -- ARM metadata endpoint (what azure.azcollection, the Azure CLI and Azure Stack Hub use for a custom cloud) --------

METADATA_API_VERSION = '2022-09-01'
METADATA_MAX_BYTES = 1024 * 1024
METADATA_CACHE_TTL = 3600
METADATA_CACHE_ENV = 'CONFIDENTIAL_AZURE_METADATA_CACHE'
_DISCOVERED = {}


def metadata_url(text):
    """The URL to read: as given when it names /metadata/endpoints (api-version added when missing), otherwise the
    ARM base URL azure.azcollection takes, completed to <arm>/metadata/endpoints?api-version=..."""
    parsed = urlsplit(text.strip())
    if parsed.scheme.lower() != 'https' or not parsed.netloc:
        raise CloudConfigError('cloud_environment %r: a metadata URL must be https://<arm host>/metadata/endpoints'
                               '?api-version=%s (Azure clients refuse to send tokens over plain http)'
                               % (text, METADATA_API_VERSION))
    path = parsed.path.rstrip('/')
    if not path.lower().endswith('/metadata/endpoints'):
        path += '/metadata/endpoints'
    query = parsed.query
    if 'api-version=' not in query.lower():
        query = (query + '&' if query else '') + 'api-version=' + METADATA_API_VERSION
    return urlunsplit(('https', parsed.netloc, path, query, ''))


def from_metadata_url(text, env):
    """Discover a cloud from its ARM metadata endpoint; read once per process and cached on disk for an hour."""
    url = metadata_url(text)
    ca_bundle = env.get('REQUESTS_CA_BUNDLE') or None
    if ca_bundle and not os.path.isfile(os.path.expanduser(ca_bundle)):
        raise CloudConfigError('cloud_environment: REQUESTS_CA_BUNDLE %s does not exist' % ca_bundle)
    document = _DISCOVERED.get(url)
    cached = document is not None
    if document is None:
        document = _read_cache(url, env)
        cached = document is not None
    if document is None:
        document = _fetch(url, ca_bundle)
    result = parse_metadata(document, url, ca_bundle)
    _DISCOVERED[url] = document
    if not cached:
        _write_cache(url, document, env)
    return result


def parse_metadata(document, url, ca_bundle=None):
    """A CloudEnvironment from a metadata document: a list of clouds (api-version 2022-09-01) or one cloud."""
    entry = _pick_cloud(document, url)
    auth = entry.get('authentication') if isinstance(entry.get('authentication'), dict) else {}
    suffixes = entry.get('suffixes') if isinstance(entry.get('suffixes'), dict) else {}
    data = dict(arm_endpoint=entry.get('resourceManager'), authority_host=auth.get('loginEndpoint'),
                keyvault_dns_suffix=suffixes.get('keyVaultDns'), graph_endpoint=entry.get('microsoftGraphResourceId'),
                ca_bundle=ca_bundle)
    missing = [name for name, key in (('resourceManager', 'arm_endpoint'), ('authentication.loginEndpoint',
                                      'authority_host'), ('suffixes.keyVaultDns', 'keyvault_dns_suffix'))
               if not isinstance(data[key], str) or not data[key]]
    if missing:
        raise CloudConfigError('cloud_environment: the metadata at %s has no %s; use api-version=%s, or give a JSON '
                               'file with arm_endpoint, authority_host and keyvault_dns_suffix'
                               % (url, ', '.join(missing), METADATA_API_VERSION))
    data['name'] = _metadata_name(entry.get('name'), data['arm_endpoint'])
    return _custom(dict((k, v) for k, v in data.items() if v), url)


def _pick_cloud(document, url):
    if isinstance(document, dict):
        return document
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise CloudConfigError('cloud_environment: the metadata at %s is neither a cloud nor a list of clouds' % url)
    host = urlsplit(url).netloc.lower()
    for entry in document:
        arm = entry.get('resourceManager')
        if isinstance(arm, str) and urlsplit(arm).netloc.lower() == host:
            return entry
    if len(document) == 1:
        return document[0]
    raise CloudConfigError('cloud_environment: the metadata at %s lists no cloud whose resourceManager is %s'
                           % (url, host))


def _metadata_name(name, arm_endpoint):
    """Keep a well-known name only when it really is that cloud: the name decides authority and discovery rules."""
    if not isinstance(name, str) or not name:
        return 'custom'
    known = KNOWN_CLOUDS.get(name)
    if known is not None and _strip(arm_endpoint).lower() != known['arm_endpoint']:
        return 'custom'
    return name


def _fetch(url, ca_bundle, timeout=30):
    from urllib.error import HTTPError, URLError
    from ansible.module_utils.urls import open_url

    try:
        resp = open_url(url, headers={'Accept': 'application/json'}, timeout=timeout, validate_certs=True,
                        ca_path=os.path.expanduser(ca_bundle) if ca_bundle else None)
        try:
            body = resp.read(METADATA_MAX_BYTES + 1)
        finally:
            resp.close()
    except HTTPError as exc:
        raise CloudConfigError('cloud_environment: %s answered HTTP %s; check the ARM endpoint of the URL'
                               % (url, exc.code))
    except (URLError, OSError, ValueError) as exc:
        reason = getattr(exc, 'reason', exc)
        raise CloudConfigError('cloud_environment: cannot read the cloud metadata from %s (%s); check the URL, and for '
                               'a private CA set REQUESTS_CA_BUNDLE to its PEM file' % (url, reason))
    if len(body) > METADATA_MAX_BYTES:
        raise CloudConfigError('cloud_environment: the metadata at %s is larger than %d bytes' % (url, METADATA_MAX_BYTES))
    try:
        return json.loads(body.decode('utf-8'))
    except ValueError as exc:
        raise CloudConfigError('cloud_environment: the metadata at %s is not JSON (%s)' % (url, exc))


def _cache_path(url, env):
    setting = env.get(METADATA_CACHE_ENV) or ''
    if setting.lower() == 'off':
        return None
    base = env.get('XDG_CACHE_HOME') or os.path.join(env.get('HOME') or os.path.expanduser('~'), '.cache')
    directory = setting or os.path.join(base, 'confidential-azure', 'cloud-metadata')
    return os.path.join(directory, hashlib.sha256(url.encode('utf-8')).hexdigest() + '.json')


def _private(info):
    # endpoints decide where tokens go: trust only a cache nobody else could have written
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read_cache(url, env, now=None):
    path = _cache_path(url, env)
    if not path:
        return None
    try:
        info, dir_info = os.lstat(path), os.stat(os.path.dirname(path))
        if not stat.S_ISREG(info.st_mode) or not (_private(info) and _private(dir_info)):
            return None
        if (now or time.time()) - info.st_mtime > METADATA_CACHE_TTL or info.st_size > METADATA_MAX_BYTES:
            return None
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get('url') != url:
        return None
    return data.get('document')


def _write_cache(url, document, env):
    path = _cache_path(url, env)
    if not path:
        return
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
        with os.fdopen(handle, 'w') as out:
            json.dump(dict(url=url, document=document), out)
        os.replace(tmp, path)
    except OSError:
        pass  # no cache only costs one GET per task
