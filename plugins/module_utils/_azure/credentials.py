# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which credential to use, decided from module parameters, environment, profile file and the Azure CLI.

Precedence (auth_source=auto): explicit parameters > environment variables > profile file > Azure CLI.
Whatever source supplies the credential, an option given as a module parameter wins over that source's value.
Resolution is pure (no SDK import); build() imports azure.identity lazily.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil

try:
    import configparser
except ImportError:  # pragma: no cover
    import ConfigParser as configparser  # type: ignore

from .errors import AzureAuthError

# Same names as azure.azcollection (AWX's Azure credential injects the first four), then azure-identity's own.
ENV_MAPPING = {
    'subscription_id': ('AZURE_SUBSCRIPTION_ID',),
    'client_id': ('AZURE_CLIENT_ID',),
    'secret': ('AZURE_SECRET', 'AZURE_CLIENT_SECRET'),
    'tenant': ('AZURE_TENANT', 'AZURE_TENANT_ID'),
    'ad_user': ('AZURE_AD_USER', 'AZURE_USERNAME'),
    'password': ('AZURE_PASSWORD',),
    'profile': ('AZURE_PROFILE',),
    'x509_certificate_path': ('AZURE_X509_CERTIFICATE_PATH', 'AZURE_CLIENT_CERTIFICATE_PATH'),
    'thumbprint': ('AZURE_THUMBPRINT',),
    'adfs_authority_url': ('AZURE_ADFS_AUTHORITY_URL',),
    'cert_validation_mode': ('AZURE_CERT_VALIDATION_MODE',),
    'federated_token_file': ('AZURE_FEDERATED_TOKEN_FILE',),
    'authority_host': ('AZURE_AUTHORITY_HOST',),
}
CREDENTIAL_KEYS = ('client_id', 'secret', 'tenant', 'ad_user', 'password', 'x509_certificate_path')
# The Azure CLI's public client id, used for user/password sign-in (as azure.azcollection does).
CLI_CLIENT_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46'
DEFAULT_PROFILE_PATH = '~/.azure/credentials'


class CredentialSettings:
    """A resolved credential: kind is one of secret, certificate, user, federated, msi, cli."""

    def __init__(self, kind, source, subscription_id=None, client_id=None, secret=None, tenant=None,
                 ad_user=None, password=None, certificate_path=None, federated_token_file=None):
        self.kind = kind
        self.source = source
        self.subscription_id = subscription_id
        self.client_id = client_id
        self.secret = secret
        self.tenant = tenant
        self.ad_user = ad_user
        self.password = password
        self.certificate_path = certificate_path
        self.federated_token_file = federated_token_file

    def cache_key(self, authority):
        """Identifies the identity (not the secret) for the opt-in token cache; the secret only as a hash."""
        secret_hash = hashlib.sha256((self.secret or self.password or '').encode('utf-8')).hexdigest()
        raw = json.dumps([self.kind, authority, self.tenant, self.client_id, self.ad_user, secret_hash])
        return hashlib.sha256(raw.encode('utf-8')).hexdigest()

    def describe(self):
        """Safe to log: no secret."""
        return '%s credential from %s (client_id=%s, tenant=%s)' % (
            self.kind, self.source, self.client_id, self.tenant)


def env_value(env, key):
    for name in ENV_MAPPING.get(key, ()):
        if env.get(name):
            return env[name]
    return None


def _from_mapping(values, source):
    """A credential from explicit values (parameters, environment or a profile section), or None."""
    subscription_id = values.get('subscription_id')
    if values.get('client_id') and values.get('secret'):
        _need_tenant(values, source, 'client_id and secret')
        return CredentialSettings('secret', source, subscription_id, values['client_id'], values['secret'],
                                  values['tenant'])
    if values.get('client_id') and values.get('x509_certificate_path'):
        _need_tenant(values, source, 'client_id and x509_certificate_path')
        return CredentialSettings('certificate', source, subscription_id, values['client_id'], None,
                                  values['tenant'], certificate_path=values['x509_certificate_path'])
    if values.get('ad_user') and values.get('password'):
        return CredentialSettings('user', source, subscription_id, values.get('client_id') or CLI_CLIENT_ID,
                                  None, values.get('tenant') or 'organizations', values['ad_user'],
                                  values['password'])
    if values.get('client_id') and values.get('federated_token_file'):
        _need_tenant(values, source, 'client_id and a federated token file')
        return CredentialSettings('federated', source, subscription_id, values['client_id'], None, values['tenant'],
                                  federated_token_file=values['federated_token_file'])
    partial = [k for k in CREDENTIAL_KEYS if values.get(k)]
    if partial:
        raise AzureAuthError(
            'incomplete credentials from %s: got %s; give client_id + secret + tenant (service principal), '
            'client_id + x509_certificate_path + tenant (certificate), or ad_user + password'
            % (source, ', '.join(partial)))
    return None


def _need_tenant(values, source, what):
    if not values.get('tenant'):
        raise AzureAuthError('%s from %s need a tenant: set tenant (or AZURE_TENANT / AZURE_TENANT_ID)'
                             % (what, source))


def read_profile(path, name):
    """One section of an azure.azcollection-style credentials file, or None when the file is absent."""
    path = os.path.expanduser(path or DEFAULT_PROFILE_PATH)
    if not os.path.isfile(path):
        return None
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section(name):
        if name == 'default':
            return None
        sections = ', '.join(parser.sections()) or 'none'
        raise AzureAuthError('profile %r not found in %s (sections: %s)' % (name, path, sections))
    return dict(parser.items(name))


#: Keys that name the identity; the secret-like keys of a source belong to the identity that source names.
_IDENTITY_KEYS = ('client_id', 'ad_user')
_SECRET_KEYS = ('secret', 'password', 'x509_certificate_path', 'federated_token_file')


def explicit_params(params):
    """The credential and subscription options given as module parameters (None and '' mean not given)."""
    keys = CREDENTIAL_KEYS + ('subscription_id', 'federated_token_file')
    return dict((key, params[key]) for key in keys if params.get(key) not in (None, ''))


def overlay(values, explicit):
    """A source's values with every explicit parameter on top.

    A secret, password, certificate or token file of the source is dropped when a parameter names another
    identity (a client_id or ad_user the source does not have): it belongs to the source's identity, never
    to the one asked for, so the result is then incomplete and says so instead of signing in as someone else.
    """
    merged = dict((key, value) for key, value in (values or {}).items() if value not in (None, ''))
    if any(explicit.get(ident) and explicit[ident] != merged.get(ident) for ident in _IDENTITY_KEYS):
        for key in _SECRET_KEYS:
            merged.pop(key, None)
    merged.update(explicit)
    return merged


def resolve(params, env=None, profile_path=None, cli_available=None):
    """Return CredentialSettings for params (module options) following the documented precedence.

    Sources are tried in order (parameters, environment, profile, managed identity or CLI); whichever source
    supplies the credential, every option given as a module parameter (subscription_id, tenant, client_id, ...)
    wins over the value that source has.
    """
    env = os.environ if env is None else env
    source = params.get('auth_source') or 'auto'
    if source == 'auto' and env.get('ANSIBLE_AZURE_AUTH_SOURCE'):
        source = env['ANSIBLE_AZURE_AUTH_SOURCE']
    explicit = explicit_params(params)
    env_values = dict((key, env_value(env, key)) for key in ENV_MAPPING)

    def settled(found, source_subscription=None):
        found.subscription_id = (explicit.get('subscription_id') or source_subscription
                                 or env_values.get('subscription_id'))
        return found

    partial_error = None
    if source in ('auto', 'params'):
        try:
            found = _from_mapping(explicit, 'module parameters')
        except AzureAuthError as exc:
            found, partial_error = None, exc
        if found:
            return settled(found)
    env_has_credential = any(env_values.get(key) for key in _IDENTITY_KEYS + _SECRET_KEYS)
    if source in ('auto', 'env') and env_has_credential:
        found = _from_mapping(overlay(env_values, explicit), _named('environment variables', explicit))
        if found:
            return settled(found, env_values.get('subscription_id'))
    if source == 'env':
        raise AzureAuthError('auth_source=env but no credentials in the environment: set AZURE_CLIENT_ID, '
                             'AZURE_SECRET and AZURE_TENANT (or AZURE_AD_USER and AZURE_PASSWORD)')
    if source in ('auto', 'credential_file'):
        name = params.get('profile') or env_value(env, 'profile') or 'default'
        section = read_profile(profile_path, name)
        if section:
            found = _from_mapping(overlay(section, explicit), _named('profile %s' % name, explicit))
            if found:
                return settled(found, section.get('subscription_id'))
        if source == 'credential_file':
            raise AzureAuthError('auth_source=credential_file but profile %r in %s has no credentials'
                                 % (name, profile_path or DEFAULT_PROFILE_PATH))
    if source == 'msi':
        ignored = sorted(key for key in explicit if key in _SECRET_KEYS + ('ad_user',))
        if ignored:
            raise AzureAuthError('auth_source=msi signs in as the managed identity, so %s would be ignored: drop it '
                                 'or use another auth_source' % ', '.join(ignored))
        return settled(CredentialSettings('msi', 'managed identity', tenant=explicit.get('tenant'),
                                          client_id=explicit.get('client_id') or env_values.get('client_id')))
    if partial_error is not None and set(explicit) - set(['subscription_id', 'tenant']):
        # Credentials were given as parameters but not completely: never fall back to another identity.
        raise partial_error
    available = cli_available if cli_available is not None else bool(shutil.which('az'))
    if source == 'cli' or (source == 'auto' and available):
        if not available:
            raise AzureAuthError('auth_source=cli but the Azure CLI (az) is not on PATH')
        return settled(CredentialSettings('cli', 'Azure CLI', tenant=explicit.get('tenant')))
    if partial_error is not None:
        raise partial_error
    raise AzureAuthError(
        'no Azure credentials found: pass client_id, secret and tenant (or set AZURE_CLIENT_ID, AZURE_SECRET, '
        'AZURE_TENANT), use a profile in ~/.azure/credentials, log in with the Azure CLI, or set auth_source=msi')


def _named(source, explicit):
    overridden = sorted(key for key in explicit if key != 'subscription_id')
    return '%s (%s from module parameters)' % (source, ', '.join(overridden)) if overridden else source


def cli_subscription_id(run_command):
    """The Azure CLI's current subscription, None when unavailable.

    run_command(args) -> (rc, stdout, stderr): AnsibleModule.run_command in modules, a subprocess wrapper
    in controller-side plugins.
    """
    try:
        rc, out, dummy = run_command(['az', 'account', 'show', '--query', 'id', '-o', 'tsv'])
    except OSError:
        return None
    if rc != 0:
        return None
    return (out.decode() if isinstance(out, bytes) else out).strip() or None


def build(settings, authority, connection_verify=True, disable_instance_discovery=False):
    """Create the azure-identity credential for settings (lazy import)."""
    from azure import identity  # pylint: disable=import-outside-toplevel

    common = dict(connection_verify=connection_verify)
    if authority:
        common['authority'] = authority
    if disable_instance_discovery:
        common['disable_instance_discovery'] = True
    kind = settings.kind
    if kind == 'secret':
        return identity.ClientSecretCredential(settings.tenant, settings.client_id, settings.secret, **common)
    if kind == 'certificate':
        return identity.CertificateCredential(settings.tenant, settings.client_id, settings.certificate_path,
                                              **common)
    if kind == 'user':
        return identity.UsernamePasswordCredential(settings.client_id, settings.ad_user, settings.password,
                                                   tenant_id=settings.tenant, **common)
    if kind == 'federated':
        return identity.WorkloadIdentityCredential(tenant_id=settings.tenant, client_id=settings.client_id,
                                                   token_file_path=settings.federated_token_file, **common)
    if kind == 'msi':
        if settings.client_id:
            return identity.ManagedIdentityCredential(client_id=settings.client_id,
                                                      connection_verify=connection_verify)
        return identity.ManagedIdentityCredential(connection_verify=connection_verify)
    if kind == 'cli':
        if settings.tenant:
            return identity.AzureCliCredential(tenant_id=settings.tenant)
        return identity.AzureCliCredential()
    raise AzureAuthError('unknown credential kind %r' % kind)
