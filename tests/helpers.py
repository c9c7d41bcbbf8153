"""Helpers shared by the test modules."""

from __future__ import annotations

from refmodel import World

Event = tuple[int, str, str | None]


def events(world: World, *kinds: str) -> list[Event]:
    """The trace as ``(time, kind, id)``, without the world/pool creation events, optionally
    only the given kinds."""
    skip = {"world_started", "pool_created"}
    return [
        (e.time, e.kind, e.id)
        for e in world.trace
        if e.kind not in skip and (not kinds or e.kind in kinds)
    ]
