"""The benchmark workload: N actions through one pool, timed on the wall clock.

``python -m refmodel bench --jobs N --parallelism P`` enqueues N actions at t=0 through the
public API; job i sleeps ``1 + (i*7919 % 1000)`` ms of virtual time. Status tracking and TTL
eviction are on (the default ttl of one day, drained to the end with ``World.run``); the trace
is off unless asked for. It prints one line:
``jobs=N makespan_ms=M wall_s=S jobs_per_s=R`` (plus ``peak_rss_mb`` where the platform tells).

This is the one module of refmodel that reads the wall clock: it measures the model, it is not
part of it.
"""

from __future__ import annotations

import io
import sys
import time  # wall-clock ok: the benchmark times the model from outside
from typing import Any

import attrs

from refmodel.world import World

__refmodel_user_code__ = True  # The functions here are user code (rule EXE-4).


@attrs.frozen(kw_only=True)
class BenchResult:
    """One benchmark run."""

    jobs: int
    parallelism: int
    makespan_ms: int
    wall_s: float
    peak_rss_mb: float | None

    @property
    def jobs_per_s(self) -> float:
        """Throughput on the wall clock."""
        return self.jobs / self.wall_s if self.wall_s > 0 else float("inf")

    def line(self) -> str:
        """The one-line report."""
        text = (
            f"jobs={self.jobs} makespan_ms={self.makespan_ms} wall_s={self.wall_s:.3f} "
            f"jobs_per_s={self.jobs_per_s:.0f}"
        )
        if self.peak_rss_mb is not None:
            text += f" peak_rss_mb={self.peak_rss_mb:.0f}"
        return text


def duration_of(i: int) -> int:
    """How long job ``i`` runs, in ms."""
    return 1 + (i * 7919 % 1000)


def run_bench(jobs: int, parallelism: int, *, trace: str = "off") -> BenchResult:
    """Run the workload once.

    Args:
        jobs: how many actions.
        parallelism: the pool's max_parallelism.
        trace: ``"off"``, ``"memory"`` or ``"stream"`` (JSON Lines into a discarded buffer).
    """
    sink: Any = {"off": False, "memory": True, "stream": _NullText()}[trace]
    world = World(seed=0, trace=sink)
    pool = world.pool("bench", max_parallelism=parallelism)

    @world.action("job")
    async def job(ctx: Any, args: dict[str, Any]) -> None:
        await ctx.sleep(1 + (args["i"] * 7919 % 1000))

    client = world.client
    started = time.perf_counter()  # wall-clock ok
    enqueue = pool.enqueue_action
    for i in range(jobs):
        enqueue(client, job, {"i": i})
    from refmodel.progress import progress  # A bar on a terminal's stderr only.

    with progress(f"bench {jobs} jobs", jobs) as bar:
        bar.follow(world, pool, every_ms=max(1, jobs * 5 // parallelism))
        world.run_until_idle()
    makespan = world.now
    world.run()  # The evictions, a ttl after each completion.
    wall = time.perf_counter() - started  # wall-clock ok
    return BenchResult(
        jobs=jobs, parallelism=parallelism, makespan_ms=makespan, wall_s=wall,
        peak_rss_mb=_peak_rss_mb(),
    )


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on every platform
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class _NullText(io.TextIOBase):
    """A text stream that counts what it is given and keeps nothing."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)
