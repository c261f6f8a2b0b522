# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RestClient behaviour (retries, long-running operations, errors) with a scripted server."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from azure.core.exceptions import ServiceRequestError

from ansible_collections.confidential.azure.plugins.module_utils._azure import errors, rest

BASE = 'https://arm.local'
VM = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1'


class Scripted(rest.RestClient):
    """Answers from a list of (status, headers, body) or exceptions; records every request and sleep."""

    def __init__(self, answers, **kwargs):
        self.sleeps = []
        super(Scripted, self).__init__(BASE, BASE + '/.default', lambda: None, sleep=self.sleeps.append,
                                       poll_interval=2.0, **kwargs)
        self.answers = list(answers)
        self.sent = []

    def _send_once(self, method, url, body, headers):
        self.sent.append((method, url, body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, hdrs, payload = answer
        return rest.Response(status, hdrs, json.dumps(payload) if payload is not None else '')


def vm(state):
    return {'id': VM, 'properties': {'provisioningState': state}}


def test_get_returns_none_on_404_and_adds_api_version():
    client = Scripted([(404, {}, {'error': {'code': 'ResourceNotFound', 'message': 'x'}})])
    assert client.get(VM, '2026-04-01') is None
    assert client.sent == [('GET', BASE + VM + '?api-version=2026-04-01', None)]


def test_429_with_retry_after_is_retried_after_the_hinted_delay():
    client = Scripted([(429, {'Retry-After': '7'}, {'error': {'code': 'TooManyRequests', 'message': 'slow'}}),
                       (200, {}, vm('Succeeded'))])
    assert client.get(VM, 'v')['id'] == VM
    assert client.sleeps == [7.0]


def test_503_then_dropped_connection_then_success():
    client = Scripted([(503, {}, None), ServiceRequestError('reset'), (200, {}, vm('Succeeded'))])
    client.get(VM, 'v')
    assert client.sleeps == [1.0, 2.0]


def test_retries_give_up_with_azures_code_and_message():
    answers = [(503, {}, {'error': {'code': 'ServiceUnavailable', 'message': 'try later'}})] * 6
    client = Scripted(answers)
    with pytest.raises(errors.AzureApiError) as exc:
        client.get(VM, 'v')
    assert exc.value.status == 503 and exc.value.code == 'ServiceUnavailable'
    assert len(client.sent) == 6


def test_dropped_connections_exhausted_become_a_clean_error():
    client = Scripted([ServiceRequestError('reset')] * 6)
    with pytest.raises(errors.AzureApiError) as exc:
        client.get(VM, 'v')
    assert exc.value.code == 'ConnectionError'


def test_client_errors_are_not_retried():
    client = Scripted([(400, {'x-ms-request-id': 'r1'}, {'error': {'code': 'InvalidParameter', 'message': 'bad',
                                                                   'target': 'x'}})])
    with pytest.raises(errors.AzureApiError) as exc:
        client.put(VM, 'v', {'location': 'eastus'})
    assert (exc.value.code, exc.value.target, exc.value.request_id) == ('InvalidParameter', 'x', 'r1')
    assert len(client.sent) == 1


def test_put_lro_async_operation_polls_then_reads_the_resource():
    op = BASE + '/subscriptions/s/providers/Microsoft.Compute/locations/eastus/operations/1?api-version=v'
    client = Scripted([(201, {'Azure-AsyncOperation': op}, vm('Creating')),
                       (200, {'Retry-After': '3'}, {'status': 'InProgress'}),
                       (200, {}, {'status': 'Succeeded'}),
                       (200, {}, vm('Succeeded'))])
    result = client.put(VM, 'v', {'location': 'eastus'})
    assert result.done and result.status == 'Succeeded'
    assert result.resource['properties']['provisioningState'] == 'Succeeded'
    assert [s[0] for s in client.sent] == ['PUT', 'GET', 'GET', 'GET']
    assert client.sleeps == [3.0]


def test_no_wait_returns_what_a_later_task_waits_on():
    op = BASE + '/operations/1?api-version=v'
    client = Scripted([(201, {'Azure-AsyncOperation': op}, vm('Creating'))])
    result = client.put(VM, 'v', {'location': 'eastus'}, wait=False)
    assert not result.done and result.poll_url == op
    later = Scripted([(200, {}, {'status': 'Succeeded'}), (200, {}, vm('Succeeded'))])
    finished = later.wait(result.to_dict())
    assert finished.done and finished.resource['id'] == VM


def test_lro_failed_carries_the_operation_error():
    op = BASE + '/operations/1'
    client = Scripted([(201, {'Azure-AsyncOperation': op}, vm('Creating')),
                       (200, {}, {'status': 'Failed', 'error': {'code': 'OSProvisioningTimedOut',
                                                                'message': 'OS provisioning timed out'}})])
    with pytest.raises(errors.LroFailed) as exc:
        client.put(VM, 'v', {})
    assert exc.value.code == 'OSProvisioningTimedOut' and 'timed out' in exc.value.summary()


def test_lro_timeout_reports_the_poll_url():
    op = BASE + '/operations/1'
    client = Scripted([(201, {'Azure-AsyncOperation': op}, vm('Creating'))] +
                      [(200, {}, {'status': 'InProgress'})] * 50)
    with pytest.raises(errors.LroTimeout) as exc:
        client.put(VM, 'v', {}, timeout=0)
    assert exc.value.poll_url == op and exc.value.last_status == 'InProgress'


def test_delete_202_location_polls_until_done_without_reading_the_resource():
    loc = BASE + '/operationResults/1'
    client = Scripted([(202, {'Location': loc}, None), (202, {}, None), (204, {}, None)])
    result = client.delete(VM, 'v')
    assert result.done and result.resource is None
    assert [s[1] for s in client.sent] == [BASE + VM + '?api-version=v', loc, loc]


def test_delete_of_a_missing_resource_is_not_an_error():
    client = Scripted([(404, {}, {'error': {'code': 'ResourceNotFound', 'message': 'gone'}})])
    assert client.delete(VM, 'v').status == 'NotFound'


def test_put_without_headers_but_creating_state_polls_the_resource():
    client = Scripted([(201, {}, vm('Creating')), (200, {}, vm('Updating')), (200, {}, vm('Succeeded'))])
    result = client.put(VM, 'v', {})
    assert result.resource['properties']['provisioningState'] == 'Succeeded'


def test_list_follows_next_link():
    client = Scripted([(200, {}, {'value': [1, 2], 'nextLink': BASE + '/next?page=2'}), (200, {}, {'value': [3]})])
    assert client.list('/subscriptions/s/resourcegroups', 'v') == [1, 2, 3]
    assert client.sent[1][1] == BASE + '/next?page=2'


def test_query_params_are_encoded_for_odata_filters():
    client = Scripted([(200, {}, {'value': []})])
    client.list('/x', 'v', params={'$filter': "appId eq 'abc'"})
    assert client.sent[0][1] == BASE + "/x?api-version=v&$filter=appId%20eq%20'abc'"
