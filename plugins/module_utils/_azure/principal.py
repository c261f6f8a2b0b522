# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who the automation is: the object id, tenant and kind of principal, read from its own access token. Pure Python.

The token's signature is not checked here: the token came from the identity provider over TLS to this process and
is only read for the caller's own object id (the ``oid`` claim), never trusted for anything else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from .errors import AzureAuthError


class Principal:
    def __init__(self, object_id, tenant_id, principal_type):
        self.object_id = object_id
        self.tenant_id = tenant_id
        self.principal_type = principal_type  # 'ServicePrincipal' or 'User' (role assignment principalType)

    def to_dict(self):
        return dict(object_id=self.object_id, tenant_id=self.tenant_id, principal_type=self.principal_type)


def token_claims(token):
    """The claims (payload) of a JWT access token, as a dict."""
    parts = str(token or '').split('.')
    if len(parts) != 3:
        raise AzureAuthError('the access token is not a JWT (an opaque token carries no object id)')
    payload = parts[1] + '=' * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode('ascii')).decode('utf-8'))
    except (ValueError, TypeError, UnicodeError) as exc:
        raise AzureAuthError('the access token payload cannot be read: %s' % exc)
    if not isinstance(claims, dict):
        raise AzureAuthError('the access token payload is not a JSON object')
    return claims


def from_claims(claims, describe='the credentials'):
    """The Principal of a token's claims; raises AzureAuthError when there is no oid claim."""
    oid = claims.get('oid')
    if not oid:
        raise AzureAuthError('the access token of %s carries no oid claim, so its object id is unknown; grant the '
                             'Key Vault permissions yourself and set grant_automation_principal: false' % describe)
    kind = str(claims.get('idtyp') or '').lower()
    if kind == 'user' or (not kind and claims.get('scp')):
        principal_type = 'User'
    else:
        principal_type = 'ServicePrincipal'  # applications and managed identities (idtyp app)
    return Principal(oid, claims.get('tid'), principal_type)
