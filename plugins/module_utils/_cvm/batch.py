# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm_batch: the vm module's run (VmManager) for many VMs in one process, one session, worker threads.

Every VM is checked first (the batch, then each VM's options and confidential VM limits, no request); a VM with
bad options is reported failed and never started, the others go on. One VM's Azure error does not stop the others.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.confidential.azure.plugins.module_utils._azure.common_args import AZURE_COMMON_ARGS
from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._azure.result import invalid_parameters

from . import batch_plan, limits
from .vm_args import MUTUALLY_EXCLUSIVE, vm_argument_spec
from .vm_manager import VmManager

SECRET_KEYS = batch_plan.SECRETS + tuple(sorted(k for k, spec in AZURE_COMMON_ARGS.items() if spec.get('no_log')))


class ItemDone(Exception):
    def __init__(self, result):
        super(ItemDone, self).__init__('item done')
        self.result = result


class SharedReads:
    """What every VM of the batch reads alike, read once: one lock per key, so threads wait for the first read
    instead of repeating it; a read that raised is not kept."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    def get(self, key, read):
        with self._lock:
            entry = self._entries.setdefault(key, {'lock': threading.Lock()})
        with entry['lock']:
            if 'value' not in entry:
                entry['value'] = read()
            return entry['value']


class ItemModule(AzureModule):
    """What VmManager needs of a module, for one VM: its own options, the batch's session and shared reads, check
    and diff mode; exit_json / fail_json end this VM only."""

    def __init__(self, batch, params, reads):  # pylint: disable=super-init-not-called
        self.module = batch.module
        self._batch = batch
        self._params = params
        self._reads = reads
        self.warnings = []

    @property
    def params(self):
        return self._params

    @property
    def session(self):
        return self._batch.session

    def shared_read(self, key, read):
        return self._reads.get(key, read)

    def exit_json(self, **kwargs):
        raise ItemDone(kwargs)

    def fail_json(self, msg, **kwargs):
        raise ItemDone(dict(kwargs, failed=True, msg=msg))

    def warn(self, text):
        self.warnings.append(text)


def _refused(index, options, errors):
    return {'item': batch_plan.label(index, options), 'name': options.get('name'),
            'resource_group': options.get('resource_group'), 'failed': True, 'changed': False, 'actions': [],
            'vm': {}, 'msg': invalid_parameters(errors), 'errors': errors}


def _validated(batch, index, options, secrets):
    """(params, None) or (None, failed item result): the vm module's argument checks, then its limits."""
    checked = ArgumentSpecValidator(vm_argument_spec(), mutually_exclusive=MUTUALLY_EXCLUSIVE).validate(options)
    errors = [str(error) for error in checked.errors]
    if errors:
        return None, _refused(index, options, errors)
    params = dict((key, batch.params.get(key)) for key in AZURE_COMMON_ARGS)
    params.update(checked.validated_parameters)
    params = batch_plan.with_secrets(params, secrets, params['state'] == 'present' and not limits.is_partial(params))
    errors = limits.validate_vm(params)
    if errors:
        return None, _refused(index, options, errors)
    return params, None


def _run_one(batch, index, params, reads):
    item = ItemModule(batch, params, reads)
    manager = VmManager(item)
    try:
        manager.run()
        result = {'failed': True, 'msg': 'the VM run ended without a result'}
    except ItemDone as done:
        result = done.result
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # one VM's unexpected error must not lose the other VMs' results, nor what this VM's run already did
        result = {'failed': True, 'msg': 'unexpected error: %s: %s' % (type(exc).__name__, exc),
                  'changed': manager.changed, 'actions': list(manager.actions)}
        if manager.left_behind or manager.created:
            result['left_behind'] = manager.left_behind or [{'kind': kind, 'id': rid, 'error': 'created by this run'}
                                                            for kind, rid in manager.created]
    result = dict(result, item=batch_plan.label(index, params), name=params['name'],
                  resource_group=params['resource_group'], failed=bool(result.get('failed')))
    result.setdefault('changed', False)
    result.setdefault('actions', [])
    result.setdefault('vm', {})
    if item.warnings:
        result['warnings_seen'] = item.warnings
    return result


def _check(batch):
    """Every VM's params (or its refusal), before any request; the batch's own problems fail the task."""
    p = batch.params
    # a secret put where the batch refuses it is still hidden in what the task returns
    batch.module.no_log_values.update(batch_plan.misplaced_secrets(p['defaults'], p['vms'], SECRET_KEYS))
    errors = batch_plan.batch_errors(p['defaults'], p['vms'], p['parallel'], AZURE_COMMON_ARGS)
    if errors:
        batch.fail_json(msg=invalid_parameters(errors), errors=errors, changed=False)
    secrets = dict((key, p.get(key)) for key in batch_plan.SECRETS)
    checked = []
    for index, item in enumerate(p['vms']):
        options = batch_plan.item_options(p['defaults'], item, MUTUALLY_EXCLUSIVE)
        checked.append((index,) + _validated(batch, index, options, secrets))
    return checked


def run_batch(batch):
    """batch: the task's AzureModule (options defaults, vms, parallel, admin_password, custom_data)."""
    checked = _check(batch)
    results = [refused for _index, _params, refused in checked]
    runnable = [(index, params) for index, params, refused in checked if refused is None]
    if runnable:
        batch.run(batch.session.prepare_threads)
        reads = SharedReads()
        with ThreadPoolExecutor(max_workers=min(batch.params['parallel'], len(runnable))) as pool:
            done = pool.map(lambda job: _run_one(batch, job[0], job[1], reads), runnable)
            for (index, _params), result in zip(runnable, done):
                results[index] = result
    for result in results:
        for text in result.pop('warnings_seen', []):
            batch.warn('%s: %s' % (result['name'], text))
    changed = any(result['changed'] for result in results)
    extra = {'diff': batch_plan.batch_diff(results)} if batch.diff_mode else {}
    if any(result['failed'] for result in results):
        batch.fail_json(msg=batch_plan.summary_message(results), vms=results, changed=changed, **extra)
    batch.exit_json(vms=results, changed=changed, **extra)
