# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pipeline.ServiceRequests over a scripted HTTP transport: ARM requests on the ARM pipeline client (retries,
Retry-After, errors, writes on ARM polling with wait / no-wait), Graph and Key Vault requests with the same
policies, and the wait on a 403 while a grant propagates."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

import pytest

pytest.importorskip("requests")
pytest.importorskip("azure.mgmt.core")

from ansible_collections.confidential.azure.plugins.module_utils._azure import cloud, errors  # noqa: E402
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._azure.test_access import (  # noqa: E402
    FIREWALL_403, OID, POLICY_403, RBAC_403)
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._azure.test_clients import (  # noqa: E402
    ARM, SUB, build)

RG = '/subscriptions/%s/resourceGroups/rg' % SUB
VNET = RG + '/providers/Microsoft.Network/virtualNetworks/vnet1'
KV = 'https://kv1.vault.example.test'


def vault(sdk):
    """A vault's data plane over ServiceRequests with a Key Vault token and the session's 403 grant wait."""
    return sdk.service_requests(KV, sdk.session.cloud.keyvault_scope, sdk.session.access_timeout)


def vnet(state):
    return {'id': VNET, 'name': 'vnet1', 'properties': {'provisioningState': state}}


def test_get_is_none_on_404_and_carries_the_api_version_on_the_arm_endpoint():
    sdk, adapter, _t, _s = build([(404, {}, {'error': {'code': 'ResourceNotFound', 'message': 'x'}})])
    assert sdk.arm_requests().get(VNET, '2024-05-01') is None
    assert adapter.sent == [('GET', ARM + VNET + '?api-version=2024-05-01')]
    assert sdk.session.cred.scopes == [(ARM + '/.default',)]


def test_retry_after_is_honoured_capped_and_errors_carry_azures_code():
    sdk, adapter, transport, _s = build([(429, {'Retry-After': '7'}, None), (503, {'Retry-After': '100000'}, None),
                                         (200, {}, vnet('Succeeded')),
                                         (400, {'x-ms-request-id': 'r1'}, {'error': {
                                             'code': 'InvalidParameter', 'message': 'bad', 'target': 'x'}})])
    arm = sdk.arm_requests()
    assert arm.get(VNET, 'v')['id'] == VNET
    assert 7 <= transport.sleeps[0] <= 8 and 300.0 <= transport.sleeps[1] <= 301.0, transport.sleeps
    with pytest.raises(errors.AzureApiError) as exc:
        arm.put(VNET, 'v', {'location': 'eastus'})
    assert (exc.value.code, exc.value.target, exc.value.request_id) == ('InvalidParameter', 'x', 'r1')
    assert len(adapter.sent) == 4


def test_put_waits_on_arm_polling_then_reads_the_resource():
    op = ARM + '/subscriptions/%s/providers/Microsoft.Network/locations/eastus/operations/1?api-version=v' % SUB
    sdk, adapter, transport, _s = build([(201, {'Azure-AsyncOperation': op}, vnet('Updating')),
                                         (200, {'Retry-After': '3'}, {'status': 'InProgress'}),
                                         (200, {}, {'status': 'Succeeded'}),
                                         (200, {}, vnet('Succeeded'))])
    result = sdk.arm_requests().put(VNET, 'v', {'location': 'eastus'})
    assert result.done and result.status == 'Succeeded' and result.poll_mode == 'async'
    assert result.resource['properties']['provisioningState'] == 'Succeeded'
    assert [m for m, _u in adapter.sent] == ['PUT', 'GET', 'GET', 'GET']
    assert 3 in transport.sleeps


def test_no_wait_returns_what_a_later_task_waits_on():
    op = ARM + '/operations/1'
    sdk, adapter, _t, _s = build([(201, {'Azure-AsyncOperation': op}, vnet('Updating'))])
    result = sdk.arm_requests().put(VNET, 'v', {'location': 'eastus'}, wait=False)
    assert result.to_dict() == dict(done=False, status='Updating', poll_url=op, resource_url=ARM + VNET + '?api-version=v',
                                    poll_mode='async')
    assert len(adapter.sent) == 1


class HeldPolls(list):
    """Answers whose polls (after the first answer) wait until the test lets them go: the poller's thread cannot
    race the caller's time-out check, however loaded the machine is."""

    def __init__(self, answers):
        super(HeldPolls, self).__init__(answers)
        self.release = threading.Event()
        self.served = 0

    def pop(self, index=-1):
        if self.served:
            self.release.wait(10)
        self.served += 1
        return super(HeldPolls, self).pop(index)


def test_failed_and_timed_out_operations():
    op = ARM + '/operations/2'
    sdk, adapter, _t, _s = build([(201, {'Azure-AsyncOperation': op}, vnet('Updating')),
                                  (200, {}, {'status': 'Failed', 'error': {'code': 'InUseSubnetCannotBeDeleted',
                                                                           'message': 'subnet in use'}})])
    with pytest.raises(errors.LroFailed) as exc:
        sdk.arm_requests().put(VNET, 'v', {})
    assert exc.value.code == 'InUseSubnetCannotBeDeleted' and 'subnet in use' in exc.value.summary()
    adapter.answers = HeldPolls([(201, {'Azure-AsyncOperation': op}, vnet('Updating')),
                                 (200, {}, {'status': 'InProgress'}), (200, {}, {'status': 'Succeeded'}),
                                 (200, {}, vnet('Succeeded'))])
    try:
        with pytest.raises(errors.LroTimeout) as late:
            sdk.arm_requests().put(VNET, 'v', {}, timeout=0)
        assert late.value.poll_url == op
    finally:
        adapter.answers.release.set()


def test_delete_location_polls_until_done_and_a_missing_resource_is_not_an_error():
    loc = ARM + '/operationResults/1'
    sdk, adapter, _t, _s = build([(202, {'Location': loc}, None), (202, {'Location': loc}, None), (204, {}, None),
                                  (404, {}, {'error': {'code': 'ResourceNotFound', 'message': 'gone'}})])
    arm = sdk.arm_requests()
    result = arm.delete(VNET, 'v')
    assert result.done and result.resource is None
    assert [u for _m, u in adapter.sent] == [ARM + VNET + '?api-version=v', loc, loc]
    assert arm.delete(VNET, 'v').status == 'NotFound'


def test_wait_provisioned_reads_until_a_terminal_state():
    sdk, adapter, _t, sleeps = build([(200, {}, vnet('Updating')), (200, {}, vnet('Succeeded')),
                                      (200, {}, vnet('Updating')), (200, {}, vnet('Failed'))])
    assert sdk.arm_requests().wait_provisioned(VNET, 'v')['properties']['provisioningState'] == 'Succeeded'
    assert sleeps == [2] and len(adapter.sent) == 2
    with pytest.raises(errors.LroFailed):
        sdk.arm_requests().wait_provisioned(VNET, 'v')


def test_list_follows_next_link_and_encodes_odata_filters():
    sdk, adapter, _t, _s = build([(200, {}, {'value': [1, 2], 'nextLink': ARM + '/next?page=2'}),
                                  (200, {}, {'value': [3]})])
    assert sdk.arm_requests().list('/x', 'v', params={'$filter': "appId eq 'abc'"}) == [1, 2, 3]
    assert adapter.sent == [('GET', ARM + "/x?api-version=v&$filter=appId%20eq%20'abc'"), ('GET', ARM + '/next?page=2')]


def test_graph_requests_use_the_graph_scope_and_the_same_retries():
    sdk, adapter, transport, _s = build([(503, {'Retry-After': '2'}, None), (200, {}, {'id': OID})])
    sdk.session.cloud = cloud.CloudEnvironment('simulated', ARM, 'https://login.example.test', 'vault.example.test',
                                               graph_endpoint='https://graph.example.test')
    status, _h, body = sdk.graph_requests().request('GET', "/v1.0/servicePrincipals(appId='x')")
    assert (status, body) == (200, {'id': OID}) and len(transport.sleeps) == 1 and 2 <= transport.sleeps[0] <= 2.5
    assert adapter.sent[0][1] == "https://graph.example.test/v1.0/servicePrincipals(appId='x')"
    assert sdk.session.cred.scopes[-1] == ('https://graph.example.test/.default',)


def test_vault_403_right_after_a_grant_is_waited_for_until_granted():
    sdk, _a, _t, sleeps = build([(403, {}, POLICY_403), (403, {}, POLICY_403), (200, {}, {'key': {}})],
                                access_timeout=300)
    response = vault(sdk).checked('POST', '/keys/cmk/create', '7.5', {'kty': 'RSA-HSM'})
    assert response.ok and sleeps == [2.0, 4.0]
    (wait,) = [w.to_dict() for w in sdk.access_waits]
    assert wait == {'request': 'POST %s/keys/cmk/create' % KV, 'waited_seconds': 6.0, 'attempts': 3,
                    'waited_for': 'keys create permission', 'principal_id': OID, 'outcome': 'granted'}


def test_vault_403_that_outlasts_the_wait_names_the_permission_and_the_fix():
    sdk, _a, _t, sleeps = build([(403, {}, RBAC_403)] * 20, access_timeout=60)
    with pytest.raises(errors.AzureApiError) as exc:
        vault(sdk).checked('POST', '/keys/cmk/create', '7.5', {'kty': 'RSA-HSM'})
    text = exc.value.summary()
    assert sum(sleeps) == 60 and max(sleeps) <= 30
    assert 'still refused (403) after waiting 60 s for data action Microsoft.KeyVault/vaults/keys/create/action' in text
    assert sdk.access_waits[0].to_dict()['outcome'] == 'still denied'


@pytest.mark.parametrize('body', [FIREWALL_403, {'error': {'code': 'Forbidden', 'message': 'x',
                                                           'innererror': {'code': 'ForbiddenByPolicy'}}}])
def test_a_403_no_grant_can_cure_and_arm_403s_are_not_waited_for(body):
    sdk, _a, _t, sleeps = build([(403, {}, body), (403, {}, POLICY_403)], access_timeout=300)
    with pytest.raises(errors.AzureApiError):
        vault(sdk).checked('GET', '/keys/cmk', '7.5')
    with pytest.raises(errors.AzureApiError):
        sdk.arm_requests().checked('GET', VNET, 'v')
    assert sleeps == [] and sdk.access_waits == []
