# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import time

from ansible_collections.confidential.azure.plugins.module_utils._azure import token_cache


class FakeCredential:
    def __init__(self):
        self.calls = 0

    def get_token(self, *scopes, **kwargs):
        self.calls += 1
        return token_cache.CachedToken('tok-%d' % self.calls, time.time() + 3600)


def test_second_task_reuses_the_cached_token_and_file_is_private(tmp_path):
    path = str(tmp_path / 'cache' / 'tokens.json')
    first_inner = FakeCredential()
    first = token_cache.CachingCredential(first_inner, path, 'identity')
    assert first.get_token('https://management.azure.com/.default').token == 'tok-1'
    second_inner = FakeCredential()  # a new task: a new process, a new credential object
    second = token_cache.CachingCredential(second_inner, path, 'identity')
    assert second.get_token('https://management.azure.com/.default').token == 'tok-1'
    assert second_inner.calls == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_other_scope_or_identity_is_not_served_from_cache(tmp_path):
    path = str(tmp_path / 'tokens.json')
    token_cache.CachingCredential(FakeCredential(), path, 'a').get_token('scope1')
    inner = FakeCredential()
    token_cache.CachingCredential(inner, path, 'b').get_token('scope1')
    token_cache.CachingCredential(inner, path, 'a').get_token('scope2')
    assert inner.calls == 2


def test_nearly_expired_tokens_are_refreshed(tmp_path):
    path = str(tmp_path / 'tokens.json')
    token_cache.store(path, 'a', 's', 'old', time.time() + 60)
    inner = FakeCredential()
    assert token_cache.CachingCredential(inner, path, 'a').get_token('s').token == 'tok-1'


def test_corrupt_cache_file_is_ignored(tmp_path):
    path = tmp_path / 'tokens.json'
    path.write_text('{garbage')
    inner = FakeCredential()
    assert token_cache.CachingCredential(inner, str(path), 'a').get_token('s').token == 'tok-1'
