# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interpreter wrapper for benchmarks: run RSSWRAP_PYTHON with our argv (stdin/stdout/stderr inherited), wait,
and append {"wall_s", "cpu_s", "maxrss_kb", "rc"} of that child to RSSWRAP_LOG. cpu_s is user + system CPU time,
which a busy machine inflates far less than wall time. ru_maxrss of RUSAGE_CHILDREN is the peak resident set of
the largest waited-for descendant: the module process (AnsiballZ runs the module in-process).
The wrapper's own memory is not included. Used as ansible_python_interpreter by tests/bench/*."""
import json
import os
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
rc = subprocess.call([os.environ["RSSWRAP_PYTHON"]] + sys.argv[1:])
wall = time.monotonic() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(os.environ["RSSWRAP_LOG"], "a") as f:
    f.write(json.dumps({"wall_s": round(wall, 4), "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
                        "maxrss_kb": usage.ru_maxrss, "rc": rc,
                        "argv": sys.argv[1:2]}) + "\n")
sys.exit(rc)
