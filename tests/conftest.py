"""Shared pytest set-up: Hypothesis profiles.

CI (``CI=true``) uses the ``ci`` profile: derandomized and bounded, so a run is reproducible and
its time predictable. Locally the ``dev`` profile explores more examples with fresh randomness.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
