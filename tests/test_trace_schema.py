"""The published trace schema (specs/trace.schema.json) describes what the model writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from refmodel.examples import EXAMPLES
from refmodel.trace import KINDS
from tests.spec import checks

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "specs" / "trace.schema.json"


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def test_schema_lists_exactly_the_trace_vocabulary() -> None:
    assert sorted(_schema()["properties"]["kind"]["enum"]) == sorted(KINDS)


@checks("DET-1")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_line_of_every_example_trace_matches_the_schema(name: str) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    for label, world in EXAMPLES[name](0).worlds.items():
        lines = world.trace_jsonl().splitlines()
        assert json.loads(lines[0])["kind"] == "world_started"
        seqs = []
        times = []
        for number, line in enumerate(lines, start=1):
            event = json.loads(line)
            errors = [error.message for error in validator.iter_errors(event)]
            assert errors == [], f"{name}/{label} line {number}: {errors}"
            seqs.append(event["seq"])
            times.append(event["t"])
        assert seqs == list(range(1, len(lines) + 1))
        assert times == sorted(times)


def test_schema_rejects_an_event_missing_its_data_fields() -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    bad = {"t": 0, "seq": 1, "kind": "started", "pool": "p", "id": "p/1", "data": {}}
    assert not validator.is_valid(bad)
