# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When and how long to wait before retrying a request. Pure Python."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import random
import time

RETRY_STATUSES = frozenset([408, 429, 500, 502, 503, 504])


class RetryPolicy:
    """Exponential backoff that honours Retry-After on 429 and 5xx answers."""

    def __init__(self, max_retries=5, base_delay=1.0, max_delay=30.0, max_retry_after=300.0, throttle_retries=10,
                 jitter_ratio=0.25, max_jitter=1.0):
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        # 429 is Azure asking to wait, not a failure: this many of them do not use up max_retries
        self.throttle_retries = throttle_retries
        self.jitter_ratio = jitter_ratio
        self.max_jitter = max_jitter

    def jitter(self, seconds, rand=random.random):
        """A little random extra on a Retry-After wait, so that requests throttled together (vm_batch's threads)
        do not all come back at the same instant."""
        return min(self.max_jitter, seconds * self.jitter_ratio) * rand()

    def should_retry(self, attempt, status=None, connection_error=False):
        """attempt counts the retries already made (0 for the first failure)."""
        if attempt >= self.max_retries:
            return False
        return connection_error or status in RETRY_STATUSES

    def delay(self, attempt, retry_after=None, now=None):
        """Seconds to sleep before retry number attempt + 1."""
        hinted = parse_retry_after(retry_after, now)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        return min(self.base_delay * (2 ** attempt), self.max_delay)


def parse_retry_after(value, now=None):
    """Retry-After as seconds (it may be delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)
