"""Scenarios that expose the broken workpools of ``tests/broken_adapters.py``, and how to turn
an adapter's play of a scenario into a trace for the checker.

:data:`SCENARIOS` has one scenario (``specs/scenario.schema.json``) per name of
``tests.broken_adapters.BROKEN``. :func:`played_trace` plays a scenario on an adapter with
:func:`refmodel.conformance.play` and returns the events the adapter reported as JSON Lines,
with the two facts the checker cannot see in a trace written into each ``enqueued`` event
from the scenario: the item's ``retry`` behaviour and its ``onComplete`` (``specs/checker.md``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from refmodel.adapter import Adapter
from refmodel.conformance import play


def _scenario(
    profile: str,
    pools: dict[str, Any],
    functions: dict[str, Any],
    steps: list[dict[str, Any]],
) -> dict[str, Any]:
    return {"profile": profile, "seed": 0, "pools": pools, "functions": functions,
            "steps": steps}


def _enqueue(ref: str, fn: str, **options: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"op": "enqueue", "pool": "p", "fn": fn, "ref": ref}
    if options:
        step["options"] = options
    return step


def _advance(ms: int) -> dict[str, Any]:
    return {"op": "advance", "ms": ms}


def _cancel(ref: str) -> dict[str, Any]:
    return {"op": "cancel", "pool": "p", "ref": ref}


def _action(duration_ms: int, **ending: Any) -> dict[str, Any]:
    return {"kind": "action", "attempts": [{"durationMs": duration_ms, **ending}]}


DONE = {"kind": "mutation", "recordsOnComplete": True}
"""An onComplete handler."""

FLAKY = {
    "kind": "action",
    "attempts": [{"durationMs": 10, "throws": "down"}, {"durationMs": 10, "returns": "ok"}],
}
"""An action whose first attempt fails and whose second returns."""

RETRYING_POOL = {
    "maxParallelism": 1,
    "defaultRetryBehavior": {"maxAttempts": 3, "initialBackoffMs": 100, "base": 2},
}

SCENARIOS: dict[str, dict[str, Any]] = {
    # Two attempts end at 100 ms; the broken pool then starts three.
    "two-slots-freed": _scenario(
        "seed", {"p": {"maxParallelism": 2}}, {"work": _action(100, returns=1)},
        [*(_enqueue(ref, "work") for ref in "abcdef"), _advance(400)],
    ),
    "starts-before-run-at": _scenario(
        "seed", {"p": {"maxParallelism": 1}}, {"work": _action(10, returns=1)},
        [_enqueue("a", "work", runAfter=50), _advance(100)],
    ),
    "lifo": _scenario(
        "seed", {"p": {"maxParallelism": 1}}, {"work": _action(10, returns=1)},
        [*(_enqueue(ref, "work") for ref in "abcd"), _advance(100)],
    ),
    # b waits for a's slot and is canceled at 0 ms; the broken pool starts it at 100 ms.
    "canceled-still-starts": _scenario(
        "seed", {"p": {"maxParallelism": 1}}, {"slow": _action(100, returns=1)},
        [_enqueue("a", "slow"), _enqueue("b", "slow"), _cancel("b"), _advance(300)],
    ),
    "stops-running-on-cancel": _scenario(
        "current", {"p": {"maxParallelism": 1}}, {"slow": _action(100, returns=1)},
        [_enqueue("a", "slow"), _advance(50), _cancel("a"), _advance(100)],
    ),
    "on-complete-twice": _scenario(
        "current", {"p": {"maxParallelism": 1}},
        {"work": _action(10, returns={"n": 1}), "done": DONE},
        [_enqueue("a", "work", onComplete="done"), _advance(100)],
    ),
    "no-on-complete-for-canceled": _scenario(
        "current", {"p": {"maxParallelism": 1}}, {"slow": _action(100, returns=1), "done": DONE},
        [_enqueue("a", "slow", onComplete="done"), _enqueue("b", "slow", onComplete="done"),
         _cancel("b"), _advance(300)],
    ),
    "lost-return-value": _scenario(
        "current", {"p": {"maxParallelism": 1}},
        {"work": _action(10, returns={"n": 1}), "done": DONE},
        [_enqueue("a", "work", onComplete="done"), _advance(100)],
    ),
    "evicts-early": _scenario(
        "seed", {"p": {"maxParallelism": 1, "ttl": 1000}}, {"work": _action(10, returns=1)},
        [_enqueue("a", "work"), _advance(2000)],
    ),
    "no-timeout": _scenario(
        "seed", {"p": {"maxParallelism": 1, "actionTimeoutMs": 100}},
        {"stuck": _action(0, hangs=True)},
        [_enqueue("a", "stuck"), _advance(500)],
    ),
    # a fails at 10 ms and waits to retry; b should take the slot at 10 ms.
    "retry-holds-slot": _scenario(
        "current", {"p": RETRYING_POOL}, {"flaky": FLAKY, "work": _action(10, returns=1)},
        [_enqueue("a", "flaky", retry=True), _enqueue("b", "work"), _advance(500)],
    ),
    "jitter-out-of-bounds": _scenario(
        "current", {"p": RETRYING_POOL}, {"flaky": FLAKY},
        [_enqueue("a", "flaky", retry=True), _advance(1000)],
    ),
    "no-refill-after-completion": _scenario(
        "seed", {"p": {"maxParallelism": 1}}, {"work": _action(100, returns=1)},
        [_enqueue("a", "work"), _enqueue("b", "work"), _advance(500)],
    ),
    "succeeds-twice": _scenario(
        "seed", {"p": {"maxParallelism": 1}}, {"work": _action(10, returns=1)},
        [_enqueue("a", "work"), _advance(100)],
    ),
}
"""Per broken workpool, a scenario on which the model's trace is clean and the broken one's
is not."""


@attrs.frozen(kw_only=True)
class PlayedTrace:
    """An adapter's trace of a scenario: JSON Lines (one event a line, no newlines), and the
    instant up to which every event was reported (the end of the last advance)."""

    lines: list[str]
    end_ms: int


def played_trace(adapter: Adapter, scenario: Mapping[str, Any]) -> PlayedTrace:
    """Play ``scenario`` on ``adapter`` and return the trace it reported, with ``retry`` and
    ``onComplete`` written into each ``enqueued`` event from the scenario. The adapter is left
    open."""
    recording = play(adapter, scenario)
    facts = _declared(recording.scenario, recording.refs)
    # Events of calls after the last advance (or of a scenario with none) come with the next.
    events = [*recording.events, *adapter.advance(0)["events"]]
    lines = []
    for event in events:
        key = (event.get("pool"), event.get("id"))
        if event["kind"] == "enqueued" and key in facts:
            event = {**event, "data": {**event["data"], **facts[key]}}
        lines.append(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
    return PlayedTrace(lines=lines, end_ms=recording.end)


def _declared(
    scenario: Mapping[str, Any], refs: Mapping[str, Mapping[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (pool, id), the ``retry`` and ``onComplete`` its enqueue asked for."""
    facts: dict[tuple[str, str], dict[str, Any]] = {}
    for step in scenario["steps"]:
        if step["op"] not in ("enqueue", "enqueueBatch"):
            continue
        options = step.get("options", {})
        is_action = scenario["functions"][step["fn"]]["kind"] == "action"
        by_default = scenario["pools"][step["pool"]].get("retryActionsByDefault", False)
        if not is_action:
            retry: Any = None
        elif "retry" in options:
            retry = _retry_json(options["retry"])
        else:
            retry = True if by_default else None
        declared = {"retry": retry, "onComplete": options.get("onComplete")}
        for ref in [step["ref"]] if step["op"] == "enqueue" else step["refs"]:
            if ref in refs:
                facts[(refs[ref]["pool"], refs[ref]["id"])] = declared
    return facts


def _retry_json(value: Any) -> Any:
    """A scenario's ``retry`` option as the checker reads it (defaults filled in)."""
    if not isinstance(value, Mapping):
        return value if value is True else None
    return {
        "maxAttempts": value.get("maxAttempts", 5),
        "initialBackoffMs": value.get("initialBackoffMs", 250),
        "base": value.get("base", 2),
    }
