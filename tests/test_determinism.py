"""DET-1: the same seed and inputs give a byte-identical trace, whatever PYTHONHASHSEED says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from refmodel import ActionCtx, MutationCtx, World
from refmodel.examples import EXAMPLES
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
HASH_SEEDS = ["0", "1", "12345"]


def busy_world(seed: int) -> World:
    """A scenario with same-instant ties, several pools, OCC conflicts, cancels, timeouts,
    evictions and draws from the world's RNG, run to the end."""
    world = World(seed=seed, scheduler_concurrency=2)
    pools = [
        world.pool(name, max_parallelism=parallelism, action_timeout_ms=400, ttl_ms=2000)
        for name, parallelism in [("zeta", 2), ("alpha", 1), ("mid", 3)]
    ]

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> dict[str, Any]:
        await ctx.sleep(int(args["ms"]))
        if args["ms"] % 7 == 0:
            raise ValueError(f"job {args['ms']} failed")
        tags = {f"tag{i}" for i in range(args["ms"] % 5)}  # A set, reported in sorted order.
        total: int = await ctx.run_mutation(bump, {"by": args["ms"]})
        return {"ms": args["ms"], "tags": sorted(tags), "total": total}

    @world.mutation("bump", duration_ms=25)
    def bump(ctx: MutationCtx, args: dict[str, Any]) -> int:
        rows = ctx.db.query("totals")
        if not rows:
            ctx.db.insert("totals", {"value": args["by"]})
            return int(args["by"])
        value = int(rows[0]["value"]) + int(args["by"])
        ctx.db.patch(rows[0]["_id"], {"value": value})
        return value

    ids = []
    for i in range(30):
        pool = pools[i % len(pools)]
        ms = 1 + int(world.draw("duration") * 60) * 10
        ids.append(pool.enqueue_action(world.client, job, {"ms": ms, "i": i}))
        world.client.scheduler.run_after(i % 4 * 5, job, {"ms": ms + 1})
    world.run_until(25)
    for work_id in ids[::3]:  # Every third item went to pools[0]: some pending, some running.
        pools[0].cancel(world.client, work_id)
    world.run_until_idle()
    world.run()
    return world


def all_traces(seed: int) -> str:
    """Every world of every example, and the busy scenario, as one JSON Lines text."""
    parts = []
    for name, play in sorted(EXAMPLES.items()):
        for label, world in play(seed).worlds.items():
            parts.append(f"# {name} / {label}\n{world.trace_jsonl()}")
    parts.append(f"# busy\n{busy_world(seed).trace_jsonl()}")
    return "".join(parts)


def traces_in_subprocess(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.test_determinism import all_traces; "
            "sys.stdout.write(all_traces(3))",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    return result.stdout


@checks("DET-1")
def test_traces_are_byte_identical_under_any_hash_seed() -> None:
    outputs = {seed: traces_in_subprocess(seed) for seed in HASH_SEEDS}
    first = outputs[HASH_SEEDS[0]]
    assert first.count("\n") > 500
    worlds = sum(len(play(0).worlds) for play in EXAMPLES.values())
    assert first.count("# ") == worlds + 1  # Every example world, and the busy scenario.
    for seed in HASH_SEEDS[1:]:
        assert outputs[seed] == first, f"PYTHONHASHSEED={seed} changed the trace"
    assert first == all_traces(3)


@checks("DET-1", "DET-2")
def test_two_worlds_with_the_same_seed_give_the_same_trace() -> None:
    first = busy_world(11).trace_jsonl()
    second = busy_world(11).trace_jsonl()
    assert first == second
    kinds = {line.split('"kind":"')[1].split('"')[0] for line in first.splitlines()}
    assert {"conflict", "timed_out", "canceled", "evicted", "rng", "failed"} <= kinds


@checks("DET-2")
def test_a_different_seed_changes_the_draws() -> None:
    assert busy_world(11).trace_jsonl() != busy_world(12).trace_jsonl()


@checks("DET-1")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_replay_identically_in_process(name: str) -> None:
    first = {label: w.trace_jsonl() for label, w in EXAMPLES[name](5).worlds.items()}
    second = {label: w.trace_jsonl() for label, w in EXAMPLES[name](5).worlds.items()}
    assert first == second


def ticking_world(seed: int) -> World:
    """A small scenario, set up but not run."""
    world = World(seed=seed)
    pool = world.pool("p", max_parallelism=2)

    @world.action("tick")
    async def tick(ctx: ActionCtx, args: dict[str, Any]) -> float:
        await ctx.sleep(int(args["ms"]))
        return world.draw("after tick")

    for i in range(10):
        pool.enqueue_action(world.client, tick, {"ms": 10 * (i % 3)})
    return world


@checks("DET-1", "DET-2")
def test_worlds_alive_side_by_side_do_not_affect_each_other() -> None:
    alone = ticking_world(4)
    alone.run()
    one, two, other = ticking_world(4), ticking_world(4), ticking_world(5)
    worlds = [one, two, other]
    while any(world.peek() != float("inf") for world in worlds):
        for world in worlds:
            if world.peek() != float("inf"):
                world.step()
    assert one.trace_jsonl() == alone.trace_jsonl()
    assert two.trace_jsonl() == alone.trace_jsonl()
    assert other.trace_jsonl() != alone.trace_jsonl()


class _Opaque:
    """An object with the default repr, which shows its memory address."""


class _AwaitsOpaque:
    def __await__(self) -> Any:
        yield _Opaque()


@checks("DET-1")
def test_user_mistakes_leave_no_memory_address_in_the_trace() -> None:
    world = World(seed=0)
    pool = world.pool("p", max_parallelism=1)

    def not_registered(ctx: Any, args: dict[str, Any]) -> None:
        return None

    @world.action("passes a raw function")
    async def passes_raw(ctx: ActionCtx, args: dict[str, Any]) -> None:
        pool.enqueue_action(ctx, not_registered)  # type: ignore[arg-type]

    @world.action("awaits a foreign object")
    async def awaits_foreign(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await _AwaitsOpaque()

    @world.action("passes a bad ctx")
    async def passes_bad_ctx(ctx: ActionCtx, args: dict[str, Any]) -> None:
        pool.enqueue_action(_Opaque(), "passes a bad ctx")  # type: ignore[arg-type]

    handles = [world.run_action(fn) for fn in (passes_raw, awaits_foreign, passes_bad_ctx)]
    world.run_until_idle()
    assert all(handle.error is not None for handle in handles)
    assert " at 0x" not in world.trace_jsonl()
