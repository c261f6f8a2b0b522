# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run the compute managers share: validate (no request) -> present or absent -> the one result shape
(result.shape); a ManagerFailure or an Azure error fails the task with the actions done so far."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureError
from ansible_collections.confidential.azure.plugins.module_utils._azure.result import invalid_parameters, shape

from .failure import ManagerFailure


class Manager(object):
    """A subclass names its ``resource`` (the result key) and gives validate(), _present() and _absent()."""

    resource = None

    def __init__(self, m):
        self.m = m
        self.p = m.params
        self.changed = False
        self.actions = []
        self.operation = None
        self.diff = {"before": {}, "after": {}}

    @property
    def sub(self):
        return self.m.subscription_id

    def validate(self):
        """Every problem with the parameters, found before any request."""
        raise NotImplementedError

    def azure_failure(self, exc):
        """What a task failed by an Azure error reports besides the error and the actions."""
        return {"changed": self.changed}

    def run(self):
        errors = self.validate()
        if errors:
            self.m.fail_json(msg=invalid_parameters(errors), errors=errors, changed=False)
        try:
            result = self._absent() if self.p["state"] == "absent" else self._present()
        except ManagerFailure as exc:
            self.m.fail_json(msg=exc.msg, changed=self.changed, actions=self.actions, **exc.extra)
        except AzureError as exc:
            self.m.fail_azure(exc, actions=self.actions, **self.azure_failure(exc))
        self.m.exit_json(**shape(result, self.resource, self.changed, self.actions,
                                 self.diff if self.m.diff_mode else None, self.operation))

    def _note(self, action):
        self.changed = True
        self.actions.append(action)
