# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""403 right after a grant: the Key Vault client retries with a bounded backoff, says what it waited for, and a
403 that outlasts the wait fails naming the missing permission.  Also the principal read from the access token."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure import access, errors, principal
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import api as kv_api

KV = 'https://kv1.vault.azure.net'
OID = '11111111-2222-3333-4444-555555555555'
POLICY_403 = {'error': {'code': 'Forbidden', 'message': "The user, group or application 'appid=a;oid=%s;iss=https://"
                        "sts.windows.net/t/' does not have keys create permission on key vault 'kv1;location=eastus'. "
                        "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"
                        % OID, 'innererror': {'code': 'AccessDenied'}}}
RBAC_403 = {'error': {'code': 'Forbidden', 'message': "Caller is not authorized to perform action on resource.\r\nIf "
                      "role assignments, deny assignments or role definitions were changed recently, please observe "
                      "propagation time.\r\nCaller: appid=a;oid=%s;iss=https://sts.windows.net/t/\r\nAction: "
                      "'Microsoft.KeyVault/vaults/keys/create/action'\r\nResource: '/subscriptions/s/keys/cmk'" % OID,
                      'innererror': {'code': 'ForbiddenByRbac'}}}
FIREWALL_403 = {'error': {'code': 'Forbidden', 'message': 'Client address is not authorized and caller is not a '
                          'trusted service.', 'innererror': {'code': 'ForbiddenByFirewall'}}}
CREATED = {'key': {'kid': KV + '/keys/cmk/0123'}}


def key_client(answers, access_timeout=300):
    """The real KeyClient (SdkClients.keys) over scripted HTTP answers; the vault's challenge is known already."""
    from ansible_collections.confidential.azure.plugins.module_utils._azure import clients
    from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._azure import test_clients as http

    kv_api.seed_challenge(KV + '/', 'Bearer authorization="https://login.example.test/t", '
                                    'resource="https://vault.azure.net"')
    adapter = http.Scripted([(status, {}, payload) for status, payload in answers])
    sleeps = []
    sdk = clients.SdkClients(http.Session(access_timeout), transport=http.Transport(adapter), sleep=sleeps.append)
    return sdk, sdk.keys(KV), adapter, sleeps


def test_403_right_after_a_grant_is_retried_until_it_is_granted():
    sdk, keys, _adapter, sleeps = key_client([(403, POLICY_403), (403, POLICY_403), (200, CREATED)])
    assert kv_api.create_key(keys, 'cmk', {'kty': 'RSA-HSM'}) == CREATED
    assert sleeps == [2.0, 4.0]
    (wait,) = [w.to_dict() for w in sdk.access_waits]
    assert wait == {'request': 'POST %s/keys/cmk/create' % KV, 'waited_seconds': 6.0, 'attempts': 3,
                    'waited_for': 'keys create permission', 'principal_id': OID, 'outcome': 'granted'}


def test_403_that_outlasts_the_wait_fails_with_the_permission_and_the_fix():
    sdk, keys, _adapter, sleeps = key_client([(403, RBAC_403)] * 20, access_timeout=60)
    with pytest.raises(errors.AzureApiError) as exc:
        kv_api.create_key(keys, 'cmk', {'kty': 'RSA-HSM'})
    text = exc.value.summary()
    assert sum(sleeps) == 60 and max(sleeps) <= 30
    assert 'still refused (403) after waiting 60 s for data action Microsoft.KeyVault/vaults/keys/create/action' in text
    assert 'Key Vault Crypto Officer' in text and 'grant_automation_principal' in text
    assert sdk.access_waits[0].to_dict()['outcome'] == 'still denied'


def test_default_wait_is_five_minutes_in_bounded_steps():
    steps = access.delays(access.DEFAULT_TIMEOUT)
    assert sum(steps) == 300 and max(steps) == 30 and steps[:4] == [2.0, 4.0, 8.0, 16.0]


@pytest.mark.parametrize('body', [FIREWALL_403, {'error': {'code': 'Forbidden', 'message': 'x',
                                                           'innererror': {'code': 'ForbiddenByPolicy'}}}])
def test_403_no_grant_can_cure_is_not_waited_for(body):
    sdk, keys, _adapter, sleeps = key_client([(403, body)])
    with pytest.raises(errors.AzureApiError):
        kv_api.get_key(keys, 'cmk')
    assert sleeps == [] and sdk.access_waits == []


def test_zero_timeout_does_not_wait():
    _sdk, keys, _adapter, sleeps = key_client([(403, POLICY_403)], access_timeout=0)
    with pytest.raises(errors.AzureApiError) as exc:
        kv_api.get_key(keys, 'cmk')
    assert sleeps == [] and 'keys create permission' in exc.value.summary()


def test_missing_permission_is_read_from_both_vault_kinds():
    assert access.missing_permission(POLICY_403) == 'keys create permission'
    assert access.missing_permission(RBAC_403) == 'data action Microsoft.KeyVault/vaults/keys/create/action'


def jwt(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip('=')
    return '%s.%s.sig' % (part({'alg': 'RS256'}), part(claims))


@pytest.mark.parametrize('claims, kind', [
    ({'oid': OID, 'tid': 't', 'idtyp': 'app'}, 'ServicePrincipal'),
    ({'oid': OID, 'tid': 't', 'idtyp': 'user', 'scp': 'user_impersonation'}, 'User'),
    ({'oid': OID, 'tid': 't', 'scp': 'user_impersonation'}, 'User'),
    ({'oid': OID, 'tid': 't'}, 'ServicePrincipal'),
])
def test_principal_comes_from_the_tokens_oid_claim(claims, kind):
    found = principal.from_claims(principal.token_claims(jwt(claims)))
    assert (found.object_id, found.tenant_id, found.principal_type) == (OID, 't', kind)


def test_token_without_oid_says_how_to_go_on():
    with pytest.raises(errors.AzureAuthError, match='grant_automation_principal: false'):
        principal.from_claims(principal.token_claims(jwt({'tid': 't'})))


@pytest.mark.parametrize('token', ['opaque', 'a.!!!.c', 'a.%s.c' % base64.urlsafe_b64encode(b'[1]').decode()])
def test_unreadable_token_is_a_clean_error(token):
    with pytest.raises(errors.AzureAuthError):
        principal.token_claims(token)
