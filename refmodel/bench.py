"""The benchmark workloads, timed on the wall clock, and the same workloads in SimPy.

``python -m refmodel bench --jobs N --parallelism P`` enqueues N actions at t=0 through the
public API; job i runs ``1 + (i*7919 % 1000)`` ms of virtual time. Status tracking and TTL
eviction are on (the default ttl of one day, drained to the end with ``World.run``); the trace
is off unless asked for. It prints one line:
``jobs=N makespan_ms=M wall_s=S jobs_per_s=R`` (plus ``peak_rss_mb`` where the platform tells).

- ``--functions declared`` (the default) declares the job as data (its duration computed from
  its args by a plain function, ``World.declare_action``); ``coroutine`` writes it as an
  ``async def`` that awaits ``ctx.sleep``; ``both`` runs both, one line each. The two give the
  same makespan, the same trace and the same statuses.
- ``--compare simpy`` runs the same workload in SimPy (``simpy.Resource`` of capacity P, one
  process per job) in the same process and prints its line, then the ratio of the speeds and
  whether the makespans agree. SimPy is an optional extra (``pip install simpy``).
- ``--worlds W --jobs-per-world K`` measures what property tests and explore do most: W small
  worlds of K jobs each, each built, run and drained; it reports ``worlds_per_s``.

This is the one module of refmodel that reads the wall clock: it measures the model, it is not
part of it.
"""

from __future__ import annotations

import gc
import os
import sys
import time  # wall-clock ok: the benchmark times the model from outside
from typing import Any, TextIO

import attrs

from refmodel.world import World

__refmodel_user_code__ = True  # The functions here are user code (rule EXE-4).

FUNCTIONS = ("declared", "coroutine")


@attrs.frozen(kw_only=True)
class BenchResult:
    """One benchmark run."""

    jobs: int
    parallelism: int
    makespan_ms: int
    wall_s: float
    peak_rss_mb: float | None
    label: str = ""
    worlds: int = 0

    @property
    def jobs_per_s(self) -> float:
        """Throughput on the wall clock."""
        return self.jobs / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def worlds_per_s(self) -> float:
        """Worlds built, run and drained per second (small-worlds mode)."""
        return self.worlds / self.wall_s if self.wall_s > 0 else float("inf")

    def line(self, *, labelled: bool = False) -> str:
        """The one-line report (``labelled``: starting with what ran, for comparisons)."""
        text = f"{self.label:<20} " if labelled else ""
        if self.worlds:
            text += f"worlds={self.worlds} "
        text += (
            f"jobs={self.jobs} makespan_ms={self.makespan_ms} wall_s={self.wall_s:.3f} "
            f"jobs_per_s={self.jobs_per_s:.0f}"
        )
        if self.worlds:
            text += f" worlds_per_s={self.worlds_per_s:.0f}"
        if self.peak_rss_mb is not None:
            text += f" peak_rss_mb={self.peak_rss_mb:.0f}"
        return text


def duration_of(i: int) -> int:
    """How long job ``i`` runs, in ms."""
    return 1 + (i * 7919 % 1000)


def _job_duration(args: dict[str, Any], attempt: int) -> int:
    i: int = args["i"]
    return 1 + (i * 7919 % 1000)


async def _job(ctx: Any, args: dict[str, Any]) -> None:
    await ctx.sleep(1 + (args["i"] * 7919 % 1000))


def _world(parallelism: int, functions: str, trace: Any) -> tuple[World, Any, Any]:
    world = World(seed=0, trace=trace)
    pool = world.pool("bench", max_parallelism=parallelism)
    if functions == "declared":
        job = world.declare_action("job", duration_ms=_job_duration)
    else:
        job = world.action("job")(_job)
    return world, pool, job


def run_bench(
    jobs: int, parallelism: int, *, trace: str = "off", functions: str = "declared"
) -> BenchResult:
    """Run the workload once.

    Args:
        jobs: how many actions.
        parallelism: the pool's max_parallelism.
        trace: ``"off"``, ``"memory"`` or ``"stream"`` (JSON Lines into a discarded buffer).
        functions: ``"declared"`` (data) or ``"coroutine"`` (``async def``).
    """
    stream = _discarding_stream() if trace == "stream" else None
    sink: Any = stream if stream is not None else trace == "memory"
    started = time.perf_counter()  # wall-clock ok
    world, pool, job = _world(parallelism, functions, sink)
    client = world.client
    enqueue = pool.enqueue_action
    for i in range(jobs):
        enqueue(client, job, {"i": i})
    from refmodel.progress import progress  # A bar on a terminal's stderr only.

    with progress(f"bench {jobs} jobs", jobs) as bar:
        bar.follow(world, pool, every_ms=max(1, jobs * 5 // parallelism))
        world.run_until_idle()
    makespan = world.now
    world.run()  # The evictions, a ttl after each completion.
    if stream is not None:
        stream.close()
    wall = time.perf_counter() - started  # wall-clock ok
    return BenchResult(
        jobs=jobs, parallelism=parallelism, makespan_ms=makespan, wall_s=wall,
        peak_rss_mb=_peak_rss_mb(), label=f"refmodel {functions}",
    )


def run_small_worlds(
    worlds: int, jobs_per_world: int, parallelism: int, *, functions: str = "declared"
) -> BenchResult:
    """Build, run and drain ``worlds`` worlds of ``jobs_per_world`` jobs each (the jobs of
    world w are jobs ``w * jobs_per_world + i`` of the big workload); the makespan reported is
    the sum of the worlds' makespans."""
    started = time.perf_counter()  # wall-clock ok
    total = 0
    for w in range(worlds):
        world, pool, job = _world(parallelism, functions, False)
        client = world.client
        first = w * jobs_per_world
        for i in range(first, first + jobs_per_world):
            pool.enqueue_action(client, job, {"i": i})
        world.run_until_idle()
        total += world.now
        world.run()
    wall = time.perf_counter() - started  # wall-clock ok
    return BenchResult(
        jobs=worlds * jobs_per_world, parallelism=parallelism, makespan_ms=total, wall_s=wall,
        peak_rss_mb=_peak_rss_mb(), label=f"refmodel {functions}", worlds=worlds,
    )


# SimPy -----------------------------------------------------------------------------------------


def simpy_available() -> bool:
    """Whether SimPy can be imported."""
    try:
        import simpy  # noqa: F401
    except ImportError:
        return False
    return True


def _simpy_makespan(simpy: Any, first: int, jobs: int, parallelism: int) -> int:
    env = simpy.Environment()
    slots = simpy.Resource(env, capacity=parallelism)

    def job(i: int) -> Any:
        with slots.request() as request:
            yield request
            yield env.timeout(1 + (i * 7919 % 1000))

    for i in range(first, first + jobs):
        env.process(job(i))
    env.run()
    return int(env.now)


def run_simpy(jobs: int, parallelism: int) -> BenchResult:
    """The same workload in SimPy: one process per job, a Resource of ``parallelism`` slots.

    Raises:
        ImportError: SimPy is not installed.
    """
    import simpy

    started = time.perf_counter()  # wall-clock ok
    makespan = _simpy_makespan(simpy, 0, jobs, parallelism)
    wall = time.perf_counter() - started  # wall-clock ok
    return BenchResult(
        jobs=jobs, parallelism=parallelism, makespan_ms=makespan, wall_s=wall,
        peak_rss_mb=_peak_rss_mb(), label=f"simpy {simpy.__version__}",
    )


def run_simpy_small_worlds(worlds: int, jobs_per_world: int, parallelism: int) -> BenchResult:
    """:func:`run_small_worlds` in SimPy: one environment per world."""
    import simpy

    started = time.perf_counter()  # wall-clock ok
    total = 0
    for w in range(worlds):
        total += _simpy_makespan(simpy, w * jobs_per_world, jobs_per_world, parallelism)
    wall = time.perf_counter() - started  # wall-clock ok
    return BenchResult(
        jobs=worlds * jobs_per_world, parallelism=parallelism, makespan_ms=total, wall_s=wall,
        peak_rss_mb=_peak_rss_mb(), label=f"simpy {simpy.__version__}", worlds=worlds,
    )


def compare(ours: BenchResult, theirs: BenchResult) -> str:
    """The closing line of a comparison: the speed ratio and whether the makespans agree."""
    if ours.worlds:
        ratio = ours.worlds_per_s / theirs.worlds_per_s
        what = "worlds per second"
    else:
        ratio = ours.jobs_per_s / theirs.jobs_per_s
        what = "jobs per second"
    agree = "equal" if ours.makespan_ms == theirs.makespan_ms else "DIFFERENT"
    return (
        f"{ours.label} / {theirs.label}: {ratio:.2f}x the {what}; makespan {agree} "
        f"({ours.makespan_ms} ms and {theirs.makespan_ms} ms)"
    )


def settle() -> None:
    """Collect what the previous run left, so that the next one starts clean."""
    gc.collect()


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on every platform
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _discarding_stream() -> TextIO:
    """A text file that writes to the null device: what streaming costs, without a disk."""
    return open(os.devnull, "w", encoding="utf-8")
