"""Hypothesis strategies for exploring workloads in tests.

- :func:`retry_behaviors`: :class:`~refmodel.RetryBehavior` values;
- :func:`pool_options`: keyword arguments of ``world.pool`` valid in a profile;
- :func:`scenarios`: whole scenarios (``specs/scenario.schema.json``) with their own pools,
  declared functions and steps, for properties that must hold of any workload;
- :func:`workloads`: scenarios over *your* pools and functions, where only the arrivals vary:
  bursts of work enqueued into each pool at drawn times. :func:`play` plays one to its end.

Every drawn scenario passes :func:`refmodel.scenario.load`, and everything shrinks towards
fewer, smaller and earlier things, so a failing property comes back as a small workload
(its JSON is the scenario: save it and ``python -m refmodel debug`` it). A property of a
Convex user's workload, written as a test::

    from hypothesis import given
    from refmodel.strategies import play, workloads

    POOLS = {"emails": {"maxParallelism": 5}, "scrapes": {"maxParallelism": 1}}
    FUNCTIONS = {
        "email": {"kind": "action", "attempts": [{"durationMs": 300, "returns": "sent"}]},
        "scrape": {"kind": "action", "attempts": [{"durationMs": 1000}]},
    }

    @given(workloads(POOLS, FUNCTIONS, work=[("emails", "email"), ("scrapes", "scrape")]))
    def test_emails_never_wait_more_than_1s_behind_the_scrapes(workload):
        world = play(workload)
        ...

(the whole test is ``examples/test_email_pool.py``, and in the README).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from refmodel.values import short
from refmodel.workpool.options import PROFILES, RetryBehavior
from refmodel.workpool.profiles import BUILT_IN
from refmodel.world import World


def retry_behaviors(
    *, max_attempts: int = 5, max_backoff_ms: int = 1000, max_base: float = 3.0
) -> st.SearchStrategy[RetryBehavior]:
    """Retry behaviours with 1..``max_attempts`` attempts, an initial backoff of
    0..``max_backoff_ms`` and a base in [1, ``max_base``]."""
    return st.builds(
        RetryBehavior,
        max_attempts=st.integers(1, max_attempts),
        initial_backoff_ms=st.integers(0, max_backoff_ms),
        base=st.one_of(st.sampled_from([1, 2]), st.floats(1.0, max_base, allow_nan=False)),
    )


def pool_options(
    profile: str = "seed", *, max_parallelism: int | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``world.pool(name, **options)`` that ``profile`` accepts.

    Args:
        profile: ``"seed"`` or ``"current"``.
        max_parallelism: the largest limit drawn (default: the profile's bound).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {short(profile)}: choose one of {list(PROFILES)}")
    rules = BUILT_IN[profile].options
    low = rules.min_parallelism
    bound = rules.max_parallelism
    high = bound if max_parallelism is None else min(bound, max_parallelism)
    fields: dict[str, st.SearchStrategy[Any]] = {
        "max_parallelism": st.integers(low, high),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "log_level": st.sampled_from(rules.log_levels),
        "retry_actions_by_default": st.booleans(),
        "default_retry_behavior": retry_behaviors(),
    }
    if rules.timeouts:
        optional.update({
            "action_timeout_ms": st.integers(1, 20 * 60 * 1000),
            "mutation_timeout_ms": st.integers(1, 60 * 1000),
            "unknown_timeout_ms": st.integers(1, 20 * 60 * 1000),
        })
    if rules.keeps_results:
        optional.update({
            "ttl_ms": st.one_of(st.integers(1, 2 * 24 * 60 * 60 * 1000), st.just(float("inf"))),
        })
    return st.fixed_dictionaries(fields, optional=optional)


def _attempt(durations: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda ms, value: {"durationMs": ms, "returns": value},
                  durations, st.integers(0, 9)),
        st.builds(lambda ms, n: {"durationMs": ms, "throws": f"error {n}"},
                  durations, st.integers(0, 9)),
        st.builds(lambda ms: {"durationMs": ms, "throwsNonRetryable": "fatal"}, durations),
    )


@st.composite
def _scenario(draw: Any, profile: str | None, max_steps: int) -> dict[str, Any]:
    chosen = profile if profile is not None else draw(st.sampled_from(PROFILES))
    low = BUILT_IN[chosen].options.min_parallelism
    pools = {f"p{i}": {"maxParallelism": draw(st.integers(max(low, 1), 4))}
             for i in range(draw(st.integers(1, 2)))}
    durations = st.integers(0, 200)
    functions: dict[str, Any] = {
        f"f{i}": {"kind": "action", "attempts": draw(st.lists(_attempt(durations), min_size=1,
                                                               max_size=3))}
        for i in range(draw(st.integers(1, 3)))
    }
    functions["done"] = {"kind": "mutation", "recordsOnComplete": True}
    steps: list[dict[str, Any]] = []
    refs: list[str] = []
    for _ in range(draw(st.integers(1, max_steps))):
        op = draw(st.sampled_from(["enqueue", "enqueue", "advance", "cancel", "configure"]))
        pool = draw(st.sampled_from(sorted(pools)))
        if op == "cancel" and refs:
            steps.append({"op": "cancel", "pool": pool, "ref": draw(st.sampled_from(refs))})
        elif op == "configure":
            steps.append({"op": "configure", "pool": pool,
                          "maxParallelism": draw(st.integers(low, 4))})
        elif op == "advance":
            steps.append({"op": "advance", "ms": draw(st.integers(0, 500))})
        else:
            refs.append(f"w{len(refs) + 1}")
            options: dict[str, Any] = {}
            if draw(st.booleans()):
                options["retry"] = {"maxAttempts": draw(st.integers(1, 3)),
                                    "initialBackoffMs": draw(st.integers(0, 100)), "base": 2}
            if draw(st.booleans()):
                options["onComplete"] = "done"
            step: dict[str, Any] = {"op": "enqueue", "pool": pool,
                                    "fn": draw(st.sampled_from(sorted(set(functions) - {"done"}))),
                                    "args": {}, "ref": refs[-1]}
            if options:
                step["options"] = options
            steps.append(step)
    return {"name": "drawn", "profile": chosen, "seed": draw(st.integers(0, 2**32 - 1)),
            "pools": pools, "functions": functions, "steps": steps}


def scenarios(
    *, profile: str | None = None, max_steps: int = 8
) -> st.SearchStrategy[dict[str, Any]]:
    """Whole scenarios: one or two pools, up to three actions whose attempts return, throw or
    throw a NonRetryableError, an onComplete mutation, and up to ``max_steps`` steps
    (enqueues with retries and onComplete, cancels, limit changes, advances)."""
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"unknown profile {short(profile)}: choose one of {list(PROFILES)}")
    return _scenario(profile, max_steps)


@st.composite
def _workload(
    draw: Any,
    pools: Mapping[str, Mapping[str, Any]],
    functions: Mapping[str, Mapping[str, Any]],
    work: Sequence[tuple[str, str]],
    profile: str,
    max_bursts: int,
    max_burst: int,
    max_gap_ms: int,
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    count = 0
    for _ in range(draw(st.integers(1, max_bursts))):
        gap = draw(st.integers(0, max_gap_ms))
        if gap:
            steps.append({"op": "advance", "ms": gap})
        pool, fn = draw(st.sampled_from(list(work)))
        size = draw(st.integers(1, max_burst))
        refs = [f"{fn}-{count + i + 1}" for i in range(size)]
        count += size
        steps.append({"op": "enqueueBatch", "pool": pool, "fn": fn,
                      "argsList": [{} for _ in refs], "refs": refs})
    return {"name": "workload", "profile": profile, "seed": 0,
            "pools": {name: dict(options) for name, options in pools.items()},
            "functions": {name: dict(spec) for name, spec in functions.items()},
            "steps": steps}


def workloads(
    pools: Mapping[str, Mapping[str, Any]],
    functions: Mapping[str, Mapping[str, Any]],
    *,
    work: Sequence[tuple[str, str]],
    profile: str = "current",
    max_bursts: int = 6,
    max_burst: int = 5,
    max_gap_ms: int = 2000,
) -> st.SearchStrategy[dict[str, Any]]:
    """Scenarios over your own pools and declared functions in which the arrivals vary.

    Args:
        pools: your pools, as in a scenario (``{"emails": {"maxParallelism": 5}}``).
        functions: your functions declared by behaviour, as in a scenario.
        work: the kinds of work that arrive, as ``(pool, function)`` pairs
            (``[("emails", "email"), ("scrapes", "scrape")]``); a pool may take several.
        profile: the semantics profile (default ``"current"``, the component today).
        max_bursts: at most this many bursts of work.
        max_burst: at most this many items per burst (enqueued as one batch).
        max_gap_ms: at most this long between bursts.

    Returns:
        A strategy of scenario JSON objects: 1..``max_bursts`` bursts, each after a drawn
        gap, of one kind of work; item refs are ``<function>-<n>`` in enqueue order.

    Raises:
        ValueError: ``work`` names a pool or function that is not given (checked now).
    """
    work = [tuple(pair) for pair in work]  # type: ignore[misc]
    for pool, fn in work:
        if pool not in pools:
            raise ValueError(f"work names pool {short(pool)}, which is not in pools")
        if fn not in functions:
            raise ValueError(f"work names function {short(fn)}, which is not in functions")
    if not work:
        raise ValueError("work must name at least one pool and the function it runs")
    return _workload(pools, functions, work, profile, max_bursts, max_burst, max_gap_ms)


def play(scenario: Mapping[str, Any], *, until: int | None = None) -> World:
    """Play a scenario (a drawn one, or any scenario JSON object) until its workload is over
    (or through ``until`` ms) and return the world, with its trace in memory.

    Raises:
        ScenarioError: the scenario is invalid.
    """
    from refmodel.debugger.session import Session
    from refmodel.scenario import load

    session = Session.from_scenario(load(scenario))
    session.play(until)
    return session.world
