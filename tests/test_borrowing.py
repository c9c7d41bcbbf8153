"""The example proposal (:mod:`refmodel.proposals.borrowing`, workpool#144): a profile of its
own, built without editing the engine, that lets idle pools lend their slots."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from refmodel import World
from refmodel.checker import CheckOptions, check
from refmodel.examples import borrowing
from refmodel.proposals.borrowing import BORROWING
from refmodel.workpool.profiles import CURRENT
from tests.spec import checks


@checks("PRF-1")
def test_the_proposal_is_the_current_profile_with_another_slot_policy() -> None:
    assert BORROWING.name == "borrowing"
    assert BORROWING.lifecycle is CURRENT.lifecycle
    assert (BORROWING.status, BORROWING.retries, BORROWING.eligibility) == (
        CURRENT.status, CURRENT.retries, CURRENT.eligibility
    )
    assert BORROWING.slots is not CURRENT.slots
    assert World(profile=BORROWING).trace[0].data["profile"] == "borrowing"


@checks("PRF-1", "PAR-1")
def test_on_the_emails_load_scrapes_finish_sooner_and_emails_wait_for_their_slots() -> None:
    example = borrowing()
    assert example.summary[1:] == [
        "own slots only: the scrapes finish at 12000 ms; the last email is sent 300 ms after "
        "sign-up.",
        "borrowed slots: the scrapes finish at 2300 ms, borrowing the idle email slots; the "
        "last email is sent 800 ms after sign-up, once its slots came back.",
    ]
    scrapes = example.worlds["borrowing"].pools["scrapeWorkpool"]
    assert scrapes.options.max_parallelism == 1
    starts = [e.time for e in example.worlds["borrowing"].trace
              if e.kind == "started" and e.pool == "scrapeWorkpool"]
    assert starts.count(0) == 6  # Its own slot and the five of the idle email pool.


Job = tuple[int, int, int]
"""(pool index, enqueue time, duration)."""


def _replay(world: World, limits: dict[str, int]) -> list[str]:
    """Check the trace against what the proposal promises; return the broken promises: an
    attempt starts in a slot of its own pool if one is free, and otherwise borrows one only
    while some other pool has nothing running and nothing waiting; the world never runs more
    than the sum of the limits."""
    running = dict.fromkeys(limits, 0)
    pending = dict.fromkeys(limits, 0)
    borrowed: dict[str, int] = dict.fromkeys(limits, 0)
    in_borrowed_slot: set[str | None] = set()
    broken = []
    for event in world.trace:
        pool = event.pool or ""
        if event.kind == "enqueued":
            pending[pool] += 1
        elif event.kind == "started":
            pending[pool] -= 1
            if running[pool] - borrowed[pool] >= limits[pool]:  # No own slot free: a borrow.
                idle = [p for p in limits if p != pool and running[p] == pending[p] == 0]
                if not idle:
                    broken.append(f"#{event.seq}: {pool} borrowed while no pool was idle")
                borrowed[pool] += 1
                in_borrowed_slot.add(event.id)
            running[pool] += 1
            if sum(running.values()) > sum(limits.values()):
                broken.append(f"#{event.seq}: {sum(running.values())} attempts run at once")
        elif event.kind in ("succeeded", "failed"):
            running[pool] -= 1
            if event.id in in_borrowed_slot:
                in_borrowed_slot.discard(event.id)
                borrowed[pool] -= 1
    return broken


@checks("PAR-1", "WC-1")
@settings(max_examples=60, deadline=None)
@given(
    limits=st.lists(st.integers(1, 3), min_size=2, max_size=3),
    jobs=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 40), st.integers(1, 30)), max_size=25
    ),
)
def test_the_world_never_runs_more_than_its_pools_slots_and_all_work_ends(
    limits: list[int], jobs: list[Job]
) -> None:
    world = World(profile=BORROWING)
    pools = [world.pool(f"p{i}", max_parallelism=limit) for i, limit in enumerate(limits)]
    job = world.declare_action("job", duration_ms=lambda args, attempt: int(args["ms"]))
    for index, at, ms in sorted(jobs, key=lambda j: j[1]):
        pool = pools[index % len(pools)]
        world.run_until(max(at, world.now))
        pool.enqueue_action(world.client, job, {"ms": ms})
    world.run_until_idle()
    assert _replay(world, {p.name: p.options.max_parallelism for p in pools}) == []
    assert all(p.statistics().running == p.statistics().pending == 0 for p in pools)
    ended = [e for e in world.trace if e.kind == "succeeded"]
    assert len(ended) == len(jobs)


@checks("PRF-1")
def test_a_lender_with_work_of_its_own_gets_its_slots_back_by_attrition() -> None:
    world = World(profile=BORROWING)
    lender = world.pool("lender", max_parallelism=2)
    borrower = world.pool("borrower", max_parallelism=1)
    long = world.declare_action("long", duration_ms=100)
    short = world.declare_action("short", duration_ms=10)
    for _ in range(3):
        borrower.enqueue_action(world.client, long, {})
    world.run_until(50)
    mine = lender.enqueue_action(world.client, short, {})
    world.run_until_idle()
    started: dict[Any, int] = {e.id: e.time for e in world.trace if e.kind == "started"}
    assert [started[f"borrower/{n}"] for n in (1, 2, 3)] == [0, 0, 0]
    assert started[mine] == 100  # Not stopped: the borrowed attempts end first.


@checks("PAR-1", "WC-1", "CHK-1")
def test_the_trace_checker_sees_what_the_proposal_changes_and_nothing_else() -> None:
    """A borrower runs beyond its max_parallelism (PAR-1), and a lender's own work waits while
    its slots are lent, though none of its own attempts runs (WC-1)."""
    world = borrowing().worlds["borrowing"]
    report = check(world.trace_jsonl().splitlines(),
                   options=CheckOptions(end_ms=world.now, profile="current"))
    assert {violation.rule for violation in report.violations} == {"PAR-1", "WC-1"}
