"""Hypothesis profiles: ``ci`` (the default, fast and derandomised) and ``thorough``.

Select one with the environment variable ``HYPOTHESIS_PROFILE`` (``tox -e explore`` uses
``thorough``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# refmodel's pytest plugin (the world fixture), loaded here once coverage runs; pyproject's
# addopts keep its entry point from loading it earlier.
pytest_plugins = ["refmodel.pytest_plugin"]

settings.register_profile(
    "ci",
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    stateful_step_count=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
