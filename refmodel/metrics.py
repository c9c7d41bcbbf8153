"""The component's log events and periodic reports, projected from a trace (rules MET-1, MET-2).

The current Workpool logs JSON events ``{"component": "workpool", "event": ...}``: ``enqueued``,
``started`` (with ``startLag``), ``completed`` (``status`` success / failed / canceled /
retrying, with ``attempts``) and, once a minute while the pool works, a ``report`` of the
window's counters with ``failureRate = (failed + retries) / completed`` and
``permanentFailureRate = failed / (completed - retries)`` (0 when a denominator is 0; 4
decimals). ``report`` is logged at level REPORT and below, every other event at INFO and below.

Nothing here is stored by the simulator: :func:`component_events` replays a pool's trace events,
so the same projection works on the model's traces and on traces other implementations record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from refmodel.constants import CURRENT_LOG_LEVELS, REPORT_PERIOD_MS
from refmodel.trace import TraceEvent


def should_log(config_level: str, level: str) -> bool:
    """Whether a pool configured at ``config_level`` logs an event of ``level``, in the current
    component's order DEBUG < TRACE < INFO < REPORT < WARN < ERROR (the seed's levels are a
    subset of it)."""
    levels = CURRENT_LOG_LEVELS
    return levels.index(config_level) <= levels.index(level)


@attrs.define
class _Window:
    completed: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    canceled: int = 0


def _rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator > 0 else 0


def component_events(
    events: Iterable[TraceEvent], pool: str, *, log_level: str | None = None
) -> list[dict[str, Any]]:
    """The log events the component would print for ``pool`` over ``events``.

    Args:
        events: a world's trace, in order.
        pool: the pool's name.
        log_level: override the pool's level (by default its level from ``pool_created`` and
            later ``config_updated`` events, as it was at each event's time).

    Returns:
        The events as JSON objects, in order, reports included.
    """
    out: list[dict[str, Any]] = []
    level = log_level or "REPORT"
    window = _Window()
    last_report = 0
    fn_of: dict[str, str] = {}
    enqueued_at: dict[str, int] = {}
    waiting: dict[str, int] = {}  # id -> eligible time, for the backlog
    running: set[str] = set()

    def emit(event_level: str, body: dict[str, Any]) -> None:
        if should_log(level, event_level):
            out.append({"component": "workpool", **body})

    for event in events:
        if event.pool != pool:
            continue
        if event.kind in ("pool_created", "config_updated"):
            if log_level is None:
                level = str(event.data.get("logLevel", level))
            if event.kind == "pool_created":
                last_report = event.time
            continue
        now = event.time
        if now - last_report >= REPORT_PERIOD_MS and event.id is not None:
            backlog = sum(1 for at in waiting.values() if at <= now)
            emit("REPORT", {
                "event": "report",
                "completed": window.completed,
                "succeeded": window.succeeded,
                "failed": window.failed,
                "retries": window.retries,
                "canceled": window.canceled,
                "lastReportTs": last_report,
                "running": len(running),
                "backlog": backlog,
                "failureRate": _rate(window.failed + window.retries, window.completed),
                "permanentFailureRate": _rate(window.failed, window.completed - window.retries),
            })
            window = _Window()
            next_report = last_report + REPORT_PERIOD_MS
            last_report = now if now - next_report > REPORT_PERIOD_MS // 2 else next_report
        work_id = event.id
        if work_id is None:
            continue
        data = event.data
        if event.kind == "enqueued":
            fn_of[work_id] = str(data["fn"])
            enqueued_at[work_id] = now
            waiting[work_id] = int(data["runAt"])
            emit("INFO", {"event": "enqueued", "workId": work_id, "fnName": data["fn"],
                          "runAt": data["runAt"], "enqueuedAt": now})
        elif event.kind == "started":
            eligible = waiting.pop(work_id, now)
            running.add(work_id)
            emit("INFO", {"event": "started", "workId": work_id, "fnName": fn_of.get(work_id),
                          "enqueuedAt": enqueued_at.get(work_id), "startedAt": now,
                          "startLag": now - eligible})
        elif event.kind in ("succeeded", "failed", "retrying", "canceled", "timed_out"):
            was_running = work_id in running
            running.discard(work_id)
            status = {"succeeded": "success", "failed": "failed", "retrying": "retrying",
                      "canceled": "canceled", "timed_out": "failed"}[event.kind]
            if event.kind == "retrying":
                window.retries += 1
                waiting[work_id] = int(data["retryAt"])
            else:
                waiting.pop(work_id, None)
            if event.kind == "succeeded":
                window.succeeded += 1
            elif event.kind in ("failed", "timed_out"):
                window.failed += 1
            elif event.kind == "canceled":
                window.canceled += 1
            if was_running:
                window.completed += 1
            emit("INFO", {"event": "completed", "workId": work_id, "fnName": fn_of.get(work_id),
                          "completedAt": now, "attempts": data.get("attempt", 0),
                          "status": status})
    return out


def reports(events: Iterable[TraceEvent], pool: str) -> list[dict[str, Any]]:
    """Only the periodic ``report`` events for ``pool`` (rule MET-2)."""
    return [e for e in component_events(events, pool, log_level="DEBUG") if e["event"] == "report"]
