"""Tests of ``refmodel/store.py``: snapshot reads, atomic commits, OCC conflicts, failed
mutations without effects, read-your-own-writes, reserved fields and writes to missing
documents (rules OCC-1, OCC-2, EXE-2)."""

from __future__ import annotations

from typing import Any

import pytest

from refmodel import ActionCtx, CallFailed, MutationCtx, QueryCtx, World
from tests.helpers import events as _events
from tests.spec import checks


def _world_with_counter() -> tuple[World, str]:
    """A world holding one document ``counters:1`` with ``value`` 0, and the functions the
    tests below call by name: the mutations ``bump`` (set a document's ``value``) and ``add``
    (insert into a table), and the queries ``get`` (one document) and ``table`` (a scan)."""
    world = World()

    @world.mutation()
    def create(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("counters", {"value": 0})

    @world.mutation()
    def bump(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.patch(args["id"], {"value": args["value"]})

    @world.mutation()
    def add(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert(args["table"], {"n": 1})

    @world.query()
    def get(ctx: QueryCtx, args: dict[str, Any]) -> Any:
        return ctx.db.get(args["id"])

    @world.query()
    def table(ctx: QueryCtx, args: dict[str, Any]) -> Any:
        return ctx.db.query(args["table"])

    counter: str = world.run_mutation(create).result()
    return world, counter


# OCC-1 ----------------------------------------------------------------------------------------


@checks("OCC-1", "EXE-2")
def test_writes_are_invisible_until_the_commit_and_then_all_appear_at_once() -> None:
    world, _ = _world_with_counter()

    @world.mutation(duration_ms=100)
    def seed_three(ctx: MutationCtx, args: dict[str, Any]) -> list[str]:
        return [ctx.db.insert("items", {"n": n}) for n in range(3)]

    handle = world.run_mutation(seed_three)
    seen = []
    for time in (0, 50, 99, 100):
        world.run_until(time)
        seen.append((time, len(world.run_query("table", {"table": "items"}))))

    assert seen == [(0, 0), (50, 0), (99, 0), (100, 3)]
    assert handle.result() == ["items:2", "items:3", "items:4"]
    assert _events(world, "committed") == [(0, "committed", None), (100, "committed", None)]


@checks("OCC-1")
def test_a_mutation_reads_the_state_left_by_every_earlier_commit() -> None:
    world, counter = _world_with_counter()
    seen: list[Any] = []

    @world.mutation(duration_ms=10)
    def read(ctx: MutationCtx, args: dict[str, Any]) -> None:
        doc = ctx.db.get(args["id"])
        assert doc is not None
        seen.append(doc["value"])

    world.run_mutation("bump", {"id": counter, "value": 5})
    world.run_mutation(read, {"id": counter})
    world.run_until_idle()

    assert seen == [5]


@checks("OCC-1")
def test_a_mutation_reads_its_own_writes() -> None:
    world, counter = _world_with_counter()

    @world.mutation(duration_ms=10)
    def rewrite(ctx: MutationCtx, args: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        new_id = ctx.db.insert("counters", {"value": 7})
        out.append(ctx.db.get(new_id))
        ctx.db.patch(args["id"], {"value": 1, "label": "first"})
        out.append(ctx.db.get(args["id"]))
        ctx.db.replace(args["id"], {"value": 2})
        out.append(ctx.db.get(args["id"]))
        out.append([doc["value"] for doc in ctx.db.query("counters")])
        ctx.db.delete(new_id)
        out.append(ctx.db.get(new_id))
        out.append([doc["_id"] for doc in ctx.db.query("counters")])
        return out

    handle = world.run_mutation(rewrite, {"id": counter})
    world.run_until_idle()

    assert handle.result() == [
        {"_id": "counters:2", "_creationTime": 0, "value": 7},
        {"_id": counter, "_creationTime": 0, "value": 1, "label": "first"},
        {"_id": counter, "_creationTime": 0, "value": 2},
        [2, 7],
        None,
        [counter],
    ]
    assert world.store.all("counters") == [{"_id": counter, "_creationTime": 0, "value": 2}]


@checks("OCC-1", "ENQ-2")
def test_readers_get_private_copies_of_documents() -> None:
    world, counter = _world_with_counter()

    @world.mutation()
    def tamper(ctx: MutationCtx, args: dict[str, Any]) -> None:
        doc = ctx.db.get(args["id"])
        assert doc is not None
        doc["value"] = 99  # Changing the copy writes nothing.

    world.run_mutation(tamper, {"id": counter})
    from_store = world.store.get(counter)
    assert from_store is not None
    from_store["value"] = 42
    world.store.all("counters")[0]["value"] = 43

    assert world.run_query("get", {"id": counter}) == {
        "_id": counter,
        "_creationTime": 0,
        "value": 0,
    }


# OCC-2 ----------------------------------------------------------------------------------------


@checks("OCC-2", "EXE-2")
def test_a_mutation_conflicts_when_a_document_it_read_was_written_while_it_ran() -> None:
    world, counter = _world_with_counter()

    @world.mutation(duration_ms=100)
    def slow_increment(ctx: MutationCtx, args: dict[str, Any]) -> None:
        doc = ctx.db.get(args["id"])
        assert doc is not None
        ctx.db.patch(args["id"], {"value": doc["value"] + 1})
        ctx.db.insert("log", {"entry": "incremented"})

    handle = world.run_mutation(slow_increment, {"id": counter})
    world.run_until(50)
    world.run_mutation("bump", {"id": counter, "value": 10})
    world.run_until_idle()

    assert handle.error == (
        f"OCC conflict: {counter!r}, read by mutation 'slow_increment', was written by another "
        "commit while it ran"
    )
    assert [dict(e.data) for e in world.trace if e.kind == "conflict"] == [
        {"fn": "slow_increment", "doc": counter}
    ]
    assert world.run_query("get", {"id": counter})["value"] == 10
    assert world.store.all("log") == []
    assert _events(world, "conflict", "call_failed") == [
        (100, "conflict", None),
        (100, "call_failed", "call/2"),
    ]


@checks("OCC-2")
def test_a_mutation_conflicts_when_a_table_it_scanned_was_written_while_it_ran() -> None:
    world, _ = _world_with_counter()

    @world.mutation(duration_ms=100)
    def summarize(ctx: MutationCtx, args: dict[str, Any]) -> None:
        total = len(ctx.db.query("items"))
        ctx.db.insert("summaries", {"total": total})

    handle = world.run_mutation(summarize)
    world.run_until(30)
    world.run_mutation("add", {"table": "items"})
    world.run_until_idle()

    assert handle.error == (
        "OCC conflict: 'items', read by mutation 'summarize', was written by another commit "
        "while it ran"
    )
    assert world.store.all("summaries") == []


@checks("OCC-2")
def test_a_mutation_conflicts_when_a_document_it_read_was_deleted_while_it_ran() -> None:
    world, counter = _world_with_counter()

    @world.mutation()
    def remove(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.delete(args["id"])

    @world.mutation(duration_ms=100)
    def copy_counter(ctx: MutationCtx, args: dict[str, Any]) -> None:
        doc = ctx.db.get(args["id"])
        assert doc is not None
        ctx.db.insert("copies", {"value": doc["value"]})

    handle = world.run_mutation(copy_counter, {"id": counter})
    world.run_until(10)
    world.run_mutation(remove, {"id": counter})
    world.run_until_idle()

    assert handle.error is not None and handle.error.startswith("OCC conflict: 'counters:1'")
    assert world.store.all("copies") == []
    assert world.store.all("counters") == []


@checks("OCC-2")
def test_writes_to_unrelated_documents_and_tables_do_not_conflict() -> None:
    world, counter = _world_with_counter()
    other: str = world.run_mutation("add", {"table": "counters"}).result()

    @world.mutation(duration_ms=100)
    def read_one(ctx: MutationCtx, args: dict[str, Any]) -> str:
        ctx.db.get(args["id"])
        return ctx.db.insert("notes", {"n": 1})

    handle = world.run_mutation(read_one, {"id": counter})
    world.run_until(10)
    world.run_mutation("bump", {"id": other, "value": 3})
    world.run_mutation("add", {"table": "elsewhere"})
    world.run_until_idle()

    assert handle.result() == "notes:3"
    assert _events(world, "conflict") == []


@checks("OCC-2")
def test_a_mutation_that_only_inserts_never_conflicts() -> None:
    world, _ = _world_with_counter()

    @world.mutation(duration_ms=100)
    def append(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("items", {"n": 0})

    handle = world.run_mutation(append)
    world.run_until(50)
    world.run_mutation("add", {"table": "items"})
    world.run_until_idle()

    assert handle.ok
    assert [doc["_id"] for doc in world.store.all("items")] == ["items:3", "items:2"]


@checks("OCC-2", "ENQ-3", "EXE-2")
def test_a_failed_mutation_has_no_effects() -> None:
    world, counter = _world_with_counter()
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(args.get("ms", 0))

    planned = pool.enqueue_action(world.client, job, {"ms": 100})  # Holds the only slot.
    blocker = pool.enqueue_action(world.client, job)  # Pending until 100.
    scheduled = world.client.scheduler.run_after(500, job)

    @world.mutation(duration_ms=40)
    def everything_then_fail(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.patch(counter, {"value": 1})
        ctx.db.insert("log", {"n": 1})
        pool.enqueue_action(ctx, job)
        pool.cancel(ctx, blocker)
        ctx.scheduler.run_after(0, job)
        ctx.scheduler.cancel(scheduled)
        if args["fail"]:
            raise RuntimeError("changed my mind")

    handle = world.run_mutation(everything_then_fail, {"fail": True})
    world.run_until_idle()

    assert handle.error == "changed my mind"
    assert world.store.get(counter) == {"_id": counter, "_creationTime": 0, "value": 0}
    assert world.store.all("log") == []
    assert pool.work_ids() == [planned, blocker]
    assert pool.status(blocker).to_json() == {"kind": "success", "result": None}
    assert world.scheduler.ids() == [scheduled]
    assert world.scheduler.get(scheduled).state.value == "success"
    assert _events(world, "committed", "canceled", "sched_canceled") == [(0, "committed", None)]


@checks("OCC-2", "ENQ-3")
def test_a_conflicting_mutation_has_no_effects() -> None:
    world, counter = _world_with_counter()
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
        return None

    @world.mutation(duration_ms=40)
    def read_and_do_things(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.get(counter)
        ctx.db.insert("log", {"n": 1})
        pool.enqueue_action(ctx, job)
        ctx.scheduler.run_after(0, job)

    handle = world.run_mutation(read_and_do_things)
    world.run_until(20)
    world.run_mutation("bump", {"id": counter, "value": 2})
    world.run_until_idle()

    assert handle.error is not None and handle.error.startswith("OCC conflict")
    assert world.store.all("log") == []
    assert pool.work_ids() == []
    assert world.scheduler.ids() == []


# Document rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"_secret": 1}, "field '_secret' is reserved: user fields may not start with '_'"),
        ({"_id": "x:1"}, "field '_id' is reserved: user fields may not start with '_'"),
        ({"ok": {1}}, "document['ok'] must be JSON-like (None, bool, int, float, str, list, "
                      "dict): got set {1}"),
        ([1, 2], "a document must be a dict, got list"),
    ],
)
@checks("OCC-2", "EXE-2")
def test_insert_with_reserved_or_non_json_fields_fails_the_mutation(
    fields: Any, message: str
) -> None:
    world, _ = _world_with_counter()

    @world.mutation()
    def write(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("good", {"n": 1})
        ctx.db.insert("bad", fields)

    handle = world.run_mutation(write)

    assert handle.error == message
    assert world.store.tables() == ["counters"]


@pytest.mark.parametrize(
    ("verb", "message"),
    [
        ("patch", "cannot patch 'counters:99': no such document"),
        ("replace", "cannot replace 'counters:99': no such document"),
        ("delete", "cannot delete 'counters:99': no such document"),
    ],
)
@checks("EXE-2", "OCC-2")
def test_patch_replace_or_delete_of_a_missing_document_fails_the_mutation(
    verb: str, message: str
) -> None:
    world, counter = _world_with_counter()

    @world.mutation()
    def write(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.patch(counter, {"value": 1})
        if verb == "patch":
            ctx.db.patch("counters:99", {"value": 1})
        elif verb == "replace":
            ctx.db.replace("counters:99", {"value": 1})
        else:
            ctx.db.delete("counters:99")

    handle = world.run_mutation(write)

    assert handle.error == message
    assert world.store.get(counter) == {"_id": counter, "_creationTime": 0, "value": 0}


@checks("EXE-2")
def test_patch_replace_or_delete_of_a_document_deleted_in_the_same_mutation_fails() -> None:
    world, counter = _world_with_counter()

    @world.mutation()
    def twice(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.delete(counter)
        ctx.db.delete(counter)

    handle = world.run_mutation(twice)

    assert handle.error == f"cannot delete {counter!r}: no such document"
    assert world.store.all("counters") != []


@checks("EXE-2")
def test_queries_cannot_write() -> None:
    world, _ = _world_with_counter()

    @world.query()
    def sneaky(ctx: QueryCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("items", {"n": 1})

    with pytest.raises(CallFailed) as failure:
        world.run_query(sneaky)

    assert str(failure.value) == "a query cannot insert: queries only read"
    assert world.store.all("items") == []


@checks("EXE-2")
def test_replace_keeps_the_system_fields_and_drops_the_others() -> None:
    world, counter = _world_with_counter()

    @world.mutation()
    def enrich(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.patch(counter, {"label": "x", "value": 1})

    @world.mutation()
    def reset(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.replace(counter, {"fresh": True})

    world.run_until(5)
    world.run_mutation(enrich)
    world.run_mutation(reset)

    assert world.store.all("counters") == [{"_id": counter, "_creationTime": 0, "fresh": True}]
