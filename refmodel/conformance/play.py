"""Playing and observing: drive an adapter through a scenario, then read what it did.

:func:`play` resets an adapter with a scenario, plays its steps, and *settles*: it advances in
windows of :data:`SETTLE_WINDOW_MS` until every work item has ended, at most
:data:`SETTLE_MAX_WINDOWS` times (so an attempt that hangs, or a paused pool, costs 60 s of
virtual time and then stays "running" or "pending"). :func:`observe` turns the
:class:`Recording` into observations per work item, keyed by the scenario's ``ref`` (never by
implementation id). Adapters must report the trace events ``started``, ``succeeded``,
``failed``, ``retrying`` (with ``delayMs`` and ``retryAt``), ``canceled``, ``timed_out``,
``evicted`` and ``on_complete`` (with ``fn``, ``context`` and ``result``) for their work items,
with ``t``, ``pool`` and ``id``; other events are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from refmodel.adapter import Adapter, AdapterError, AdapterTimeout
from refmodel.scenario import load

SETTLE_WINDOW_MS = 1000
"""After the last step, :func:`play` advances in windows this long (until every item has
ended and had its onComplete called) ..."""
SETTLE_MAX_WINDOWS = 60
"""... at most this many times, stopping as soon as every work item has ended."""

_TERMINAL = ("succeeded", "failed", "canceled", "timed_out")


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
        stalled: why the implementation's clock stopped moving (it answered an advance with
            ``stalled: true``, or did not answer it in time), or ``None``; the steps after it
            were not played (rule CLK-5).
        lost: the adapter did not answer that advance in time and was killed: nothing more
            can be played on it.
    """

    scenario: Mapping[str, Any]
    calls: tuple[Mapping[str, Any], ...]
    events: tuple[Mapping[str, Any], ...]
    refs: Mapping[str, Mapping[str, str]]
    clock: tuple[tuple[int, int], ...]
    end: int
    stalled: str | None = None
    lost: bool = False


def play(adapter: Adapter, scenario: Mapping[str, Any]) -> Recording:
    """Reset ``adapter`` with ``scenario``, play its steps, then settle.

    Raises:
        ScenarioError: the scenario is malformed.
        AdapterError: the adapter crashed, hung or answered something malformed. An advance
            it stalls in, or does not answer in time, is not an error: the recording says so.
    """
    data = load(dict(scenario)).data
    adapter.reset(data)
    calls: list[dict[str, Any]] = []
    events: list[Mapping[str, Any]] = []
    refs: dict[str, dict[str, str]] = {}
    clock: list[tuple[int, int]] = []
    now = 0
    stalled: list[str] = []
    lost: list[bool] = []

    def advance(ms: int) -> int:
        try:
            answer = adapter.advance(ms)
        except AdapterTimeout as error:
            stalled.append(f"{error} (its clock did not move on from {now} ms)")
            lost.append(True)
            return now
        reported = answer.get("now")
        if type(reported) is not int:
            raise AdapterError(f"adapter answered advance with now={reported!r}, not an int")
        for event in answer.get("events", []):
            events.append(_checked_event(event))
        if answer.get("stalled") is True:
            stalled.append(f"the adapter's clock stalled at {reported} ms while advancing "
                           f"from {now} ms to {now + ms} ms, after {len(events)} events")
            return reported
        clock.append((now + ms, reported))
        return now + ms

    for index, step in enumerate(data["steps"]):
        if stalled:
            calls.append({"step": index, "op": step["op"], "t": now,
                          "result": {"skipped": "the adapter's clock stalled before it"}})
            continue
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
        if stalled or _all_ended(refs, events, data):
            break
        now = advance(SETTLE_WINDOW_MS)
    return Recording(
        scenario=data,
        calls=tuple(calls),
        events=tuple(events),
        refs=refs,
        clock=tuple(clock),
        end=now,
        stalled=stalled[0] if stalled else None,
        lost=bool(lost),
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


def _all_ended(
    refs: Mapping[str, Mapping[str, str]],
    events: Sequence[Mapping[str, Any]],
    scenario: Mapping[str, Any],
) -> bool:
    """Whether every item that got an id has ended, and every one enqueued with an onComplete
    has had it called (an implementation may call it a while after the end, ONC-1)."""
    ended = {
        (event.get("pool"), event.get("id")) for event in events if event["kind"] in _TERMINAL
    }
    called = {
        (event.get("pool"), event.get("id")) for event in events if event["kind"] == "on_complete"
    }
    steps = enqueue_steps(scenario)
    return all(
        (where["pool"], where["id"]) in ended and (
            "onComplete" not in steps[ref].get("options", {})
            or (where["pool"], where["id"]) in called
        )
        for ref, where in refs.items()
    )


# Observing -------------------------------------------------------------------------------


def observe(recording: Recording) -> dict[str, Any]:
    """The observations of a recording.

    Returns:
        ``{"items": {ref: item}, "startOrder": {pool: ["ref#k", ...]}}``. An item has
        ``pool``, ``outcome`` (``{"kind": ...}``: succeeded with ``result``, failed with
        ``error``, canceled, timed_out, running, pending, or rejected), ``starts`` and
        ``ends`` (the times each attempt started and ended), ``retries``
        (``{"t", "delayMs", "retryAt"}``, and ``decidedAt`` when reported), ``terminals``
        (times of terminal events; more than
        one is a bug), ``onComplete`` (``{"t", "fn", "context", "result"}``), ``evicted`` (a time or
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
            retry = {"t": t, "delayMs": data.get("delayMs"), "retryAt": data.get("retryAt")}
            if "decidedAt" in data:  # Protocol 2: when the retry was decided (None: never).
                retry["decidedAt"] = data["decidedAt"]
            item["retries"].append(retry)
        elif kind in _TERMINAL:
            item["terminals"].append((t, kind, data))
        elif kind == "on_complete":
            item["onComplete"].append({"t": t, "fn": data.get("fn"), "context": data.get("context"),
                                       "result": data.get("result")})
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


def enqueue_steps(scenario: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    steps: dict[str, Mapping[str, Any]] = {}
    for step in scenario["steps"]:
        if step["op"] == "enqueue":
            steps[step["ref"]] = step
        elif step["op"] == "enqueueBatch":
            for ref in step["refs"]:
                steps[ref] = step
    return steps
