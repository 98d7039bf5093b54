"""A long fuzzing session: the property tests of tests/test_fuzz.py with many
more examples (and under AddressSanitizer when run through .ci/sanitize).

    python tests/fuzz/run.py [scale] [pytest args]     # scale 50: ~170,000 examples

The suite itself runs them with scale 1 (about 3,400 examples).
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
scale = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "50"
extra = sys.argv[2:] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else sys.argv[1:]
env = dict(os.environ, TLEARN_FUZZ_SCALE=scale)
cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
       os.path.join(os.path.dirname(here), "test_fuzz.py"), *extra]
sys.exit(subprocess.call(cmd, env=env))
