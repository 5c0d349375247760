#!/usr/bin/env python3
"""Runs berth's integration tests: the real berth binary, AWS CLI v1 and v2, boto3 and the Docker engine.

    python3 tests/integration/run.py --berth build/dev/bin/berth [-k PATTERN ...]

Ends with one line `integration: N passed, M failed, K skipped` and exits 1 if anything failed.
A test with subtests counts once: failed if any subtest failed. An error in a class fixture (for example berth
failing its shutdown check in tearDownClass) counts as one failure.
"""

import argparse
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree


class CountingResult(unittest.TextTestResult):
    """Tracks the outcome of each test (not of each subtest)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}  # test id -> "passed" | "failed" | "skipped"

    def _mark(self, test, outcome):
        test_id = test.id()
        if outcome == "failed" or self.outcomes.get(test_id) != "failed":
            self.outcomes[test_id] = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        self._mark(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "failed")

    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test, "failed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._mark(test, "skipped")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._mark(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "failed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._mark(test, "failed")

    def counts(self):
        values = list(self.outcomes.values())
        return values.count("passed"), values.count("failed"), values.count("skipped")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berth", required=True, help="path to the berth binary")
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="only run tests whose id matches this substring or fnmatch pattern (repeatable)")
    parser.add_argument("--failfast", action="store_true", help="stop at the first failure")
    args = parser.parse_args()

    berth = os.path.abspath(args.berth)
    if not os.access(berth, os.X_OK):
        print(f"berth binary not found or not executable: {berth}", file=sys.stderr)
        print("integration: 0 passed, 1 failed, 0 skipped")
        return 1
    os.environ["BERTH_BIN"] = berth

    # A SIGTERM from CI becomes KeyboardInterrupt, so the harness' atexit clean-up still runs.
    signal.signal(signal.SIGTERM, _interrupt)

    sys.path.insert(0, HERE)
    import harness  # noqa: F401  (cleans the environment before any test module is imported)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [p if any(c in p for c in "*?[") else f"*{p}*" for p in args.patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)

    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult,
                                     failfast=args.failfast)
    started = time.monotonic()
    result = runner.run(suite)
    elapsed = time.monotonic() - started

    passed, failed, skipped = result.counts()
    ok = failed == 0 and result.wasSuccessful() and result.testsRun > 0
    if result.testsRun == 0:
        print("no tests ran (does -k match anything?)", file=sys.stderr)
    if ok:
        import shutil
        shutil.rmtree(harness.WORK_DIR, ignore_errors=True)
    else:
        print(f"berth logs kept in {harness.WORK_DIR}")
    print(f"integration suite took {elapsed:.1f}s")
    sys.stdout.flush()
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
