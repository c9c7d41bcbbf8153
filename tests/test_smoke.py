"""A first end-to-end check of the seed example (the fuller suites live beside it)."""

from __future__ import annotations

from refmodel.examples import counter, emails
from tests.spec import checks


@checks("EXE-3")
def test_counter_pool_of_one_never_conflicts_while_direct_calls_do() -> None:
    example = counter(seed=0, callers=10)
    pool_world = example.worlds["pool"]
    plain_world = example.worlds["plain"]
    assert [e for e in pool_world.trace if e.kind == "conflict"] == []
    assert len([e for e in plain_world.trace if e.kind == "conflict"]) > 0
    assert pool_world.store.all("counters")[0]["value"] == 20


@checks("PAR-1")
def test_emails_are_not_stuck_behind_scrapes_with_pools() -> None:
    example = emails(seed=0)
    summary = "\n".join(example.summary)
    assert "the last email is sent 300 ms after sign-up" in summary
    assert "the last email is sent 2800 ms after sign-up" in summary
