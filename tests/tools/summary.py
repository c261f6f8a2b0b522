# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Count test results of the toolchain's stages.

    summary.py RESULTS_DIR [--stage NAME]

Each stage directory holds steps.jsonl (one record per step: name, exit code,
kind) and, for pytest steps, <step>.xml junit files.  A pytest step counts its
junit test cases (failures and errors count as failed); if pytest exited
non-zero without any failed case in the xml (a crash, a usage error), the step
adds one failed case.  Any other step counts as one test case.

Without --stage it prints a table per stage and the closing line
``N passed, N failed`` (alone, last) and exits 1 when anything failed.  With
--stage it prints that stage's totals and exits 1 when that stage failed.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET

ORDER = ['sanity', 'units', 'lint', 'build-check', 'functional', 'compat', 'demo']


def junit_counts(paths):
    passed = failed = skipped = 0
    failed_names = []
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            continue
        for case in root.iter('testcase'):
            outcome = {child.tag for child in case}
            if outcome & {'failure', 'error'}:
                failed += 1
                failed_names.append('%s::%s' % (case.get('classname', ''), case.get('name', '')))
            elif 'skipped' in outcome:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped, failed_names


def stage_counts(stage_dir):
    passed = failed = skipped = 0
    failures = []
    path = os.path.join(stage_dir, 'steps.jsonl')
    steps = []
    if os.path.exists(path):
        with open(path) as handle:
            steps = [json.loads(line) for line in handle if line.strip()]
    for step in steps:
        xmls = []
        if step.get('kind') == 'pytest':
            xmls = [os.path.join(stage_dir, step['name'] + '.xml')]
        elif step.get('kind') == 'ansible-test-units':
            xmls = sorted(glob.glob(os.path.join(stage_dir, 'junit', '*.xml')))
        if xmls:
            p, f, s, names = junit_counts([x for x in xmls if os.path.exists(x)])
            passed, failed, skipped = passed + p, failed + f, skipped + s
            failures.extend('%s: %s' % (step['name'], n) for n in names)
            if step['rc'] != 0 and f == 0:
                failed += 1
                failures.append('%s (exit %d)' % (step['name'], step['rc']))
        elif step.get('kind') in ('pytest', 'ansible-test-units'):
            if step['rc'] == 0:
                pass  # pytest exit 5 handled by the runner: no tests
            else:
                failed += 1
                failures.append('%s (exit %d, no junit xml)' % (step['name'], step['rc']))
        elif step['rc'] == 0:
            passed += 1
        else:
            failed += 1
            failures.append('%s (exit %d)' % (step['name'], step['rc']))
    seconds = None
    if os.path.exists(os.path.join(stage_dir, 'seconds')):
        with open(os.path.join(stage_dir, 'seconds')) as handle:
            seconds = handle.read().strip()
    return passed, failed, skipped, failures, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('results')
    parser.add_argument('--stage')
    args = parser.parse_args()

    if args.stage:
        p, f, s, failures, seconds = stage_counts(os.path.join(args.results, args.stage))
        for line in failures:
            print('  FAILED %s' % line)
        print('stage %s: %d passed, %d failed, %d skipped (%ss)' % (args.stage, p, f, s, seconds or '?'))
        return 1 if f else 0

    stages = [s for s in ORDER if os.path.isdir(os.path.join(args.results, s))]
    stages += sorted(s for s in os.listdir(args.results) if s not in ORDER
                     and os.path.isdir(os.path.join(args.results, s))) if os.path.isdir(args.results) else []
    total_p = total_f = total_s = 0
    print('')
    print('%-12s %7s %7s %8s %8s' % ('stage', 'passed', 'failed', 'skipped', 'seconds'))
    all_failures = []
    for stage in stages:
        p, f, s, failures, seconds = stage_counts(os.path.join(args.results, stage))
        print('%-12s %7d %7d %8d %8s' % (stage, p, f, s, seconds or '?'))
        total_p, total_f, total_s = total_p + p, total_f + f, total_s + s
        all_failures.extend('%s: %s' % (stage, x) for x in failures)
    for line in all_failures:
        print('FAILED %s' % line)
    if total_s:
        print('(%d skipped)' % total_s)
    print('%d passed, %d failed' % (total_p, total_f))
    return 1 if total_f or not stages else 0


if __name__ == '__main__':
    sys.exit(main())
