#!/usr/bin/env python3
"""scripts/fuzz-eval's reading of llvm-cov's summary: which column is which.

  fuzz/fuzz_eval_test.py SOURCE_DIR
"""
import importlib.machinery
import importlib.util
import os
import sys
import tempfile

# A TOTAL row as `llvm-cov-14 report` prints it (from a sim_scenario_fuzzer run): regions
# 11/6 missed, functions 8/6, lines 13/9, branches 2/0.
SUMMARY = """\
Filename                      Regions    Missed Regions     Cover   Functions  Missed Functions  Executed       Lines      Missed Lines     Cover    Branches   Missed Branches     Cover
----------------------------------------------------------------------------------------------
encoder.h                           9                 4    55.56%           6                 4    33.33%           8                 4    50.00%           2                 0   100.00%
----------------------------------------------------------------------------------------------
TOTAL                              11                 6    45.45%           8                 6    25.00%          13                 9    30.77%           2                 0   100.00%
"""


def main(argv):
    path = os.path.join(argv[1], "scripts", "fuzz-eval")
    loader = importlib.machinery.SourceFileLoader("fuzz_eval", path)
    spec = importlib.util.spec_from_loader("fuzz_eval", loader)
    fuzz_eval = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    loader.exec_module(fuzz_eval)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(SUMMARY)
    try:
        got = fuzz_eval.coverage_totals(f.name)
    finally:
        os.unlink(f.name)
    want = (30.77, 45.45, 100.0, 4)  # lines %, regions %, branches %, lines covered
    if got != want:
        print(f"coverage_totals: got {got}, want {want} (lines %, regions %, branches %, lines)")
        return 1
    print(f"coverage_totals: {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
