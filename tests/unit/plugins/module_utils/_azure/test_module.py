# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AzureModule through real argument parsing: common options, no_log, error translation."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.confidential.azure.plugins.module_utils._azure import errors
from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule


class Exit(Exception):
    pass


@pytest.fixture
def captured(monkeypatch):
    out = {}

    def fake_exit(self, **kwargs):
        out.update(kwargs)
        raise Exit()

    def fake_fail(self, msg, **kwargs):
        out.update(kwargs, msg=msg, failed=True)
        raise Exit()

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', fake_exit)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fake_fail)
    return out


def raiser(exc):
    def call():
        raise exc
    return call


def make(args):
    with patch_module_args(args):
        return AzureModule(argument_spec=dict(name=dict(type='str')), supports_check_mode=True)


def test_common_options_are_merged_and_secrets_are_no_log():
    module = make({'name': 'x', 'secret': 'hunter2', 'password': 'pw'})
    assert module.params['name'] == 'x'
    assert 'hunter2' in module.module.no_log_values and 'pw' in module.module.no_log_values


def test_azure_api_error_becomes_one_line_message_and_structured_error(captured):
    module = make({})
    err = errors.from_response(409, json.dumps({'error': {'code': 'OperationNotAllowed', 'message': 'Changing\n'
                                                          'securityType is not allowed', 'target': 'securityType'}}))
    with pytest.raises(Exit):
        module.run(raiser(err), changed=False)
    assert captured['failed'] and '\n' not in captured['msg']
    assert captured['azure_error']['code'] == 'OperationNotAllowed'
    assert captured['azure_error']['target'] == 'securityType'
    assert captured['changed'] is False


def test_lro_timeout_returns_what_to_wait_on(captured):
    module = make({})
    with pytest.raises(Exit):
        module.run(raiser(errors.LroTimeout('still Creating', 'https://op/1', None, 'x')))
    assert captured['operation']['poll_url'] == 'https://op/1'


def test_bad_cloud_environment_fails_cleanly_before_any_request(captured, monkeypatch):
    monkeypatch.delenv('AZURE_CLOUD_ENVIRONMENT', raising=False)
    module = make({'cloud_environment': 'AzureMoonCloud', 'client_id': 'c', 'secret': 's', 'tenant': 't'})
    with pytest.raises(Exit):
        module.arm.get('/subscriptions/x', 'v')
    assert captured['failed'] and 'not a known cloud' in captured['msg']


def test_subscription_comes_from_the_environment(monkeypatch):
    for name in ('AZURE_CLOUD_ENVIRONMENT', 'AZURE_PROFILE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('AZURE_SUBSCRIPTION_ID', 'sub-from-env')
    module = make({'client_id': 'c', 'secret': 's', 'tenant': 't'})
    assert module.subscription_id == 'sub-from-env'


def test_result_and_failure_say_what_data_plane_requests_waited_for(captured):
    from ansible_collections.confidential.azure.plugins.module_utils._azure import access, session

    module = make({'subscription_id': 's', 'client_id': 'c', 'secret': 'x', 'tenant': 't'})
    wait = access.AccessWait('POST', 'https://kv1.vault.azure.net/keys/cmk/create', 'keys create permission', 'oid-1')
    wait.waited, wait.attempts, wait.granted = 6.0, 3, True
    module._session = session.AzureSession(module.params, env={})
    module._session.sdk.access_waits.append(wait)
    with pytest.raises(Exit):
        module.exit_json(changed=True)
    assert captured['access_waits'] == [{'request': 'POST https://kv1.vault.azure.net/keys/cmk/create',
                                         'waited_for': 'keys create permission', 'principal_id': 'oid-1',
                                         'waited_seconds': 6.0, 'attempts': 3, 'outcome': 'granted'}]


@pytest.mark.parametrize('value', [-1, 3601])
def test_access_propagation_timeout_out_of_range_fails_naming_it(captured, value):
    with pytest.raises(Exit):
        make({'access_propagation_timeout': value})
    assert captured['failed'] and 'access_propagation_timeout %d' % value in captured['msg']


def test_data_plane_clients_wait_five_minutes_by_default_and_arm_not_at_all():
    from ansible_collections.confidential.azure.plugins.module_utils._azure import session

    params = {'subscription_id': 's', 'client_id': 'c', 'secret': 'x', 'tenant': 't'}
    default = session.AzureSession(params, env={})
    assert default.access_timeout == 300  # what sdk.keys(vault_url) builds the KeyClient's retry policy with
    assert default.arm.access_timeout == 0
    custom = session.AzureSession(dict(params, access_propagation_timeout=20), env={})
    assert custom.access_timeout == 20
