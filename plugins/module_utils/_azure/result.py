# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one result shape of the control-plane modules, their tag semantics and how error lists are joined.
Pure Python.

A result is ``{<name>: the resource ({} when absent), changed, actions: [what was or would be done], diff (diff
mode only)}`` plus what a module adds (operation, grants).  Tags: ``tags`` merged into the resource's tags unless
``append_tags: false`` (then they replace them), as azure.azcollection users expect.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ERROR_SEPARATOR = '; '


def join_errors(errors):
    return ERROR_SEPARATOR.join(errors)


def invalid_parameters(errors):
    """The message of a task refused before any request: every problem at once."""
    return 'invalid parameters: ' + join_errors(errors)


def merge_tags(desired, current, append=True):
    """Tags to set: None keeps current; append merges desired over current; otherwise desired replaces them."""
    if desired is None:
        return dict(current or {})
    if append:
        merged = dict(current or {})
        merged.update(desired)
        return merged
    return dict(desired)


class Changes:
    """What differs between a resource and the task: changes {property: (before, after)}, errors (changes that
    cannot be made, each with its fix).  Subclasses add what they plan to send."""

    def __init__(self):
        self.changes = {}
        self.errors = []

    @property
    def changed(self):
        return bool(self.changes)

    def diff(self):
        return {'before': dict((k, v[0]) for k, v in self.changes.items()),
                'after': dict((k, v[1]) for k, v in self.changes.items())}


def shape(result, name, changed, actions, diff=None, operation=None):
    """Complete ``result`` into the one shape: ``name`` ({} when absent), changed (unless set), actions,
    operation when a write was not waited for, diff when given (pass it in diff mode only)."""
    result[name] = result.get(name) or {}
    result.setdefault('changed', changed)
    result['actions'] = list(actions)
    if operation is not None:
        result['operation'] = operation
    if diff is not None:
        result['diff'] = diff
    return result


class Outcome:
    """What a run did, built up as it goes; to_dict() is the module result."""

    def __init__(self, name, diff_mode=False):
        self.name = name
        self.diff_mode = diff_mode
        self.resource = {}
        self.changed = False
        self.actions = []
        self.before = {}
        self.after = {}
        self.extra = {}

    def act(self, action, before=None, after=None):
        """Record one change (done, or to be done in check mode) and its part of the diff."""
        self.changed = True
        self.actions.append(action)
        self.before.update(before or {})
        self.after.update(after or {})

    def to_dict(self):
        result = dict(self.extra, **{self.name: self.resource, 'changed': self.changed})
        diff = {'before': dict(self.before), 'after': dict(self.after)} if self.diff_mode else None
        return shape(result, self.name, self.changed, self.actions, diff)
