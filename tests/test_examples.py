"""The seed README's three examples (:mod:`refmodel.examples`): the facts each one shows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from refmodel import ActionCtx, ForeignWorkId, World
from refmodel.examples import CITIES, SIGN_UP_AT, USERS, counter, ctx_interface, emails
from refmodel.trace import TraceEvent
from tests.spec import checks

ENDS = {"succeeded", "failed", "canceled", "timed_out"}
SCHED_ENDS = {"sched_succeeded", "sched_failed", "sched_canceled"}


def most_running_per_pool(events: list[TraceEvent]) -> dict[str, int]:
    """Replay a trace: the most work items each pool ever had running at once."""
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()
    for event in events:
        if event.pool is None:
            continue
        if event.kind == "started":
            running[event.pool] += 1
            most[event.pool] = max(most[event.pool], running[event.pool])
        elif event.kind in ENDS and event.data.get("wasRunning", True):
            running[event.pool] -= 1
    return dict(most)


def most_scheduled_in_progress(events: list[TraceEvent]) -> int:
    in_progress = most = 0
    for event in events:
        if event.kind == "sched_started":
            in_progress += 1
            most = max(most, in_progress)
        elif event.kind in {"sched_succeeded", "sched_failed"}:
            in_progress -= 1
    return most


def email_send_times(events: list[TraceEvent]) -> list[int]:
    ends = [e for e in events if e.kind in {"succeeded", "sched_succeeded"}]
    return [e.time for e in ends if str(e.data["result"]).startswith("sent to")]


@pytest.fixture(scope="module")
def emails_example() -> Any:
    return emails(seed=0)


@checks("PAR-1", "WC-1", "ORD-1")
def test_emails_with_pools_are_sent_300_ms_after_sign_up(emails_example: Any) -> None:
    pooled: World = emails_example.worlds["pools"]
    sent = email_send_times(pooled.trace)
    assert len(sent) == len(USERS) == 3
    assert max(sent) - SIGN_UP_AT == 300
    assert most_running_per_pool(pooled.trace) == {"scrapeWorkpool": 1, "emailWorkpool": 3}
    scrapes = [e.time for e in pooled.trace if e.kind == "succeeded" and e.pool == "scrapeWorkpool"]
    assert scrapes == [1000 * (i + 1) for i in range(len(CITIES))]
    assert pooled.now == 12_000


@checks("SCH-3", "SCH-1")
def test_emails_on_the_plain_scheduler_wait_2800_ms_behind_the_scrapes(
    emails_example: Any,
) -> None:
    plain: World = emails_example.worlds["plain scheduler"]
    sent = email_send_times(plain.trace)
    assert len(sent) == 3
    assert max(sent) - SIGN_UP_AT == 2800
    assert most_scheduled_in_progress(plain.trace) == 4
    assert [e for e in plain.trace if e.pool is not None and e.kind != "pool_created"] == []


@checks("PAR-1")
def test_emails_summary_states_both_latencies(emails_example: Any) -> None:
    summary = "\n".join(emails_example.summary)
    assert "the last email is sent 300 ms after sign-up" in summary
    assert "the last email is sent 2800 ms after sign-up, stuck behind the scrapes" in summary
    assert set(emails_example.timelines) == {"pools", "plain scheduler (4 at a time)"}


@checks("EXE-3", "PAR-1", "OCC-2")
@pytest.mark.parametrize("callers", [1, 4, 10])
def test_counter_through_a_pool_of_one_never_conflicts(callers: int) -> None:
    example = counter(seed=0, callers=callers)
    pooled: World = example.worlds["pool"]
    assert [e for e in pooled.trace if e.kind == "conflict"] == []
    assert pooled.store.all("counters")[0]["value"] == 2 * callers
    assert most_running_per_pool(pooled.trace) == {"counterWorkpool": 1}
    assert [e for e in pooled.trace if e.kind == "failed"] == []


@checks("OCC-2", "EXE-2")
def test_counter_run_directly_conflicts() -> None:
    example = counter(seed=0, callers=10)
    plain: World = example.worlds["plain"]
    conflicts = [e for e in plain.trace if e.kind == "conflict"]
    assert len(conflicts) > 0
    assert {(e.data["fn"], e.data["doc"]) for e in conflicts} == {
        ("counter:increment", "counters:1")
    }
    assert plain.store.all("counters")[0]["value"] < 20
    failed_calls = [e for e in plain.trace if e.kind in {"call_failed", "sched_failed"}]
    assert failed_calls != []
    assert all(
        e.data["error"]
        == "OCC conflict: 'counters:1', read by mutation 'counter:increment', was written by "
        "another commit while it ran"
        for e in failed_calls
    )
    summary = "\n".join(example.summary)
    assert "through counterWorkpool (max_parallelism 1): 0 OCC conflicts, counter = 20" in summary


@pytest.fixture(scope="module")
def ctx_example() -> Any:
    return ctx_interface(seed=0)


def main_result(world: World) -> dict[str, Any]:
    [done] = [e for e in world.trace if e.kind == "call_succeeded" and e.data["fn"] == "work:main"]
    result: dict[str, Any] = dict(done.data["result"])
    return result


@checks("CTX-1", "CTX-3", "RES-2")
def test_ctx_example_runs_action_mutation_and_query_through_the_pool(ctx_example: Any) -> None:
    result = main_result(ctx_example.worlds["world"])
    assert result["fetched"] == "fetched page"
    assert result["savedId"] == "saved:1"
    assert result["saved"] == 1
    assert result["failure"] == "WorkFailed: fetch x failed"


@checks("CAN-4")
def test_ctx_example_refuses_to_cancel_an_id_its_scheduler_did_not_issue(
    ctx_example: Any,
) -> None:
    result = main_result(ctx_example.worlds["world"])
    assert result["refused"] == (
        "'workpool/5' was not issued by the scheduler of pool 'workpool': "
        "ctx(...).scheduler.cancel only takes ids from ctx(...).scheduler.run_at/run_after"
    )


@checks("CAN-4")
def test_ctx_scheduler_cancel_of_the_direct_id_raises_foreign_work_id() -> None:
    world: World = ctx_interface(seed=0).worlds["world"]
    pool = world.pools["workpool"]

    @world.action("probe:cancel")
    async def probe(ctx: ActionCtx, args: dict[str, Any]) -> str:
        try:
            pool.ctx(ctx).scheduler.cancel("workpool/5")
        except ForeignWorkId as error:
            return f"ForeignWorkId: {error}"
        return "not refused"

    before = pool.status("workpool/5").to_json()
    handle = world.run_action(probe)
    world.run_until_idle()
    assert handle.result().startswith("ForeignWorkId: 'workpool/5' was not issued by the scheduler")
    assert pool.status("workpool/5").to_json() == before == {
        "kind": "success",
        "result": "fetched direct",
    }


@checks("CAN-1", "CTX-2", "STS-1")
def test_ctx_example_statuses(ctx_example: Any) -> None:
    world: World = ctx_example.worlds["world"]
    pool = world.pools["workpool"]
    result = main_result(world)
    assert result["later"] == "workpool/3"
    assert result["canceled"] == "workpool/4"
    assert {work_id: pool.status(work_id).to_json() for work_id in pool.work_ids()} == {
        "workpool/1": {"kind": "success", "result": "fetched page"},
        "workpool/2": {"kind": "success", "result": "saved:1"},
        "workpool/3": {"kind": "success", "result": "fetched later"},
        "workpool/4": {"kind": "error", "error": "Canceled"},
        "workpool/5": {"kind": "success", "result": "fetched direct"},
        "workpool/6": {"kind": "error", "error": "fetch x failed"},
    }
    assert [pool.kind_of(f"workpool/{n}").value for n in range(1, 7)] == [
        "action",
        "mutation",
        "unknown",
        "unknown",
        "action",
        "action",
    ]


@checks("ENQ-4", "CAN-1")
def test_ctx_example_canceled_run_at_item_never_started(ctx_example: Any) -> None:
    world: World = ctx_example.worlds["world"]
    events = [(e.time, e.kind) for e in world.trace if e.id == "workpool/4"]
    assert events == [(105, "enqueued"), (105, "canceled")]
    later = [(e.time, e.kind) for e in world.trace if e.id == "workpool/3"]
    assert later == [(105, "enqueued"), (1105, "started"), (1155, "succeeded")]


@checks()
def test_every_example_reports_its_summary_and_timelines() -> None:
    for example in (emails(0), counter(0), ctx_interface(0)):
        report = example.report()
        assert report.startswith(f"== example: {example.name} ==\n")
        for line in example.summary:
            assert line in report
        for label in example.timelines:
            assert f"-- timeline: {label} --" in report
