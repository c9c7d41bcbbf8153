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
from refmodel.schema import validator
from refmodel.values import JsonProblem, parse_json, short
from refmodel.workpool.profiles import BUILT_IN, SEED

__refmodel_user_code__ = True  # The declared functions run here are user code (EXE-4).

SCENARIO_VERSION = 1

FEATURES = {
    "seed-api": "status in the seed view (pending/inProgress/success/error/evicted)",
    "current-api": "status in the current view (pending/running/finished)",
    "timeouts": "per-kind timeouts (seed profile)",
    "ttl": "results kept for ttl ms, then evicted (seed profile)",
    "mutations": "enqueueing mutations",
    "mutation-durations": "mutations that take virtual time (a durationMs > 0); implied by "
    "mutations unless an adapter declares the no-duration variant (protocol 2)",
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
    api = BUILT_IN.get(profile, SEED).status.api_feature
    needed: set[str] = {api}
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
                if fn.get("durationMs", 0):
                    needed.add("mutation-durations")
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
            needed.add(api)
    return sorted(needed)


def load(source: str | Mapping[str, Any], where: str = "scenario") -> Scenario:
    """Parse and validate a scenario from JSON text or a decoded object.

    A scenario is valid when it is an instance of ``specs/scenario.schema.json`` (read by
    :mod:`refmodel.schema`, so the loader accepts exactly what the schema accepts) and its
    cross-references hold, which the schema describes but cannot express: a step's pool and
    an enqueue's function exist, an ``onComplete`` names a mutation, an ``enqueueBatch`` has
    one ref per args entry, each ref is enqueued once, and a ``cancel`` or ``status`` names a
    ref enqueued before it.

    Raises:
        ScenarioError: the first problem, with its JSON path (``where`` names the source).
    """
    if isinstance(source, str):
        try:
            data = parse_json(source)
        except JsonProblem as unreadable:
            raise ScenarioError(f"{where}: {unreadable}") from None
    else:
        data = source
    problem = validator("scenario").first_error(data, where)
    if problem is not None:
        raise ScenarioError(problem)
    _cross_references(data, where)
    return Scenario(data=data)


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(f"{path}: {message}")


def _cross_references(data: Mapping[str, Any], where: str) -> None:
    """The checks the schema cannot express, on a scenario the schema accepts."""
    pools = data["pools"]
    functions = data["functions"]
    refs: set[str] = set()
    for i, step in enumerate(data["steps"]):
        path = f"{where}.steps[{i}]"
        op = step["op"]
        if op == "advance":
            continue
        if step["pool"] not in pools:
            raise _fail(f"{path}.pool", f"no pool named {short(step['pool'])}")
        if op in ("enqueue", "enqueueBatch"):
            if step["fn"] not in functions:
                raise _fail(f"{path}.fn", f"no function named {short(step['fn'])}")
            callback = step.get("options", {}).get("onComplete")
            if callback is not None and functions.get(callback, {}).get("kind") != "mutation":
                raise _fail(f"{path}.options.onComplete", "expected the name of a mutation")
            new_refs = [step["ref"]] if op == "enqueue" else step["refs"]
            if op == "enqueueBatch" and len(new_refs) != len(step["argsList"]):
                raise _fail(f"{path}.refs", "expected one ref per argsList entry")
            for ref in new_refs:
                if ref in refs:
                    raise _fail(f"{path}.ref", f"ref {short(ref)} is used twice")
                refs.add(ref)
        elif op in ("cancel", "status") and step["ref"] not in refs:
            raise _fail(f"{path}.ref", f"unknown ref {short(step['ref'])} (enqueue it first)")
