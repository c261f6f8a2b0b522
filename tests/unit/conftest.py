# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests draw the same examples on every run (hypothesis derandomize), so CI is reproducible; set
CAZURE_HYPOTHESIS_EXPLORE=1 to draw new random examples (ansible-test does not pass the variable on: use plain
pytest, as `make compat` does)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

try:
    from hypothesis import settings
except ImportError:  # only the property tests need it
    settings = None

if settings is not None:
    settings.register_profile("reproducible", derandomize=True, database=None)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile("explore" if os.environ.get("CAZURE_HYPOTHESIS_EXPLORE") == "1" else "reproducible")
