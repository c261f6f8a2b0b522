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


def test_cached_task_never_builds_the_credential(tmp_path):
    path = str(tmp_path / 'tokens.json')
    token_cache.store(path, 'a', 'https://management.azure.com/.default', 'cached', time.time() + 3600)

    def build():
        raise AssertionError('a cache hit must not build (nor import) the azure-identity credential')

    cred = token_cache.CachingCredential(build, path, 'a')
    assert cred.get_token('https://management.azure.com/.default').token == 'cached'
    assert not cred.built


def test_cache_miss_builds_the_credential_once(tmp_path):
    path = str(tmp_path / 'tokens.json')
    built = []

    def build():
        built.append(FakeCredential())
        return built[-1]

    cred = token_cache.CachingCredential(build, path, 'a')
    cred.get_token('scope1')
    cred.get_token('scope2')
    assert cred.built and len(built) == 1 and built[0].calls == 2


def test_token_for_another_tenant_is_not_served_from_cache(tmp_path):
    path = str(tmp_path / 'tokens.json')
    inner = FakeCredential()
    token_cache.CachingCredential(inner, path, 'a').get_token('https://vault.azure.net/.default', tenant_id='t1')
    token_cache.CachingCredential(inner, path, 'a').get_token('https://vault.azure.net/.default', tenant_id='t2')
    token_cache.CachingCredential(inner, path, 'a').get_token('https://vault.azure.net/.default', tenant_id='t1')
    assert inner.calls == 2


def test_claims_challenge_bypasses_the_cache(tmp_path):
    path = str(tmp_path / 'tokens.json')
    token_cache.store(path, 'a', 's', 'cached', time.time() + 3600)
    inner = FakeCredential()
    assert token_cache.CachingCredential(inner, path, 'a').get_token('s', claims='{"x": 1}').token == 'tok-1'


def test_session_with_a_cached_token_builds_no_credential(tmp_path, monkeypatch):
    from ansible_collections.confidential.azure.plugins.module_utils._azure import credentials, session

    def build(*args, **kwargs):
        raise AssertionError('credentials.build called although the cache holds the token')

    monkeypatch.setattr(credentials, 'build', build)
    path = str(tmp_path / 'tokens.json')
    params = {'subscription_id': 's', 'client_id': 'c', 'secret': 'x', 'tenant': 't', 'token_cache': path}
    azure = session.AzureSession(params, env={})
    token_cache.store(path, azure.settings.cache_key(azure.authority), azure.cloud.arm_scope, 'cached',
                      time.time() + 3600)
    assert azure.credential().get_token(azure.cloud.arm_scope).token == 'cached'
