"""Scenarios: workloads described as data, so that any implementation can play them.

A scenario (JSON; schema in ``specs/scenario.schema.json``) names a profile and a seed, the
pools with their options, the functions — declared by behaviour, not code — and a list of
steps. Every implementation realises the declared functions the same way:

- an **action** has a list of ``attempts``; attempt k of a work item (the k-th time the
  function runs for it) behaves like ``attempts[k-1]`` (the last entry repeats). An attempt
  runs ``durationMs`` of virtual time, then returns ``returns`` (default ``null``), throws
  ``throws`` (a message), throws ``throwsNonRetryable``, or, with ``hangs: true``, never ends.
  The harness tells attempts apart by the ``_ref`` entry it adds to the work's args.
- a **mutation** runs ``durationMs``; it reads then writes the named documents (``reads`` /
  ``writes``: each name a singleton document holding a counter that a write increments), and
  returns ``returns`` or throws ``throws``. With ``recordsOnComplete: true`` it is meant to be
  an ``onComplete`` handler: it returns nothing and the call itself is the observation.
- a **query** returns ``returns``.

Steps run in order at the current virtual time; only ``advance`` moves time:
``enqueue`` (``pool``, ``fn``, ``args``, ``ref``, ``options``: ``retry``, ``runAt``,
``runAfter``, ``onComplete``, ``context``), ``enqueueBatch`` (``argsList``, ``refs``),
``cancel`` (``ref``), ``cancelAll`` (``limit``), ``status`` (``ref``), ``configure``
(``maxParallelism``, ``logLevel``), and ``advance`` (``ms``).

:func:`load` validates a scenario and reports the first problem with its JSON path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from refmodel.errors import InvalidArgument
from refmodel.workpool.options import PROFILES

__refmodel_user_code__ = True  # The declared functions run here are user code (EXE-4).

SCENARIO_VERSION = 1

FEATURES = {
    "seed-api": "status in the seed view (pending/inProgress/success/error/evicted)",
    "current-api": "status in the current view (pending/running/finished)",
    "timeouts": "per-kind timeouts (seed profile)",
    "ttl": "results kept for ttl ms, then evicted (seed profile)",
    "mutations": "enqueueing mutations",
    "queries": "enqueueing queries",
    "retries": "retrying actions with backoff and jitter",
    "nonRetryable": "NonRetryableError ends work without retry",
    "onComplete": "onComplete callbacks with context",
    "runAt": "runAt / runAfter on enqueue",
    "cancel": "cancel",
    "cancelAll": "cancelAll",
    "batch": "batch enqueue",
    "configure": "runtime configuration updates",
    "hang": "attempts that never finish",
}
"""Features a scenario may need and an adapter may declare (rule CNF-2)."""

_STEP_FIELDS: dict[str, set[str]] = {
    "enqueue": {"op", "pool", "fn", "args", "ref", "options"},
    "enqueueBatch": {"op", "pool", "fn", "argsList", "refs", "options"},
    "cancel": {"op", "pool", "ref"},
    "cancelAll": {"op", "pool", "limit"},
    "status": {"op", "pool", "ref"},
    "configure": {"op", "pool", "maxParallelism", "logLevel"},
    "advance": {"op", "ms"},
}
_OPTION_FIELDS = {"retry", "runAt", "runAfter", "onComplete", "context"}
_ATTEMPT_FIELDS = {"durationMs", "returns", "throws", "throwsNonRetryable", "hangs"}
_FUNCTION_FIELDS = {
    "action": {"kind", "attempts"},
    "mutation": {"kind", "durationMs", "reads", "writes", "returns", "throws",
                 "recordsOnComplete"},
    "query": {"kind", "returns"},
}
_POOL_FIELDS = {
    "maxParallelism", "actionTimeoutMs", "mutationTimeoutMs", "unknownTimeoutMs", "ttl",
    "logLevel", "retryActionsByDefault", "defaultRetryBehavior",
}


class ScenarioError(InvalidArgument):
    """A scenario, fixture or message is malformed; the message names the JSON path."""


@attrs.frozen(kw_only=True)
class Scenario:
    """A validated scenario. ``data`` is its JSON object (treat as read-only)."""

    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        """The scenario's name."""
        return str(self.data.get("name", "scenario"))

    @property
    def profile(self) -> str:
        """The semantics profile it is written for."""
        return str(self.data.get("profile", "seed"))

    @property
    def seed(self) -> int:
        """The RNG seed."""
        return int(self.data.get("seed", 0))

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The steps, in order."""
        return list(self.data["steps"])

    def features(self) -> list[str]:
        """The features an implementation needs to play this scenario, sorted."""
        return required_features(self.data)

    def to_json(self) -> str:
        """The scenario as pretty JSON text."""
        return json.dumps(dict(self.data), indent=2, sort_keys=False) + "\n"


def required_features(data: Mapping[str, Any]) -> list[str]:
    """The features a scenario's pools, functions and steps use."""
    profile = data.get("profile", "seed")
    # What a fixture expects depends on the profile's status view even without status steps.
    needed: set[str] = {"seed-api" if profile == "seed" else "current-api"}
    for pool in data.get("pools", {}).values():
        if "ttl" in pool:
            needed.add("ttl")
        if any(k.endswith("TimeoutMs") for k in pool):
            needed.add("timeouts")
        if pool.get("retryActionsByDefault"):
            needed.add("retries")
    for fn in data.get("functions", {}).values():
        for attempt in fn.get("attempts", []):
            if "throwsNonRetryable" in attempt:
                needed.add("nonRetryable")
            if attempt.get("hangs"):
                needed.add("hang")
    for step in data.get("steps", []):
        op = step["op"]
        options = step.get("options", {})
        if op in ("enqueue", "enqueueBatch"):
            fn = data.get("functions", {}).get(step.get("fn"), {})
            if fn.get("kind") == "mutation":
                needed.add("mutations")
            if fn.get("kind") == "query":
                needed.add("queries")
            if op == "enqueueBatch":
                needed.add("batch")
            if options.get("retry"):
                needed.add("retries")
            if "onComplete" in options:
                needed.add("onComplete")
            if "runAt" in options or "runAfter" in options:
                needed.add("runAt")
        elif op == "cancel":
            needed.add("cancel")
        elif op == "cancelAll":
            needed.add("cancelAll")
        elif op == "configure":
            needed.add("configure")
        elif op == "status":
            needed.add("seed-api" if profile == "seed" else "current-api")
    return sorted(needed)


def load(source: str | Mapping[str, Any], where: str = "scenario") -> Scenario:
    """Parse and validate a scenario from JSON text or a decoded object.

    Raises:
        ScenarioError: the first problem, with its JSON path (``where`` names the source).
    """
    if isinstance(source, str):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as error:
            raise ScenarioError(
                f"{where}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
            ) from None
    else:
        data = source
    _validate(data, where)
    return Scenario(data=data)


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(f"{path}: {message}")


def _expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> None:
    if isinstance(value, bool) and kind in (int, (int, float)):
        raise _fail(path, f"expected {what}, got {json.dumps(value)}")
    if not isinstance(value, kind):
        raise _fail(path, f"expected {what}, got {json.dumps(value)[:60]}")


def _only(obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _fail(f"{path}.{key}", f"unknown field; allowed are {sorted(allowed)}")


def _validate(data: Any, where: str) -> None:
    _expect(data, dict, where, "a JSON object")
    _only(data, {"version", "name", "description", "profile", "seed", "pools", "functions",
                 "steps", "rules", "level", "features"}, where)
    if data.get("version", SCENARIO_VERSION) != SCENARIO_VERSION:
        raise _fail(f"{where}.version", f"this is scenario version {SCENARIO_VERSION} only")
    if data.get("profile", "seed") not in PROFILES:
        raise _fail(f"{where}.profile", f"expected one of {list(PROFILES)}")
    _expect(data.get("seed", 0), int, f"{where}.seed", "an integer")
    pools = data.get("pools")
    _expect(pools, dict, f"{where}.pools", "an object of pools by name")
    for name, pool in pools.items():
        _expect(pool, dict, f"{where}.pools.{name}", "an object of options")
        _only(pool, _POOL_FIELDS, f"{where}.pools.{name}")
    functions = data.get("functions")
    _expect(functions, dict, f"{where}.functions", "an object of functions by name")
    for name, fn in functions.items():
        path = f"{where}.functions.{name}"
        _expect(fn, dict, path, "an object")
        kind = fn.get("kind")
        if kind not in _FUNCTION_FIELDS:
            raise _fail(f"{path}.kind", f"expected one of {sorted(_FUNCTION_FIELDS)}")
        _only(fn, _FUNCTION_FIELDS[kind], path)
        if kind == "action":
            attempts = fn.get("attempts")
            _expect(attempts, list, f"{path}.attempts", "a non-empty list of attempts")
            if not attempts:
                raise _fail(f"{path}.attempts", "expected a non-empty list of attempts")
            for i, attempt in enumerate(attempts):
                apath = f"{path}.attempts[{i}]"
                _expect(attempt, dict, apath, "an object")
                _only(attempt, _ATTEMPT_FIELDS, apath)
                ends = [k for k in ("returns", "throws", "throwsNonRetryable", "hangs")
                        if k in attempt]
                if len(ends) > 1:
                    raise _fail(apath, f"give one of returns/throws/throwsNonRetryable/hangs, "
                                       f"not {ends}")
                _expect(attempt.get("durationMs", 0), int, f"{apath}.durationMs",
                        "an integer number of ms")
                if attempt.get("durationMs", 0) < 0:
                    raise _fail(f"{apath}.durationMs", "expected >= 0")
        elif kind == "mutation":
            _expect(fn.get("durationMs", 0), int, f"{path}.durationMs", "an integer number of ms")
            for key in ("reads", "writes"):
                _expect(fn.get(key, []), list, f"{path}.{key}", "a list of document names")
    steps = data.get("steps")
    _expect(steps, list, f"{where}.steps", "a list of steps")
    refs: set[str] = set()
    for i, step in enumerate(steps):
        path = f"{where}.steps[{i}]"
        _expect(step, dict, path, "an object")
        op = step.get("op")
        if op not in _STEP_FIELDS:
            raise _fail(f"{path}.op", f"unknown op {op!r}; expected one of {sorted(_STEP_FIELDS)}")
        _only(step, _STEP_FIELDS[op], path)
        if op == "advance":
            _expect(step.get("ms"), int, f"{path}.ms", "an integer number of ms")
            if step["ms"] < 0:
                raise _fail(f"{path}.ms", "expected >= 0")
            continue
        if step.get("pool") not in pools:
            raise _fail(f"{path}.pool", f"no pool named {step.get('pool')!r}")
        if op in ("enqueue", "enqueueBatch"):
            if step.get("fn") not in functions:
                raise _fail(f"{path}.fn", f"no function named {step.get('fn')!r}")
            _only(step.get("options", {}), _OPTION_FIELDS, f"{path}.options")
            callback = step.get("options", {}).get("onComplete")
            if callback is not None and functions.get(callback, {}).get("kind") != "mutation":
                raise _fail(f"{path}.options.onComplete", "expected the name of a mutation")
            new_refs = [step.get("ref")] if op == "enqueue" else step.get("refs", [])
            if op == "enqueueBatch":
                _expect(step.get("argsList"), list, f"{path}.argsList", "a list of args")
                if len(new_refs) != len(step["argsList"]):
                    raise _fail(f"{path}.refs", "expected one ref per argsList entry")
            for ref in new_refs:
                _expect(ref, str, f"{path}.ref", "a string naming the work item")
                if ref in refs:
                    raise _fail(f"{path}.ref", f"ref {ref!r} is used twice")
                refs.add(ref)
        elif op in ("cancel", "status") and step.get("ref") not in refs:
            raise _fail(f"{path}.ref", f"unknown ref {step.get('ref')!r} (enqueue it first)")
