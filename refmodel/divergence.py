"""Comparing the semantics profiles: where do ``seed`` and ``current`` disagree? (rule PRF-1)

:func:`first_divergence` plays one scenario (a function that sets up and drives a world) under
both profiles and returns the first point at which their *observations* differ (any two runs
can be compared the same way with :func:`compare`, as the debugger's ``fork`` does): the work
lifecycle events (enqueued, started, succeeded, failed, retrying, canceled, cancel_requested,
timed_out, evicted, on_complete) with their times and outcomes. Events that differ by
construction (the world's profile, pool options, warnings, RNG draws, function calls) are left
out, so a divergence is always a difference in behaviour.

:func:`shortest_cancel_disagreement` searches, with Hypothesis, for the smallest scenario on
which the two profiles disagree about cancelling *running* work, and returns it shrunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from refmodel.engine.runtime import ActionCtx
from refmodel.trace import TraceEvent
from refmodel.workpool.options import PROFILES
from refmodel.world import World

__refmodel_user_code__ = True  # The scenario functions here are user code (rule EXE-4).

OBSERVED = (
    "enqueued",
    "started",
    "succeeded",
    "failed",
    "retrying",
    "canceled",
    "cancel_requested",
    "timed_out",
    "evicted",
    "on_complete",
    "cancel_ignored",
)
"""The trace kinds that count as behaviour when profiles are compared."""

Observation = tuple[int, str, str | None, str]


def observations(events: Sequence[TraceEvent]) -> list[Observation]:
    """The behaviour in a trace: ``(time, kind, id, details)`` for each observed event."""
    seen: list[Observation] = []
    for event in events:
        if event.kind in OBSERVED:
            details = ", ".join(f"{key}={value!r}" for key, value in sorted(event.data.items()))
            seen.append((event.time, event.kind, event.id, details))
    return seen


@attrs.frozen(kw_only=True)
class Divergence:
    """The first point where two runs' observations differ.

    Attributes:
        index: the position in both observation lists.
        left: the first run's observation there (``None`` if its list ended).
        right: the second run's observation there (``None`` if its list ended).
        traces: each run's whole observation list, by label.
        labels: the two runs' labels, first and second (the profiles' names when profiles are
            compared; ``("original", "fork")`` for a debugger's fork).
    """

    index: int
    left: Observation | None
    right: Observation | None
    traces: dict[str, list[Observation]]
    labels: tuple[str, str] = ("seed", "current")

    @property
    def seed(self) -> Observation | None:
        """The seed profile's observation, when profiles are compared (the first run's)."""
        return self.left

    @property
    def current(self) -> Observation | None:
        """The current profile's observation, when profiles are compared (the second run's)."""
        return self.right

    def describe(self) -> str:
        """A few lines saying where and how the runs part."""

        def show(item: Observation | None) -> str:
            if item is None:
                return "(nothing more)"
            time, kind, work_id, details = item
            return f"at {time} ms {kind} {work_id or ''} {details}".rstrip()

        first, second = self.labels
        noun = "profiles" if self.labels == ("seed", "current") else "runs"
        width = max(len(first), len(second)) + 1
        lines = [f"the {noun} agree on {self.index} observation(s), then:"]
        lines.append(f"  {first + ':':<{width}} {show(self.left)}")
        lines.append(f"  {second + ':':<{width}} {show(self.right)}")
        return "\n".join(lines)


def compare(
    first: Sequence[Observation],
    second: Sequence[Observation],
    labels: tuple[str, str] = ("seed", "current"),
) -> Divergence | None:
    """Where two runs' observation lists first differ, or ``None`` if they are equal.

    Args:
        first, second: the runs' observations (:func:`observations` of their traces).
        labels: what to call the two runs in the answer.
    """
    for index in range(max(len(first), len(second))):
        left = first[index] if index < len(first) else None
        right = second[index] if index < len(second) else None
        if left != right:
            return Divergence(
                index=index,
                left=left,
                right=right,
                traces={labels[0]: list(first), labels[1]: list(second)},
                labels=labels,
            )
    return None


def first_divergence(
    scenario: Callable[[World], None], *, seed: int = 0, max_steps: int = 1_000_000
) -> Divergence | None:
    """Play ``scenario`` under both profiles; return where their behaviour first differs.

    Args:
        scenario: sets up a fresh world (pools, functions, calls) and may drive it; the world
            is then run until idle. It must give pool options valid in both profiles.
        seed: the worlds' seed.
        max_steps: a bound on each run.

    Returns:
        The first divergence, or ``None`` if both profiles behave the same.
    """
    traces: dict[str, list[Observation]] = {}
    for profile in PROFILES:
        world = World(seed=seed, profile=profile)
        scenario(world)
        world.run_until_idle(max_steps=max_steps)
        traces[profile] = observations(world.trace)
    return compare(traces["seed"], traces["current"])


# The search for the shortest scenario -----------------------------------------------------

Op = tuple[str, int]
"""A step of the small scenario language: ``("enqueue", duration_ms)``, ``("advance", ms)``,
``("cancel", k)`` (cancel the k-th enqueued item, if there is one)."""


def play(ops: Sequence[Op]) -> Callable[[World], None]:
    """A scenario from ops: one pool of 1 slot, actions that sleep their duration."""

    def scenario(world: World) -> None:
        pool = world.pool("pool", max_parallelism=1)

        @world.action("job")
        async def job(ctx: ActionCtx, args: dict[str, Any]) -> str:
            await ctx.sleep(int(args["ms"]))
            return "done"

        ids: list[str] = []
        for op, value in ops:
            if op == "enqueue":
                ids.append(pool.enqueue_action(world.client, job, {"ms": value}))
            elif op == "advance":
                world.run_until(world.now + value)
            elif op == "cancel" and value < len(ids):
                pool.cancel(world.client, ids[value])

    return scenario


def _cancels_running(divergence: Divergence | None) -> bool:
    if divergence is None:
        return False
    kinds = {item[1] for item in (divergence.seed, divergence.current) if item is not None}
    return "cancel_requested" in kinds or any(
        item is not None and item[1] == "canceled" and "wasRunning=True" in item[3]
        for item in (divergence.seed, divergence.current)
    )


@attrs.frozen(kw_only=True)
class CancelDisagreement:
    """The shortest scenario found, and where the profiles part on it."""

    ops: list[Op]
    divergence: Divergence

    def describe(self) -> str:
        """The scenario and the divergence as text."""
        steps = "\n".join(f"  {i + 1}. {op} {value}" for i, (op, value) in enumerate(self.ops))
        return f"scenario:\n{steps}\n{self.divergence.describe()}"


def shortest_cancel_disagreement(max_examples: int = 500) -> CancelDisagreement:
    """Search for the smallest scenario on which ``seed`` and ``current`` disagree about
    cancelling running work, shrunk by Hypothesis (rule PRF-1).

    Raises:
        LookupError: no such scenario was found within ``max_examples``.
    """
    from hypothesis import HealthCheck, find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample

    op = st.one_of(
        st.tuples(st.just("enqueue"), st.integers(1, 100)),
        st.tuples(st.just("advance"), st.integers(0, 100)),
        st.tuples(st.just("cancel"), st.integers(0, 3)),
    )
    try:
        found = find(
            st.lists(op, max_size=6),
            lambda ops: _cancels_running(first_divergence(play(ops))),
            settings=settings(
                max_examples=max_examples,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            ),
        )
    except NoSuchExample:
        raise LookupError(
            f"no scenario within {max_examples} examples makes the profiles disagree about "
            "cancelling running work"
        ) from None
    divergence = first_divergence(play(found))
    assert divergence is not None
    return CancelDisagreement(ops=list(found), divergence=divergence)
