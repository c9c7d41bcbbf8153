"""Conformance: fill fixtures from the model, consume them against any implementation (DESIGN §7;
rules CNF-1 to CNF-3: CNF-1 fill, CNF-2 features, CNF-3 clear errors).

Theory of operation. A *fixture* is a scenario (``refmodel.scenario``) plus the observations
an implementation must make when it plays it, computed by the model. Four steps:

1. :func:`play` drives an adapter through a scenario and returns a :class:`Recording`: every
   call's result, every trace event the adapter reported, and which implementation id each
   scenario ``ref`` got. After the last step it *settles*: it advances in windows of
   :data:`SETTLE_WINDOW_MS` until every work item has ended, at most
   :data:`SETTLE_MAX_WINDOWS` times (so an attempt that hangs, or a paused pool, costs
   60 s of virtual time and then stays "running" or "pending").
2. :func:`observe` turns a recording into observations per work item, keyed by the scenario's
   ``ref`` (never by implementation id): outcome, attempts with their start and end times,
   retry delays, ``onComplete`` calls, eviction; plus each pool's start order.
3. :func:`make_fixture` (``fill``) plays the scenario on the model and writes the expected
   observations. Anything an implementation may legitimately do differently is written as a
   bound or a set, never as the model's one choice:

   - a time is a window ``[v, v + slack]``: ``v`` is an *anchor* — an absolute scenario time,
     or a time the implementation itself recorded ("when b's first attempt ended, + 0 ms",
     "at a's retryAt") — and ``slack`` is a latency the adapter declares in its handshake
     (``startLagMs``, ``completionLagMs``, ``timeoutSlackMs``, ``evictionSlackMs``; spec §8),
     0 for the model. Anchoring to the implementation's own events is what spec §8 says:
     each start lags the instant *its own* history allows by at most L.
   - a retry delay is checked against the jitter bounds ``[floor(0.5 b), floor(1.5 b)]`` with
     ``b = initialBackoffMs * base**(k-1)``, never against the model's draw;
   - starts of one pool at one instant form a set: their order is not checked;
   - a status answer is a set of allowed values; with a declared latency, a value that the
     implementation's own history gives at that instant is allowed too.

   The model values (``modelT``) are written beside the bounds for the reader; the checker
   never uses them. ``fill`` proves that the expectations do not encode a jitter draw: the
   model, replayed with other seeds, must pass the fixture (:data:`STABILITY_SEEDS`).
4. :func:`check_recording` compares a recording with a fixture and gives one
   :class:`Verdict` per (fixture, rule): pass, fail (with the first divergence), or skipped
   when the adapter lacks a feature the fixture needs (rule CNF-2). A fixture's divergence
   fails every rule the fixture lists; its text names the rule the diverging observation is
   evidence against. Beside the expectations, ORD-1 is checked on the implementation's own
   history (no item starts while an eligible item ahead of it in FIFO order still waits),
   since no latency relaxes it. :func:`run_conformance` plays a set of fixtures and
   returns a :class:`Report`; :func:`explore` generates scenarios with Hypothesis, compares
   the adapter with the model, and writes a shrunk divergence as a fixture and a pytest file.

Adapters must report the trace events ``started``, ``succeeded``, ``failed``, ``retrying``
(with ``delayMs`` and ``retryAt``), ``canceled``, ``timed_out``, ``evicted`` and
``on_complete`` (with ``fn`` and ``result``) for their work items, with ``t``, ``pool`` and
``id``; other events are ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from refmodel.adapter import Adapter, AdapterError, ModelAdapter, SubprocessAdapter
from refmodel.constants import (
    DEFAULT_BASE,
    DEFAULT_INITIAL_BACKOFF_MS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TTL_MS,
    RUN_AT_FALLBACK_MS,
    RUN_AT_TOO_FAR_MS,
    retry_delay_bounds,
)
from refmodel.scenario import FEATURES, ScenarioError, load, required_features

FIXTURE_VERSION = 1
SETTLE_WINDOW_MS = 1000
"""After the last step, :func:`play` advances in windows this long ..."""
SETTLE_MAX_WINDOWS = 60
"""... at most this many times, stopping as soon as every work item has ended."""
STABILITY_SEEDS = (1, 2, 3, 4)
"""Seeds other than the scenario's with which the model must pass every fixture it fills."""
LEVELS = ("MUST", "SHOULD", "MAY")
LATENCIES = ("startLagMs", "completionLagMs", "timeoutSlackMs", "evictionSlackMs")
"""The latency bounds an adapter may declare in its handshake (spec §8); each defaults to 0."""
PROFILE_FEATURE = {"seed": "seed-api", "current": "current-api"}

_TERMINAL = ("succeeded", "failed", "canceled", "timed_out")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_RULE = re.compile(r"[A-Z]+-\d+\Z")
_ANCHOR_KEYS = {"at", "start", "attemptEnd", "retryAt", "terminal", "max", "nth"}


class ConformanceError(ScenarioError):
    """A fixture, or a set of fixtures, is malformed or cannot be made; the message names the
    file and the JSON path."""


class JitterDependent(ConformanceError):
    """``fill`` refused a fixture whose expectations depend on the model's jitter draw."""


# Playing ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Recording:
    """What an implementation did when it played a scenario.

    Attributes:
        scenario: the scenario played (JSON object).
        calls: one entry per step: ``{"step", "op", "t", "result"}`` (advance steps have
            ``result = {"now": T}``); a call on a ref that has no id is not sent and has
            ``result = {"skipped": "<why>"}``.
        events: every trace event reported, in the order reported.
        refs: ref -> ``{"pool", "id"}`` for every ref that got an implementation id.
        clock: ``[expected now, reported now]`` per advance, steps and settling included.
        end: the virtual time when recording stopped.
    """

    scenario: Mapping[str, Any]
    calls: tuple[Mapping[str, Any], ...]
    events: tuple[Mapping[str, Any], ...]
    refs: Mapping[str, Mapping[str, str]]
    clock: tuple[tuple[int, int], ...]
    end: int


def play(adapter: Adapter, scenario: Mapping[str, Any]) -> Recording:
    """Reset ``adapter`` with ``scenario``, play its steps, then settle.

    Raises:
        ScenarioError: the scenario is malformed.
        AdapterError: the adapter crashed, hung or answered something malformed.
    """
    data = load(dict(scenario)).data
    adapter.reset(data)
    calls: list[dict[str, Any]] = []
    events: list[Mapping[str, Any]] = []
    refs: dict[str, dict[str, str]] = {}
    clock: list[tuple[int, int]] = []
    now = 0

    def advance(ms: int) -> int:
        answer = adapter.advance(ms)
        reported = answer.get("now")
        if type(reported) is not int:
            raise AdapterError(f"adapter answered advance with now={reported!r}, not an int")
        clock.append((now + ms, reported))
        for event in answer.get("events", []):
            events.append(_checked_event(event))
        return now + ms

    for index, step in enumerate(data["steps"]):
        op = step["op"]
        entry: dict[str, Any] = {"step": index, "op": op, "t": now}
        if op == "advance":
            now = advance(int(step["ms"]))
            entry["result"] = {"now": now}
        elif op == "enqueue":
            sent = dict(step)
            sent["args"] = {**dict(step.get("args") or {}), "_ref": step["ref"]}
            result = _call(adapter, sent)
            entry["result"] = result
            if "id" in result:
                refs[step["ref"]] = {"pool": step["pool"], "id": str(result["id"])}
        elif op == "enqueueBatch":
            sent = dict(step)
            sent["argsList"] = [
                {**dict(args or {}), "_ref": ref}
                for args, ref in zip(step["argsList"], step["refs"], strict=True)
            ]
            result = _call(adapter, sent)
            entry["result"] = result
            ids = result.get("ids")
            if isinstance(ids, list) and len(ids) == len(step["refs"]):
                for ref, work_id in zip(step["refs"], ids, strict=True):
                    refs[ref] = {"pool": step["pool"], "id": str(work_id)}
            elif "error" not in result:
                raise AdapterError(
                    f"adapter answered enqueueBatch of {len(step['refs'])} with {result!r}"
                )
        elif op in ("cancel", "status"):
            ref = step["ref"]
            if ref not in refs:
                entry["result"] = {"skipped": f"ref {ref!r} has no id: its enqueue failed"}
            else:
                sent = {key: value for key, value in step.items() if key != "ref"}
                sent["id"] = refs[ref]["id"]
                entry["result"] = _call(adapter, sent)
        else:
            entry["result"] = _call(adapter, step)
        calls.append(entry)
    for _ in range(SETTLE_MAX_WINDOWS):
        if _all_ended(refs, events):
            break
        now = advance(SETTLE_WINDOW_MS)
    return Recording(
        scenario=data,
        calls=tuple(calls),
        events=tuple(events),
        refs=refs,
        clock=tuple(clock),
        end=now,
    )


def _call(adapter: Adapter, step: Mapping[str, Any]) -> dict[str, Any]:
    result = adapter.call(step)
    if not isinstance(result, dict):
        raise AdapterError(f"adapter answered {step.get('op')} with {result!r}, not an object")
    return result


def _checked_event(event: Any) -> Mapping[str, Any]:
    if (
        not isinstance(event, dict)
        or type(event.get("t")) is not int
        or not isinstance(event.get("kind"), str)
        or not isinstance(event.get("data") or {}, dict)
        or not all(isinstance(event.get(key), str | None) for key in ("pool", "id"))
    ):
        shown = json.dumps(event, default=repr)[:120]
        raise AdapterError(
            f"adapter reported a malformed trace event {shown} (expected an object with an "
            "int t, a str kind, str-or-null pool and id, and an object data)"
        )
    return event


def _all_ended(refs: Mapping[str, Mapping[str, str]], events: Sequence[Mapping[str, Any]]) -> bool:
    ended = {
        (event.get("pool"), event.get("id")) for event in events if event["kind"] in _TERMINAL
    }
    return all((where["pool"], where["id"]) in ended for where in refs.values())


# Observing -------------------------------------------------------------------------------


def observe(recording: Recording) -> dict[str, Any]:
    """The observations of a recording.

    Returns:
        ``{"items": {ref: item}, "startOrder": {pool: ["ref#k", ...]}}``. An item has
        ``pool``, ``outcome`` (``{"kind": ...}``: succeeded with ``result``, failed with
        ``error``, canceled, timed_out, running, pending, or rejected), ``starts`` and
        ``ends`` (the times each attempt started and ended), ``retries``
        (``{"t", "delayMs", "retryAt"}``), ``terminals`` (times of terminal events; more than
        one is a bug), ``onComplete`` (``{"t", "fn", "result"}``), ``evicted`` (a time or
        ``None``) and ``events`` (``(t, kind, data)`` in reported order).
    """
    scenario = recording.scenario
    by_key: dict[tuple[Any, Any], str] = {}
    items: dict[str, dict[str, Any]] = {}
    for index, step in enumerate(scenario["steps"]):
        if step["op"] not in ("enqueue", "enqueueBatch"):
            continue
        step_refs = [step["ref"]] if step["op"] == "enqueue" else list(step["refs"])
        rejected = "error" in recording.calls[index]["result"]
        for ref in step_refs:
            items[ref] = {
                "pool": step["pool"],
                "rejected": rejected,
                "starts": [],
                "ends": [],
                "retries": [],
                "terminals": [],
                "onComplete": [],
                "evicted": None,
                "events": [],
            }
    for ref, where in recording.refs.items():
        by_key[(where["pool"], where["id"])] = ref
    order: dict[str, list[str]] = {}
    for event in recording.events:
        ref = by_key.get((event.get("pool"), event.get("id")))
        if ref is None:
            continue
        item = items[ref]
        kind = event["kind"]
        t = event["t"]
        data = event.get("data") or {}
        item["events"].append((t, kind, data))
        running = len(item["starts"]) > len(item["ends"])
        if kind == "started":
            item["starts"].append(t)
            order.setdefault(item["pool"], []).append(f"{ref}#{len(item['starts'])}")
        elif running and kind in ("succeeded", "failed", "retrying", "timed_out", "canceled"):
            item["ends"].append(t)
        if kind == "retrying":
            item["retries"].append(
                {"t": t, "delayMs": data.get("delayMs"), "retryAt": data.get("retryAt")}
            )
        elif kind in _TERMINAL:
            item["terminals"].append((t, kind, data))
        elif kind == "on_complete":
            item["onComplete"].append({"t": t, "fn": data.get("fn"), "result": data.get("result")})
        elif kind == "evicted" and item["evicted"] is None:
            item["evicted"] = t
    for item in items.values():
        item["outcome"] = _outcome(item)
    return {"items": items, "startOrder": order}


def _outcome(item: Mapping[str, Any]) -> dict[str, Any]:
    if item["rejected"]:
        return {"kind": "rejected"}
    if item["terminals"]:
        _, kind, data = item["terminals"][0]
        if kind == "succeeded":
            return {"kind": kind, "result": data.get("result")}
        if kind == "failed":
            return {"kind": kind, "error": data.get("error")}
        return {"kind": kind}
    if len(item["starts"]) > len(item["ends"]):
        return {"kind": "running"}
    return {"kind": "pending"}


# Filling ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Fixture:
    """A scenario with the observations an implementation must make (``specs/fixtures/``)."""

    name: str
    description: str
    rules: tuple[str, ...]
    level: str
    features: tuple[str, ...]
    scenario: Mapping[str, Any]
    expect: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The fixture as its JSON object."""
        return {
            "fixtureVersion": FIXTURE_VERSION,
            "name": self.name,
            "description": self.description,
            "rules": list(self.rules),
            "level": self.level,
            "features": list(self.features),
            "scenario": dict(self.scenario),
            "expect": dict(self.expect),
        }

    def to_text(self) -> str:
        """The fixture file's text: sorted keys, 2-space indent, a trailing newline."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def fixture_features(scenario: Mapping[str, Any]) -> list[str]:
    """The features a fixture needs: the scenario's, plus its profile's status API.

    The profile's API is needed even without status steps: its semantics (cancel of running
    work, retention) are what the expectations encode.
    """
    profile = str(scenario.get("profile", "seed"))
    return sorted({*required_features(scenario), PROFILE_FEATURE[profile]})


def make_fixture(
    *,
    name: str,
    description: str,
    rules: Sequence[str],
    level: str,
    scenario: Mapping[str, Any],
    stability_seeds: Sequence[int] = STABILITY_SEEDS,
) -> Fixture:
    """Play ``scenario`` on the model and write what every implementation must observe.

    Raises:
        ConformanceError: bad metadata, or the model's observations depend on its jitter
            draws (the model with another seed fails the expectations).
        ScenarioError: the scenario is malformed.
    """
    _check_meta(name, rules, level, f"fixture {name!r}")
    data = dict(load(dict(scenario), where=f"fixture {name!r}: scenario").data)
    data.setdefault("name", name)
    adapter = ModelAdapter()
    try:
        recording = play(adapter, data)
    finally:
        adapter.close()
    fixture = Fixture(
        name=name,
        description=description,
        rules=tuple(rules),
        level=level,
        features=tuple(fixture_features(data)),
        scenario=data,
        expect=expectations(recording),
    )
    unstable = jitter_divergence(fixture, stability_seeds)
    if unstable is not None:
        raise JitterDependent(
            f"fixture {name!r}: its observations depend on the jitter draw ({unstable}); "
            "make the retried work uncontended or its cancel/status steps clear of the retry"
        )
    return fixture


def jitter_divergence(fixture: Fixture, seeds: Iterable[int]) -> str | None:
    """The first divergence of the model replayed with another seed, or ``None``."""
    for seed in seeds:
        alternative = {**fixture.scenario, "seed": int(fixture.scenario.get("seed", 0)) + seed}
        adapter = ModelAdapter()
        try:
            recording = play(adapter, alternative)
        finally:
            adapter.close()
        found = divergences(fixture.expect, recording, {})
        if found:
            return f"seed {alternative['seed']}: {found[0].what}"
    return None


def expectations(recording: Recording) -> dict[str, Any]:
    """The expected observations, as bounds and sets, from the model's recording.

    Raises:
        ConformanceError: a start the model's trace cannot explain (a model bug).
    """
    scenario = recording.scenario
    profile = str(scenario.get("profile", "seed"))
    observed = observe(recording)
    obs_items: dict[str, dict[str, Any]] = observed["items"]
    by_key: dict[tuple[Any, Any], str] = {
        (w["pool"], w["id"]): ref for ref, w in recording.refs.items()
    }
    enqueue_steps = _enqueue_steps(scenario)
    items: dict[str, dict[str, Any]] = {}
    for ref, item in obs_items.items():
        items[ref] = {
            "pool": item["pool"],
            "outcome": item["outcome"],
            "attempts": [],
            "retries": [],
            "end": None,
            "onComplete": [
                {"fn": call["fn"], "result": call["result"]} for call in item["onComplete"]
            ],
            "evicted": None,
        }
    capacity: dict[str, int] = {}
    running: dict[str, int] = {}
    freed: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    configured: set[tuple[str, int]] = set()
    eligible: dict[str, tuple[dict[str, Any], int]] = {}
    started_at: dict[str, int] = {}
    for event in recording.events:
        kind = event["kind"]
        t = event["t"]
        pool = str(event.get("pool"))
        data = event.get("data") or {}
        if kind in ("pool_created", "config_updated"):
            capacity[pool] = int(data["maxParallelism"])
            running.setdefault(pool, 0)
            if kind == "config_updated":
                configured.add((pool, t))
            continue
        owner = by_key.get((event.get("pool"), event.get("id")))
        if owner is None:
            continue
        ref = owner
        expected = items[ref]
        attempts: list[dict[str, Any]] = expected["attempts"]
        if kind == "enqueued":
            eligible[ref] = ({"at": int(data["runAt"])}, int(data["runAt"]))
        elif kind == "started":
            k = len(attempts) + 1
            anchor, eligible_t = eligible[ref]
            parts = [anchor]
            when, frees = freed.get(pool, (-1, []))
            frees = frees if when == t else []
            room_without_frees = capacity[pool] - running[pool] - len(frees)
            if frees and room_without_frees < 1:
                nth = len(frees) - (capacity[pool] - running[pool]) + 1
                parts.append(frees[0] if len(frees) == 1 else {"nth": nth, "of": list(frees)})
            elif eligible_t < t:
                if (pool, t) not in configured:
                    raise ConformanceError(
                        f"cannot explain why {ref} attempt {k} started at {t} ms, after its "
                        f"eligibility at {eligible_t} ms"
                    )
                parts.append({"at": t})
            start = parts[0] if len(parts) == 1 else {"max": parts}
            attempts.append({"start": _window(start, "startLagMs", t)})
            running[pool] += 1
            started_at[ref] = t
        elif ref in started_at and (
            kind in ("succeeded", "failed", "retrying", "timed_out") or kind == "canceled"
        ):
            k = len(attempts)
            began = started_at.pop(ref)
            if kind == "canceled" and profile == "seed":
                end = _window({"at": t}, "completionLagMs", t)
            else:
                slack = "timeoutSlackMs" if kind == "timed_out" else "completionLagMs"
                end = _window({"start": [ref, k], "plusMs": t - began}, slack, t)
            attempts[-1]["end"] = end
            running[pool] -= 1
            when, frees = freed.get(pool, (-1, []))
            freed[pool] = (t, [*(frees if when == t else []), {"attemptEnd": [ref, k]}])
            if kind == "retrying":
                eligible[ref] = ({"retryAt": [ref, k]}, int(data["retryAt"]))
                behavior = _retry_behavior(scenario, enqueue_steps[ref])
                expected["retries"].append(
                    {
                        "attempt": k,
                        "delayMs": _jitter_bounds(behavior, k),
                        "modelDelayMs": data.get("delayMs"),
                    }
                )
            else:
                expected["end"] = end
        elif kind == "canceled":
            expected["end"] = _window({"at": t}, "completionLagMs", t)
    for ref, expected in items.items():
        ttl = _ttl(scenario, expected["pool"])
        if expected["end"] is not None and ttl is not None:
            evicted = obs_items[ref]["evicted"]
            expected["evicted"] = {
                "from": {"terminal": ref, "plusMs": ttl},
                "window": "evictionSlackMs",
                "modelT": evicted,
            }
    calls = []
    for call in recording.calls:
        if call["op"] == "advance":
            continue
        result = call["result"]
        entry: dict[str, Any] = {"step": call["step"], "op": call["op"], "t": call["t"]}
        if "skipped" in result:
            entry["result"] = "skipped"
        elif "error" in result:
            entry["result"] = "error"
        else:
            entry["result"] = "ok"
            if call["op"] == "status":
                entry["status"] = {"anyOf": [result.get("status")]}
        calls.append(entry)
    order: dict[str, list[list[str]]] = {}
    for pool, starts in observed["startOrder"].items():
        groups: list[list[str]] = []
        last = None
        for label in starts:
            ref, k = label.rsplit("#", 1)
            t = obs_items[ref]["starts"][int(k) - 1]
            if t != last:
                groups.append([])
                last = t
            groups[-1].append(label)
        order[pool] = [sorted(group) for group in groups]
    return {"calls": calls, "items": items, "startOrder": order}


def _window(anchor: Mapping[str, Any], slack: str, model_t: int) -> dict[str, Any]:
    return {"from": dict(anchor), "window": slack, "modelT": model_t}


def _enqueue_steps(scenario: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    steps: dict[str, Mapping[str, Any]] = {}
    for step in scenario["steps"]:
        if step["op"] == "enqueue":
            steps[step["ref"]] = step
        elif step["op"] == "enqueueBatch":
            for ref in step["refs"]:
                steps[ref] = step
    return steps


def _retry_behavior(scenario: Mapping[str, Any], step: Mapping[str, Any]) -> dict[str, Any]:
    """The retry behaviour a scenario gives a work item (a model retried it, so it has one)."""
    pool = scenario["pools"][step["pool"]]
    default = dict(_DEFAULT_RETRY)
    default.update(pool.get("defaultRetryBehavior") or {})
    option = step.get("options", {}).get("retry")
    if isinstance(option, Mapping):
        return {**_DEFAULT_RETRY, **option}
    return default


_DEFAULT_RETRY = {
    "maxAttempts": DEFAULT_MAX_ATTEMPTS,
    "initialBackoffMs": DEFAULT_INITIAL_BACKOFF_MS,
    "base": DEFAULT_BASE,
}


def _jitter_bounds(behavior: Mapping[str, Any], k: int) -> list[int]:
    """The allowed delay before retry ``k``: ``[floor(0.5 b), floor(1.5 b)]``, at most the
    clamp (RTY-2)."""
    return list(retry_delay_bounds(behavior["initialBackoffMs"], behavior["base"], k))


def _ttl(scenario: Mapping[str, Any], pool: str) -> int | None:
    if scenario.get("profile", "seed") != "seed":
        return None
    options = scenario["pools"][pool]
    if "ttl" not in options:
        return DEFAULT_TTL_MS
    ttl = options["ttl"]
    return None if ttl is None else int(ttl)


# Checking --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Divergence:
    """One observation that is outside what a fixture allows.

    Attributes:
        at: the model time of the expected observation (the first divergence is reported).
        rank: breaks ties at one instant: outcomes, then start order, then times, then the rest.
        what: the observation, what was allowed, and the rule it is evidence against.
        rules: the spec rules the observation is evidence against.
    """

    at: int
    rank: int
    what: str
    rules: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Verdict:
    """The result of one (fixture, rule): ``outcome`` is ``pass``, ``fail`` or ``skipped``."""

    fixture: str
    rule: str
    level: str
    outcome: str
    detail: str = ""


def check_recording(
    fixture: Fixture, recording: Recording | None, handshake: Mapping[str, Any]
) -> list[Verdict]:
    """Compare an implementation's recording of ``fixture`` with its expectations.

    Args:
        fixture: the fixture played.
        recording: what :func:`play` recorded; may be ``None`` when the fixture is skipped.
        handshake: the adapter's handshake (its ``features`` and ``latency``).

    Returns:
        One verdict per rule of the fixture: ``skipped`` if the handshake lacks a feature the
        fixture needs (rule CNF-2), else ``fail`` with the first divergence, or ``pass``.
        A divergence fails every rule the fixture lists; its text names the rule the
        diverging observation is evidence against.

    Raises:
        ConformanceError: no recording for a fixture that is not skipped.
    """
    declared = set(handshake.get("features", []))
    missing = [feature for feature in fixture.features if feature not in declared]
    if missing:
        detail = f"adapter lacks feature(s) {', '.join(missing)}"
        return [_verdict(fixture, rule, "skipped", detail) for rule in fixture.rules]
    if recording is None:
        raise ConformanceError(f"fixture {fixture.name!r} needs a recording to check")
    found = divergences(fixture.expect, recording, latency_of(handshake))
    if not found:
        return [_verdict(fixture, rule, "pass", "") for rule in fixture.rules]
    first = found[0].what
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return [_verdict(fixture, rule, "fail", first + more) for rule in fixture.rules]


def _verdict(fixture: Fixture, rule: str, outcome: str, detail: str) -> Verdict:
    return Verdict(fixture=fixture.name, rule=rule, level=fixture.level, outcome=outcome,
                   detail=detail)


def latency_of(handshake: Mapping[str, Any]) -> dict[str, int]:
    """The declared latency bounds (spec §8), each 0 unless declared.

    Raises:
        AdapterError: a bound that is not a non-negative int.
    """
    declared = handshake.get("latency") or {}
    if not isinstance(declared, Mapping):
        raise AdapterError(f"handshake latency must be an object, got {declared!r}")
    latency = {}
    for name in LATENCIES:
        value = declared.get(name, 0)
        if type(value) is not int or value < 0:
            raise AdapterError(f"handshake latency.{name} must be an int >= 0, got {value!r}")
        latency[name] = value
    return latency


_OUTCOME, _ORDER, _TIME, _OTHER = range(4)

Diverge = Callable[[int, int, str, Sequence[str]], None]


def divergences(
    expect: Mapping[str, Any], recording: Recording, latency: Mapping[str, int]
) -> list[Divergence]:
    """Every observation of ``recording`` outside ``expect``, the first (by model time) first."""
    observed = observe(recording)
    items: dict[str, dict[str, Any]] = observed["items"]
    scenario = recording.scenario
    profile = str(scenario.get("profile", "seed"))
    lagging = any(latency.get(name, 0) for name in LATENCIES)
    found: list[Divergence] = []

    def diverge(at: int, rank: int, what: str, rules: Sequence[str]) -> None:
        tags = tuple(dict.fromkeys(rules))
        found.append(Divergence(at=at, rank=rank, what=f"{what} [{', '.join(tags)}]",
                                rules=tags))

    for expected_now, reported in recording.clock:
        if expected_now != reported:
            diverge(expected_now, _OTHER, f"the clock reads {reported} ms after advancing to "
                                          f"{expected_now} ms", ["CLK-1"])
            break
    for call in expect["calls"]:
        index = call["step"]
        step = scenario["steps"][index]
        got = recording.calls[index]["result"]
        where = f"step {index} ({_describe_step(step)}) at {call['t']} ms"
        result = "skipped" if "skipped" in got else "error" if "error" in got else "ok"
        if result != call["result"]:
            shown = got.get("error", got.get("skipped", got))
            rules = ["ENQ-1"] if step["op"].startswith("enqueue") else ["ERR-1"]
            diverge(call["t"], _OUTCOME, f"{where}: {result} {json.dumps(shown)[:100]}, "
                                         f"expected {call['result']}", rules)
            continue
        if "status" in call:
            status = got.get("status")
            allowed = list(call["status"]["anyOf"])
            if lagging:
                allowed += _history_statuses(items[step["ref"]]["events"], call["t"], profile)
            if status not in allowed:
                rule = "STS-1" if profile == "seed" else "STS-5"
                diverge(call["t"], _OTHER, f"{where}: status {json.dumps(status)}, expected "
                                           f"one of {json.dumps(_unique(allowed))}", [rule])
    for ref, expected in expect["items"].items():
        _check_item(ref, expected, items, latency, recording, diverge)
    _check_fifo(expect, recording, items, diverge)
    for pool, groups in expect["startOrder"].items():
        starts = observed["startOrder"].get(pool, [])
        position = 0
        for group in groups:
            chunk = starts[position:position + len(group)]
            if len(chunk) < len(group):
                break
            if sorted(chunk) != group:
                at = _start_time(expect, group[0])
                diverge(at, _ORDER, f"pool {pool}: starts #{position + 1}..#"
                                    f"{position + len(group)} were {chunk}, expected {group} "
                                    "in any order", ["ORD-1"])
                break
            position += len(group)
    found.sort(key=lambda d: (d.at, d.rank))
    return found


def _check_fifo(
    expect: Mapping[str, Any],
    recording: Recording,
    items: Mapping[str, Mapping[str, Any]],
    diverge: Diverge,
) -> None:
    """ORD-1 on the implementation's own history: no first attempt starts while an item of
    its pool with a smaller key ``(E, enqueue order)`` is eligible and still waits.

    Starts at the same instant may come in any order; retries are left to the time checks
    (their key depends on when the failure was recorded)."""
    keys: dict[str, tuple[int, int]] = {}
    profile = recording.scenario.get("profile", "seed")
    for index, step in enumerate(recording.scenario["steps"]):
        if step["op"] not in ("enqueue", "enqueueBatch"):
            continue
        t = recording.calls[index]["t"]
        options = step.get("options", {})
        eligible = t
        if isinstance(options.get("runAt"), int):
            eligible = max(t, options["runAt"])
        elif isinstance(options.get("runAfter"), int):
            eligible = t + max(0, options["runAfter"])
        if profile == "current" and eligible > t + RUN_AT_TOO_FAR_MS:  # ENQ-6's bound.
            eligible = t + RUN_AT_FALLBACK_MS
        for ref in [step["ref"]] if step["op"] == "enqueue" else step["refs"]:
            keys[ref] = (eligible, len(keys))
    started = sorted((item["starts"][0], ref) for ref, item in items.items() if item["starts"])
    for began, ref in started:
        item = items[ref]
        if ref not in keys:
            continue
        for other, earlier in items.items():
            if (other == ref or earlier["pool"] != item["pool"] or other not in keys
                    or keys[other] >= keys[ref] or keys[other][0] > began):
                continue
            waited_until = [*earlier["starts"][:1], *(t for t, _, _ in earlier["terminals"][:1])]
            if earlier["outcome"]["kind"] == "rejected" or (
                waited_until and min(waited_until) <= began
            ):
                continue
            times = [_model_start(expect, ref), _model_start(expect, other)]
            at = min([t for t in times if t is not None] or [began])
            diverge(at, _ORDER, f"pool {item['pool']}: {ref} started at {began} ms while "
                                f"{other}, ahead of it in FIFO order and eligible since "
                                f"{keys[other][0]} ms, still waited", ["ORD-1"])
            return


def _outcome_rules(
    ref: str, expected: Mapping[str, Any], item: Mapping[str, Any], scenario: Mapping[str, Any]
) -> list[str]:
    """The rules an outcome (or attempt count) divergence of ``ref`` is evidence against."""
    kinds = {expected["outcome"]["kind"], item["outcome"]["kind"]}
    profile = scenario.get("profile", "seed")
    rules = []
    if "rejected" in kinds:
        rules.append("ENQ-1")
    if "canceled" in kinds:
        if not expected["attempts"]:
            rules.append("CAN-1")
        else:
            rules.append("CAN-2" if profile == "seed" else "CAN-6")
        if any(step["op"] == "cancelAll" for step in scenario["steps"]):
            rules.append("CAN-7")
    if "timed_out" in kinds:
        rules.append("TMO-1")
    if expected["retries"] or item["retries"]:
        rules.append("RTY-1")
    fn = _enqueue_steps(scenario)[ref]["fn"]
    attempts = scenario["functions"][fn].get("attempts", [])
    if any("throwsNonRetryable" in attempt for attempt in attempts):
        rules.append("RTY-4")
    if kinds & {"running", "pending"}:
        rules.append("WC-1")
    return rules or ["EXE-1"]


def _check_item(
    ref: str,
    expected: Mapping[str, Any],
    items: Mapping[str, Mapping[str, Any]],
    latency: Mapping[str, int],
    recording: Recording,
    diverge: Diverge,
) -> None:
    item = items[ref]
    attempts = expected["attempts"]
    last_t = _last_model_t(expected)
    if item["outcome"] != expected["outcome"]:
        diverge(last_t, _OUTCOME, f"item {ref}: outcome {json.dumps(item['outcome'])}, "
                                  f"expected {json.dumps(expected['outcome'])}",
                _outcome_rules(ref, expected, item, recording.scenario))
    if len(item["starts"]) != len(attempts):
        diverge(last_t, _OUTCOME, f"item {ref}: {len(item['starts'])} attempt(s) started "
                                  f"{item['starts']}, expected {len(attempts)}",
                _outcome_rules(ref, expected, item, recording.scenario))
    if len(item["terminals"]) > 1:
        diverge(last_t, _OUTCOME, f"item {ref}: ended {len(item['terminals'])} times "
                                  f"{[kind for _, kind, _ in item['terminals']]}", ["LIF-1"])
    for k, attempt in enumerate(attempts, start=1):
        if k <= len(item["starts"]):
            retried = ["RTY-3"] if k > 1 else []
            _check_window(f"item {ref}: attempt {k} started", item["starts"][k - 1],
                          attempt["start"], items, latency, diverge, ["WC-1", *retried],
                          ["ORD-2"])
        if "end" in attempt and k <= len(item["ends"]):
            window = attempt["end"]
            rules = {"timeoutSlackMs": "TMO-1"}.get(window["window"], "EXE-1")
            if "at" in window["from"]:
                rules = "CAN-2"
            _check_window(f"item {ref}: attempt {k} ended", item["ends"][k - 1], window, items,
                          latency, diverge, [rules], [rules])
    retries = expected["retries"]
    if len(item["retries"]) != len(retries):
        diverge(last_t, _OUTCOME, f"item {ref}: {len(item['retries'])} retries, expected "
                                  f"{len(retries)}", ["RTY-1"])
    for retry, seen in zip(retries, item["retries"], strict=False):
        low, high = retry["delayMs"]
        delay = seen["delayMs"]
        if type(delay) is not int or not low <= delay <= high:
            diverge(seen["t"], _TIME, f"item {ref}: retry after attempt {retry['attempt']} "
                                      f"waits {delay!r} ms, outside the jitter bounds "
                                      f"[{low}, {high}]", ["RTY-2"])
        elif seen["retryAt"] != seen["t"] + delay:
            diverge(seen["t"], _TIME, f"item {ref}: retryAt {seen['retryAt']!r} is not the "
                                      f"failure time {seen['t']} + delayMs {delay}", ["RTY-2"])
    if expected["end"] is not None and item["terminals"]:
        window = expected["end"]
        ended = ["CAN-1"] if not attempts else ["EXE-1"]
        _check_window(f"item {ref}: ended", item["terminals"][0][0], window, items, latency,
                      diverge, ended, ended)
    calls = [{"fn": call["fn"], "result": call["result"]} for call in item["onComplete"]]
    if calls != expected["onComplete"]:
        rule = "ONC-1" if len(calls) != len(expected["onComplete"]) else "ONC-2"
        diverge(last_t, _OTHER, f"item {ref}: onComplete calls {json.dumps(calls)}, expected "
                                f"{json.dumps(expected['onComplete'])}", [rule])
    elif item["terminals"]:
        early = [call["t"] for call in item["onComplete"] if call["t"] < item["terminals"][0][0]]
        if early:
            diverge(last_t, _OTHER, f"item {ref}: onComplete called at {early[0]} ms, before "
                                    f"the work ended at {item['terminals'][0][0]} ms",
                    ["ONC-1"])
    evicted = expected["evicted"]
    if evicted is None:
        if item["evicted"] is not None:
            diverge(last_t, _OTHER, f"item {ref}: evicted at {item['evicted']} ms, expected "
                                    "never", ["TTL-1"])
    elif item["terminals"]:
        if item["evicted"] is not None:
            _check_window(f"item {ref}: evicted", item["evicted"], evicted, items, latency,
                          diverge, ["TTL-1"], ["TTL-1"])
        else:
            low = _resolve(evicted["from"], items)
            if low is not None:
                high = low + latency.get(evicted["window"], 0)
                if recording.end >= high:
                    diverge(high, _TIME, f"item {ref}: not evicted by {recording.end} ms, "
                                         f"expected in [{low}, {high}]", ["TTL-1"])


def _check_window(
    what: str,
    value: int,
    window: Mapping[str, Any],
    items: Mapping[str, Mapping[str, Any]],
    latency: Mapping[str, int],
    diverge: Diverge,
    late: Sequence[str],
    early: Sequence[str],
) -> None:
    """Check that ``value`` lies in ``window``; ``late``/``early`` name the rules a value
    after/before it is evidence against."""
    low = _resolve(window["from"], items)
    model_t = int(window.get("modelT") or 0)
    if low is None:
        diverge(model_t, _TIME, f"{what} at {value} ms, but "
                                f"{_describe_anchor(window['from'])} was never observed",
                list(late))
        return
    high = low + latency.get(window["window"], 0)
    if not low <= value <= high:
        bound = f"at {low} ms" if low == high else f"in [{low}, {high}] ms"
        diverge(model_t, _TIME, f"{what} at {value} ms, expected {bound} "
                                f"({_describe_anchor(window['from'])})",
                list(late if value > high else early))


def _resolve(anchor: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]]) -> int | None:
    """The time an anchor names in the implementation's own observations, or ``None``."""
    if "at" in anchor:
        return int(anchor["at"])
    if "max" in anchor or "nth" in anchor:
        values = [_resolve(part, items) for part in anchor.get("max", anchor.get("of", []))]
        known = sorted(value for value in values if value is not None)
        if len(known) < len(values):
            return None
        if "max" in anchor:
            return known[-1]
        return known[int(anchor["nth"]) - 1]
    plus = int(anchor.get("plusMs", 0))
    if "terminal" in anchor:
        terminals = items[anchor["terminal"]]["terminals"]
        return terminals[0][0] + plus if terminals else None
    key = "start" if "start" in anchor else "attemptEnd" if "attemptEnd" in anchor else "retryAt"
    ref, k = anchor[key]
    item = items[ref]
    if key == "retryAt":
        retries = item["retries"]
        if len(retries) < k or type(retries[k - 1]["retryAt"]) is not int:
            return None
        return int(retries[k - 1]["retryAt"]) + plus
    times = item["starts"] if key == "start" else item["ends"]
    return times[k - 1] + plus if len(times) >= k else None


def _describe_anchor(anchor: Mapping[str, Any]) -> str:
    if "at" in anchor:
        return f"at {anchor['at']} ms"
    if "max" in anchor:
        return "the latest of " + ", ".join(_describe_anchor(a) for a in anchor["max"])
    if "nth" in anchor:
        parts = ", ".join(_describe_anchor(a) for a in anchor["of"])
        return f"the {_ordinal(int(anchor['nth']))} of {parts}"
    plus = int(anchor.get("plusMs", 0))
    suffix = f" + {plus} ms" if plus else ""
    if "terminal" in anchor:
        return f"when {anchor['terminal']} ended{suffix}"
    if "start" in anchor:
        return f"when {anchor['start'][0]} attempt {anchor['start'][1]} started{suffix}"
    if "attemptEnd" in anchor:
        ref, k = anchor["attemptEnd"]
        return f"when {ref} attempt {k} ended{suffix}"
    ref, k = anchor["retryAt"]
    return f"at the retryAt after {ref} attempt {k}"


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")


def _describe_step(step: Mapping[str, Any]) -> str:
    parts = [str(step["op"])]
    for key in ("ref", "fn", "pool"):
        if key in step:
            parts.append(f"{key}={step[key]}")
    return " ".join(parts)


def _last_model_t(expected: Mapping[str, Any]) -> int:
    times = [0]
    for attempt in expected["attempts"]:
        times.append(int(attempt["start"].get("modelT") or 0))
        if "end" in attempt:
            times.append(int(attempt["end"].get("modelT") or 0))
    if expected["end"] is not None:
        times.append(int(expected["end"].get("modelT") or 0))
    return max(times)


def _model_start(expect: Mapping[str, Any], ref: str) -> int | None:
    """The model's start time of ``ref``'s first attempt, if it started."""
    attempts = expect["items"].get(ref, {}).get("attempts", [])
    return int(attempts[0]["start"].get("modelT") or 0) if attempts else None


def _start_time(expect: Mapping[str, Any], label: str) -> int:
    ref, k = label.rsplit("#", 1)
    return int(expect["items"][ref]["attempts"][int(k) - 1]["start"].get("modelT") or 0)


def _unique(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _history_statuses(
    events: Sequence[tuple[int, str, Mapping[str, Any]]], t: int, profile: str
) -> list[Any]:
    """The statuses an item's own history gives at instant ``t``: after every event before
    ``t``, and after each prefix of its events at ``t``."""
    before = [event for event in events if event[0] < t]
    at = [event for event in events if event[0] == t]
    return [_project(before + at[:i], profile) for i in range(len(at) + 1)]


def _project(events: Sequence[tuple[int, str, Mapping[str, Any]]], profile: str) -> Any:
    """The status a sequence of an item's events leaves it in, in the profile's view."""
    state = "pending"
    ended = 0
    value: dict[str, Any] = {}
    for _, kind, data in events:
        if kind == "started":
            state = "running"
        elif kind == "retrying":
            state = "pending"
            ended += 1
        elif kind == "succeeded":
            state, value = "done", {"kind": "success", "result": data.get("result")}
        elif kind == "failed":
            state, value = "done", {"kind": "error", "error": data.get("error")}
        elif kind == "canceled":
            state, value = "done", {"kind": "error", "error": "Canceled"}
        elif kind == "timed_out":
            state, value = "done", {"kind": "error", "error": "Timeout"}
        elif kind == "evicted":
            state, value = "done", {"kind": "evicted"}
    if profile == "seed":
        if state == "done":
            return value
        return {"kind": "inProgress" if state == "running" else "pending"}
    if state == "done":
        return {"state": "finished"}
    return {"state": state, "previousAttempts": ended}


# Fixture files ---------------------------------------------------------------------------


def _check_meta(name: Any, rules: Any, level: Any, where: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConformanceError(f"{where}.name: expected a lowercase-kebab name, got {name!r}")
    if not isinstance(rules, list | tuple) or not rules:
        raise ConformanceError(f"{where}.rules: expected a non-empty list of rule IDs")
    for i, rule in enumerate(rules):
        if not isinstance(rule, str) or not _RULE.match(rule):
            raise ConformanceError(f"{where}.rules[{i}]: expected a rule ID like 'PAR-1', "
                                   f"got {rule!r}")
    if level not in LEVELS:
        raise ConformanceError(f"{where}.level: expected one of {list(LEVELS)}, got {level!r}")


def fixture_from_json(data: Any, where: str) -> Fixture:
    """Validate a fixture's JSON object; errors name ``where`` and the JSON path.

    Raises:
        ConformanceError, ScenarioError: the first problem found.
    """
    if not isinstance(data, dict):
        raise ConformanceError(f"{where}: expected a JSON object")
    if data.get("fixtureVersion") != FIXTURE_VERSION:
        raise ConformanceError(f"{where}.fixtureVersion: expected {FIXTURE_VERSION}, got "
                               f"{data.get('fixtureVersion')!r}")
    for key in ("name", "description", "rules", "level", "features", "scenario", "expect"):
        if key not in data:
            raise ConformanceError(f"{where}.{key}: missing")
    _check_meta(data["name"], data["rules"], data["level"], where)
    if not isinstance(data["description"], str):
        raise ConformanceError(f"{where}.description: expected a string")
    features = data["features"]
    if not isinstance(features, list) or not all(f in FEATURES for f in features):
        raise ConformanceError(f"{where}.features: expected a list of {sorted(FEATURES)}")
    scenario = load(data["scenario"], where=f"{where}.scenario").data
    _check_expect(data["expect"], scenario, f"{where}.expect")
    return Fixture(
        name=data["name"],
        description=data["description"],
        rules=tuple(data["rules"]),
        level=data["level"],
        features=tuple(features),
        scenario=scenario,
        expect=data["expect"],
    )


def _need(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> None:
    if isinstance(value, bool) and kind is int:
        raise ConformanceError(f"{path}: expected {what}, got {json.dumps(value)}")
    if not isinstance(value, kind):
        raise ConformanceError(f"{path}: expected {what}, got {json.dumps(value)[:60]}")


def _check_expect(expect: Any, scenario: Mapping[str, Any], path: str) -> None:
    _need(expect, dict, path, "an object with calls, items and startOrder")
    steps = scenario["steps"]
    refs = set(_enqueue_steps(scenario))
    _need(expect.get("calls"), list, f"{path}.calls", "a list")
    for i, call in enumerate(expect["calls"]):
        where = f"{path}.calls[{i}]"
        _need(call, dict, where, "an object")
        _need(call.get("step"), int, f"{where}.step", "a step index")
        _need(call.get("t"), int, f"{where}.t", "a time in ms")
        if not 0 <= call["step"] < len(steps) or steps[call["step"]]["op"] == "advance":
            raise ConformanceError(f"{where}.step: {call['step']} is not a call step")
        if call.get("result") not in ("ok", "error", "skipped"):
            raise ConformanceError(f"{where}.result: expected ok, error or skipped")
        if "status" in call:
            _need(call["status"], dict, f"{where}.status", "an object with anyOf")
            _need(call["status"].get("anyOf"), list, f"{where}.status.anyOf", "a list")
    _need(expect.get("items"), dict, f"{path}.items", "an object of items by ref")
    for ref, item in expect["items"].items():
        where = f"{path}.items.{ref}"
        if ref not in refs:
            raise ConformanceError(f"{where}: no step enqueues ref {ref!r}")
        _need(item, dict, where, "an object")
        _need(item.get("outcome"), dict, f"{where}.outcome", "an object with a kind")
        _need(item.get("attempts"), list, f"{where}.attempts", "a list")
        for k, attempt in enumerate(item["attempts"]):
            _need(attempt, dict, f"{where}.attempts[{k}]", "an object")
            _check_window_json(attempt.get("start"), refs, f"{where}.attempts[{k}].start")
            if "end" in attempt:
                _check_window_json(attempt["end"], refs, f"{where}.attempts[{k}].end")
        _need(item.get("retries"), list, f"{where}.retries", "a list")
        for k, retry in enumerate(item["retries"]):
            bounds = retry.get("delayMs") if isinstance(retry, dict) else None
            if (not isinstance(bounds, list) or len(bounds) != 2
                    or not all(type(b) is int for b in bounds)):
                raise ConformanceError(f"{where}.retries[{k}].delayMs: expected [low, high]")
        for key in ("end", "evicted"):
            if item.get(key) is not None:
                _check_window_json(item[key], refs, f"{where}.{key}")
        _need(item.get("onComplete"), list, f"{where}.onComplete", "a list")
    _need(expect.get("startOrder"), dict, f"{path}.startOrder", "an object of pools")
    for pool, groups in expect["startOrder"].items():
        _need(groups, list, f"{path}.startOrder.{pool}", "a list of groups")
        for g, group in enumerate(groups):
            _need(group, list, f"{path}.startOrder.{pool}[{g}]", "a list of 'ref#attempt'")


def _check_window_json(window: Any, refs: set[str], path: str) -> None:
    _need(window, dict, path, "an object with from and window")
    if window.get("window") not in LATENCIES:
        raise ConformanceError(f"{path}.window: expected one of {list(LATENCIES)}")
    _check_anchor(window.get("from"), refs, f"{path}.from")


def _check_anchor(anchor: Any, refs: set[str], path: str) -> None:
    _need(anchor, dict, path, "an anchor object")
    keys = set(anchor) & _ANCHOR_KEYS
    if len(keys) != 1:
        raise ConformanceError(f"{path}: expected exactly one of {sorted(_ANCHOR_KEYS)}")
    key = keys.pop()
    value = anchor[key]
    if key == "at":
        _need(value, int, f"{path}.at", "a time in ms")
    elif key in ("max", "nth"):
        parts = value if key == "max" else anchor.get("of")
        _need(parts, list, f"{path}.{'max' if key == 'max' else 'of'}", "a list of anchors")
        if key == "nth":
            _need(value, int, f"{path}.nth", "an index from 1")
        for i, part in enumerate(parts):
            _check_anchor(part, refs, f"{path}[{i}]")
    elif key == "terminal":
        if value not in refs:
            raise ConformanceError(f"{path}.terminal: unknown ref {value!r}")
    elif (not isinstance(value, list) or len(value) != 2 or value[0] not in refs
          or type(value[1]) is not int or value[1] < 1):
        raise ConformanceError(f"{path}.{key}: expected [ref, attempt]")


def load_fixture(path: Path) -> Fixture:
    """Read and validate one fixture file.

    Raises:
        ConformanceError, ScenarioError: unreadable, invalid JSON (with line and column), or
            malformed (with the JSON path).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConformanceError(f"{path}: cannot read: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConformanceError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    return fixture_from_json(data, f"{path}: $")


def load_fixtures(directory: Path) -> list[Fixture]:
    """Every fixture file (``*.json`` except ``index.json``) in ``directory``, by name.

    Raises:
        ConformanceError: the directory is missing or holds no fixture, or a file is bad.
    """
    if not directory.is_dir():
        raise ConformanceError(f"fixtures directory {str(directory)!r} does not exist")
    paths = sorted(p for p in directory.glob("*.json") if p.name != "index.json")
    if not paths:
        raise ConformanceError(f"fixtures directory {str(directory)!r} holds no fixture")
    return [load_fixture(path) for path in paths]


def build_fixtures(sources: Sequence[Mapping[str, Any]]) -> list[Fixture]:
    """Fill every fixture source (``refmodel.fixtures_src``), checking names are unique.

    Raises:
        ConformanceError, ScenarioError: a bad source.
    """
    fixtures = []
    seen: set[str] = set()
    for i, source in enumerate(sources):
        unknown = sorted(set(source) - {"name", "description", "rules", "level", "scenario"})
        if unknown:
            raise ConformanceError(f"fixture source [{i}]: unknown field {unknown[0]!r}")
        name = source.get("name")
        if name in seen:
            raise ConformanceError(f"fixture source [{i}]: name {name!r} is used twice")
        seen.add(str(name))
        fixtures.append(
            make_fixture(
                name=source["name"],
                description=source["description"],
                rules=list(source["rules"]),
                level=source["level"],
                scenario=source["scenario"],
            )
        )
    return fixtures


def index_text(fixtures: Sequence[Fixture]) -> str:
    """The text of ``index.json``: every fixture's file, rules, level and features."""
    entries = [
        {
            "name": f.name,
            "file": f"{f.name}.json",
            "description": f.description,
            "rules": list(f.rules),
            "level": f.level,
            "features": list(f.features),
        }
        for f in sorted(fixtures, key=lambda f: f.name)
    ]
    index = {"fixtureVersion": FIXTURE_VERSION, "fixtures": entries}
    return json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def fill(out: Path, sources: Sequence[Mapping[str, Any]] | None = None) -> list[Path]:
    """Write one file per fixture and ``index.json`` into ``out``; return the paths written.

    Files named in a previous ``index.json`` that are no longer produced are removed; no other
    file is touched.

    Raises:
        ConformanceError, ScenarioError: a bad fixture source.
        OSError: ``out`` cannot be written.
    """
    if sources is None:
        from refmodel.fixtures_src import FIXTURES

        sources = FIXTURES
    fixtures = build_fixtures(sources)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.json"
    stale: set[str] = set()
    if index.exists():
        try:
            previous = json.loads(index.read_text(encoding="utf-8"))
            stale = {str(entry["file"]) for entry in previous.get("fixtures", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            stale = set()
    written = []
    for fixture in fixtures:
        path = out / f"{fixture.name}.json"
        path.write_text(fixture.to_text(), encoding="utf-8")
        written.append(path)
        stale.discard(path.name)
    for name in sorted(stale):
        if "/" not in name and name.endswith(".json"):
            (out / name).unlink(missing_ok=True)
    index.write_text(index_text(fixtures), encoding="utf-8")
    written.append(index)
    return written


# Running ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Report:
    """The verdicts of a conformance run, with who was checked."""

    adapter: str
    features: tuple[str, ...]
    latency: Mapping[str, int]
    verdicts: tuple[Verdict, ...]

    @property
    def ok(self) -> bool:
        """Whether no MUST fixture failed."""
        return not any(v.outcome == "fail" and v.level == "MUST" for v in self.verdicts)

    def failures(self) -> list[Verdict]:
        """The failed verdicts, in order."""
        return [v for v in self.verdicts if v.outcome == "fail"]

    def text(self) -> str:
        """A per-rule report, then one line per failed or skipped fixture."""
        lines = [f"conformance of {self.adapter}"]
        lines.append(f"features: {', '.join(self.features) or '(none)'}")
        shown = ", ".join(f"{k}={v}" for k, v in self.latency.items() if v) or "all 0"
        lines.append(f"latency: {shown}")
        lines.append("")
        lines.append(f"{'rule':<8} {'pass':>5} {'fail':>5} {'skip':>5}")
        for rule in sorted({v.rule for v in self.verdicts}, key=_rule_key):
            counts = {o: 0 for o in ("pass", "fail", "skipped")}
            for v in self.verdicts:
                if v.rule == rule:
                    counts[v.outcome] += 1
            lines.append(f"{rule:<8} {counts['pass']:>5} {counts['fail']:>5} "
                         f"{counts['skipped']:>5}")
        lines.append("")
        seen: set[str] = set()
        for v in self.verdicts:
            if v.outcome == "pass" or v.fixture in seen:
                continue
            seen.add(v.fixture)
            rules = ",".join(x.rule for x in self.verdicts if x.fixture == v.fixture)
            tag = "FAIL" if v.outcome == "fail" else "SKIP"
            lines.append(f"{tag} {v.fixture} [{v.level}] {rules}: {v.detail}")
        fixtures = {v.fixture: v for v in self.verdicts}
        failed = {v.fixture for v in self.verdicts if v.outcome == "fail"}
        must = {v.fixture for v in self.verdicts if v.outcome == "fail" and v.level == "MUST"}
        skipped = {v.fixture for v in self.verdicts if v.outcome == "skipped"}
        passed = len(fixtures) - len(failed) - len(skipped)
        lines.append(
            f"{len(fixtures)} fixtures: {passed} passed, {len(failed)} failed "
            f"({len(must)} MUST), {len(skipped)} skipped"
        )
        return "\n".join(lines) + "\n"


def _rule_key(rule: str) -> tuple[str, int]:
    family, _, number = rule.partition("-")
    return family, int(number)


def checked_handshake(adapter: Adapter) -> dict[str, Any]:
    """The adapter's handshake, validated.

    Raises:
        AdapterError: it is not an object with a list of feature names and valid latencies.
    """
    handshake = adapter.handshake()
    if not isinstance(handshake, dict):
        raise AdapterError(f"adapter answered handshake with {handshake!r}, not an object")
    features = handshake.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise AdapterError(f"handshake features must be a list of names, got {features!r}")
    latency_of(handshake)
    return handshake


def run_conformance(adapter: Adapter, fixtures: Sequence[Fixture]) -> Report:
    """Play every fixture on ``adapter`` (skipping those that need a missing feature).

    Raises:
        AdapterError: the adapter crashed, hung or answered garbage.
    """
    handshake = checked_handshake(adapter)
    verdicts: list[Verdict] = []
    declared = set(handshake.get("features", []))
    for fixture in fixtures:
        recording = None
        if set(fixture.features) <= declared:
            recording = play(adapter, fixture.scenario)
        verdicts.extend(check_recording(fixture, recording, handshake))
    name = f"{handshake.get('name', '?')} {handshake.get('version', '')}".strip()
    return Report(
        adapter=name,
        features=tuple(sorted(declared)),
        latency=latency_of(handshake),
        verdicts=tuple(verdicts),
    )


def open_adapter(command: str, timeout_s: float = 10.0) -> Adapter:
    """``"model"``: the in-process model; anything else: a program run with that command.

    Raises:
        AdapterError: the program cannot start.
    """
    if command == "model":
        return ModelAdapter()
    return SubprocessAdapter(command, timeout_s=timeout_s)


# Exploring -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Divergent:
    """A (shrunk) scenario on which the adapter diverges from the model.

    Attributes:
        fixture: the scenario with the model's expectations; its rules are those the first
            divergence is evidence against.
        detail: the first divergence.
        rules: every rule any divergence on this scenario is evidence against.
        fixture_path, test_path: where it was written, if it was.
    """

    fixture: Fixture
    detail: str
    rules: tuple[str, ...]
    fixture_path: Path | None = None
    test_path: Path | None = None


def scenario_strategy(features: Iterable[str]) -> Any:
    """A Hypothesis strategy of small scenarios that use only ``features``.

    One or two pools, up to three declared actions of up to three attempts (returns, throws,
    and where declared throwsNonRetryable and hangs), a mutation, and up to eight steps:
    enqueues with options (retry with small backoffs, runAfter, onComplete), batches,
    cancels, cancelAll, status, configure, and advances with small deltas biased to the
    boundaries of the durations (0, 1, 9, 10, 11 ms). It shrinks towards fewer steps and
    smaller times.

    Returns:
        The strategy, or ``None`` when the features name neither status API.
    """
    from hypothesis import strategies as st

    declared = set(features)
    profiles = [profile for profile, api in PROFILE_FEATURE.items() if api in declared]
    if not profiles:
        return None
    durations = st.one_of(st.sampled_from([0, 1, 10]), st.integers(0, 40))
    deltas = st.one_of(st.sampled_from([0, 1, 9, 10, 11]), st.integers(0, 50))
    endings = ["returns", "throws"]
    endings += [name for name, feature in (("throwsNonRetryable", "nonRetryable"),
                                           ("hangs", "hang")) if feature in declared]

    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        profile = draw(st.sampled_from(profiles))
        pools: dict[str, dict[str, Any]] = {}
        for i in range(draw(st.integers(1, 2))):
            options: dict[str, Any] = {"maxParallelism": draw(st.sampled_from([1, 1, 2, 3]))}
            if profile == "seed" and "timeouts" in declared and draw(st.booleans()):
                options["actionTimeoutMs"] = draw(st.integers(1, 40))
            if profile == "seed" and "ttl" in declared and draw(st.booleans()):
                # Short enough that evictions happen while the scenario is still observed.
                options["ttl"] = draw(st.one_of(st.sampled_from([1, 10]), st.integers(1, 40)))
            pools[f"p{i}"] = options
        functions: dict[str, dict[str, Any]] = {}
        for i in range(draw(st.integers(1, 3))):
            attempts = []
            for _ in range(draw(st.integers(1, 3))):
                ending = draw(st.sampled_from(endings))
                attempt: dict[str, Any] = {"durationMs": draw(durations)}
                if ending == "returns":
                    attempt["returns"] = draw(st.integers(0, 9))
                elif ending == "hangs":
                    attempt["hangs"] = True
                else:
                    attempt[ending] = f"e{draw(st.integers(0, 9))}"
                attempts.append(attempt)
            functions[f"f{i}"] = {"kind": "action", "attempts": attempts}
        if "mutations" in declared and draw(st.booleans()):
            functions["m"] = {"kind": "mutation", "durationMs": draw(durations)}
        if "onComplete" in declared:
            functions["done"] = {"kind": "mutation", "recordsOnComplete": True}
        work = sorted(name for name in functions if name != "done")
        ops = ["enqueue", "enqueue", "enqueue", "advance", "advance"]
        ops += [op for op, feature in (("cancel", "cancel"), ("cancel", "cancel"),
                                       ("cancelAll", "cancelAll"),
                                       ("enqueueBatch", "batch"), ("configure", "configure"))
                if feature in declared]
        ops += ["status"]
        steps: list[dict[str, Any]] = []
        refs: list[str] = []
        for _ in range(draw(st.integers(1, 8))):
            op = draw(st.sampled_from(ops))
            if op in ("cancel", "status") and not refs:
                op = "enqueue"
            pool = draw(st.sampled_from(sorted(pools)))
            if op == "advance":
                steps.append({"op": "advance", "ms": draw(deltas)})
            elif op in ("cancel", "status"):
                steps.append({"op": op, "pool": pool, "ref": draw(st.sampled_from(refs))})
            elif op == "cancelAll":
                steps.append({"op": op, "pool": pool})
            elif op == "configure":
                low = 0 if profile == "current" else 1
                steps.append({"op": op, "pool": pool,
                              "maxParallelism": draw(st.integers(low, 3))})
            else:
                fn = draw(st.sampled_from(work))
                options = {}
                if fn != "m" and "retries" in declared and draw(st.booleans()):
                    options["retry"] = {"maxAttempts": draw(st.integers(1, 3)),
                                        "initialBackoffMs": draw(st.sampled_from([0, 10, 20])),
                                        "base": 2}
                if "runAt" in declared and draw(st.booleans()):
                    options["runAfter"] = draw(st.integers(0, 30))
                if "onComplete" in declared and draw(st.booleans()):
                    options["onComplete"] = "done"
                    options["context"] = len(refs)
                step: dict[str, Any] = {"op": op, "pool": pool, "fn": fn}
                if op == "enqueue":
                    refs.append(f"w{len(refs) + 1}")
                    step.update({"args": {}, "ref": refs[-1]})
                else:
                    batch = [f"w{len(refs) + i + 1}" for i in range(draw(st.integers(1, 3)))]
                    refs.extend(batch)
                    step.update({"argsList": [{} for _ in batch], "refs": batch})
                if options:
                    step["options"] = options
                steps.append(step)
        return {"profile": profile, "seed": 0, "pools": pools, "functions": functions,
                "steps": steps}

    return build()


def explore(
    adapter: Adapter,
    examples: int,
    *,
    out: Path | None = None,
    command: str = "model",
    seed: int = 0,
    on_example: Callable[[], None] | None = None,
) -> Divergent | None:
    """Generate small scenarios, play each on the model and on ``adapter``, compare.

    Scenarios use only the features the adapter declares; those whose expectations depend on
    the model's jitter draw are discarded (``on_example``, if given, is called as each
    scenario is tried: a progress bar). On a divergence Hypothesis shrinks the scenario
    (fewer steps, smaller times); the minimal one is written to ``out`` as a fixture and as a
    pytest file that replays it with ``command``.

    Returns:
        The minimal divergence, or ``None`` if none was found in ``examples`` scenarios.

    Raises:
        AdapterError: the adapter crashed, hung or answered garbage.
        ConformanceError: Hypothesis is not installed, or the adapter declares no status API.
    """
    try:
        from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
        from hypothesis import seed as hypothesis_seed
    except ImportError:  # pragma: no cover - hypothesis is a test dependency
        raise ConformanceError(
            "--explore needs hypothesis: pip install 'refmodel[test]'"
        ) from None

    handshake = checked_handshake(adapter)
    strategy = scenario_strategy(handshake.get("features", []))
    if strategy is None:
        raise ConformanceError(
            "the adapter declares neither seed-api nor current-api: nothing to explore"
        )
    latency = latency_of(handshake)
    failures: list[tuple[Fixture, list[Divergence]]] = []
    broken: list[AdapterError] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        verbosity=Verbosity.quiet,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def probe(scenario: dict[str, Any]) -> None:
        if on_example is not None:
            on_example()  # Progress, on a terminal.
        if broken:
            return
        fixture = _explore_fixture(scenario)
        if fixture is None:
            reject()
        assert fixture is not None
        try:
            recording = play(adapter, fixture.scenario)
        except AdapterError as error:
            broken.append(error)
            return
        found = divergences(fixture.expect, recording, latency)
        if found:
            failures.append((fixture, found))
            raise AssertionError(found[0].what)

    try:
        probe()
    except Exception:
        if broken:
            raise broken[0] from None
        if not failures:
            raise
    if broken:
        raise broken[0]
    if not failures:
        return None
    fixture, found = failures[-1]
    fixture = attrs.evolve(fixture, rules=found[0].rules)
    every = tuple(dict.fromkeys(rule for d in found for rule in d.rules))
    result = Divergent(fixture=fixture, detail=found[0].what, rules=every)
    if out is not None:
        fixture_path, test_path = write_divergence(fixture, found[0].what, out, command)
        result = attrs.evolve(result, fixture_path=fixture_path, test_path=test_path)
    return result


def _explore_fixture(scenario: Mapping[str, Any]) -> Fixture | None:
    """The model's expectations for a generated scenario, or ``None`` if they depend on
    the jitter draw."""
    text = json.dumps(scenario, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    try:
        return make_fixture(
            name=f"explore-{digest}",
            description="A minimal scenario on which the adapter diverged from the model, "
                        "found by python -m refmodel conformance --explore.",
            rules=["LIF-1"],
            level="MUST",
            scenario=scenario,
            stability_seeds=(1, 2),
        )
    except JitterDependent:
        return None


_TEST_TEMPLATE = '''"""A divergence from the model, found by exploring with
``python -m refmodel conformance --explore``.

Replay with ``pytest {test_name}``.
The fixture beside this file holds the scenario and the observations the model makes; the
adapter below must make them too.

First divergence: {detail}
"""

from pathlib import Path

from refmodel.conformance import load_fixture, open_adapter, run_conformance

ADAPTER = {command!r}
FIXTURE = Path(__file__).with_name({fixture_name!r})


def test_{function}() -> None:
    adapter = open_adapter(ADAPTER)
    try:
        report = run_conformance(adapter, [load_fixture(FIXTURE)])
    finally:
        adapter.close()
    assert [verdict.detail for verdict in report.failures()] == []
'''


def write_divergence(fixture: Fixture, detail: str, out: Path, command: str) -> tuple[Path, Path]:
    """Write ``fixture`` and a pytest file that replays it against ``command`` into ``out``.

    Raises:
        OSError: ``out`` cannot be written.
    """
    out.mkdir(parents=True, exist_ok=True)
    fixture_path = out / f"{fixture.name}.json"
    fixture_path.write_text(fixture.to_text(), encoding="utf-8")
    function = fixture.name.replace("-", "_")
    test_path = out / f"test_{function}.py"
    safe = detail.replace("\\", "/").replace('"""', "'''")
    test_path.write_text(
        _TEST_TEMPLATE.format(
            test_name=test_path.name,
            detail=safe,
            command=command,
            fixture_name=fixture_path.name,
            function=function,
        ),
        encoding="utf-8",
    )
    return fixture_path, test_path


# The command line -----------------------------------------------------------------------


def fill_command(out: str) -> int:
    """``python -m refmodel fill --out DIR``: write the fixtures; return the exit status.

    Raises:
        ConformanceError: a bad fixture source, or ``out`` cannot be written.
    """
    try:
        written = fill(Path(out))
    except OSError as error:
        raise ConformanceError(f"cannot write fixtures to {out!r}: {error.strerror}") from None
    print(f"wrote {len(written) - 1} fixtures and index.json to {out}")
    return 0


def conformance_command(
    adapter_command: str,
    fixtures_dir: str | None,
    examples: int | None,
    out: str,
    timeout_s: float,
    *,
    seed: int = 0,
) -> int:
    """``python -m refmodel conformance``: 0 if no MUST fixture fails and exploring found no
    divergence, else 1.

    Fixtures run from ``fixtures_dir`` (default ``specs/fixtures``) unless only ``--explore``
    is given.

    Raises:
        ConformanceError: bad fixtures. AdapterError: the adapter misbehaved.
    """
    fixtures: list[Fixture] = []
    if fixtures_dir is not None or examples is None:
        fixtures = load_fixtures(Path(fixtures_dir or "specs/fixtures"))
    adapter = open_adapter(adapter_command, timeout_s)
    status = 0
    try:
        if fixtures:
            report = run_conformance(adapter, fixtures)
            print(report.text(), end="")
            status = 0 if report.ok else 1
        if examples is not None:
            from refmodel.progress import progress

            with progress(f"explore {examples} scenarios", examples) as bar:
                found = explore(adapter, examples, out=Path(out), command=adapter_command,
                                seed=seed, on_example=bar.advance)
            if found is None:
                print(f"explore: no divergence in {examples} scenarios")
            else:
                status = 1
                print(f"explore: divergence [{', '.join(found.fixture.rules)}]: {found.detail}")
                print(f"explore: minimal scenario ({len(found.fixture.scenario['steps'])} "
                      f"steps) written to {found.fixture_path} and {found.test_path}:")
                assert found.test_path is not None
                print(found.test_path.read_text(encoding="utf-8"), end="")
    except OSError as error:
        adapter.close()
        raise ConformanceError(f"cannot write to {out!r}: {error.strerror}") from None
    except AdapterError:
        _abandon(adapter)  # It misbehaved: do not wait for it to shut down politely.
        raise
    adapter.close()
    return status


def _abandon(adapter: Adapter) -> None:
    kill = getattr(adapter, "kill", None)
    if callable(kill):
        kill()
    else:
        adapter.close()


__all__ = [
    "Divergence",
    "Divergent",
    "Fixture",
    "Recording",
    "Report",
    "Verdict",
    "check_recording",
    "conformance_command",
    "divergences",
    "expectations",
    "explore",
    "fill",
    "fill_command",
    "load_fixture",
    "load_fixtures",
    "make_fixture",
    "observe",
    "open_adapter",
    "play",
    "run_conformance",
]
