"""A divergence from the model, found by exploring with
``python -m refmodel conformance --explore``.

Replay with ``pytest test_explore_2c2721f03a.py``.
The fixture beside this file holds the scenario and the observations the model makes; the
adapter below must make them too.

First divergence: item w1: outcome {"kind": "succeeded", "result": "f0.0"}, expected {"kind": "canceled"} [CAN-1, CAN-7]
"""

from pathlib import Path

from refmodel.conformance import load_fixture, open_adapter, run_conformance

ADAPTER = 'convex'
FIXTURE = Path(__file__).with_name('explore-2c2721f03a.json')


def test_explore_2c2721f03a() -> None:
    adapter = open_adapter(ADAPTER)
    try:
        report = run_conformance(adapter, [load_fixture(FIXTURE)])
    finally:
        adapter.close()
    assert [verdict.detail for verdict in report.failures()] == []
