"""A divergence from the model, found by exploring with
``python -m refmodel conformance --explore``.

Replay with ``pytest test_explore_76bf7a6e10.py``.
The fixture beside this file holds the scenario and the observations the model makes; the
adapter below must make them too.

First divergence: step 1 (cancel ref=w1 pool=p1) at 0 ms: ok {}, expected error [CAN-5]
"""

from pathlib import Path

from refmodel.conformance import load_fixture, open_adapter, run_conformance

ADAPTER = 'convex'
FIXTURE = Path(__file__).with_name('explore-76bf7a6e10.json')


def test_explore_76bf7a6e10() -> None:
    adapter = open_adapter(ADAPTER)
    try:
        report = run_conformance(adapter, [load_fixture(FIXTURE)])
    finally:
        adapter.close()
    assert [verdict.detail for verdict in report.failures()] == []
