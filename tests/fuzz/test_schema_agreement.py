"""ERR-2: the scenario loader accepts exactly what specs/scenario.schema.json accepts (but for
the cross-references the schema documents and cannot express), and the trace reader exactly
what specs/trace.schema.json accepts; both raise only refmodel's typed errors.

Instances are drawn from the schemas themselves, with near misses (one field dropped,
replaced or added somewhere inside); jsonschema, the reference validator, is the judge.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refmodel.adapter import ModelAdapter
from refmodel.checker.reader import TraceUnreadable, parse_line
from refmodel.conformance.play import play
from refmodel.errors import RefmodelError
from refmodel.scenario import ScenarioError, load
from refmodel.schema import validator
from tests.fuzz.budget import fuzz_settings, tally
from tests.schema_strategies import SchemaStrategies, near_miss
from tests.spec import checks

jsonschema = pytest.importorskip("jsonschema")

SPECS = Path(__file__).resolve().parents[2] / "specs"
SCENARIO_SCHEMA = json.loads((SPECS / "scenario.schema.json").read_text(encoding="utf-8"))
TRACE_SCHEMA = json.loads((SPECS / "trace.schema.json").read_text(encoding="utf-8"))
REFERENCE = {
    "scenario": jsonschema.Draft202012Validator(SCENARIO_SCHEMA),
    "trace": jsonschema.Draft202012Validator(TRACE_SCHEMA),
}

CROSS_REFERENCES = ("no pool named", "no function named", "expected the name of a mutation",
                    "expected one ref per argsList entry", "is used twice", "unknown ref")
"""What the loader may refuse in a schema instance: the cross-references the schema's
description lists."""

def _wired(value: Any) -> Any:
    """A drawn scenario with its cross-references made to hold where they can (steps name an
    existing pool, function and earlier ref; refs are unique), so that many instances load."""
    if not isinstance(value, dict) or not isinstance(value.get("steps"), list):
        return value
    if isinstance(value.get("pools"), dict) and value.get("profile", "seed") == "seed":
        value = {**value, "pools": {  # The seed profile requires a limit of at least 1.
            name: {**options, "maxParallelism": max(1, options.get("maxParallelism", 1))}
            if isinstance(options, dict) and isinstance(options.get("maxParallelism", 1), int)
            else options
            for name, options in value["pools"].items()}}
    pools = list(value.get("pools") or {})
    functions = value.get("functions") or {}
    mutations = [n for n, f in functions.items() if isinstance(f, dict)
                 and f.get("kind") == "mutation"]
    refs: list[str] = []
    steps: list[Any] = []
    for step in value["steps"]:
        step = dict(step) if isinstance(step, dict) else step
        if isinstance(step, dict) and step.get("op") not in (None, "advance") and pools:
            step["pool"] = pools[len(steps) % len(pools)]
            if step["op"] in ("enqueue", "enqueueBatch") and functions:
                step["fn"] = sorted(functions)[len(steps) % len(functions)]
                options = step.get("options")
                if isinstance(options, dict) and "onComplete" in options:
                    step["options"] = {**options, "onComplete": mutations[0]} if mutations \
                        else {k: v for k, v in options.items() if k != "onComplete"}
                if step["op"] == "enqueue":
                    step["ref"] = f"r{len(refs)}"
                    refs.append(step["ref"])
                elif isinstance(step.get("argsList"), list):
                    step["refs"] = [f"r{len(refs) + i}" for i in range(len(step["argsList"]))]
                    refs.extend(step["refs"])
            elif step["op"] in ("cancel", "status") and refs:
                step["ref"] = refs[len(steps) % len(refs)]
        steps.append(step)
    return {**value, "steps": steps}


SCENARIOS = SchemaStrategies(SCENARIO_SCHEMA).values().map(_wired)
TRACE_LINES = SchemaStrategies(TRACE_SCHEMA).values()


def _maybe_near_miss(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy.flatmap(lambda value: st.one_of(st.just(value), near_miss(value)))


@checks("ERR-1")
@fuzz_settings()
@given(_maybe_near_miss(SCENARIOS))
def test_the_scenario_loader_agrees_with_the_schema(value: Any) -> None:
    valid = REFERENCE["scenario"].is_valid(value)
    assert validator("scenario").is_valid(value) == valid, value
    try:
        scenario = load(value)
    except ScenarioError as refused:
        assert not valid or any(part in str(refused) for part in CROSS_REFERENCES), refused
        tally("scenario-loader", "typed_rejection")
        return
    except Exception:
        tally("scenario-loader", "untyped_exception")
        raise
    assert valid, f"loaded a scenario the schema rejects: {value}"
    tally("scenario-loader", "accepted")
    # A loaded scenario plays without any error but refmodel's own (pool bounds per profile,
    # a step the world refuses).
    with contextlib.suppress(RefmodelError):
        play(ModelAdapter(), scenario.data)


@checks("ERR-1")
@fuzz_settings()
@given(_maybe_near_miss(TRACE_LINES))
def test_the_trace_reader_agrees_with_the_schema(value: Any) -> None:
    valid = REFERENCE["trace"].is_valid(value)
    assert validator("trace").is_valid(value) == valid, value
    line = json.dumps(value)
    try:
        parse_line(1, line)
    except TraceUnreadable:
        tally("trace-reader", "typed_rejection")
        assert not valid, f"refused a line the schema accepts: {line}"
        return
    except Exception:
        tally("trace-reader", "untyped_exception")
        raise
    tally("trace-reader", "accepted")
    assert valid, f"read a line the schema rejects: {line}"


@checks("ERR-1")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"pool": ["p"]}, "scenario: missing required field 'pools'"),
        ({"pools": {}, "functions": {"f": {"kind": []}}, "steps": []},
         "scenario.functions.f"),
        ({"pools": {"p": 5}, "functions": {}, "steps": []}, "scenario.pools.p: expected object"),
        ({"name": 3, "pools": {}, "functions": {}, "steps": []},
         "scenario.name: expected string, got 3"),
        ({"pools": {}, "functions": {"f": {"kind": "action", "attempts": [{"throws": 42}]}},
          "steps": []}, "scenario.functions.f.attempts[0].throws: expected string, got 42"),
    ],
)
def test_scenarios_that_used_to_raise_python_errors_or_load_are_refused_by_path(
    value: Any, message: str
) -> None:
    with pytest.raises(ScenarioError) as refused:
        load(value)
    assert str(refused.value).startswith(message), refused.value
