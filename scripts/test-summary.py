#!/usr/bin/env python3
"""Sums the Criterion synthesis lines of a meson test log into one closing
line, "tests: N passed, N failed, N skipped"; a meson test without Criterion
output counts as one test. Exits 1 when anything failed."""
import json
import re
import sys

SYNTH = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = SYNTH.findall(out)
        result = t.get("result")
        if m:
            tested, passing, failing, crashing = map(int, m[-1])
            passed += passing
            failed += failing + crashing
            skipped += out.count("[SKIP]")
            if result not in ("OK", "EXPECTEDFAIL") and failing + crashing == 0:
                failed += 1  # the binary failed outside any test (timeout, crash)
        elif result == "SKIP":
            skipped += 1
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
