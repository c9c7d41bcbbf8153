"""Expectations and fill: what every implementation must observe, computed by the model.

:func:`make_fixture` plays a scenario on the model and writes the expected observations.
Anything an implementation may legitimately do differently is written as a bound or a set,
never as the model's one choice:

- a time is a window ``[v, v + slack]``: ``v`` is an *anchor* — an absolute scenario time, or
  a time the implementation itself recorded ("when b's first attempt ended, + 0 ms", "at a's
  retryAt") — and ``slack`` is a latency the adapter declares in its handshake (``startLagMs``,
  ``completionLagMs``, ``timeoutSlackMs``, ``evictionSlackMs``; spec §8), 0 for the model.
  Anchoring to the implementation's own events is what spec §8 says: each start lags the
  instant *its own* history allows by at most L.
- a retry delay is checked against the jitter bounds ``[0.5 b, 1.5 b]`` with
  ``b = initialBackoffMs * base**(k-1)``, never against the model's draw;
- starts of one pool at one instant form a set: their order is not checked;
- a status answer is a set of allowed values; with a declared latency, a value that the
  implementation's own history gives at that instant is allowed too.

The model values (``modelT``) are written beside the bounds for the reader; the checker never
uses them. ``fill`` proves that the expectations do not encode a jitter draw: the model,
replayed with other seeds, must pass the fixture (:data:`STABILITY_SEEDS`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from refmodel.adapter import ModelAdapter
from refmodel.conformance.files import (
    PROFILE_FEATURE,
    ConformanceError,
    Fixture,
    JitterDependent,
    check_meta,
    index_text,
)
from refmodel.conformance.play import Recording, enqueue_steps, observe, play
from refmodel.conformance.verdicts import divergences
from refmodel.constants import (
    DEFAULT_RETRY_JSON,
    DEFAULT_TTL_MS,
    DEVIATIONS,
    retry_delay_window,
)
from refmodel.scenario import load, required_features
from refmodel.workpool.profiles import as_profile

STABILITY_SEEDS = (1, 2, 3, 4)
"""Seeds other than the scenario's with which the model must pass every fixture it fills."""


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
    deviations: Mapping[str, Mapping[str, Any]] | None = None,
) -> Fixture:
    """Play ``scenario`` on the model and write what every implementation must observe.

    Args:
        deviations: per named deviation (spec §7) the fixture pins, how an implementation
            that has it behaves: ``{"scenario": S}`` (it plays like ``S``, the same steps with
            other options, for example without a ``retry`` it ignores) or ``{"calls": {step:
            expectation}}`` (its answers to those steps differ, as written).

    Raises:
        ConformanceError: bad metadata, or the model's observations depend on its jitter
            draws (the model with another seed fails the expectations).
        ScenarioError: the scenario is malformed.
    """
    fixture, _ = model_fixture(name=name, description=description, rules=rules, level=level,
                               scenario=scenario, stability_seeds=stability_seeds,
                               deviations=deviations)
    return fixture


def model_fixture(
    *,
    name: str,
    description: str,
    rules: Sequence[str],
    level: str,
    scenario: Mapping[str, Any],
    stability_seeds: Sequence[int] = STABILITY_SEEDS,
    deviations: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[Fixture, Recording]:
    """:func:`make_fixture`, and the model's recording it was made from (same arguments,
    same errors)."""
    check_meta(name, rules, level, f"fixture {name!r}")
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
        deviations={
            name: _deviant_expectations(name, how, data, recording)
            for name, how in sorted((deviations or {}).items())
        },
    )
    unstable = jitter_divergence(fixture, stability_seeds)
    if unstable is not None:
        raise JitterDependent(
            f"fixture {name!r}: its observations depend on the jitter draw ({unstable}); "
            "make the retried work uncontended or its cancel/status steps clear of the retry"
        )
    return fixture, recording


def _deviant_expectations(
    name: str, how: Mapping[str, Any], data: Mapping[str, Any], recording: Recording
) -> dict[str, Any]:
    """The observations of an implementation with the named deviation ``name``."""
    if name not in DEVIATIONS:
        raise ConformanceError(f"fixture {data['name']!r}: unknown deviation {name!r}")
    if "scenario" in how:
        alternative = {**dict(load(dict(how["scenario"])).data), "name": data["name"]}
        adapter = ModelAdapter()
        try:
            return expectations(play(adapter, alternative))
        finally:
            adapter.close()
    expect = expectations(recording)
    patches = {int(step): patch for step, patch in dict(how["calls"]).items()}
    expect["calls"] = [{**call, **patches.get(call["step"], {})} for call in expect["calls"]]
    return expect


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
    steps_of = enqueue_steps(scenario)
    items: dict[str, dict[str, Any]] = {}
    for ref, item in obs_items.items():
        items[ref] = {
            "pool": item["pool"],
            "outcome": item["outcome"],
            "attempts": [],
            "retries": [],
            "end": None,
            "onComplete": [
                {"fn": call["fn"], "context": call["context"], "result": call["result"]}
                for call in item["onComplete"]
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
            if kind == "canceled" and as_profile(profile).cancel_stops_running:
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
                behavior = _retry_behavior(scenario, steps_of[ref])
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


def _retry_behavior(scenario: Mapping[str, Any], step: Mapping[str, Any]) -> dict[str, Any]:
    """The retry behaviour a scenario gives a work item (a model retried it, so it has one)."""
    pool = scenario["pools"][step["pool"]]
    default = dict(DEFAULT_RETRY_JSON)
    default.update(pool.get("defaultRetryBehavior") or {})
    option = step.get("options", {}).get("retry")
    if isinstance(option, Mapping):
        return {**DEFAULT_RETRY_JSON, **option}
    return default


def _jitter_bounds(behavior: Mapping[str, Any], k: int) -> list[float]:
    """The allowed delay before retry ``k`` (RTY-2:
    :func:`refmodel.constants.retry_delay_window`)."""
    return list(retry_delay_window(behavior["initialBackoffMs"], behavior["base"], k))


def _ttl(scenario: Mapping[str, Any], pool: str) -> int | None:
    if scenario.get("profile", "seed") != "seed":
        return None
    options = scenario["pools"][pool]
    if "ttl" not in options:
        return DEFAULT_TTL_MS
    ttl = options["ttl"]
    return None if ttl is None else int(ttl)


def build_fixtures(sources: Sequence[Mapping[str, Any]]) -> list[Fixture]:
    """Fill every fixture source (``refmodel.fixtures_src``), checking names are unique.

    Raises:
        ConformanceError, ScenarioError: a bad source.
    """
    fixtures = []
    seen: set[str] = set()
    for i, source in enumerate(sources):
        fields = {"name", "description", "rules", "level", "scenario", "deviations"}
        unknown = sorted(set(source) - fields)
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
                deviations=source.get("deviations"),
            )
        )
    return fixtures


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


