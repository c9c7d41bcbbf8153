"""Calls and work of one instant, in the other order (spec §7 and §8).

The model handles the calls a scenario makes at an instant before the starts due at it (the
CALL phase comes before START), so a cancel or ``cancelAll`` made at the instant work was
enqueued finds it still waiting. Other orders are admitted:

- **starts first** (spec §8): an implementation that declares a start or completion lag may
  start work the moment it is due, before the next call of the same instant; the call then
  finds the work running, which is as correct;
- **starts later** (spec §8): work the model starts up to the start and completion lags
  before a cancel, ``cancelAll``, pause or new limit may not have started yet in the
  implementation; the call then finds it waiting;
- **segments** (spec §8): with an early start of at least 99 ms declared, the model also plays
  the current component's 100 ms segments (``current-bucketed``);
- **ends later** (spec §8): an attempt the model ended at or before a cancel naming it may
  still run in the implementation at the call, which then requests its cancel: the model runs
  it longer, to just after the call, within the completion lag;
- **retries decided later** (spec §8): an implementation that reports a retry's ``decidedAt``
  later than its failure made the retry eligible at ``decidedAt`` + its delay, so work
  enqueued in between may come first; the model plays those decision instants too;
- **spared** (the named deviation ``CAN-7/same-instant-enqueue-spared``, spec §7): a
  ``cancelAll`` that misses some of the work enqueued in its own millisecond (by the
  implementation's clock); that work then runs as if enqueued after the call.

A recording outside a fixture's expectations is judged again against the model played in the
order the recording shows: the same steps, with ``advance 0`` before each call that met a
start of its instant, the work whose start lagged past a call made due just after it, and
each ``cancelAll`` that spared work replaced by a cancel of every other item of its pool; the
model run with the attempts whose end lagged past a cancel made longer, and with the retries
decided at the recorded instants.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from refmodel.adapter import ModelAdapter
from refmodel.conformance.expect import expectations
from refmodel.conformance.files import Fixture
from refmodel.conformance.play import Recording, enqueue_steps, observe, play
from refmodel.conformance.verdicts import (
    Divergence,
    Verdict,
    cancels_asked,
    check_recording,
    deviations_of,
    divergences,
    latency_of,
)
from refmodel.constants import SEGMENT_MS
from refmodel.workpool.profiles import CURRENT_BUCKETED as BUCKETED

SPARED = "CAN-7/same-instant-enqueue-spared"
"""The named deviation of a ``cancelAll`` that misses work enqueued in its millisecond."""

_ADVANCE_0 = {"op": "advance", "ms": 0}


@attrs.frozen
class Reordered:
    """A scenario played in the order a recording shows.

    Attributes:
        scenario: the steps, reordered as said in the module's text.
        origin: per step index of ``scenario``, the index of the recording's step it stands
            for.
        ops: per step index of the recording, its op.
        deviation: the named deviation the order needs, or ``""``.
        spared, first: the spared work per ``cancelAll`` step, and the calls preceded by
            ``advance 0``.
    """

    scenario: dict[str, Any]
    origin: dict[int, int]
    ops: dict[int, str]
    deviation: str
    spared: Mapping[int, set[str]] = attrs.field(factory=dict)
    first: frozenset[int] = frozenset()
    profile: str = ""
    """The profile the model plays ``scenario`` under instead of its own, or ``""``."""
    delayed: Mapping[str, int] = attrs.field(factory=dict)
    """Per ref, the ``runAt`` its enqueue is given: work whose start lagged past a call."""
    decisions: Mapping[str, Mapping[int, int]] = attrs.field(factory=dict)
    """Per ref, per failed attempt, the instant the model decides its retry: the
    implementation's ``decidedAt``, where later than the failure."""
    longer: Mapping[str, Mapping[int, int]] = attrs.field(factory=dict)
    """Per ref, per attempt, the ms the model runs that attempt longer than declared: an
    attempt whose end lagged past a call that found it running."""


def reorderings(
    recording: Recording,
    latency: Mapping[str, int],
    deviations: frozenset[str] = frozenset(),
    items: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[Reordered]:
    """The orders other than the model's that ``recording`` may have played its instants in:
    its starts first (no deviation needed), the spared work alone, then both; each again with
    the retries decided when the recording says; none when it shows none of these.
    ``items``: the recording's observed items, when already at hand."""
    items = observe(recording)["items"] if items is None else items
    decisions = _decisions(recording, items, latency)
    for decided in ({}, decisions) if decisions else ({},):
        for reordered in _orders(recording, items, latency, deviations):
            yield attrs.evolve(reordered, decisions=decided) if decided else reordered
        if decided:  # Decided later, in the model's own order.
            yield _reorder(recording, enqueue_steps(recording.scenario), {}, set(), "",
                           decisions=decided)


def _decisions(
    recording: Recording, items: Mapping[str, Mapping[str, Any]], latency: Mapping[str, int]
) -> dict[str, dict[int, int]]:
    """Per ref, per failed attempt number, the instant to decide its retry: its ``decidedAt``
    where later than the failure; for a retry never decided (``decidedAt`` null: a cancel was
    handled first), 1 ms after the first cancel or ``cancelAll`` naming it at or after the
    failure, when that is within the completion lag of the failure."""
    cancels = cancels_asked(recording)
    found: dict[str, dict[int, int]] = {}
    for ref, item in items.items():
        for attempt, retry in enumerate(item["retries"], start=1):
            decided = retry.get("decidedAt", retry["t"])
            if decided is None:
                asked = [when for when in cancels.get(ref, []) if when >= retry["t"]]
                if asked and asked[0] + 1 <= retry["t"] + latency.get("completionLagMs", 0):
                    decided = asked[0] + 1
            if isinstance(decided, int) and decided > retry["t"]:
                found.setdefault(ref, {})[attempt] = decided
    return found


def _orders(
    recording: Recording,
    items: Mapping[str, Mapping[str, Any]],
    latency: Mapping[str, int],
    deviations: frozenset[str],
) -> Iterator[Reordered]:
    """The orders of :func:`reorderings`, with the retries decided at the failures."""
    scenario = recording.scenario
    issued = enqueue_steps(scenario)
    spared = _spared(recording, items, issued) if SPARED in deviations else {}
    lagging = bool(latency.get("startLagMs", 0) or latency.get("completionLagMs", 0))
    first = _starts_first(recording, items, issued, {}) if lagging else set()
    both = _starts_first(recording, items, issued, spared) if lagging and spared else set()
    # An early start of A ms lets work start at the start of its segment, as the
    # current-bucketed profile plays it: the same orders are tried on it too.
    profiles = [""]
    if latency.get("earlyStartMs", 0) >= SEGMENT_MS - 1 and scenario.get("profile") == "current":
        profiles.append(BUCKETED.name)
    for profile in profiles:
        if lagging:  # The model's order, with the cancels that met lagged starts made earlier.
            yield _reorder(recording, issued, {}, set(), "", profile=profile)
        if first:
            yield _reorder(recording, issued, {}, first, "", profile=profile)
        if spared:
            yield _reorder(recording, issued, spared, set(), SPARED, profile=profile)
        if both:
            yield _reorder(recording, issued, spared, both, SPARED, profile=profile)


def _accepted(recording: Recording, index: int) -> bool:
    if index >= len(recording.calls):
        return False
    result = recording.calls[index]["result"]
    return "skipped" not in result and "error" not in result


def _issued_before(
    recording: Recording, issued: Mapping[str, Mapping[str, Any]], index: int, pool: str
) -> list[str]:
    """The refs of ``pool`` enqueued (and given an id) by the steps before ``index``."""
    steps = recording.scenario["steps"]
    refs = []
    for ref, enqueue in issued.items():
        if enqueue["pool"] != pool or ref not in recording.refs:
            continue
        where = next(i for i, step in enumerate(steps) if step is enqueue)
        if where < index:
            refs.append(ref)
    return refs


def _spared(
    recording: Recording,
    items: Mapping[str, Mapping[str, Any]],
    issued: Mapping[str, Mapping[str, Any]],
) -> dict[int, set[str]]:
    """Per ``cancelAll`` step, the work enqueued at its instant that it did not cancel: work
    that ended otherwise, or started with no cancel request (a later call may have canceled
    it)."""
    steps = recording.scenario["steps"]
    spared: dict[int, set[str]] = {}
    for index, step in enumerate(steps):
        if step["op"] != "cancelAll" or not _accepted(recording, index):
            continue
        t = recording.calls[index]["t"]
        for ref in _issued_before(recording, issued, index, step["pool"]):
            enqueue = issued[ref]
            at = recording.calls[next(i for i, s in enumerate(steps) if s is enqueue)]["t"]
            seen = items[ref]
            if at != t and _own_clock(enqueue, seen) == t:
                at = t  # Enqueued in the call's millisecond by the implementation's clock.
            # Reached by this call, it would have a cancel request (before the next call that
            # names it) or never start.
            later = [recording.calls[i]["t"] for i in range(index + 1, len(steps))
                     if _names(steps[i], ref, issued) and _accepted(recording, i)]
            reached = any(kind == "cancel_requested" and (not later or when < later[0])
                          for when, kind, _ in seen["events"])
            if at == t and not reached and (seen["outcome"]["kind"] != "canceled"
                                            or seen["starts"]):
                spared.setdefault(index, set()).add(ref)
    return spared


def _own_clock(enqueue: Mapping[str, Any], seen: Mapping[str, Any]) -> Any:
    """The implementation's clock at an enqueue given no ``runAt`` or ``runAfter``: the
    ``runAt`` its ``enqueued`` event reports (it may run 1 ms ahead of the recorded one);
    ``None`` when unknown."""
    options = enqueue.get("options") or {}
    if "runAt" in options or "runAfter" in options:
        return None
    return next((data.get("runAt") for _, kind, data in seen["events"] if kind == "enqueued"),
                None)


def _named(
    recording: Recording,
    issued: Mapping[str, Mapping[str, Any]],
    index: int,
    spared: Mapping[int, set[str]],
) -> list[str]:
    """The refs the recording's step ``index`` names: a cancel's item (if of its pool), or the
    work of its pool enqueued before it, less the work a ``cancelAll`` spared."""
    step = recording.scenario["steps"][index]
    if step["op"] == "cancel":
        return [step["ref"]] if issued[step["ref"]]["pool"] == step["pool"] else []
    return [ref for ref in _issued_before(recording, issued, index, step["pool"])
            if ref not in spared.get(index, set())]


def _names(step: Mapping[str, Any], ref: str, issued: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a cancel or cancelAll step names ``ref``."""
    pool = issued[ref]["pool"]
    if step["op"] == "cancel":
        return bool(step["ref"] == ref and step["pool"] == pool)
    return bool(step["op"] == "cancelAll" and step["pool"] == pool)


def _starts_first(
    recording: Recording,
    items: Mapping[str, Mapping[str, Any]],
    issued: Mapping[str, Mapping[str, Any]],
    spared: Mapping[int, set[str]],
) -> set[int]:
    """The cancel and ``cancelAll`` steps at whose instant the implementation started work
    they name (its first attempt; spared work is not named)."""
    first = set()
    for index, step in enumerate(recording.scenario["steps"]):
        if step["op"] not in ("cancel", "cancelAll") or not _accepted(recording, index):
            continue
        named = _named(recording, issued, index, spared)
        t = recording.calls[index]["t"]
        if any(items[ref]["starts"][:1] == [t] for ref in named):
            first.add(index)
    return first


def _reorder(
    recording: Recording,
    issued: Mapping[str, Mapping[str, Any]],
    spared: Mapping[int, set[str]],
    first: set[int] | frozenset[int],
    deviation: str,
    profile: str = "",
    delayed: Mapping[str, int] | None = None,
    decisions: Mapping[str, Mapping[int, int]] | None = None,
    longer: Mapping[str, Mapping[int, int]] | None = None,
) -> Reordered:
    played: list[dict[str, Any]] = []
    origin: dict[int, int] = {}
    for index, step in enumerate(recording.scenario["steps"]):
        if index in first and (not played or played[-1] != _ADVANCE_0):
            played.append(dict(_ADVANCE_0))
        if index in spared:
            for ref in _issued_before(recording, issued, index, step["pool"]):
                if ref not in spared[index]:
                    origin[len(played)] = index
                    played.append({"op": "cancel", "pool": step["pool"], "ref": ref})
            continue
        origin[len(played)] = index
        if step["op"] == "enqueue" and step["ref"] in (delayed or {}):
            played.append(_delayed(step, step["ref"], (delayed or {})[step["ref"]]))
        elif step["op"] == "enqueueBatch" and set(step["refs"]) & set(delayed or {}):
            # One enqueue per item, at the same instant and in the same order; its call is
            # the first of them.
            for k, ref in enumerate(step["refs"]):
                single = {"op": "enqueue", "pool": step["pool"], "fn": step["fn"],
                          "args": step["argsList"][k], "ref": ref,
                          "options": dict(step.get("options", {}))}
                origin[len(played)] = index
                played.append(_delayed(single, ref, (delayed or {})[ref])
                              if ref in (delayed or {}) else single)
            continue
        else:
            played.append(dict(step))
    ops = {index: str(step["op"]) for index, step in enumerate(recording.scenario["steps"])}
    scenario = {**dict(recording.scenario), "steps": played}
    return Reordered(scenario, origin, ops, deviation, spared=spared, first=frozenset(first),
                     profile=profile, delayed=dict(delayed or {}),
                     decisions=dict(decisions or {}), longer=dict(longer or {}))


def _delayed(step: Mapping[str, Any], ref: str, run_at: int) -> dict[str, Any]:
    """An enqueue of ``ref`` made eligible at ``run_at`` (no earlier than it was)."""
    options = {key: value for key, value in dict(step.get("options", {})).items()
               if key not in ("runAt", "runAfter")}
    return {**dict(step), "ref": ref, "options": {**options, "runAt": run_at}}


def _lagged_calls(
    recording: Recording,
    items: Mapping[str, Mapping[str, Any]],
    reordered: Reordered,
    model: Recording,
    issued: Mapping[str, Mapping[str, Any]],
    latency: Mapping[str, int],
) -> dict[str, int]:
    """The work to make eligible later: work a cancel, ``cancelAll``, pause or new limit
    names (:func:`_meets_starts`) that the implementation had not started at the call, while
    the model (playing ``reordered``) had started it at most the start and completion lags
    before. Such work met the call still
    waiting because its start lagged, as spec §8 allows: it is judged as if it became due
    just after it: its enqueue is given a ``runAt`` 1 ms after the call (the call's next 100 ms
    segment under ``current-bucketed``; a batch holding it is played as one enqueue per item).

    Returns:
        Per ref, the ``runAt`` to give it; empty when there is nothing more to delay."""
    lag = latency.get("startLagMs", 0) + latency.get("completionLagMs", 0)
    model_items = observe(model)["items"]
    steps = reordered.scenario["steps"]
    delayed = dict(reordered.delayed)
    found = False
    for at, step in enumerate(steps):
        index = reordered.origin.get(at)
        if index is None or not _accepted(recording, index) or not _meets_starts(step):
            continue
        t = recording.calls[index]["t"]
        op = recording.scenario["steps"][index]["op"]
        named = _named(recording, issued, index, reordered.spared)
        for ref in named:
            seen, modeled = items[ref], model_items.get(ref)
            if (seen["starts"][:1] and seen["starts"][0] <= t) or modeled is None \
                    or not modeled["starts"]:
                continue
            if op in ("cancel", "cancelAll") and seen["outcome"]["kind"] != "canceled":
                continue
            began = modeled["starts"][0]
            if not t - lag <= began <= t:
                continue
            if any(  # Work behind it in FIFO started first: its wait was not a lag.
                items[other]["starts"][:1] and items[other]["starts"][0] <= t
                for other in _behind(ref, issued)
            ):
                continue
            # Its enqueue is made eligible just after the call.
            after = t + 1 if not reordered.profile else (t // SEGMENT_MS + 1) * SEGMENT_MS
            if delayed.get(ref, -1) < after:
                delayed[ref] = after
                found = True
    return delayed if found else {}


def _lagged_ends(
    recording: Recording,
    items: Mapping[str, Mapping[str, Any]],
    reordered: Reordered,
    model: Recording,
    issued: Mapping[str, Mapping[str, Any]],
    latency: Mapping[str, int],
) -> dict[str, dict[int, int]]:
    """The attempts to run longer: an attempt of an action that a cancel or ``cancelAll`` found
    running in the implementation (it recorded a cancel request for it, not before the call)
    while the model (playing ``reordered``) had ended it before or at the call. Its end lagged
    past the call, as spec §8 allows: it is judged as if it ended 1 ms after the call, when
    that is within the completion lag of the declared end.

    Returns:
        Per ref, per attempt number, the ms to add to its duration; empty when there is
        nothing more to lengthen."""
    lag = latency.get("completionLagMs", 0)
    model_items = observe(model)["items"]
    steps = recording.scenario["steps"]
    actions = _actions(recording.scenario)
    longer = {ref: dict(by_attempt) for ref, by_attempt in reordered.longer.items()}
    found = False
    for index, step in enumerate(steps):
        if step["op"] not in ("cancel", "cancelAll") or not _accepted(recording, index):
            continue
        t = recording.calls[index]["t"]
        for ref in _named(recording, issued, index, reordered.spared):
            modeled = model_items.get(ref)
            if modeled is None or issued[ref]["fn"] not in actions:
                continue
            asked = {int(data["attempt"]) for when, kind, data in items[ref]["events"]
                     if kind == "cancel_requested" and t <= when <= t + lag
                     and isinstance(data.get("attempt"), int)}
            for attempt in sorted(asked):
                ends = modeled["ends"]
                if attempt > len(ends) or not t - lag <= ends[attempt - 1] <= t:
                    continue
                # The model played ``reordered.longer``: its end counts them already.
                more = reordered.longer.get(ref, {}).get(attempt, 0) + t + 1 - ends[attempt - 1]
                if longer.get(ref, {}).get(attempt, 0) < more <= lag:
                    longer.setdefault(ref, {})[attempt] = more
                    found = True
    return longer if found else {}


def _actions(scenario: Mapping[str, Any]) -> set[str]:
    """The names of the scenario's declared actions."""
    return {name for name, spec in scenario["functions"].items() if spec["kind"] == "action"}


def _behind(ref: str, issued: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The refs of the pool of ``ref`` enqueued after it."""
    refs = list(issued)
    pool = issued[ref]["pool"]
    return [other for other in refs[refs.index(ref) + 1:] if issued[other]["pool"] == pool]


def _meets_starts(step: Mapping[str, Any]) -> bool:
    """Whether a step's effect depends on whether work it names has started: a cancel, a
    ``cancelAll``, or a configure that sets its pool's limit (a pause, or a limit the running
    work may fill)."""
    return step["op"] in ("cancel", "cancelAll") or (
        step["op"] == "configure" and "maxParallelism" in step
    )


def _play_model(reordered: Reordered) -> Recording:
    adapter = ModelAdapter(reordered.profile, reordered.decisions, reordered.longer)
    try:
        return play(adapter, reordered.scenario)
    finally:
        adapter.close()


def candidates(
    recording: Recording, latency: Mapping[str, int], deviations: frozenset[str] = frozenset()
) -> Iterator[tuple[Reordered, dict[str, Any]]]:
    """Each of :func:`reorderings` with its expectations, then with the cancels that met
    lagged starts played earlier (:func:`_lagged_calls`), until there are none left."""
    issued = enqueue_steps(recording.scenario)
    items = observe(recording)["items"]
    tried: list[Any] = []
    for reordered in reorderings(recording, latency, deviations, items):
        for _ in range(len(issued) + 1):
            played = [reordered.profile, reordered.decisions, reordered.longer,
                      reordered.scenario["steps"]]
            if played in tried:
                break
            tried.append(played)
            model = _play_model(reordered)
            yield reordered, _numbered(reordered, model)
            delayed = _lagged_calls(recording, items, reordered, model, issued, latency)
            longer = _lagged_ends(recording, items, reordered, model, issued, latency)
            if not delayed and not longer:
                break
            if delayed:
                reordered = _reorder(recording, issued, reordered.spared, reordered.first,
                                     reordered.deviation, reordered.profile, delayed,
                                     reordered.decisions, reordered.longer)
            if longer:
                reordered = attrs.evolve(reordered, longer=longer)


def reordered_expectations(reordered: Reordered) -> dict[str, Any]:
    """The expectations of a reordered scenario, played on the model, with its calls numbered
    as the recording's steps (the cancels standing for one ``cancelAll`` are one call).

    Raises:
        ConformanceError: the model's recording cannot be explained (a model bug).
    """
    return _numbered(reordered, _play_model(reordered))


def _numbered(reordered: Reordered, model: Recording) -> dict[str, Any]:
    expect = expectations(model)
    calls: dict[int, dict[str, Any]] = {}
    for call in expect["calls"]:
        index = reordered.origin.get(call["step"])
        if index is not None and index not in calls:
            calls[index] = {**call, "step": index, "op": reordered.ops[index]}
    expect["calls"] = sorted(calls.values(), key=lambda call: int(call["step"]))
    return expect


def divergences_in_either_order(
    expect: Mapping[str, Any],
    recording: Recording,
    latency: Mapping[str, int],
    deviations: frozenset[str] = frozenset(),
) -> list[Divergence]:
    """:func:`~refmodel.conformance.verdicts.divergences`, or none when the recording is
    within the expectations of one of its :func:`reorderings`."""
    found = divergences(expect, recording, latency, deviations)
    if found:
        for _, alternative in candidates(recording, latency, deviations):
            if not divergences(alternative, recording, latency, deviations):
                return []
    return found


def check_in_either_order(
    fixture: Fixture, recording: Recording | None, handshake: Mapping[str, Any]
) -> list[Verdict]:
    """:func:`~refmodel.conformance.verdicts.check_recording`, passing a recording that fails
    the fixture's expectations but is within those of one of its :func:`reorderings` (the
    pass says which order, and the deviation it needed)."""
    verdicts = check_recording(fixture, recording, handshake)
    if recording is None or all(verdict.outcome != "fail" for verdict in verdicts):
        return verdicts
    latency = latency_of(handshake)
    for reordered, expect in candidates(recording, latency, deviations_of(handshake)):
        alternative = attrs.evolve(fixture, expect=expect)
        again = check_recording(alternative, recording, handshake)
        if any(verdict.outcome == "fail" for verdict in again):
            continue
        why = _why(reordered)
        if reordered.deviation:
            why = (f"{verdicts[0].detail.split(' (and ')[0]}: cancelAll spared work enqueued "
                   f"at its instant; {why}")
        return [attrs.evolve(verdict, detail=verdict.detail or why,
                             deviation=verdict.deviation or reordered.deviation)
                for verdict in again]
    return verdicts


def _why(reordered: Reordered) -> str:
    """What the order a recording passed in differs by, for its verdicts' detail."""
    parts = []
    if reordered.first:
        parts.append("work started at the instant of a call that names it, before the call")
    if reordered.delayed:
        parts.append("work whose start lagged past a call that names it met it waiting")
    if reordered.longer:
        parts.append("an attempt whose end lagged past a cancel met it running")
    if reordered.decisions:
        parts.append("retries decided when the implementation decided them (decidedAt; one "
                     "never decided, after the cancel that came first), so other work may "
                     "start first")
    if reordered.profile:
        parts.append(f"played on the {reordered.profile} profile")
    return "; ".join(parts or ["the calls and work of an instant in another order"]) + " (spec §8)"
