# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure import credentials
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureAuthError

PARAMS = {'client_id': 'p-client', 'secret': 'p-secret', 'tenant': 'p-tenant', 'subscription_id': 'p-sub'}
ENV = {'AZURE_CLIENT_ID': 'e-client', 'AZURE_SECRET': 'e-secret', 'AZURE_TENANT': 'e-tenant',
       'AZURE_SUBSCRIPTION_ID': 'e-sub'}
PROFILE = "[default]\nclient_id=f-client\nsecret=f-secret\ntenant=f-tenant\nsubscription_id=f-sub\n" \
          "[other]\nad_user=u@example.com\npassword=pw\nsubscription_id=o-sub\n"


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / 'credentials'
    path.write_text(PROFILE)
    return str(path)


# params > env > profile > CLI
@pytest.mark.parametrize('params,env,has_profile,cli,expected', [
    (PARAMS, ENV, True, True, ('module parameters', 'p-client', 'p-sub')),
    ({}, ENV, True, True, ('environment variables', 'e-client', 'e-sub')),
    ({}, {}, True, True, ('profile default', 'f-client', 'f-sub')),
    ({}, {}, False, True, ('Azure CLI', None, None)),
    ({'subscription_id': 'p-sub'}, ENV, True, True, ('environment variables', 'e-client', 'p-sub')),
])
def test_credential_precedence(params, env, has_profile, cli, expected, profile, tmp_path):
    path = profile if has_profile else str(tmp_path / 'absent')
    got = credentials.resolve(params, env=env, profile_path=path, cli_available=cli)
    assert (got.source, got.client_id, got.subscription_id) == expected


def test_params_subscription_overrides_profile_subscription(profile):
    got = credentials.resolve({'subscription_id': 'p-sub'}, env={}, profile_path=profile, cli_available=False)
    assert got.subscription_id == 'p-sub' and got.client_id == 'f-client'


def test_params_credentials_take_env_subscription_when_none_given():
    got = credentials.resolve({'client_id': 'c', 'secret': 's', 'tenant': 't'}, env=ENV, cli_available=False)
    assert got.subscription_id == 'e-sub' and got.secret == 's'


def test_azure_identity_env_names_work():
    env = {'AZURE_CLIENT_ID': 'c', 'AZURE_CLIENT_SECRET': 's', 'AZURE_TENANT_ID': 't', 'AZURE_SUBSCRIPTION_ID': 'x'}
    got = credentials.resolve({}, env=env, cli_available=False)
    assert (got.kind, got.secret, got.tenant) == ('secret', 's', 't')


def test_federated_token_from_env():
    env = {'AZURE_CLIENT_ID': 'c', 'AZURE_TENANT_ID': 't', 'AZURE_FEDERATED_TOKEN_FILE': '/var/run/token'}
    got = credentials.resolve({}, env=env, cli_available=False)
    assert got.kind == 'federated' and got.federated_token_file == '/var/run/token'


def test_named_profile_with_user_password(profile):
    got = credentials.resolve({'profile': 'other'}, env={}, profile_path=profile, cli_available=False)
    assert (got.kind, got.ad_user, got.subscription_id) == ('user', 'u@example.com', 'o-sub')
    assert got.client_id == credentials.CLI_CLIENT_ID


def test_missing_named_profile_is_reported(profile):
    with pytest.raises(AzureAuthError, match="profile 'nope' not found"):
        credentials.resolve({'profile': 'nope'}, env={}, profile_path=profile, cli_available=False)


def test_incomplete_params_name_what_is_missing():
    with pytest.raises(AzureAuthError, match='need a tenant'):
        credentials.resolve({'client_id': 'c', 'secret': 's'}, env={}, cli_available=False)
    with pytest.raises(AzureAuthError, match='incomplete credentials from module parameters: got secret'):
        credentials.resolve({'secret': 's'}, env={}, cli_available=False)


def test_nothing_found_explains_every_option(tmp_path):
    with pytest.raises(AzureAuthError) as exc:
        credentials.resolve({}, env={}, profile_path=str(tmp_path / 'x'), cli_available=False)
    for hint in ('AZURE_CLIENT_ID', '~/.azure/credentials', 'Azure CLI', 'auth_source=msi'):
        assert hint in str(exc.value)


def test_explicit_auth_source_env_ignores_profile(profile):
    with pytest.raises(AzureAuthError, match='auth_source=env'):
        credentials.resolve({'auth_source': 'env'}, env={}, profile_path=profile, cli_available=True)


def test_explicit_auth_source_cli_without_az():
    with pytest.raises(AzureAuthError, match='not on PATH'):
        credentials.resolve({'auth_source': 'cli'}, env={}, cli_available=False)


def test_msi_takes_user_assigned_client_id_from_env():
    got = credentials.resolve({'auth_source': 'msi'}, env={'AZURE_CLIENT_ID': 'mi', 'AZURE_SUBSCRIPTION_ID': 's'})
    assert (got.kind, got.client_id, got.subscription_id) == ('msi', 'mi', 's')


def test_describe_and_cache_key_never_contain_the_secret():
    got = credentials.resolve(PARAMS, env={}, cli_available=False)
    assert 'p-secret' not in got.describe()
    assert 'p-secret' not in got.cache_key('https://login')
    other = credentials.resolve(dict(PARAMS, secret='rotated'), env={}, cli_available=False)
    assert got.cache_key('https://login') != other.cache_key('https://login')
