# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import threading
import time
from collections import namedtuple

from ansible_collections.confidential.azure.plugins.module_utils._azure.session import SharedCredential

Token = namedtuple("Token", "token expires_on")


class CountingCredential(object):
    """Like the Azure CLI credential: no cache of its own, and slow enough for threads to overlap."""

    def __init__(self, lifetime=3600):
        self.calls = []
        self.lifetime = lifetime

    def get_token(self, *scopes, **kwargs):
        self.calls.append((scopes, kwargs))
        time.sleep(0.05)
        return Token("t%d" % len(self.calls), int(time.time()) + self.lifetime)


def in_threads(func, count=10):
    barrier = threading.Barrier(count)
    out = []

    def run():
        barrier.wait()
        out.append(func())
    threads = [threading.Thread(target=run) for dummy in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def test_ten_threads_asking_at_once_make_one_token_request_per_scope():
    inner = CountingCredential()
    shared = SharedCredential(inner)
    arm = in_threads(lambda: shared.get_token("https://management.azure.com/.default").token)
    assert set(arm) == {"t1"} and len(inner.calls) == 1
    shared.get_token("https://vault.azure.net/.default", enable_cae=True)
    shared.get_token("https://vault.azure.net/.default", enable_cae=True)
    shared.get_token("https://vault.azure.net/.default", tenant_id="other")
    assert len(inner.calls) == 3


def test_a_token_near_its_expiry_is_fetched_again():
    inner = CountingCredential(lifetime=SharedCredential.MIN_REMAINING - 1)
    shared = SharedCredential(inner)
    shared.get_token("scope")
    shared.get_token("scope")
    assert len(inner.calls) == 2
