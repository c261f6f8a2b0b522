# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts a play already read, kept between its tasks next to the token cache (``<token_cache>.facts``).

What is kept: a region's default attestation provider URI (as Azure answered it) and grants this collection
confirmed or made (the Confidential VM Orchestrator's on a key, a disk encryption set identity's on its vault).
The rule that keeps this safe: a cached fact may only confirm that nothing needs to change.  Whatever is
written (a key, a release policy, a grant) is built from a fresh read, and a cached fact that does not confirm
the resource as it is read now is dropped and read again.  Entries expire (TTL below); the file is used only when
the user turned the token cache on, lives with mode 0600 in the token cache's directory, and is ignored when it is
not owned by this user or is writable by others.  No secret is stored.  No Ansible and no SDK import.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import json
import os
import tempfile
import time

SUFFIX = ".facts"
TOKEN_CACHE_ENV = "CONFIDENTIAL_AZURE_TOKEN_CACHE"  # the token cache's own setting (token_cache or this variable)
ATTESTATION_TTL = 24 * 3600   # a region's shared attestation provider does not move within a day
GRANT_TTL = 30 * 60           # a confirmed grant is trusted for the length of a play, then read again


def _key(kind, parts):
    return kind + " " + json.dumps([("" if p is None else str(p)) for p in parts])


class Facts:
    """get/put/forget on one facts file; every method is a no-op when ``path`` is None (token cache off)."""

    def __init__(self, path, now=time.time):
        self.path = os.path.expanduser(path) + SUFFIX if path else None
        self._now = now

    @classmethod
    def of_params(cls, params, env=None):
        """The facts file of the token cache the module's settings turn on (none when the cache is off)."""
        env = os.environ if env is None else env
        return cls(params.get("token_cache") or env.get(TOKEN_CACHE_ENV) or None)

    def _load(self):
        if not self.path:
            return {}
        try:
            info = os.stat(self.path)
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                return {}
            with open(self.path) as handle:
                data = json.load(handle)
        except (OSError, IOError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, kind, parts, ttl):
        entry = self._load().get(_key(kind, parts))
        if isinstance(entry, dict) and 0 <= self._now() - entry.get("at", 0) < ttl:
            return entry.get("value")
        return None

    def put(self, kind, parts, value):
        self._write(_key(kind, parts), {"at": int(self._now()), "value": value})

    def forget(self, kind, parts):
        self._write(_key(kind, parts), None)

    def _write(self, key, entry):
        if not self.path:
            return
        data = self._load()
        now = self._now()
        data = dict((k, v) for k, v in data.items()
                    if isinstance(v, dict) and now - v.get("at", 0) < ATTESTATION_TTL)
        if entry is None:
            if key not in data:
                return
            del data[key]
        else:
            data[key] = entry
        directory = os.path.dirname(self.path)
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o700)
            handle, tmp = tempfile.mkstemp(prefix=".facts-", dir=directory)
        except (OSError, IOError):
            return  # a cache that cannot be written only costs requests
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w") as out:
                json.dump(data, out)
            os.rename(tmp, self.path)
        except (OSError, IOError):
            if os.path.exists(tmp):
                os.unlink(tmp)


def settled(outcome):
    """A grant outcome as a later run that finds it in place reports it: nothing missing, before == after."""
    out = dict((k, v) for k, v in outcome.items() if k not in ("changed", "requests"))
    out["before"] = list(out.get("after") or [])
    out["missing"] = []
    return out
