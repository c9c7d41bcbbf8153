"""A divergence from the model, found by exploring with
``python -m refmodel conformance --explore``.

Replay with ``pytest test_explore_e11dd4448e.py``.
The fixture beside this file holds the scenario and the observations the model makes; the
adapter below must make them too.

First divergence: step 1 (status ref=w1 pool=p1) at 0 ms: ok {"status": {"state": "finished"}}, expected error [STS-4]
"""

from pathlib import Path

from refmodel.conformance import load_fixture, open_adapter, run_conformance

ADAPTER = 'convex'
FIXTURE = Path(__file__).with_name('explore-e11dd4448e.json')


def test_explore_e11dd4448e() -> None:
    adapter = open_adapter(ADAPTER)
    try:
        report = run_conformance(adapter, [load_fixture(FIXTURE)])
    finally:
        adapter.close()
    assert [verdict.detail for verdict in report.failures()] == []
