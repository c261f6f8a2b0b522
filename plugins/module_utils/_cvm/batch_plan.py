# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm_batch's items: each VM's options are ``defaults`` updated with the item's own; problems of the batch as a
whole (the ones that stop every VM) found before any request.  Pure Python."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

# secrets are task options (no_log), never item data: Ansible cannot hide a value inside a list of dicts
SECRETS = ('admin_password', 'custom_data')
PARALLEL_MAX = 50


def label(index, item):
    name = item.get('name') if isinstance(item, dict) else None
    return 'vms[%d] (%s)' % (index, name) if name else 'vms[%d]' % index


def batch_errors(defaults, vms, parallel, auth_options):
    """What makes the whole batch invalid (no VM is started then), every problem at once."""
    errors = []
    if not vms:
        errors.append('vms: give at least one VM (a list of dicts with the options of confidential.azure.vm)')
    if not 1 <= parallel <= PARALLEL_MAX:
        errors.append('parallel %s must be between 1 and %d' % (parallel, PARALLEL_MAX))
    sources = [('defaults', defaults or {})] + [(label(i, item), item) for i, item in enumerate(vms or [])]
    for where, options in sources:
        if not isinstance(options, dict):
            errors.append('%s: must be a dict of confidential.azure.vm options, got %s' % (where, type(options).__name__))
            continue
        for key in SECRETS:
            if key in options:
                errors.append('%s: %s is a secret; give it once as the task option %s (no_log), it applies to every '
                              'VM' % (where, key, key))
        for key in sorted(set(options) & set(auth_options)):
            errors.append('%s: %s is an authentication option; the batch has one session: give it as a task option'
                          % (where, key))
    errors.extend(_duplicates(defaults or {}, vms or []))
    return errors


def misplaced_secrets(defaults, vms, secret_keys):
    """The string values of secret options (SECRETS and the no_log authentication options) given in defaults or an
    item: refused, but hidden from what the task returns."""
    values = set()
    for options in [defaults] + list(vms or []):
        if isinstance(options, dict):
            values.update(str(options[key]) for key in secret_keys if options.get(key) not in (None, ''))
    return values


def _duplicates(defaults, vms):
    seen, errors = {}, []
    for index, item in enumerate(vms):
        if not isinstance(item, dict):
            continue
        key = (str(item.get('resource_group', defaults.get('resource_group'))).lower(), str(item.get('name')).lower())
        if key in seen:
            errors.append('%s: the same VM as vms[%d]; each VM may appear once in a batch'
                          % (label(index, item), seen[key]))
        else:
            seen[key] = index
    return errors


def item_options(defaults, item, exclusive=()):
    """One VM's options: defaults, then the item's own (an item's dict option replaces the default's whole). An item
    value None unsets the default; an item option drops the default of the option it excludes (subnet_id /
    network_interfaces)."""
    options = dict(defaults or {})
    for pair in exclusive:
        for key in pair:
            if item.get(key) is not None:
                for other in pair:
                    if other != key:
                        options.pop(other, None)
    options.update(item)
    return dict((key, value) for key, value in options.items() if value is not None)


def with_secrets(params, secrets, creates):
    """The task's secrets that are set go to a VM the run may create (the full definition, state present) only:
    the vm module refuses them on a partial definition."""
    if not creates:
        return params
    return dict(params, **dict((key, value) for key, value in secrets.items() if value is not None))


def summary_message(results):
    """The task message when VMs failed: how many, then each VM's reason."""
    failed = [r for r in results if r.get('failed')]
    return '%d of %d VMs failed: %s' % (len(failed), len(results), '; '.join(
        '%s: %s' % (r.get('name') or r['item'], r.get('msg')) for r in failed))


def batch_diff(results):
    """Ansible's list form of diff: one entry per VM whose diff is not empty."""
    out = []
    for result in results:
        diff = result.get('diff') or {}
        if diff.get('before') != diff.get('after'):
            out.append({'before_header': result.get('name'), 'after_header': result.get('name'),
                        'before': diff.get('before'), 'after': diff.get('after')})
    return out
