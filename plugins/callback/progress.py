# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: progress
type: aggregate
short_description: Progress lines while tasks wait for Azure, and the rollout summary as a table
version_added: 0.1.0
author:
  - confidential.azure maintainers (@confidential-azure)
description:
  - Prints a line while a task waits, next to whatever stdout callback is in use.
  - 'A C(confidential.azure.vm_info) task in an C(until)/C(retries) loop (the fleet wait of the rollout playbooks)
    prints, at every retry, how many VMs are in which provisioning state, for example
    C(waiting for 50 VMs: 37 Succeeded, 13 Creating (1m20s)).'
  - Any other C(until)/C(retries) loop prints the attempt and the elapsed time; a task with C(async) and C(poll)
    prints the job at every poll.
  - A task that is still running after O(interval) seconds without any of those lines (a module that waits for an
    Azure long-running operation, such as a disk encryption set or a VM with C(wait=true)) prints which task is
    running on which hosts, once per O(interval).
  - At the end of the playbook it prints the last rollout summary of the collection's rollout playbooks as an
    aligned table.
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = confidential.azure.progress) under C([defaults]), or
    with E(ANSIBLE_CALLBACKS_ENABLED).
requirements:
  - enabled in the C(callbacks_enabled) setting
options:
  interval:
    description: Seconds a task runs silently before a line says it is still running, and between two such lines.
    type: float
    default: 15
    env:
      - name: CONFIDENTIAL_AZURE_PROGRESS_INTERVAL
    ini:
      - section: callback_confidential_azure_progress
        key: interval
  summary_table:
    description: Print the last rollout summary as a table at the end of the playbook.
    type: bool
    default: true
    env:
      - name: CONFIDENTIAL_AZURE_PROGRESS_SUMMARY_TABLE
    ini:
      - section: callback_confidential_azure_progress
        key: summary_table
'''

import threading
import time

from ansible.plugins.callback import CallbackBase

STATE_ORDER = ('Succeeded', 'Creating', 'Updating', 'Migrating', 'Deleting', 'Failed', 'Canceled')
SUMMARY_HEADER = ('VM', 'size', 'TEE', 'temp disk', 'data disks', 'attestation', 'status', 'failing checks', 'reason')
SUMMARY_HEADER_LINE = ' | '.join(SUMMARY_HEADER)


def format_elapsed(seconds):
    """1m20s, 45s, 1h02m."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return '%dh%02dm' % (hours, minutes)
    if minutes:
        return '%dm%02ds' % (minutes, secs)
    return '%ds' % secs


def state_counts(vms):
    """[(state, count)] for vm_info's vms, known states in lifecycle order, others after them by name."""
    counts = {}
    for vm in vms:
        state = (vm.get('provisioning_state') if isinstance(vm, dict) else None) or 'Unknown'
        counts[state] = counts.get(state, 0) + 1
    known = [(state, counts.pop(state)) for state in STATE_ORDER if state in counts]
    return known + sorted(counts.items())


def fleet_line(vms, elapsed):
    counts = ', '.join('%d %s' % (count, state) for state, count in state_counts(vms))
    noun = 'VM' if len(vms) == 1 else 'VMs'
    return 'waiting for %d %s: %s (%s)' % (len(vms), noun, counts or 'none listed yet', format_elapsed(elapsed))


def retry_line(task_name, host, result, elapsed):
    vms = result.get('vms')
    if isinstance(vms, list):
        return fleet_line(vms, elapsed)
    attempt, retries = result.get('attempts'), result.get('retries')
    if result.get('ansible_job_id'):
        what = 'async job %s of "%s"' % (result['ansible_job_id'], task_name)
    else:
        what = '"%s"' % task_name
    count = ', attempt %s of %s' % (attempt, retries) if attempt and retries else ''
    return 'waiting for %s on %s (%s%s)' % (what, host, format_elapsed(elapsed), count)


def data_disks_cell(disks):
    """lun0:opened,lun1:closed (empty without data disks), as the rollout playbook prints it."""
    return ','.join('lun%s:%s' % (d.get('lun'), d.get('state')) for d in disks or [] if isinstance(d, dict))


def summary_rows(value):
    """Rows of the rollout summary from its structured form ({'vms': [...]}) or from the printed pipe lines."""
    if isinstance(value, dict) and isinstance(value.get('vms'), list):
        title = 'rollout %s (%s)' % (value.get('rollout', ''), value.get('stage', ''))
        rows = []
        for vm in value['vms']:
            attestation = vm.get('attestation') or {}
            rows.append([vm.get('name'), vm.get('size'), vm.get('tee'), vm.get('temp_disk'),
                         data_disks_cell(vm.get('data_disks')), attestation.get('verdict'),
                         vm.get('status'), ','.join(attestation.get('failing_checks') or []), vm.get('reason')])
        return title, [['' if cell is None else str(cell) for cell in row] for row in rows]
    if isinstance(value, list) and len(value) >= 2 and value[1] == SUMMARY_HEADER_LINE:
        return str(value[0]), [str(line).split(' | ') for line in value[2:]]
    return None


def render_table(header, rows):
    """Columns padded to their widest cell; the last column is not padded (reasons can be long)."""
    widths = [max([len(header[i])] + [len(row[i]) for row in rows if i < len(row)]) for i in range(len(header))]
    lines = []
    for row in [list(header)] + rows:
        cells = [(row[i] if i < len(row) else '').ljust(widths[i]) for i in range(len(header) - 1)]
        cells.append(' | '.join(row[len(header) - 1:]) if len(row) >= len(header) else '')
        lines.append('  '.join(cells).rstrip())
    return lines


def _what(task):
    """The module, and the resource name when the task gives it literally (templates are not rendered yet)."""
    args = getattr(task, 'args', None) or {}
    name = args.get('name') if isinstance(args, dict) else None
    if isinstance(name, str) and name and '{' not in name:
        return '%s %s' % (task.action, name)
    return task.action


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'confidential.azure.progress'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, clock=None):
        super(CallbackModule, self).__init__(display=display)
        self.clock = clock or time.monotonic
        self.running = {}           # host -> [task name, action, started, last line printed]
        self.summary = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = None

    def _interval(self):
        try:
            return float(self.get_option('interval'))
        except (KeyError, TypeError, ValueError, AttributeError):
            return 15.0

    # -- task lifecycle -----------------------------------------------------------------------------------------
    def v2_runner_on_start(self, host, task):
        now = self.clock()
        with self._lock:
            self.running[host.get_name()] = [task.get_name(), _what(task), now, now]
        self._start_ticker()

    def _finished(self, result):
        with self._lock:
            self.running.pop(result._host.get_name(), None)

    def v2_runner_on_ok(self, result):
        self._finished(result)
        self._capture_summary(result._result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._finished(result)

    def v2_runner_on_skipped(self, result):
        self._finished(result)

    def v2_runner_on_unreachable(self, result):
        self._finished(result)

    # -- waits ------------------------------------------------------------------------------------------------
    def v2_runner_retry(self, result):
        host = result._host.get_name()
        name, elapsed = self._touch(host, result._task)
        self._display.display(retry_line(name, host, result._result, elapsed))

    def v2_runner_on_async_poll(self, result):
        host = result._host.get_name()
        name, elapsed = self._touch(host, result._task)   # the poll's own task is async_status: name the user's
        job = result._result.get('ansible_job_id')
        self._display.display('waiting for async job %s of "%s" on %s (%s)' % (job, name, host, format_elapsed(elapsed)))

    def _touch(self, host, task):
        """Note that a line was printed for host now: (name of its running task, seconds since it started)."""
        now = self.clock()
        with self._lock:
            entry = self.running.get(host)
            if entry is None:
                return task.get_name(), 0
            entry[3] = now
            return entry[0], now - entry[2]

    def tick(self):
        """Lines for tasks that have been silent for an interval (called by the ticker thread, once a second)."""
        now, interval = self.clock(), self._interval()
        groups = {}
        with self._lock:
            for host, entry in self.running.items():
                if now - entry[3] >= interval:
                    groups.setdefault((entry[0], entry[1]), []).append((host, entry))
            for members in groups.values():
                for dummy, entry in members:
                    entry[3] = now
        for (name, action), members in sorted(groups.items()):
            hosts = sorted(host for host, dummy in members)
            elapsed = max(now - entry[2] for dummy, entry in members)
            shown = ', '.join(hosts[:5]) + (' and %d more' % (len(hosts) - 5) if len(hosts) > 5 else '')
            self._display.display('still running: "%s" (%s) on %d host%s: %s (%s)'
                                  % (name, action, len(hosts), '' if len(hosts) == 1 else 's', shown,
                                     format_elapsed(elapsed)))

    def _start_ticker(self):
        if self._ticker is not None:
            return
        self._ticker = threading.Thread(target=self._tick_loop, name='confidential-azure-progress')
        self._ticker.daemon = True
        self._ticker.start()

    def _tick_loop(self):
        while not self._stop.wait(1.0):
            self.tick()

    # -- the rollout summary ----------------------------------------------------------------------------------
    def _capture_summary(self, result):
        facts = result.get('ansible_facts') or {}
        for value in (facts.get('rollout_summary'), result.get('msg')):
            found = summary_rows(value)
            if found:
                self.summary = found
                return

    def v2_playbook_on_stats(self, stats):
        self._stop.set()
        if self.summary and self.get_option('summary_table'):
            title, rows = self.summary
            self._display.display(title)
            for line in render_table(SUMMARY_HEADER, rows):
                self._display.display(line)
