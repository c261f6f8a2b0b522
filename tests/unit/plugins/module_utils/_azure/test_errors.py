# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.confidential.azure.plugins.module_utils._azure import errors


def test_arm_error_envelope_becomes_one_line_with_structure():
    body = json.dumps({'error': {'code': 'InvalidParameter', 'message': "Required parameter for Confidential VMs\n"
                                 "'managedDisk.securityProfile.securityEncryptionType' is missing (null).",
                                 'target': 'managedDisk.securityProfile.securityEncryptionType',
                                 'details': [{'code': 'Inner', 'message': 'more'}]}})
    err = errors.from_response(400, body, {'x-ms-request-id': 'abc'}, 'PUT',
                               'https://arm/subscriptions/s/vm?api-version=2026-04-01&sig=secret')
    text = err.summary()
    assert '\n' not in text
    assert text.startswith('Azure API error 400 on PUT https://arm/subscriptions/s/vm: InvalidParameter Required')
    assert '(target: managedDisk.securityProfile.securityEncryptionType)' in text
    assert 'Inner: more' in text and 'x-ms-request-id abc' in text
    assert 'sig=secret' not in text
    assert err.to_dict() == {'status': 400, 'code': 'InvalidParameter', 'message': err.message,
                             'target': 'managedDisk.securityProfile.securityEncryptionType',
                             'details': [{'code': 'Inner', 'message': 'more', 'target': None}], 'request_id': 'abc'}


def test_key_vault_inner_error_code_is_kept():
    body = {'error': {'code': 'BadParameter', 'message': 'Exportable keys must have a release policy',
                      'innererror': {'code': 'AKV.SKR.1004'}}}
    err = errors.from_response(400, json.dumps(body))
    assert err.code == 'BadParameter'
    assert any(d['code'] == 'AKV.SKR.1004' for d in err.details)


def test_entra_error_shape():
    body = {'error': 'invalid_client', 'error_description': 'AADSTS7000215: Invalid client secret provided.'}
    err = errors.from_response(401, json.dumps(body).encode())
    assert err.code == 'invalid_client'
    assert 'AADSTS7000215' in err.message


def test_non_json_body_and_empty_body():
    assert errors.from_response(502, '<html>Bad gateway</html>').message == '<html>Bad gateway</html>'
    err = errors.from_response(404, '')
    assert err.code == 'NotFound' and 'no error body' in err.message
