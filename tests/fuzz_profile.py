"""The fuzz tests' two profiles: quick by default (a few examples per test, derandomized, so a
run repeats), or `DLCORE_FUZZ=long` (fresh examples, as many as the test file's own environment
variable asks).  Imported after the test file's importorskip("hypothesis")."""
import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("DLCORE_FUZZ") == "long"


def fuzz_settings(quick, long_var, long_default):
    """hypothesis settings: `quick` examples per test, or in the long profile the number in
    the environment variable long_var (long_default when unset)."""
    long_n = int(os.environ.get(long_var, str(long_default)))
    return settings(max_examples=long_n if LONG else quick, deadline=None,
                    derandomize=not LONG, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))
