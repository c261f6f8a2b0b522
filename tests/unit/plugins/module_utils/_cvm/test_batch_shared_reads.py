# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import threading
import time

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._cvm.batch import SharedReads


def test_threads_wait_for_the_first_read_of_a_key_and_share_its_answer():
    reads, calls = SharedReads(), []

    def read():
        calls.append(1)
        time.sleep(0.05)
        return {"location": "eastus"}
    out = []
    threads = [threading.Thread(target=lambda: out.append(reads.get(("skus", "eastus"), read))) for dummy in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(out) == 8 and all(o is out[0] for o in out)
    assert reads.get(("skus", "westus"), lambda: "other") == "other"


def test_a_read_that_raised_is_not_kept():
    reads = SharedReads()

    def fail():
        raise RuntimeError("throttled")
    with pytest.raises(RuntimeError):
        reads.get("des", fail)
    assert reads.get("des", lambda: "found") == "found"
