# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AzureModule: an AnsibleModule with the common Azure options and a lazily built, authenticated session."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from .common_args import AZURE_COMMON_ARGS
from .cloud import CloudConfigError
from .errors import AzureApiError, AzureAuthError, AzureError, LroTimeout

REQUIRED_LIBS = (('azure.core', 'azure-core'), ('azure.identity', 'azure-identity'))


def _missing_lib():
    """The first required package that is not installed, with the lookup's error text.

    Only looked up, not imported: a task whose token the cache serves never imports azure.identity."""
    from importlib.util import find_spec  # pylint: disable=import-outside-toplevel

    for module_name, package in REQUIRED_LIBS:
        try:
            if find_spec(module_name) is None:
                return package, 'No module named %r' % module_name
        except ImportError:
            return package, traceback.format_exc()
    return None, None


class AzureModule:
    """Wraps AnsibleModule; modules read params here and reach Azure only through .sdk (the SDK clients) and
    .arm / .graph (JSON requests over the same pipelines)."""

    def __init__(self, argument_spec, **kwargs):
        spec = dict(AZURE_COMMON_ARGS)
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self._session = None
        wait = self.module.params.get('access_propagation_timeout')
        if wait is not None and not 0 <= wait <= 3600:
            self.module.fail_json(msg='access_propagation_timeout %s must be between 0 (do not wait) and 3600 seconds; '
                                      'the default 300 covers Azure\'s usual grant propagation' % wait)

    # -- AnsibleModule pass-through --------------------------------------------------------------------------
    @property
    def params(self):
        return self.module.params

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def diff_mode(self):
        return bool(getattr(self.module, '_diff', False))

    def exit_json(self, **kwargs):
        self.module.exit_json(**self._with_access_waits(kwargs))

    def fail_json(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **self._with_access_waits(kwargs))

    def _with_access_waits(self, result):
        """Say what data-plane requests waited for after 403 (a grant propagating), in the result."""
        waits = self._session.access_waits() if self._session is not None else []
        if waits and 'access_waits' not in result:
            result = dict(result, access_waits=waits)
        return result

    def warn(self, text):
        self.module.warn(text)

    # -- Azure -----------------------------------------------------------------------------------------------
    @property
    def session(self):
        if self._session is None:
            package, error = _missing_lib()
            if package:
                self.module.fail_json(msg=missing_required_lib(package), exception=error)
            from .session import AzureSession  # pylint: disable=import-outside-toplevel
            try:
                self._session = AzureSession(self.params, run_command=self.module.run_command)
            except (CloudConfigError, AzureAuthError) as exc:
                self.module.fail_json(msg=str(exc))
        return self._session

    @property
    def cloud(self):
        return self.session.cloud

    @property
    def subscription_id(self):
        return self.run(lambda: self.session.subscription_id)

    @property
    def arm(self):
        return self.session.arm

    @property
    def sdk(self):
        """The SDK clients (compute(), keys(vault_url), arm()) of the session."""
        return self.session.sdk

    @property
    def graph(self):
        return self.session.graph

    def shared_read(self, key, read):
        """read(); vm_batch's VMs share the answer of the same key (a region's SKUs, a disk encryption set)."""
        return read()

    def fail_azure(self, exc, **result):
        """Fail the task with a one-line message and the structured error; never a traceback."""
        if isinstance(exc, AzureApiError):
            self.fail_json(exc.summary(), azure_error=exc.to_dict(), **result)
        if isinstance(exc, LroTimeout):
            self.fail_json(str(exc), operation=exc.to_dict(), **result)
        self.fail_json(str(exc), **result)

    def run(self, func, **result):
        """Call func(); Azure errors become fail_json (result keys such as changed are kept)."""
        try:
            return func()
        except (AzureError, CloudConfigError) as exc:
            self.fail_azure(exc, **result)
