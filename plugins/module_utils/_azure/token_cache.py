# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opt-in token cache shared by the tasks of a play: a JSON file, mode 0600, keyed by identity and scope.

Tokens are bearer secrets: the cache is off unless the user sets token_cache (or
CONFIDENTIAL_AZURE_TOKEN_CACHE), and the file is created with owner-only permissions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile
import time

MIN_REMAINING = 300  # seconds a cached token must still be valid to be used


class CachedToken:
    """Shape-compatible with azure.core.credentials.AccessToken (token, expires_on)."""

    def __init__(self, token, expires_on):
        self.token = token
        self.expires_on = int(expires_on)

    def __iter__(self):
        return iter((self.token, self.expires_on))


def load(path):
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, IOError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup(path, key, scope, now=None):
    now = time.time() if now is None else now
    entry = load(path).get('%s %s' % (key, scope))
    if isinstance(entry, dict) and entry.get('expires_on', 0) - MIN_REMAINING > now:
        return CachedToken(entry['token'], entry['expires_on'])
    return None


def store(path, key, scope, token, expires_on, now=None):
    """Write atomically with mode 0600; expired entries are dropped."""
    now = time.time() if now is None else now
    data = dict((k, v) for k, v in load(path).items() if isinstance(v, dict) and v.get('expires_on', 0) > now)
    data['%s %s' % (key, scope)] = dict(token=token, expires_on=int(expires_on))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)
    handle, tmp = tempfile.mkstemp(prefix='.token-cache-', dir=directory)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, 'w') as out:
            json.dump(data, out)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CachingCredential:
    """A token credential that answers from the cache file first.

    ``inner`` is the azure-identity credential or a zero-argument callable that builds it: with a callable the
    credential (and the azure.identity import behind it) is built only on a cache miss, so a task whose token is
    cached neither imports azure.identity nor asks for a token.
    """

    def __init__(self, inner, path, key):
        self._inner = inner if hasattr(inner, 'get_token') else None
        self._build = None if self._inner is not None else inner
        self._path = os.path.expanduser(path)
        self._key = key

    @property
    def built(self):
        """Whether the real credential exists (False as long as the cache served every token)."""
        return self._inner is not None

    def get_token(self, *scopes, **kwargs):
        scope = entry_scope(scopes, kwargs.get('tenant_id'))
        if not kwargs.get('claims'):
            cached = lookup(self._path, self._key, scope)
            if cached is not None:
                return _access_token(cached.token, cached.expires_on)
        if self._inner is None:
            self._inner = self._build()
        token = self._inner.get_token(*scopes, **kwargs)
        store(self._path, self._key, scope, token.token, token.expires_on)
        return token

    def close(self):
        close = getattr(self._inner, 'close', None)
        if close:
            close()


def entry_scope(scopes, tenant_id=None):
    """The cache entry's scope part: the scopes, and the tenant when a challenge names one (Key Vault)."""
    scope = ' '.join(scopes)
    return '%s tenant=%s' % (scope, tenant_id) if tenant_id else scope


def _access_token(token, expires_on):
    try:
        from azure.core.credentials import AccessToken  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - azure-core is required whenever a credential exists
        return CachedToken(token, expires_on)
    return AccessToken(token, expires_on)
