"""Verdicts: compare an implementation's recording with a fixture's expectations.

:func:`check_recording` gives one :class:`Verdict` per (fixture, rule): pass, fail (with the
first divergence), or skipped when the adapter lacks a feature the fixture needs (rule CNF-2).
A fixture's divergence fails every rule the fixture lists; its text names the rule the
diverging observation is evidence against. Beside the expectations, ORD-1 is checked on the
implementation's own history (no item starts while an eligible item ahead of it in FIFO order
still waits), since no latency relaxes it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from refmodel.adapter import AdapterError
from refmodel.checker import CheckOptions, TraceUnreadable, check
from refmodel.conformance.files import LATENCIES, ConformanceError, Fixture
from refmodel.conformance.play import Recording, enqueue_steps, observe
from refmodel.constants import DEVIATIONS
from refmodel.values import short
from refmodel.workpool.profiles import as_profile


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
    deviation: str = ""
    """The declared deviation (spec §7) that made a ``pass`` of it: the fixture's recording
    was outside its expectations and within that deviation's; ``""`` otherwise."""


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
        A divergence fails every rule the fixture lists, and the rules the first divergence
        is evidence against (named in its text) beside them. A recording outside the
        fixture's expectations passes when it is within those of a named deviation that the
        handshake declares (``deviations``). The adapter's own trace of the fixture is judged
        by the trace checker too (:func:`trace_divergences`), after the expectations.

    Raises:
        ConformanceError: no recording for a fixture that is not skipped.
    """
    declared = declared_features(handshake)
    missing = [feature for feature in fixture.features if feature not in declared]
    if missing:
        detail = f"adapter lacks feature(s) {', '.join(missing)}"
        return [verdict_of(fixture, rule, "skipped", detail) for rule in fixture.rules]
    if recording is None:
        raise ConformanceError(f"fixture {fixture.name!r} needs a recording to check")
    latency = latency_of(handshake)
    declared_deviations = deviations_of(handshake)
    found = divergences(fixture.expect, recording, latency, declared_deviations)
    used = ""
    in_place = sorted(declared_deviations & IN_PLACE_DEVIATIONS)
    if in_place and not found:  # Which of them the pass needed: the evidence of each.
        for name in in_place:
            without = divergences(fixture.expect, recording, latency,
                                  declared_deviations - {name})
            if without:
                used, evidence = name, without[0].what
                break
    for name, expect in fixture.deviations.items():
        if found and name in declared_deviations and not divergences(expect, recording, latency):
            used = name
            evidence = found[0].what
            found = []
    found += trace_divergences(recording, handshake)
    if not found:
        if used:
            return [verdict_of(fixture, rule, "pass", evidence, deviation=used)
                    for rule in fixture.rules]
        return [verdict_of(fixture, rule, "pass", "") for rule in fixture.rules]
    first = found[0].what
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    rules = list(dict.fromkeys([*fixture.rules, *found[0].rules]))
    return [verdict_of(fixture, rule, "fail", first + more) for rule in rules]


def deviations_of(handshake: Mapping[str, Any]) -> frozenset[str]:
    """The named deviations (spec §7) a handshake declares.

    Raises:
        AdapterError: ``deviations`` is not a list of known names.
    """
    declared = handshake.get("deviations") or []
    if not isinstance(declared, list) or not all(name in DEVIATIONS for name in declared):
        raise AdapterError(f"handshake deviations must be a list of names from "
                           f"{sorted(DEVIATIONS)}, got {declared!r}")
    return frozenset(declared)


def verdict_of(
    fixture: Fixture, rule: str, outcome: str, detail: str, *, deviation: str = ""
) -> Verdict:
    return Verdict(fixture=fixture.name, rule=rule, level=fixture.level, outcome=outcome,
                   detail=detail, deviation=deviation)


FEATURE_VARIANTS: dict[str, dict[str, str]] = {
    "mutations": {"no-duration": "mutation-durations"},
}
"""Protocol 2's ``featureVariants``: per feature, the variants an adapter may declare, each
with the finer feature it leaves out (``mutations: ["no-duration"]``: mutations that cannot
take virtual time, so a fixture whose mutation has a ``durationMs`` is skipped)."""


def declared_features(handshake: Mapping[str, Any]) -> set[str]:
    """The features a handshake declares, with what they imply: ``mutations`` implies
    ``mutation-durations`` unless protocol 2's ``featureVariants`` says ``no-duration``.

    Raises:
        AdapterError: ``featureVariants`` under protocol 1, or an unknown feature or variant.
    """
    declared = set(handshake.get("features", []))
    variants = handshake.get("featureVariants")
    if variants is not None:
        if handshake.get("protocol") != 2:
            raise AdapterError("handshake featureVariants needs protocol 2")
        if not isinstance(variants, Mapping) or not all(
            isinstance(names, list) and feature in FEATURE_VARIANTS
            and all(name in FEATURE_VARIANTS[feature] for name in names)
            for feature, names in variants.items()
        ):
            raise AdapterError(
                f"handshake featureVariants must map a feature to a list of its variants, "
                f"from {FEATURE_VARIANTS!r}, got {short(variants)}"
            )
    left_out = {FEATURE_VARIANTS[feature][name]
                for feature, names in (variants or {}).items() for name in names}
    for feature, implied in (("mutations", "mutation-durations"),):
        if feature in declared and implied not in left_out:
            declared.add(implied)
    return declared


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
    expect: Mapping[str, Any],
    recording: Recording,
    latency: Mapping[str, int],
    deviations: frozenset[str] = frozenset(),
) -> list[Divergence]:
    """Every observation of ``recording`` outside ``expect``, the first (by model time) first.

    ``deviations`` are the documented deviations the adapter declares that relax a comparison
    in place rather than through a pinning fixture's alternative expectations
    (``RTY-2/retry-drawn-by-loop``, ``ONC-3/non-retryable-error-data``)."""
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
    if recording.stalled is not None:
        diverge(-1, _OUTCOME, f"livelock: {recording.stalled}", ["CLK-5"])
    for call in expect["calls"]:
        index = call["step"]
        step = scenario["steps"][index]
        got = recording.calls[index]["result"]
        where = f"step {index} ({_describe_step(step)}) at {call['t']} ms"
        result = "skipped" if "skipped" in got else "error" if "error" in got else "ok"
        if result == "ok" and call["result"] == "error" and _admitted_foreign(
            step, scenario, got, deviations
        ):
            continue  # A declared deviation: another pool's id is not refused.
        if result != call["result"]:
            shown = got.get("error", got.get("skipped", got))
            rules = _call_rules(step, scenario, profile)
            diverge(call["t"], _OUTCOME, f"{where}: {result} {json.dumps(shown)[:100]}, "
                                         f"expected {call['result']}", rules)
            continue
        if "status" in call:
            status = got.get("status")
            allowed = list(call["status"]["anyOf"])
            if lagging:
                allowed += _history_statuses(items[step["ref"]]["events"], call["t"], profile)
                allowed += _unreported_failure(expect["items"].get(step["ref"]),
                                               items.get(step["ref"]), call["t"], profile)
            if CANCELED_READS_RUNNING in deviations and step["ref"] in items:
                allowed += _canceled_reads_running(step["ref"], items[step["ref"]], call["t"],
                                                   recording)
            if status not in allowed:
                rule = _call_rules(step, scenario, profile)[0]
                diverge(call["t"], _OTHER, f"{where}: status {json.dumps(status)}, expected "
                                           f"one of {json.dumps(_unique(allowed))}", [rule])
    for ref, expected in expect["items"].items():
        _check_item(ref, expected, items, latency, recording, diverge, deviations)
    _check_fifo(expect, recording, items, diverge, latency.get("earlyStartMs", 0))
    early = latency.get("earlyStartMs", 0)
    for pool, model_groups in expect["startOrder"].items():
        starts = observed["startOrder"].get(pool, [])
        position = 0
        groups = _merge_early(expect, model_groups, early)
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


def _call_rules(step: Mapping[str, Any], scenario: Mapping[str, Any], profile: str) -> list[str]:
    """The rule a call's answer (accepted, refused, or its status) is evidence about."""
    op = step["op"]
    if op in ("enqueue", "enqueueBatch"):
        kind = scenario["functions"][step["fn"]]["kind"]
        if "retry" in step.get("options", {}) and kind != "action":
            return ["ENQ-5"]  # Whose deviation ENQ-5/retry-on-mutation-ignored admits it.
        return ["ENQ-1"] if op == "enqueue" else ["ENQ-5"]
    if op in ("status", "cancel"):
        issuer = enqueue_steps(scenario)[step["ref"]]["pool"]
        if issuer != step["pool"]:
            return ["STS-4"] if op == "status" else ["CAN-5"]
        if op == "status":
            return [as_profile(profile).status.status_rule]
        return ["CAN-1"]
    return {"cancelAll": ["CAN-7"], "configure": ["CFG-5"]}.get(op, ["ERR-1"])


def _fifo_keys(recording: Recording) -> dict[str, tuple[int, int]]:
    """Per ref, its FIFO key ``(E, enqueue order)`` for its first attempt (ENQ-4, ENQ-6)."""
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
        eligible = as_profile(profile).eligibility.eligible_at(eligible, t)[0]  # ENQ-6.
        for ref in [step["ref"]] if step["op"] == "enqueue" else step["refs"]:
            keys[ref] = (eligible, len(keys))
    return keys


def _early_start_rules(
    ref: str, k: int, window: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]],
    recording: Recording,
) -> list[str]:
    """The rule a start before its window is evidence against: what held it back in the
    model. A retry's retryAt (RTY-2); a slot that had not freed yet (PAR-1); a pool paused or
    limited until a configuration change (PAR-2, CFG-5); else its runAt (ORD-2)."""
    if k > 1:
        return ["RTY-2"]
    anchor = window["from"]
    parts = anchor.get("max", [anchor])
    binding = max(parts, key=lambda part: _resolve(part, items) or 0)
    if "at" not in binding:
        return ["PAR-1"]
    eligible = _fifo_keys(recording).get(ref, (0, 0))[0]
    if binding["at"] > eligible:
        pool = enqueue_steps(recording.scenario)[ref]["pool"]
        paused = any(step["op"] == "configure" and step["pool"] == pool
                     and step.get("maxParallelism") == 0
                     for step in recording.scenario["steps"])
        return ["PAR-2", "CFG-5"] if paused else ["CFG-5"]
    return ["ORD-2"]


def _merge_early(
    expect: Mapping[str, Any], groups: Sequence[Sequence[str]], early_ms: int
) -> list[list[str]]:
    """The model's start groups, with groups that start within ``early_ms`` of the one before
    merged: an implementation that may start work up to ``early_ms`` early (earlyStartMs, the
    current component's 100 ms segments) may start those in either order."""
    merged: list[list[str]] = []
    last = None
    for group in groups:
        began = _start_time(expect, group[0])
        if merged and early_ms and last is not None and began - last <= early_ms:
            merged[-1] = sorted([*merged[-1], *group])
        else:
            merged.append(list(group))
        last = began
    return merged


def _check_fifo(
    expect: Mapping[str, Any],
    recording: Recording,
    items: Mapping[str, Mapping[str, Any]],
    diverge: Diverge,
    early_ms: int = 0,
) -> None:
    """ORD-1 on the implementation's own history: no first attempt starts while an item of
    its pool with a smaller key ``(E, enqueue order)`` is eligible and still waits. With an
    early start of A ms declared, items whose ``E`` differ by less than A may start in either
    order (spec §8).

    Starts at the same instant may come in any order; retries are left to the time checks
    (their key depends on when the failure was recorded)."""
    keys = _fifo_keys(recording)
    asked = cancels_asked(recording)
    started = sorted((item["starts"][0], ref) for ref, item in items.items() if item["starts"])
    for began, ref in started:
        item = items[ref]
        if ref not in keys:
            continue
        for other, earlier in items.items():
            if (other == ref or earlier["pool"] != item["pool"] or other not in keys
                    or keys[other] >= keys[ref] or keys[other][0] > began
                    or keys[ref][0] - keys[other][0] < early_ms):
                continue
            # A cancel asked for no longer waits, however late its end is recorded (C).
            waited_until = [*earlier["starts"][:1], *(t for t, _, _ in earlier["terminals"][:1]),
                            *asked.get(other, [])]
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


def _freed(
    ref: str, k: int, since: float, until: int, items: Mapping[str, Mapping[str, Any]],
    recording: Recording,
) -> float:
    """The last instant in ``[since, until]`` at which the pool of ``ref`` stopped being full
    in the implementation's own history (its attempts other than ``ref``'s ``k``-th, from
    their recorded start to their recorded end, reaching its limit, or it paused), or
    ``since`` when it was never full then. A start that lags this instant by at most the
    start lag is as timely as WC-1 asks, whatever the model's times (spec §8)."""
    busy = _busy(ref, k, items)
    limits = _limits(items[ref]["pool"], recording)
    points = sorted({since, *(x for pair in busy for x in pair if since <= x < until),
                     *(t for t, _ in limits if since <= t < until)})
    last = since
    for i, x in enumerate(points):
        limit = [n for t, n in limits if t <= x][-1]
        if sum(1 for began, ended in busy if began <= x < ended) >= limit:
            last = points[i + 1] if i + 1 < len(points) else until
    return last


def _held_by_pause(
    expected: Mapping[str, Any], item: Mapping[str, Any], recording: Recording,
    latency: Mapping[str, int],
) -> bool:
    """Whether the recording ends with ``item`` held by a pause of its pool that lasts to the
    end (PAR-2, spec §8): its pool was paused at P and, in the implementation, the item
    either still runs an attempt that in the model ended no earlier than P - C (the end of an
    attempt may be handled once the pool runs again), or waits for an attempt that in the
    model started no earlier than P - (L + C) (its start lagged past the pause)."""
    lag = latency.get("completionLagMs", 0)
    start_lag = latency.get("startLagMs", 0)
    kind = item["outcome"].get("kind")
    if not (lag or start_lag) or kind not in ("running", "pending"):
        return False
    changes = _limits(item["pool"], recording)[1:]
    if not changes or changes[-1][1] != 0:
        return False
    paused = changes[-1][0]
    attempts = expected["attempts"]
    k = len(item["starts"])
    if kind == "running":
        ended = attempts[k - 1].get("end", {}).get("modelT") if 0 < k <= len(attempts) else None
        return type(ended) is int and paused <= ended + lag
    began = attempts[k]["start"].get("modelT") if k < len(attempts) else None
    return type(began) is int and paused <= began + start_lag + lag


def _canceled_before_lagged_start(
    ref: str, expected: Mapping[str, Any], item: Mapping[str, Any], recording: Recording,
    latency: Mapping[str, int],
) -> bool:
    """Whether ``item`` ended canceled, waiting for an attempt that the model started no
    more than L + C before the cancel was asked for: that start lagged past the cancel in the
    implementation, which then canceled it while it waited (spec §8). A first attempt is
    judged this way by the reordered model (``refmodel.conformance.instants``); this covers a
    retry's, which no reordering of the calls can delay."""
    lag = latency.get("startLagMs", 0) + latency.get("completionLagMs", 0)
    if not lag or item["outcome"].get("kind") != "canceled":
        return False
    attempts = expected["attempts"]
    k = len(item["starts"])
    asked = cancels_asked(recording).get(ref)
    if not asked or not 0 < k < len(attempts):
        return False
    began = attempts[k]["start"].get("modelT")
    return type(began) is int and any(when - lag <= began <= when for when in asked)


CANCELED_READS_RUNNING = "STS-5/canceled-reads-running"
"""The named deviation of a status that reads running while a cancel of waiting work is
being handled."""


def _canceled_reads_running(
    ref: str, item: Mapping[str, Any], t: int, recording: Recording
) -> list[Any]:
    """With ``STS-5/canceled-reads-running``: the status a canceled item may read from its
    cancel call until its ``canceled`` event, ``{"state": "running", "previousAttempts": n}``
    with ``n`` its attempts ended by then."""
    asked = cancels_asked(recording).get(ref)
    ended = [when for when, kind, _ in item["terminals"] if kind == "canceled"]
    if not asked or not ended or not asked[0] <= t <= ended[0]:
        return []
    done = sum(1 for when, kind, _ in item["events"]
               if when <= t and kind in ("retrying", "failed", "succeeded"))
    return [{"state": "running", "previousAttempts": done}]


def _busy(
    ref: str, k: int, items: Mapping[str, Mapping[str, Any]]
) -> list[tuple[float, float]]:
    """The implementation's attempts in the pool of ``ref`` other than its ``k``-th, each
    ``(recorded start, recorded end or inf)``."""
    pool = items[ref]["pool"]
    busy = []
    for other, item in items.items():
        if item["pool"] != pool:
            continue
        for j, began in enumerate(item["starts"]):
            if other == ref and j == k - 1:
                continue
            ended = item["ends"][j] if j < len(item["ends"]) else math.inf
            busy.append((began, ended))
    return busy


def _limits(pool: str, recording: Recording) -> list[tuple[int, int]]:
    """The pool's limit over time: ``(from, maxParallelism)``, by its accepted configures."""
    limits = [(0, int(recording.scenario["pools"][pool]["maxParallelism"]))]
    for index, step in enumerate(recording.scenario["steps"]):
        if (step["op"] == "configure" and step["pool"] == pool and index < len(recording.calls)
                and "error" not in recording.calls[index]["result"]
                and "maxParallelism" in step):
            limits.append((recording.calls[index]["t"], int(step["maxParallelism"])))
    return limits


def _has_room(
    ref: str, k: int, at: int, items: Mapping[str, Mapping[str, Any]], recording: Recording
) -> bool:
    """Whether the pool of ``ref`` had a free slot for its ``k``-th attempt at ``at`` in the
    implementation's own history: its other attempts running then (an end at ``at`` frees its
    slot) stay below its limit (PAR-1, judged on what the implementation did, not on which
    of the model's attempts freed the slot)."""
    limit = [n for t, n in _limits(items[ref]["pool"], recording) if t <= at][-1]
    return sum(1 for began, ended in _busy(ref, k, items) if began <= at < ended) < limit


def _eligibility(
    anchor: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]], early_ms: int
) -> float | None:
    """The eligibility part of a start's anchor (its ``at`` and ``retryAt`` parts, less
    ``early_ms``), or ``None`` when it has none or one is not observed."""
    parts = [part for part in anchor.get("max", [anchor]) if "at" in part or "retryAt" in part]
    values = [_resolve(part, items, early_ms) for part in parts]
    known = [value for value in values if value is not None]
    if not parts or len(known) < len(parts):
        return None
    return max(known)


def cancels_asked(recording: Recording) -> dict[str, list[int]]:
    """Per ref, the instants of the accepted cancels and cancelAlls of its pool that name it,
    in order (a cancelAll names the work its pool issued before it)."""
    asked: dict[str, list[int]] = {}
    issued: list[tuple[str, str]] = []
    for index, step in enumerate(recording.scenario["steps"]):
        if index >= len(recording.calls):
            break
        call = recording.calls[index]
        accepted = "error" not in call["result"] and "skipped" not in call["result"]
        if step["op"] in ("enqueue", "enqueueBatch") and accepted:
            refs = [step["ref"]] if step["op"] == "enqueue" else step["refs"]
            issued += [(ref, step["pool"]) for ref in refs]
        elif step["op"] == "cancel" and accepted:
            if (step["ref"], step["pool"]) in issued:
                asked.setdefault(step["ref"], []).append(call["t"])
        elif step["op"] == "cancelAll" and accepted:
            for ref, pool in issued:
                if pool == step["pool"]:
                    asked.setdefault(ref, []).append(call["t"])
    return asked


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
            rules.append(as_profile(profile).cancel_rule)
        if any(step["op"] == "cancelAll" for step in scenario["steps"]):
            rules.append("CAN-7")
    if "timed_out" in kinds:
        rules.append("TMO-1")
    if expected["retries"] or item["retries"]:
        rules.append("RTY-1")
    fn = enqueue_steps(scenario)[ref]["fn"]
    attempts = scenario["functions"][fn].get("attempts", [])
    if any("throwsNonRetryable" in attempt for attempt in attempts):
        rules.append("RTY-4")
    if kinds & {"running", "pending"}:
        pool = enqueue_steps(scenario)[ref]["pool"]
        paused = any(step["op"] == "configure" and step["pool"] == pool
                     and step.get("maxParallelism") == 0 for step in scenario["steps"])
        rules.append("PAR-2" if paused and expected["outcome"]["kind"] == "pending" else "WC-1")
    return rules or ["EXE-1"]


def _check_item(
    ref: str,
    expected: Mapping[str, Any],
    items: Mapping[str, Mapping[str, Any]],
    latency: Mapping[str, int],
    recording: Recording,
    diverge: Diverge,
    deviations: frozenset[str] = frozenset(),
) -> None:
    item = items[ref]
    attempts = expected["attempts"]
    last_t = _last_model_t(expected)
    if (_held_by_pause(expected, item, recording, latency)
            or _canceled_before_lagged_start(ref, expected, item, recording, latency)):
        # Its last attempt ended (in the model) when or after its pool was paused: the
        # implementation may handle that end once the pool runs again (PAR-2, spec §8).
        for k, attempt in enumerate(attempts[:len(item["starts"])], start=1):
            _check_window(f"item {ref}: attempt {k} started", item["starts"][k - 1],
                          attempt["start"], items, latency, diverge, ["WC-1"], ["ORD-2"],
                          early_ms=latency.get("earlyStartMs", 0))
        return
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
                          _early_start_rules(ref, k, attempt["start"], items, recording),
                          early_ms=latency.get("earlyStartMs", 0),
                          freed=functools.partial(_freed, ref, k, items=items,
                                                  recording=recording),
                          room=functools.partial(_has_room, ref, k, items=items,
                                                 recording=recording))
        if "end" in attempt and k <= len(item["ends"]):
            window = attempt["end"]
            rules = {"timeoutSlackMs": "TMO-1"}.get(window["window"], "EXE-1")
            if "at" in window["from"]:
                rules = "CAN-2"
            _check_window(f"item {ref}: attempt {k} ended", item["ends"][k - 1], window, items,
                          latency, diverge, [rules], [rules])
    retries = expected["retries"]
    undrawn = (  # RTY-2/retry-drawn-by-loop: a cancel handled first leaves the last undrawn.
        "RTY-2/retry-drawn-by-loop" in deviations
        and len(item["retries"]) == len(retries) - 1
        and item["outcome"].get("kind") == "canceled" == expected["outcome"].get("kind")
    )
    if len(item["retries"]) != len(retries) and not undrawn:
        diverge(last_t, _OUTCOME, f"item {ref}: {len(item['retries'])} retries, expected "
                                  f"{len(retries)}", ["RTY-1"])
    last_k = len(item["retries"])
    for k, (retry, seen) in enumerate(zip(retries, item["retries"], strict=False), start=1):
        low, high = retry["delayMs"]
        delay = seen["delayMs"]
        decided = seen.get("decidedAt", seen["t"])
        if decided is None:  # Protocol 2: a cancel was handled before the retry was decided.
            if k != last_k or item["outcome"].get("kind") != "canceled" or seen["retryAt"] \
                    is not None or delay is not None:
                diverge(seen["t"], _TIME, f"item {ref}: retry after attempt {retry['attempt']} "
                                          "is never decided (decidedAt null), but the item is "
                                          "not canceled before it or gives a delay", ["RTY-2"])
            continue
        if type(decided) is not int or not (
            seen["t"] <= decided <= seen["t"] + latency.get("completionLagMs", 0)
        ):
            diverge(seen["t"], _TIME, f"item {ref}: retry after attempt {retry['attempt']} "
                                      f"decided at {decided!r} ms, outside [{seen['t']}, "
                                      f"{seen['t'] + latency.get('completionLagMs', 0)}] (the "
                                      "failure + completionLagMs)", ["RTY-2"])
        elif type(delay) not in (int, float) or not low <= delay <= high:
            diverge(seen["t"], _TIME, f"item {ref}: retry after attempt {retry['attempt']} "
                                      f"waits {delay!r} ms, outside the jitter bounds "
                                      f"[{low}, {high}]", ["RTY-2"])
        elif type(seen["retryAt"]) not in (int, float) or not _retry_at_conforms(
            seen["retryAt"] - decided - delay, latency, deviations
        ):
            diverge(seen["t"], _TIME, f"item {ref}: retryAt {seen['retryAt']!r} is not the "
                                      f"{'failure' if decided == seen['t'] else 'decision'} "
                                      f"time {decided} + delayMs {delay}", ["RTY-2"])
    if expected["end"] is not None and item["terminals"]:
        window = expected["end"]
        ended = ["CAN-1"] if not attempts else ["EXE-1"]
        _check_window(f"item {ref}: ended", item["terminals"][0][0], window, items, latency,
                      diverge, ended, ended)
    calls = [{"fn": call["fn"], "context": call["context"],
              "result": _without_error_data(call["result"], deviations)}
             for call in item["onComplete"]]
    if calls != expected["onComplete"]:
        rule = _on_complete_rule(calls, expected["onComplete"])
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
                    diverge(int(high), _TIME, f"item {ref}: not evicted by {recording.end} ms, "
                                         f"expected in [{low}, {high}]", ["TTL-1"])


IN_PLACE_DEVIATIONS = frozenset({"RTY-2/retry-drawn-by-loop", "ONC-3/non-retryable-error-data",
                                 "CAN-5/foreign-id-cancel-ignored", "STS-4/foreign-id-finished",
                                 CANCELED_READS_RUNNING})
"""The documented deviations that relax a comparison wherever it is made (:func:`divergences`,
and the checker), rather than through a fixture's alternative expectations."""


def _admitted_foreign(
    step: Mapping[str, Any], scenario: Mapping[str, Any], got: Mapping[str, Any],
    deviations: frozenset[str],
) -> bool:
    """Whether an accepted call that the spec refuses is one of the foreign-id deviations
    declared: a cancel of another pool's id that does nothing (``CAN-5/...``), or its status
    reading finished (``STS-4/foreign-id-finished``)."""
    if step["op"] not in ("cancel", "status"):
        return False
    rules = _call_rules(step, scenario, str(scenario.get("profile", "seed")))
    if rules == ["CAN-5"]:
        return "CAN-5/foreign-id-cancel-ignored" in deviations
    return (rules == ["STS-4"] and "STS-4/foreign-id-finished" in deviations
            and got.get("status") == {"state": "finished"})


def _retry_at_conforms(
    after_delay: float, latency: Mapping[str, int], deviations: frozenset[str]
) -> bool:
    """Whether a retry's ``retryAt`` that is ``after_delay`` ms past failure + delayMs
    conforms: within 1 ms (RTY-2), or, with ``RTY-2/retry-drawn-by-loop`` declared, drawn up to
    the declared completion lag after the failure."""
    if abs(after_delay) < 1:
        return True
    return ("RTY-2/retry-drawn-by-loop" in deviations
            and 0 <= after_delay <= latency.get("completionLagMs", 0) + 1)


def _without_error_data(result: Any, deviations: frozenset[str]) -> Any:
    """An onComplete result as ONC-3 compares it: with ``ONC-3/non-retryable-error-data``
    declared, the ``errorData`` a failed result carries is not compared."""
    if ("ONC-3/non-retryable-error-data" in deviations and isinstance(result, dict)
            and result.get("kind") == "failed" and "errorData" in result):
        return {key: value for key, value in result.items() if key != "errorData"}
    return result


def _on_complete_rule(calls: Sequence[Mapping[str, Any]], expected: Sequence[Any]) -> str:
    """The rule a difference in onComplete calls is evidence against: how many and which
    function (ONC-1), the result (ONC-3), or the context (ONC-2)."""
    if len(calls) != len(expected):
        return "ONC-1"
    for call, want in zip(calls, expected, strict=True):
        if call["fn"] != want["fn"]:
            return "ONC-1"
        if call["result"] != want["result"]:
            return "ONC-3"
    return "ONC-2"


def _check_window(
    what: str,
    value: int,
    window: Mapping[str, Any],
    items: Mapping[str, Mapping[str, Any]],
    latency: Mapping[str, int],
    diverge: Diverge,
    late: Sequence[str],
    early: Sequence[str],
    *,
    early_ms: int = 0,
    freed: Callable[[float, int], float] | None = None,
    room: Callable[[int], bool] | None = None,
) -> None:
    """Check that ``value`` lies in ``window``; ``late``/``early`` name the rules a value
    after/before it is evidence against. ``early_ms``: a start may come this much before the
    eligibility times (``at``, ``retryAt``) its window is anchored to. ``freed(since,
    value)``: for a start, when its pool last stopped being full in the implementation's own
    history (spec §8: a start lags the instant *its own* history allows by at most L).
    ``room(value)``: for a start anchored on the slot an attempt freed in the model, whether
    the implementation's own pool had a free slot then; if so, and the start is not before
    its eligibility, which attempt freed the slot does not matter (PAR-1)."""
    low = _resolve(window["from"], items, early_ms)
    model_t = int(window.get("modelT") or 0)
    if room is not None and (low is None or value < low):
        eligible = _eligibility(window["from"], items, early_ms)
        if eligible is not None and eligible <= value and room(value):
            if low is None:
                latest = eligible + early_ms
                if freed is not None:
                    latest = max(latest, freed(latest, value))
                if value <= latest + latency.get(window["window"], 0):
                    return
            else:
                low = value
    if low is None:
        diverge(model_t, _TIME, f"{what} at {value} ms, but "
                                f"{_describe_anchor(window['from'])} was never observed",
                list(late))
        return
    high = _resolve(window["from"], items) if early_ms else low
    assert high is not None
    slack = latency.get(window["window"], 0)
    if freed is not None and value > high + slack and slack:
        high = max(high, freed(high, value))
    high += slack
    if not low <= value <= high:
        bound = f"at {_n(low)} ms" if low == high else f"in [{_n(low)}, {_n(high)}] ms"
        diverge(model_t, _TIME, f"{what} at {value} ms, expected {bound} "
                                f"({_describe_anchor(window['from'])})",
                list(late if value > high else early))


def _n(value: float) -> str:
    """A time for a message: whole ms as an int."""
    return f"{value:g}" if type(value) is float and not value.is_integer() else str(int(value))


def _resolve(
    anchor: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]], early_ms: int = 0
) -> float | None:
    """The time an anchor names in the implementation's own observations, or ``None``;
    eligibility times (``at``, ``retryAt``) less ``early_ms``."""
    if "at" in anchor:
        return int(anchor["at"]) - early_ms
    if "max" in anchor or "nth" in anchor:
        values = [_resolve(part, items, early_ms)
                  for part in anchor.get("max", anchor.get("of", []))]
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
        retry_at = retries[k - 1]["retryAt"] if len(retries) >= k else None
        if type(retry_at) is not int and type(retry_at) is not float:
            return None
        return retry_at + plus - early_ms
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


def _unreported_failure(
    expected: Mapping[str, Any] | None, item: Mapping[str, Any] | None, t: int, profile: str
) -> list[Any]:
    """The status of an item whose last attempt the implementation never reported ended while
    the model's attempt failed by ``t`` and was retried: failed and awaiting its retry, which
    an implementation that reports a failure only with its retry decision (``decidedAt``) may
    not have reported when the recording ends (its pool paused, spec §8)."""
    if expected is None or item is None:
        return []
    k = len(item["starts"])
    if k == 0 or len(item["ends"]) >= k or k > len(expected["attempts"]) \
            or item["starts"][-1] > t:
        return []
    ended = (expected["attempts"][k - 1].get("end") or {}).get("modelT")
    retried = any(retry.get("attempt") == k for retry in expected["retries"])
    if type(ended) is not int or ended > t or not retried:
        return []
    before = [event for event in item["events"] if event[0] <= t]
    return [_project([*before, (t, "retrying", {})], profile)]


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
    if as_profile(profile).status.shows_results:
        if state == "done":
            return value
        return {"kind": "inProgress" if state == "running" else "pending"}
    if state == "done":
        return {"state": "finished"}
    return {"state": state, "previousAttempts": ended}




def recording_trace(recording: Recording) -> list[str]:
    """The adapter's events of ``recording`` as the lines of one trace: numbered from 1, with
    a ``world_started`` and ``pool_created`` events first when the adapter did not report
    them, and each ``enqueued`` given the ``retry``, ``onComplete`` and ``context`` its
    enqueue asked for when it does not say."""
    scenario = recording.scenario
    events = [dict(event) for event in recording.events]
    kinds = {event["kind"] for event in events}
    head: list[dict[str, Any]] = []
    if not events or events[0]["kind"] != "world_started":
        head.append({"t": 0, "kind": "world_started", "pool": None, "id": None,
                     "data": {"traceVersion": 2, "seed": scenario.get("seed", 0), "epoch": 0,
                              "profile": scenario.get("profile", "seed")}})
    if "pool_created" not in kinds:
        head += [{"t": 0, "kind": "pool_created", "pool": name, "id": None,
                  "data": dict(options)} for name, options in scenario["pools"].items()]
    asked: dict[tuple[Any, Any], dict[str, Any]] = {}
    steps = enqueue_steps(scenario)
    for ref, where in recording.refs.items():
        options = steps[ref].get("options", {})
        facts: dict[str, Any] = {"onComplete": options.get("onComplete")}
        if "context" in options:
            facts["context"] = options["context"]
        if scenario["functions"][steps[ref]["fn"]]["kind"] != "action":
            facts["retry"] = None
        elif "retry" in options:
            facts["retry"] = options["retry"]
        else:
            by_default = scenario["pools"][where["pool"]].get("retryActionsByDefault", False)
            facts["retry"] = True if by_default else None
        asked[(where["pool"], where["id"])] = facts
    lines = []
    for seq, event in enumerate([*head, *events], start=1):
        if event["kind"] == "enqueued":
            facts = asked.get((event.get("pool"), event.get("id")), {})
            event = {**event, "data": {**facts, **(event.get("data") or {})}}
        line = {"t": event["t"], "seq": seq, "kind": event["kind"], "pool": event.get("pool"),
                "id": event.get("id"), "data": event.get("data") or {}}
        lines.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
    return lines


def trace_divergences(recording: Recording, handshake: Mapping[str, Any]) -> list[Divergence]:
    """The violations ``check`` finds in the adapter's own trace of ``recording``, with its
    declared latencies and deviations, as divergences (none for a stalled recording, or a
    trace ``check`` cannot read)."""
    if recording.stalled is not None:
        return []
    latency = latency_of(handshake)
    options = CheckOptions(
        profile=str(recording.scenario.get("profile", "seed")),
        start_lag_ms=latency["startLagMs"],
        completion_lag_ms=latency["completionLagMs"],
        eviction_slack_ms=latency["evictionSlackMs"],
        timeout_slack_ms=latency["timeoutSlackMs"],
        early_start_ms=latency["earlyStartMs"],
        end_ms=max(recording.end, max((e["t"] for e in recording.events), default=0)),
        deviations=deviations_of(handshake),
        max_violations=10,
    )
    try:
        report = check(recording_trace(recording), options=options)
    except TraceUnreadable:
        return []
    return [Divergence(at=recording.end, rank=_OTHER, what=f"check: {violation}",
                       rules=(violation.rule,)) for violation in report.violations]
