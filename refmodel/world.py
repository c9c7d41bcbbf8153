"""The world: the front door. One simulated Convex deployment with Workpool pools in it.

Theory of operation. A :class:`World` is a :class:`~refmodel.engine.deployment.Deployment` (the
engine: clock, RNG, functions, store, runtime, plain scheduler, trace; see
:mod:`refmodel.engine`) that simulates one semantics profile of the Workpool
(:class:`~refmodel.workpool.profiles.Profile`) and holds its pools
(:class:`~refmodel.workpool.pool.Workpool`). Nothing is kept at module level, so any number of
worlds can live side by side (DESIGN §8).

The engine knows nothing of pools; pools use the engine through its public parts. This module
is where the two meet, and the only one that imports both.
"""

from __future__ import annotations

from typing import Any

from refmodel.engine.deployment import CallHandle, Deployment, Step
from refmodel.errors import InvalidArgument
from refmodel.trace import TRACE_VERSION, TraceSink
from refmodel.values import check_name
from refmodel.workpool.options import make_options
from refmodel.workpool.pool import Workpool
from refmodel.workpool.profiles import Profile, as_profile

__all__ = ["CallHandle", "Step", "World"]


class World(Deployment):
    """A simulated deployment with Workpool pools.

    Args:
        seed: seeds the world's RNG (every draw that matters is in the trace; DET-2).
        epoch: the virtual time the clock starts at, in ms.
        trace: where trace events go: ``True`` keeps them in memory (``world.trace``),
            ``False`` turns tracing off (fastest), a callable is called with each
            :class:`~refmodel.trace.TraceEvent`, and a text stream receives JSON Lines.
        scheduler_concurrency: the most scheduled functions the plain scheduler runs at once
            (``None``: no limit).
        profile: the semantics profile: ``"seed"`` (the default; the Workpool as its original
            README describes it), ``"current"`` (the component as it is today), or a
            :class:`~refmodel.workpool.profiles.Profile` of one's own.

    Attributes:
        profile: the world's :class:`~refmodel.workpool.profiles.Profile`.
        pools: its pools by name, in creation order.

    Raises:
        InvalidType, InvalidArgument: a bad argument; no world is made.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        epoch: int = 0,
        trace: bool | TraceSink | Any = True,
        scheduler_concurrency: int | None = None,
        profile: str | Profile = "seed",
    ) -> None:
        super().__init__(
            seed=seed, epoch=epoch, trace=trace, scheduler_concurrency=scheduler_concurrency
        )
        self.profile: Profile = as_profile(profile)
        self.pools: dict[str, Workpool] = {}
        tracer = self.tracer
        if tracer.tracing:
            data = {
                "traceVersion": TRACE_VERSION,
                "seed": seed,
                "epoch": epoch,
                "profile": self.profile.name,
            }
            tracer.emit("world_started", None, None, data)

    def explain(self, work_id: str) -> str:
        """Why the work item ``work_id`` is where it is, in one line, from the model's state
        and the trace: e.g. ``"pending: pool `scrapes` is full (5/5 running: ...), 3rd in
        line"`` (see :func:`refmodel.debugger.explain.explain`; a debugging session adds
        when it is expected to start, by replaying its inputs).

        Raises:
            UnknownWorkId: no pool of this world issued ``work_id``; nothing changed.
        """
        from refmodel.debugger.explain import explain

        return explain(self, work_id)

    def pool(self, name: str, **options: Any) -> Workpool:
        """Create a pool (rules CFG-1 to CFG-4).

        Args:
            name: unique in this world, ``[A-Za-z][A-Za-z0-9_]*`` (rule CFG-3).
            **options: ``max_parallelism`` (seed: required, 1..300; current: default 10,
                0..200), ``log_level``, ``retry_actions_by_default``,
                ``default_retry_behavior``, and in the seed profile ``action_timeout_ms``,
                ``mutation_timeout_ms``, ``unknown_timeout_ms`` and ``ttl_ms`` (``math.inf``
                keeps results forever): the options of the world's profile.

        Raises:
            InvalidType, InvalidArgument: a bad name or option; no pool is made.
        """
        check_name(name, "pool name")
        if name in self.pools:
            raise InvalidArgument(f"a pool named {name!r} already exists in this world")
        profile = self.profile
        made, warnings = make_options(profile.name, options, profile.options)
        pool = Workpool(self, name, made, profile)
        self.pools[name] = pool
        tracer = self.tracer
        if tracer.tracing:
            tracer.emit("pool_created", name, None, made.to_json())
            for message in warnings:
                tracer.emit("warning", name, None, {"message": message})
        return pool
