# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm_batch: the vm module's run (VmManager) for many VMs in one process, one session, worker threads.

Every VM is checked first (the batch, then each VM's options and confidential VM limits, no request); a VM with
bad options is reported failed and never started, the others go on. One VM's Azure error does not stop the others.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.confidential.azure.plugins.module_utils._azure.common_args import AZURE_COMMON_ARGS
from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule
from ansible_collections.confidential.azure.plugins.module_utils._azure.result import invalid_parameters

from . import batch_plan, limits
from .vm_args import MUTUALLY_EXCLUSIVE, vm_argument_spec
from .vm_manager import VmManager


class ItemDone(Exception):
    def __init__(self, result):
        super(ItemDone, self).__init__('item done')
        self.result = result


class ItemModule(AzureModule):
    """What VmManager needs of a module, for one VM: its own options, the batch's session, check and diff mode;
    exit_json / fail_json end this VM only."""

    def __init__(self, batch, params):  # pylint: disable=super-init-not-called
        self.module = batch.module
        self._batch = batch
        self._params = params
        self.warnings = []

    @property
    def params(self):
        return self._params

    @property
    def session(self):
        return self._batch.session

    def exit_json(self, **kwargs):
        raise ItemDone(kwargs)

    def fail_json(self, msg, **kwargs):
        raise ItemDone(dict(kwargs, failed=True, msg=msg))

    def warn(self, text):
        self.warnings.append(text)


def _validated(batch, index, options):
    """(params, None) or (None, failed item result): the vm module's argument checks, then its limits."""
    name = options.get('name')
    checked = ArgumentSpecValidator(vm_argument_spec(), mutually_exclusive=MUTUALLY_EXCLUSIVE).validate(options)
    errors = [str(error) for error in checked.errors]
    if not errors:
        errors = limits.validate_vm(checked.validated_parameters)
    if errors:
        return None, {'item': batch_plan.label(index, options), 'name': name,
                      'resource_group': options.get('resource_group'), 'failed': True, 'changed': False,
                      'actions': [], 'vm': {}, 'msg': invalid_parameters(errors), 'errors': errors}
    params = dict((key, batch.params.get(key)) for key in AZURE_COMMON_ARGS)
    params.update(checked.validated_parameters)
    return params, None


def _run_one(batch, index, params):
    item = ItemModule(batch, params)
    try:
        VmManager(item).run()
        result = {'failed': True, 'msg': 'the VM run ended without a result'}
    except ItemDone as done:
        result = done.result
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # one VM's unexpected error must not lose the other VMs' results
        result = {'failed': True, 'msg': 'unexpected error: %s: %s' % (type(exc).__name__, exc)}
    result = dict(result, item=batch_plan.label(index, params), name=params['name'],
                  resource_group=params['resource_group'], failed=bool(result.get('failed')))
    result.setdefault('changed', False)
    result.setdefault('actions', [])
    result.setdefault('vm', {})
    if item.warnings:
        result['warnings_seen'] = item.warnings
    return result


def run_batch(batch):
    """batch: the task's AzureModule (options defaults, vms, parallel, admin_password, custom_data)."""
    p = batch.params
    # a secret put where the batch refuses it is still hidden in what the task returns
    batch.module.no_log_values.update(batch_plan.misplaced_secrets(p['defaults'], p['vms']))
    errors = batch_plan.batch_errors(p['defaults'], p['vms'], p['parallel'], AZURE_COMMON_ARGS)
    if errors:
        batch.fail_json(msg=invalid_parameters(errors), errors=errors, changed=False)
    secrets = dict((key, p.get(key)) for key in batch_plan.SECRETS)
    results, runnable = [None] * len(p['vms']), []
    for index, item in enumerate(p['vms']):
        params, refused = _validated(batch, index, batch_plan.item_options(p['defaults'], item, secrets))
        if refused:
            results[index] = refused
        else:
            runnable.append((index, params))
    if runnable:
        batch.run(batch.session.prepare_threads)
        with ThreadPoolExecutor(max_workers=min(p['parallel'], len(runnable))) as pool:
            for (index, params), result in zip(runnable, pool.map(lambda job: _run_one(batch, *job), runnable)):
                results[index] = result
    for result in results:
        for text in result.pop('warnings_seen', []):
            batch.warn('%s: %s' % (result['name'], text))
    changed = any(result['changed'] for result in results)
    extra = {'diff': batch_plan.batch_diff(results)} if batch.diff_mode else {}
    if any(result['failed'] for result in results):
        batch.fail_json(msg=batch_plan.summary_message(results), vms=results, changed=changed, **extra)
    batch.exit_json(vms=results, changed=changed, **extra)
