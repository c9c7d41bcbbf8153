"""``ModelAdapter.world``: the world a reset built, with its trace kept in memory (CNF-2)."""

from __future__ import annotations

import pytest

from refmodel.adapter import ModelAdapter
from refmodel.scenario import ScenarioError
from tests.spec import checks

SCENARIO = {
    "profile": "seed",
    "seed": 3,
    "pools": {"p": {"maxParallelism": 1}},
    "functions": {"f": {"kind": "action", "attempts": [{"durationMs": 10, "returns": 1}]}},
    "steps": [],
}


@checks("CNF-2")
def test_model_adapter_exposes_the_world_of_its_last_reset_with_its_trace() -> None:
    adapter = ModelAdapter()
    with pytest.raises(ScenarioError, match="call reset with a scenario first"):
        _ = adapter.world
    adapter.reset(SCENARIO)
    work_id = adapter.call({"op": "enqueue", "pool": "p", "fn": "f", "args": {"_ref": "a"}})["id"]
    reported = adapter.advance(10)["events"]

    world = adapter.world
    assert world.now == 10
    assert world.pools["p"].status(work_id).to_json() == {"kind": "success", "result": 1}
    assert [e.to_json() for e in world.trace] == reported
