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
