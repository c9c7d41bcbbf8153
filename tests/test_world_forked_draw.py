"""``World.set_next_draw``: forking a run at a draw (rule DET-2)."""

from __future__ import annotations

import pytest

from refmodel import InvalidArgument, InvalidType, World
from tests.spec import checks


@checks("DET-2")
def test_set_next_draw_replaces_one_draw_and_leaves_the_later_ones_as_they_were() -> None:
    plain, forked = World(seed=5), World(seed=5)

    forked.set_next_draw(0.25)

    expected = [plain.draw("a"), plain.draw("b"), plain.draw("c")]
    actual = [forked.draw("a"), forked.draw("b"), forked.draw("c")]
    assert actual == [0.25, expected[1], expected[2]]
    assert [dict(e.data) for e in forked.trace if e.kind == "rng"] == [
        {"purpose": "a", "value": 0.25},
        {"purpose": "b", "value": expected[1]},
        {"purpose": "c", "value": expected[2]},
    ]


@checks("DET-2", "ERR-1")
def test_set_next_draw_rejects_values_outside_the_unit_interval_and_changes_nothing() -> None:
    plain, world = World(seed=5), World(seed=5)
    for bad, error in ((1.0, InvalidArgument), (-0.1, InvalidArgument),
                       (float("nan"), InvalidArgument), ("0.5", InvalidType), (True, InvalidType)):
        with pytest.raises(error, match="a draw must be"):
            world.set_next_draw(bad)  # type: ignore[arg-type]
    assert world.draw("x") == plain.draw("x")
