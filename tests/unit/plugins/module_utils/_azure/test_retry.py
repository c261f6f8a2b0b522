# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._azure.retry import RetryPolicy, parse_retry_after


@pytest.mark.parametrize('status,retried', [(429, True), (500, True), (503, True), (504, True),
                                            (400, False), (404, False), (409, False), (200, False)])
def test_which_statuses_are_retried(status, retried):
    assert RetryPolicy().should_retry(0, status=status) is retried


def test_connection_errors_are_retried_until_the_budget_is_spent():
    policy = RetryPolicy(max_retries=2)
    assert policy.should_retry(1, connection_error=True)
    assert not policy.should_retry(2, connection_error=True)


def test_retry_after_seconds_wins_over_backoff():
    assert RetryPolicy().delay(3, '7') == 7.0


def test_retry_after_http_date():
    assert parse_retry_after('Wed, 21 Oct 2015 07:28:10 GMT', now=1445412480.0) == 10.0


def test_backoff_grows_and_is_capped_without_retry_after():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert [policy.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_absurd_retry_after_is_capped_and_garbage_ignored():
    policy = RetryPolicy(max_retry_after=60)
    assert policy.delay(0, '86400') == 60
    assert parse_retry_after('soon') is None
    assert policy.delay(0, 'soon') == 1.0


def test_jitter_is_a_quarter_of_the_wait_at_most_and_never_over_a_second():
    policy = RetryPolicy()
    assert policy.jitter(2, rand=lambda: 1.0) == 0.5
    assert policy.jitter(60, rand=lambda: 1.0) == 1.0
    assert policy.jitter(60, rand=lambda: 0.0) == 0.0
