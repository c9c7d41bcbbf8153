"""A divergence from the model, found by exploring with
``python -m refmodel conformance --explore``.

Replay with ``pytest test_explore_b467709c8a.py``.
The fixture beside this file holds the scenario and the observations the model makes; the
adapter below must make them too.

First divergence: item w3: attempt 1 started at 403 ms, expected in [-68, 281] ms (at 31 ms) [WC-1]
"""

from pathlib import Path

from refmodel.conformance import load_fixture, open_adapter, run_conformance

ADAPTER = 'convex'
FIXTURE = Path(__file__).with_name('explore-b467709c8a.json')


def test_explore_b467709c8a() -> None:
    adapter = open_adapter(ADAPTER)
    try:
        report = run_conformance(adapter, [load_fixture(FIXTURE)])
    finally:
        adapter.close()
    assert [verdict.detail for verdict in report.failures()] == []
