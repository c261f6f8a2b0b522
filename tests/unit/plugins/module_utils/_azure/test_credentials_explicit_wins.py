# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An option given as a module parameter wins over every other source, whichever source supplies the credential.

Each source (parameters, environment, profile, Azure CLI, managed identity) is crossed with each parameter it can
take.  Before the fix the environment and profile branches returned their own subscription (a resource group
landed in AZURE_SUBSCRIPTION_ID although subscription_id said otherwise)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure import credentials
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureAuthError

SP_ENV = {'AZURE_CLIENT_ID': 'env-client', 'AZURE_SECRET': 'env-secret', 'AZURE_TENANT': 'env-tenant',
          'AZURE_SUBSCRIPTION_ID': 'env-sub'}
USER_ENV = {'AZURE_AD_USER': 'env@example.com', 'AZURE_PASSWORD': 'env-pw', 'AZURE_TENANT': 'env-tenant',
            'AZURE_SUBSCRIPTION_ID': 'env-sub'}
CERT_ENV = {'AZURE_CLIENT_ID': 'env-client', 'AZURE_CLIENT_CERTIFICATE_PATH': '/env/cert.pem',
            'AZURE_TENANT_ID': 'env-tenant', 'AZURE_SUBSCRIPTION_ID': 'env-sub'}
SP_PROFILE = "[default]\nclient_id=file-client\nsecret=file-secret\ntenant=file-tenant\nsubscription_id=file-sub\n"
USER_PROFILE = "[default]\nad_user=file@example.com\npassword=file-pw\ntenant=file-tenant\nsubscription_id=file-sub\n"
FULL_PARAMS = {'client_id': 'p-client', 'secret': 'p-secret', 'tenant': 'p-tenant'}

# settings attribute of each parameter
ATTRIBUTE = {'subscription_id': 'subscription_id', 'tenant': 'tenant', 'client_id': 'client_id', 'secret': 'secret',
             'ad_user': 'ad_user', 'password': 'password', 'x509_certificate_path': 'certificate_path'}


def resolve(params, env=None, profile_text=None, tmp_path=None, cli=False):
    path = str(tmp_path / 'absent')
    if profile_text is not None:
        path = str(tmp_path / 'credentials')
        (tmp_path / 'credentials').write_text(profile_text)
    return credentials.resolve(params, env=env or {}, profile_path=path, cli_available=cli)


# (source, env, profile, auth_source, parameters that source's credential kind takes)
SOURCES = [
    ('params', SP_ENV, SP_PROFILE, None, ['subscription_id']),
    ('env-secret', SP_ENV, SP_PROFILE, None, ['subscription_id', 'tenant', 'secret']),
    ('env-user', USER_ENV, None, None, ['subscription_id', 'tenant', 'password']),
    ('env-certificate', CERT_ENV, None, None, ['subscription_id', 'tenant', 'x509_certificate_path']),
    ('profile-secret', {'AZURE_SUBSCRIPTION_ID': 'env-sub'}, SP_PROFILE, None,
     ['subscription_id', 'tenant', 'secret']),
    ('profile-user', {'AZURE_SUBSCRIPTION_ID': 'env-sub'}, USER_PROFILE, None,
     ['subscription_id', 'tenant', 'password']),
    ('cli', {'AZURE_SUBSCRIPTION_ID': 'env-sub', 'AZURE_TENANT': 'env-tenant'}, None, None,
     ['subscription_id', 'tenant']),
    ('msi', {'AZURE_SUBSCRIPTION_ID': 'env-sub', 'AZURE_CLIENT_ID': 'env-mi'}, None, 'msi',
     ['subscription_id', 'client_id', 'tenant']),
]
MATRIX = [(source, env, profile, auth, param) for source, env, profile, auth, params in SOURCES for param in params]


@pytest.mark.parametrize('source,env,profile_text,auth_source,param', MATRIX,
                         ids=['%s-%s' % (case[0], case[4]) for case in MATRIX])
def test_explicit_parameter_wins_over_the_source(source, env, profile_text, auth_source, param, tmp_path):
    params = dict(FULL_PARAMS) if source == 'params' else {}
    if auth_source:
        params['auth_source'] = auth_source
    params[param] = 'explicit-value'
    got = resolve(params, env, profile_text, tmp_path, cli=(source == 'cli'))
    assert getattr(got, ATTRIBUTE[param]) == 'explicit-value', (got.source, got.describe())
    expected_kind = {'params': 'secret', 'env-secret': 'secret', 'env-user': 'user', 'env-certificate': 'certificate',
                     'profile-secret': 'secret', 'profile-user': 'user', 'cli': 'cli', 'msi': 'msi'}[source]
    assert got.kind == expected_kind


def test_subscription_parameter_beats_environment_subscription_reported_defect(tmp_path):
    # The measurement: AZURE_SUBSCRIPTION_ID=A and subscription_id: B must work in B.
    got = resolve({'subscription_id': 'B'}, dict(SP_ENV, AZURE_SUBSCRIPTION_ID='A'), None, tmp_path)
    assert got.subscription_id == 'B' and got.client_id == 'env-client'


@pytest.mark.parametrize('env,profile_text', [(SP_ENV, None), ({}, SP_PROFILE)])
def test_another_client_id_never_borrows_the_sources_secret(env, profile_text, tmp_path):
    with pytest.raises(AzureAuthError, match='client_id from module parameters'):
        resolve({'client_id': 'someone-else'}, env, profile_text, tmp_path)


def test_another_ad_user_never_signs_in_as_the_environments_service_principal(tmp_path):
    with pytest.raises(AzureAuthError, match='ad_user from module parameters'):
        resolve({'ad_user': 'other@example.com'}, SP_ENV, None, tmp_path)


def test_other_client_id_with_its_own_secret_keeps_the_environments_tenant(tmp_path):
    got = resolve({'client_id': 'p-client', 'secret': 'p-secret'}, SP_ENV, None, tmp_path)
    expected = ('p-client', 'p-secret', 'env-tenant', 'env-sub')
    assert (got.client_id, got.secret, got.tenant, got.subscription_id) == expected


def test_partial_parameters_never_fall_back_to_the_cli(tmp_path):
    with pytest.raises(AzureAuthError, match='incomplete credentials from module parameters'):
        resolve({'client_id': 'c'}, {}, None, tmp_path, cli=True)


def test_tenant_parameter_selects_the_cli_tenant(tmp_path):
    got = resolve({'tenant': 't2'}, {}, None, tmp_path, cli=True)
    assert (got.kind, got.tenant) == ('cli', 't2')


def test_source_names_the_overridden_parameters(tmp_path):
    got = resolve({'tenant': 't2', 'subscription_id': 's2'}, SP_ENV, None, tmp_path)
    assert got.source == 'environment variables (tenant from module parameters)'


@pytest.mark.parametrize('param', ['secret', 'password', 'ad_user', 'x509_certificate_path'])
def test_managed_identity_refuses_parameters_it_would_ignore(param, tmp_path):
    with pytest.raises(AzureAuthError, match='auth_source=msi .* %s would be ignored' % param):
        resolve({'auth_source': 'msi', param: 'x'}, {}, None, tmp_path)
