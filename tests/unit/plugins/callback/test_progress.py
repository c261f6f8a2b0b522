# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress callback fed with fake runner events and a fake clock (no thread, no ansible-playbook)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.callback import progress


class FakeDisplay:
    verbosity = 0

    def __init__(self):
        self.lines = []

    def display(self, msg, *args, **kwargs):
        self.lines.append(msg)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Host:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Task:
    def __init__(self, name, action='confidential.azure.vm_info', args=None):
        self.name, self.action, self.args = name, action, args or {}

    def get_name(self):
        return self.name


class Result:
    def __init__(self, host, task, result):
        self._host, self._task, self._result = host, task, result


@pytest.fixture
def cb():
    callback = progress.CallbackModule(display=FakeDisplay(), clock=Clock())
    callback._plugin_options = {'interval': 10.0, 'summary_table': True}
    callback._start_ticker = lambda: None          # tests call tick() themselves
    return callback


def vms(**states):
    out = []
    for state, count in states.items():
        out.extend({'name': '%s-%d' % (state, i), 'provisioning_state': state} for i in range(count))
    return out


@pytest.mark.parametrize('seconds,text', [(0, '0s'), (45, '45s'), (80, '1m20s'), (3720, '1h02m'), (-3, '0s')])
def test_format_elapsed(seconds, text):
    assert progress.format_elapsed(seconds) == text


def test_fleet_wait_retry_prints_counts_per_state(cb):
    host, task = Host('localhost'), Task('Wait once for the whole fleet')
    cb.v2_runner_on_start(host, task)
    cb.clock.now += 80
    cb.v2_runner_retry(Result(host, task, {'vms': vms(Creating=13, Succeeded=37), 'attempts': 8, 'retries': 180}))
    assert cb._display.lines == ['waiting for 50 VMs: 37 Succeeded, 13 Creating (1m20s)']


def test_states_in_lifecycle_order_then_unknown_ones():
    listed = vms(Failed=1, Creating=2) + [{'name': 'x', 'provisioning_state': None}, {'name': 'y',
                                                                                      'provisioning_state': 'Weird'}]
    assert progress.state_counts(listed) == [('Creating', 2), ('Failed', 1), ('Unknown', 1), ('Weird', 1)]
    assert progress.fleet_line([], 5) == 'waiting for 0 VMs: none listed yet (5s)'
    assert progress.fleet_line(vms(Creating=1), 5) == 'waiting for 1 VM: 1 Creating (5s)'


def test_other_retries_name_the_task_attempt_and_async_job(cb):
    host, task = Host('web-1'), Task('Wait for the job', 'ansible.builtin.async_status')
    cb.v2_runner_on_start(host, task)
    cb.clock.now += 30
    cb.v2_runner_retry(Result(host, task, {'attempts': 3, 'retries': 60, 'ansible_job_id': 'j1.2', 'finished': 0}))
    cb.v2_runner_retry(Result(Host('web-2'), Task('Until something'), {'attempts': 2, 'retries': 5}))
    assert cb._display.lines == [
        'waiting for async job j1.2 of "Wait for the job" on web-1 (30s, attempt 3 of 60)',
        'waiting for "Until something" on web-2 (0s, attempt 2 of 5)']


def test_async_poll_line(cb):
    host, task = Host('localhost'), Task('Create the VMs', 'confidential.azure.vm')
    cb.v2_runner_on_start(host, task)
    cb.clock.now += 12
    poll_task = Task('async_status', 'ansible.builtin.async_status')      # what ansible-core passes for a poll
    cb.v2_runner_on_async_poll(Result(host, poll_task, {'ansible_job_id': '123.456', 'started': 1, 'finished': 0}))
    assert cb._display.lines == ['waiting for async job 123.456 of "Create the VMs" on localhost (12s)']


def test_silent_task_gets_a_line_per_interval_grouped_by_task(cb):
    task = Task('Create the disk encryption set', 'confidential.azure.disk_encryption_set')
    for name in ('b', 'a'):
        cb.v2_runner_on_start(Host(name), task)
    cb.clock.now += 9
    cb.tick()
    assert cb._display.lines == []
    cb.clock.now += 1
    cb.tick()
    cb.clock.now += 5
    cb.tick()                                   # within the interval of the last line: nothing
    cb.clock.now += 5
    cb.tick()
    assert cb._display.lines == [
        'still running: "Create the disk encryption set" (confidential.azure.disk_encryption_set) on 2 hosts: a, b (10s)',
        'still running: "Create the disk encryption set" (confidential.azure.disk_encryption_set) on 2 hosts: a, b (20s)']


def test_a_retry_line_resets_the_silence_and_finished_hosts_stop(cb):
    host, task = Host('localhost'), Task('Wait once for the whole fleet')
    cb.v2_runner_on_start(host, task)
    cb.clock.now += 8
    cb.v2_runner_retry(Result(host, task, {'vms': vms(Creating=2)}))
    cb.clock.now += 5
    cb.tick()
    assert len(cb._display.lines) == 1           # the retry line counts as the interval's line
    cb.v2_runner_on_ok(Result(host, task, {'vms': vms(Succeeded=2)}))
    cb.clock.now += 60
    cb.tick()
    assert len(cb._display.lines) == 1 and cb.running == {}


def test_many_hosts_are_abbreviated(cb):
    task = Task('Start the confidential VM (no wait)', 'confidential.azure.vm')
    for i in range(8):
        cb.v2_runner_on_start(Host('vm-%d' % i), task)
    cb.clock.now += 10
    cb.tick()
    assert cb._display.lines == ['still running: "Start the confidential VM (no wait)" (confidential.azure.vm) on 8 '
                                 'hosts: vm-0, vm-1, vm-2, vm-3, vm-4 and 3 more (10s)']


SUMMARY = {'rollout': 'demo', 'stage': 'final', 'vms': [
    {'name': 'cvm-snp-1', 'size': 'Standard_DC2ads_v5', 'tee': 'SNP', 'temp_disk': 'encrypted', 'status': 'in_service',
     'reason': 'attestation passed', 'attestation': {'verdict': 'pass', 'failing_checks': []}},
    {'name': 'cvm-tdx-1', 'size': 'Standard_DC2es_v5', 'tee': 'TDX', 'temp_disk': None, 'status': 'quarantined',
     'reason': 'policy failed', 'attestation': {'verdict': 'fail',
                                                'failing_checks': ['policy:tee-type-matches-vm-size']}}]}


def test_rollout_summary_fact_is_printed_as_an_aligned_table_at_the_end(cb):
    host = Host('localhost')
    cb.v2_runner_on_ok(Result(host, Task('Publish', 'ansible.builtin.set_fact'),
                              {'ansible_facts': {'rollout_summary': SUMMARY}}))
    cb.v2_playbook_on_stats(None)
    lines = cb._display.lines
    assert lines[0] == 'rollout demo (final)'
    assert lines[1].split() == ['VM', 'size', 'TEE', 'temp', 'disk', 'data', 'disks', 'attestation', 'status',
                                'failing', 'checks', 'reason']
    assert lines[2].split() == ['cvm-snp-1', 'Standard_DC2ads_v5', 'SNP', 'encrypted', 'pass', 'in_service',
                                'attestation', 'passed']
    assert lines[3].split()[:6] == ['cvm-tdx-1', 'Standard_DC2es_v5', 'TDX', 'fail', 'quarantined',
                                    'policy:tee-type-matches-vm-size']
    columns = [line.index('attestation') for line in lines[1:2]] + [lines[2].index('pass'), lines[3].index('fail')]
    assert len(set(columns)) == 1                 # aligned


def test_data_disks_column_lists_each_lun_and_state(cb):
    vm = dict(SUMMARY['vms'][0], data_disks=[{'lun': 0, 'state': 'opened'}, {'lun': 2, 'state': 'closed'}])
    cb.v2_runner_on_ok(Result(Host('localhost'), Task('Publish', 'ansible.builtin.set_fact'),
                              {'ansible_facts': {'rollout_summary': dict(SUMMARY, vms=[vm])}}))
    cb.v2_playbook_on_stats(None)
    assert cb._display.lines[2].split()[3:6] == ['encrypted', 'lun0:opened,lun2:closed', 'pass']


def test_printed_pipe_summary_of_todays_playbook_is_tabulated_too(cb):
    msg = ['rollout demo (final): {"in_service": 1} - written to /tmp/s.json', progress.SUMMARY_HEADER_LINE,
           'cvm-snp-1 | Standard_DC2ads_v5 | SNP | encrypted | lun0:opened | pass | in_service |  | attestation passed']
    cb.v2_runner_on_ok(Result(Host('localhost'), Task('Print the rollout summary', 'ansible.builtin.debug'),
                              {'msg': msg}))
    cb.v2_playbook_on_stats(None)
    assert cb._display.lines[0] == msg[0]
    assert cb._display.lines[2].split() == ['cvm-snp-1', 'Standard_DC2ads_v5', 'SNP', 'encrypted', 'lun0:opened',
                                            'pass', 'in_service', 'attestation', 'passed']


def test_no_summary_no_table_and_the_option_turns_it_off(cb):
    cb.v2_playbook_on_stats(None)
    assert cb._display.lines == []
    cb._plugin_options['summary_table'] = False
    cb.v2_runner_on_ok(Result(Host('localhost'), Task('x'), {'ansible_facts': {'rollout_summary': SUMMARY}}))
    cb.v2_playbook_on_stats(None)
    assert cb._display.lines == []


def test_silent_task_names_the_resource_when_it_is_literal(cb):
    cb.v2_runner_on_start(Host('localhost'), Task('DES', 'confidential.azure.disk_encryption_set', {'name': 'cvm-des'}))
    cb.v2_runner_on_start(Host('h2'), Task('VM', 'confidential.azure.vm', {'name': '{{ item.name }}'}))
    cb.clock.now += 21
    cb.tick()
    assert cb._display.lines == [
        'still running: "DES" (confidential.azure.disk_encryption_set cvm-des) on 1 host: localhost (21s)',
        'still running: "VM" (confidential.azure.vm) on 1 host: h2 (21s)']
