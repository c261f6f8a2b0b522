# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""403 right after a grant: the bounded backoff and what a 403 says is missing (the pipeline's wait itself is tested
in test_pipeline.py).  Also the principal read from the access token."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure import access, errors, principal

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


def test_default_wait_is_five_minutes_in_bounded_steps():
    steps = access.delays(access.DEFAULT_TIMEOUT)
    assert sum(steps) == 300 and max(steps) == 30 and steps[:4] == [2.0, 4.0, 8.0, 16.0]


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
