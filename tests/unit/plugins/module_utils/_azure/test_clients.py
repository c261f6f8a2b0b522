# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SDK clients of clients.py over a scripted HTTP transport: endpoints and scopes of a custom cloud, retries with
Retry-After (capped), the wait on 403 while a grant propagates, and the wait / no-wait contract of operations."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import time

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("azure.mgmt.compute")

from azure.core.credentials import AccessToken  # noqa: E402
from azure.core.pipeline.transport import RequestsTransport  # noqa: E402
from urllib3.response import HTTPResponse  # noqa: E402

from ansible_collections.confidential.azure.plugins.module_utils._azure import clients, cloud, errors  # noqa: E402

ARM = 'https://arm.example.test'
SUB = '00000000-0000-0000-0000-000000000001'
VM = '/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1' % SUB


class Credential:
    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes, **_kwargs):
        self.scopes.append(scopes)
        return AccessToken('token', int(time.time()) + 3600)


class Session:
    def __init__(self, access_timeout=0):
        self.cloud = cloud.CloudEnvironment('simulated', ARM, 'https://login.example.test', 'vault.example.test')
        self.subscription_id = SUB
        self.connection_verify = True
        self.access_timeout = access_timeout
        self.cred = Credential()

    def credential(self):
        return self.cred


class Scripted(requests.adapters.HTTPAdapter):
    """Answers requests from a list of (status, headers, body); records what was sent."""

    def __init__(self, answers):
        super(Scripted, self).__init__()
        self.answers = list(answers)
        self.sent = []

    def send(self, request, **_kwargs):  # pylint: disable=arguments-differ
        self.sent.append((request.method, request.url))
        status, headers, body = self.answers.pop(0)
        return json_response(request, status, headers, body, 'scripted')


def json_response(request, status, headers, body, reason):
    """A requests.Response to ``request`` carrying ``body`` as JSON (no body when None)."""
    content = json.dumps(body).encode() if body is not None else b''
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response.raw = HTTPResponse(body=io.BytesIO(content), headers=headers, status=status, preload_content=False)
    response.url = request.url
    response.request = request
    response.reason = reason
    return response


class Transport(RequestsTransport):
    def __init__(self, adapter):
        session = requests.Session()
        session.mount('https://', adapter)
        super(Transport, self).__init__(session=session, session_owner=False)
        self.sleeps = []

    def sleep(self, duration):
        self.sleeps.append(duration)


def build(answers, access_timeout=0):
    adapter = Scripted(answers)
    transport = Transport(adapter)
    sleeps = []
    sdk = clients.SdkClients(Session(access_timeout), transport=transport, sleep=sleeps.append, poll_interval=2)
    return sdk, adapter, transport, sleeps


def vm_body(state='Succeeded'):
    return {'id': VM, 'name': 'vm1', 'location': 'eastus', 'properties': {'provisioningState': state}}


def test_compute_client_calls_the_custom_arm_endpoint_with_its_scope():
    sdk, adapter, _t, _s = build([(200, {}, vm_body())])
    assert sdk.compute().virtual_machines.get('rg', 'vm1', cls=clients.raw)['name'] == 'vm1'
    assert adapter.sent[0][1].startswith(ARM + VM + '?')
    assert sdk.session.cred.scopes == [(ARM + '/.default',)]
    assert sdk.compute() is sdk.compute()


def test_retry_after_is_honoured_and_capped():
    sdk, adapter, transport, _s = build([(429, {'Retry-After': '7'}, None), (503, {'Retry-After': '100000'}, None),
                                         (200, {}, vm_body())])
    assert sdk.compute().virtual_machines.get('rg', 'vm1', cls=clients.raw)['id'] == VM
    assert len(adapter.sent) == 3
    # Retry-After, capped at 5 minutes, plus at most 1 s of jitter (threads throttled together spread out)
    assert 7 <= transport.sleeps[0] <= 8 and 300.0 <= transport.sleeps[1] <= 301.0, transport.sleeps


def test_throttling_answers_do_not_use_up_the_retries_for_failures():
    throttled = [(429, {'Retry-After': '1'}, None)] * 12
    sdk, adapter, transport, _s = build(throttled + [(200, {}, vm_body())])
    assert sdk.compute().virtual_machines.get('rg', 'vm1', cls=clients.raw)['id'] == VM
    assert len(adapter.sent) == 13 and len(transport.sleeps) == 12

    sdk, adapter, _t, _s = build([(429, {'Retry-After': '1'}, None)] * 20)
    with pytest.raises(errors.AzureApiError) as caught:
        with clients.translated():
            sdk.compute().virtual_machines.get('rg', 'vm1')
    # 1 + 10 throttling answers + the 3 status retries azure-core allows any answer
    assert caught.value.status == 429 and len(adapter.sent) == 14

    sdk, adapter, _t, _s = build([(503, {'Retry-After': '1'}, None)] * 10)
    with pytest.raises(errors.AzureApiError):
        with clients.translated():
            sdk.compute().virtual_machines.get('rg', 'vm1')
    assert len(adapter.sent) == 4  # a failing service: 1 + 3 status retries, as before


def test_a_missing_resource_is_none_and_other_errors_carry_azures_code():
    sdk, _a, _t, _s = build([(404, {}, {'error': {'code': 'ResourceNotFound', 'message': 'no vm1'}}),
                             (409, {'x-ms-request-id': 'r1'}, {'error': {'code': 'OperationNotAllowed',
                                                                         'message': 'quota'}})])
    assert clients.get_or_none(lambda: sdk.compute().virtual_machines.get('rg', 'vm1')) is None
    with pytest.raises(errors.AzureApiError) as caught:
        with clients.translated():
            sdk.compute().virtual_machines.get('rg', 'vm1')
    assert (caught.value.status, caught.value.code, caught.value.request_id) == (409, 'OperationNotAllowed', 'r1')
    assert 'quota' in caught.value.summary()


def test_no_wait_returns_after_the_first_answer_with_the_poll_url():
    sdk, adapter, _t, _s = build([(202, {'Location': ARM + '/op/1'}, None)])
    op = clients.operation(lambda polling: sdk.compute().virtual_machines.begin_deallocate(
        'rg', 'vm1', polling=polling), False, 60)
    assert op.to_dict() == dict(done=False, status='InProgress', poll_url=ARM + '/op/1', resource_url=None,
                                poll_mode='location')
    assert len(adapter.sent) == 1


def test_wait_polls_with_retry_after_until_done():
    op_url = ARM + '/subscriptions/%s/providers/Microsoft.Compute/locations/eastus/operations/1' % SUB
    sdk, adapter, transport, _s = build([
        (201, {'Azure-AsyncOperation': op_url}, vm_body('Creating')),
        (200, {'Retry-After': '1'}, {'status': 'InProgress'}),
        (200, {}, {'status': 'Succeeded'}),
        (200, {}, vm_body())])
    op = clients.operation(lambda polling: sdk.compute().virtual_machines.begin_create_or_update(
        'rg', 'vm1', {'location': 'eastus'}, polling=polling, cls=clients.raw), True, 60)
    assert op.done and op.status == 'Succeeded' and op.resource['properties']['provisioningState'] == 'Succeeded'
    assert op.poll_url == op_url and op.poll_mode == 'async'
    assert [m for m, _u in adapter.sent] == ['PUT', 'GET', 'GET', 'GET']
    assert 1 in transport.sleeps


def test_a_failed_operation_raises_lro_failed_with_azures_error():
    op_url = ARM + '/operations/2'
    sdk, _a, _t, _s = build([
        (202, {'Azure-AsyncOperation': op_url}, None),
        (200, {}, {'status': 'Failed', 'error': {'code': 'OSProvisioningTimedOut', 'message': 'took too long'}})])
    with pytest.raises(errors.LroFailed) as caught:
        clients.operation(lambda polling: sdk.compute().virtual_machines.begin_start('rg', 'vm1', polling=polling),
                          True, 60)
    assert caught.value.code == 'OSProvisioningTimedOut'


def test_arm_no_wait_and_missing_delete():
    sdk, adapter, _t, _s = build([(202, {'Location': ARM + '/op/3'}, None), (404, {}, None)])
    rg = '/subscriptions/%s/resourceGroups/rg' % SUB
    started = sdk.arm_requests().delete(rg, '2025-04-01', wait=False)
    assert (started.done, started.poll_url, started.poll_mode) == (False, ARM + '/op/3', 'location')
    assert sdk.arm_requests().delete(rg, '2025-04-01').status == 'NotFound'
    assert adapter.sent[0][1] == ARM + rg + '?api-version=2025-04-01'


def test_key_vault_403_for_a_propagating_grant_is_waited_for_and_reported():
    denied = {'error': {'code': 'Forbidden', 'message': 'The user, group or application \'appid=x;oid=%s\' does '
                                                        'not have keys get permission on key vault' % SUB,
                        'innererror': {'code': 'AccessDenied'}}}
    bundle = {'key': {'kid': 'https://kv1.vault.example.test/keys/k/v1', 'kty': 'RSA', 'n': 'AQAB', 'e': 'AQAB'},
              'attributes': {'enabled': True}}
    challenge = {'WWW-Authenticate': 'Bearer authorization="https://login.example.test/tenant1", '
                                     'resource="https://vault.example.test"'}
    sdk, adapter, _t, sleeps = build([(401, challenge, None), (403, {}, denied), (403, {}, denied), (200, {}, bundle)],
                                     access_timeout=60)
    key = sdk.keys('https://kv1.vault.example.test').get_key('k')
    assert key.id == bundle['key']['kid']
    assert sleeps == [2.0, 4.0]
    wait = sdk.access_waits[0].to_dict()
    assert (wait['outcome'], wait['waited_for'], wait['attempts']) == ('granted', 'keys get permission', 3)
    assert len(adapter.sent) == 4


def test_challenge_resource_is_verified_on_microsoft_clouds_and_under_the_dns_suffix():
    public = cloud.from_setting('AzureCloud')
    custom = cloud.CloudEnvironment('simulated', ARM, 'https://login.example.test', 'vault.example.test')
    assert clients.verify_challenge(public, 'https://127.0.0.1:8443/') is True
    assert clients.verify_challenge(custom, 'https://kv1.vault.example.test/') is True
    assert clients.verify_challenge(custom, 'https://127.1.0.1:8443/') is False
