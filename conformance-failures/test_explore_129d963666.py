"""A divergence from the model, found by exploring with
``python -m refmodel conformance --explore``.

Replay with ``pytest test_explore_129d963666.py``.
The fixture beside this file holds the scenario and the observations the model makes; the
adapter below must make them too.

First divergence: step 0 (enqueue ref=w1 fn=m pool=p0) at 0 ms: ok {"id": "p0/0000000000000000000000010001work"}, expected error [ENQ-5]
"""

from pathlib import Path

from refmodel.conformance import load_fixture, open_adapter, run_conformance

ADAPTER = 'convex'
FIXTURE = Path(__file__).with_name('explore-129d963666.json')


def test_explore_129d963666() -> None:
    adapter = open_adapter(ADAPTER)
    try:
        report = run_conformance(adapter, [load_fixture(FIXTURE)])
    finally:
        adapter.close()
    assert [verdict.detail for verdict in report.failures()] == []
