"""Fixture files: the :class:`Fixture` value, its JSON form, and reading and validating
``specs/fixtures/`` (rules CNF-1, CNF-3).

A fixture is a scenario plus the observations an implementation must make when it plays it
(``refmodel.conformance.expect`` computes them). This module owns the file format: its
version, the names, rule IDs and levels it allows, the anchors of its time windows, and the
one-line errors that name the file and the JSON path of the first problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from refmodel.conformance.play import enqueue_steps
from refmodel.constants import DEVIATIONS
from refmodel.scenario import FEATURES, ScenarioError, load
from refmodel.values import JsonProblem, parse_json

FIXTURE_VERSION = 1
LEVELS = ("MUST", "SHOULD", "MAY")
LATENCIES = ("startLagMs", "completionLagMs", "timeoutSlackMs", "evictionSlackMs",
             "earlyStartMs")
"""The latency bounds an adapter may declare in its handshake (spec §8); each defaults to 0."""
PROFILE_FEATURE = {"seed": "seed-api", "current": "current-api"}

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_RULE = re.compile(r"[A-Z]+-\d+\Z")
_ANCHOR_KEYS = {"at", "start", "attemptEnd", "retryAt", "terminal", "max", "nth"}


class ConformanceError(ScenarioError):
    """A fixture, or a set of fixtures, is malformed or cannot be made; the message names the
    file and the JSON path."""


class JitterDependent(ConformanceError):
    """``fill`` refused a fixture whose expectations depend on the model's jitter draw."""


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
    deviations: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    """Per named deviation (spec §7) the fixture pins, the observations of an implementation
    that has it (and declares it): the fixture passes with either."""

    def to_json(self) -> dict[str, Any]:
        """The fixture as its JSON object (``deviations`` only when it pins some)."""
        data = {
            "fixtureVersion": FIXTURE_VERSION,
            "name": self.name,
            "description": self.description,
            "rules": list(self.rules),
            "level": self.level,
            "features": list(self.features),
            "scenario": dict(self.scenario),
            "expect": dict(self.expect),
        }
        if self.deviations:
            data["deviations"] = dict(self.deviations)
        return data

    def to_text(self) -> str:
        """The fixture file's text: sorted keys, 2-space indent, a trailing newline."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_meta(name: Any, rules: Any, level: Any, where: str) -> None:
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
    check_meta(data["name"], data["rules"], data["level"], where)
    if not isinstance(data["description"], str):
        raise ConformanceError(f"{where}.description: expected a string")
    features = data["features"]
    if not isinstance(features, list) or not all(f in FEATURES for f in features):
        raise ConformanceError(f"{where}.features: expected a list of {sorted(FEATURES)}")
    scenario = load(data["scenario"], where=f"{where}.scenario").data
    _check_expect(data["expect"], scenario, f"{where}.expect")
    deviations = data.get("deviations", {})
    _need(deviations, dict, f"{where}.deviations", "an object of expectations by deviation")
    for name, expect in deviations.items():
        if name not in DEVIATIONS:
            raise ConformanceError(f"{where}.deviations: unknown deviation {name!r}; known: "
                                   f"{', '.join(sorted(DEVIATIONS))}")
        _check_expect(expect, scenario, f"{where}.deviations.{name}")
    return Fixture(
        name=data["name"],
        description=data["description"],
        rules=tuple(data["rules"]),
        level=data["level"],
        features=tuple(features),
        scenario=scenario,
        expect=data["expect"],
        deviations=deviations,
    )


def _need(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> None:
    if isinstance(value, bool) and kind is int:
        raise ConformanceError(f"{path}: expected {what}, got {json.dumps(value)}")
    if not isinstance(value, kind):
        raise ConformanceError(f"{path}: expected {what}, got {json.dumps(value)[:60]}")


def _check_expect(expect: Any, scenario: Mapping[str, Any], path: str) -> None:
    _need(expect, dict, path, "an object with calls, items and startOrder")
    steps = scenario["steps"]
    refs = set(enqueue_steps(scenario))
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
                    or not all(type(b) in (int, float) for b in bounds)):
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
        data = parse_json(text)
    except JsonProblem as problem:
        raise ConformanceError(f"{path}: {problem}") from None
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
