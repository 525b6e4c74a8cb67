"""The test run's policy on randomness.

Under CI=true every random choice is fixed (the seeds drawn at collection and
Hypothesis's examples), so a green run is reproducible and a red one replays. Elsewhere
the seeds vary from run to run, printed on failure, so that local runs keep exploring.
``CONSENTRY_TEST_SEED`` picks another fixed seed.
"""

import os
import random

from hypothesis import settings

# PostgreSQL fixtures (one cluster per session) for the receipts and the replica tests.
pytest_plugins = ["pgcluster"]

settings.register_profile("ci", derandomize=True, print_blob=True)

if os.environ.get("CI") == "true" or "CONSENTRY_TEST_SEED" in os.environ:
    settings.load_profile("ci")
    random.seed(int(os.environ.get("CONSENTRY_TEST_SEED", "20261129")))
