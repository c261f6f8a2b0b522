# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""403 answers that may be a grant still propagating: which to wait for, how long, and what was missing. Pure Python.

Azure applies a new Key Vault access policy or role assignment after a delay (Microsoft documents up to ten
minutes for Azure RBAC; "If role assignments ... were changed recently, please observe propagation time"), so a
data-plane call made right after a grant may be refused.  RestClient (rest.py) retries such answers with a
bounded backoff; a 403 for another reason (firewall, Azure Policy) is returned at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

DEFAULT_TIMEOUT = 300
FIRST_DELAY = 2.0
MAX_DELAY = 30.0

# Refusals that no grant can cure: never waited for.
_NOT_ACCESS = re.compile(r'ForbiddenByFirewall|ForbiddenByConnection|ForbiddenByPolicy|Client address is not '
                         r'authorized', re.I)
_ACCESS = re.compile(r'AccessDenied|ForbiddenByRbac|does not have \w+ \w+ permission|not authorized to perform',
                     re.I)
_POLICY_PERMISSION = re.compile(r'does not have (\w+) (\w+) permission', re.I)
_RBAC_ACTION = re.compile(r"Action:\s*'([^']+)'", re.I)
_CALLER = re.compile(r'oid=([0-9a-fA-F-]{36})')


def _text(body):
    if isinstance(body, (dict, list)):
        return json.dumps(body)
    return body if isinstance(body, str) else ''


def is_access_denied(status, body):
    """True for a 403 that says the caller lacks a permission (what a grant that is propagating answers)."""
    if status != 403:
        return False
    text = _text(body)
    return bool(_ACCESS.search(text)) and not _NOT_ACCESS.search(text)


def missing_permission(body):
    """What the 403 says is missing: 'keys create permission' (access policy) or the RBAC action; None if unsaid."""
    text = _text(body)
    found = _POLICY_PERMISSION.search(text)
    if found:
        return '%s %s permission' % (found.group(1).lower(), found.group(2).lower())
    found = _RBAC_ACTION.search(text)
    if found:
        return 'data action %s' % found.group(1)
    return None


def caller_object_id(body):
    found = _CALLER.search(_text(body))
    return found.group(1) if found else None


def delays(timeout, first=FIRST_DELAY, cap=MAX_DELAY):
    """The sleeps between attempts: doubling from ``first``, at most ``cap`` each, summing to at most ``timeout``."""
    out = []
    total = 0.0
    step = first
    while total < timeout:
        step = min(step, cap, timeout - total)
        out.append(step)
        total += step
        step *= 2
    return out


class AccessWait:
    """One request that was retried after 403: what it waited for, how long, and how it ended."""

    def __init__(self, method, path, denied, caller):
        self.method = method
        self.path = path
        self.denied = denied
        self.caller = caller
        self.waited = 0.0
        self.attempts = 1
        self.granted = False

    def to_dict(self):
        return dict(request='%s %s' % (self.method, self.path), waited_seconds=round(self.waited, 1),
                    attempts=self.attempts, waited_for=self.denied or 'access', principal_id=self.caller,
                    outcome='granted' if self.granted else 'still denied')

    def describe(self):
        what = self.denied or 'access'
        who = ' of principal %s' % self.caller if self.caller else ''
        if self.granted:
            return 'waited %.0f s for %s%s to take effect (%s %s)' % (self.waited, what, who, self.method, self.path)
        return ('still refused (403) after waiting %.0f s for %s%s to take effect; it is missing, not propagating'
                % (self.waited, what, who))
