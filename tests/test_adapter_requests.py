"""The model's adapter program refuses every request that breaks the protocol with an error
answer and goes on serving (CNF-3, ERR-1): it used to crash or to read ``ms: 2.7`` as 2."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from refmodel.adapter import MAX_LINE_BYTES, ModelAdapter, answer, serve
from tests.spec import checks

SCENARIO = {"profile": "current", "pools": {"p": {"maxParallelism": 1}},
            "functions": {"f": {"kind": "action", "attempts": [{"durationMs": 3}]}},
            "steps": []}


def _ready() -> ModelAdapter:
    adapter = ModelAdapter()
    adapter.reset(SCENARIO)
    return adapter


@checks("CNF-3", "ERR-1")
@pytest.mark.parametrize(("line", "message"), [
    ('{"id": 1, "method": "advance", "params": {"ms": 2.7}}', "got 2.7"),
    ('{"id": 1, "method": "advance", "params": {"ms": true}}', "got True"),
    ('{"id": 1, "method": "advance", "params": {"ms": "12"}}', "got '12'"),
    ('{"id": 1, "method": "advance", "params": {"ms": 1e400}}', "got inf"),
    ('{"id": 1, "method": "advance", "params": {"ms": -1}}', "got -1"),
    ('{"id": 1, "method": "call", "params": {"step": null}}', "call needs params.step"),
    ('{"id": 1, "method": "call", "params": {"step": [1, 2]}}', "call needs params.step"),
    ('{"id": 1, "method": "call", "params": [1]}', "params must be an object"),
    ('{"id": 1, "method": "reset", "params": {}}', "reset needs params.scenario"),
    ('{"id": 1, "method": "dance"}', "unknown method 'dance'"),
    ("[" * 100_000, "nested too deeply"),
    ('{"id": 1, "method": "advance", "params": {"ms": 1' + "0" * 5000 + "}}",
     "a number too long to read"),
    ("{not json", "invalid JSON"),
])
def test_a_request_that_breaks_the_protocol_gets_a_protocol_error(line: str,
                                                                  message: str) -> None:
    adapter = _ready()
    response, stop = answer(adapter, 1, line)
    assert response is not None and not stop
    assert response["error"]["type"] == "ProtocolError"
    assert message in response["error"]["message"]
    assert adapter.advance(5)["now"] == 5  # Nothing moved the world; it still serves.


@checks("CNF-3")
def test_the_program_goes_on_serving_after_bad_lines_and_refuses_a_line_too_long() -> None:
    lines = [
        '{"id": 1, "method": "advance", "params": {"ms": 2.7}}',
        "x" * (MAX_LINE_BYTES + 10),
        json.dumps({"id": 2, "method": "reset", "params": {"scenario": SCENARIO}}),
        json.dumps({"id": 3, "method": "advance", "params": {"ms": 4}}),
        json.dumps({"id": 4, "method": "shutdown"}),
    ]
    out = io.StringIO()
    assert serve(ModelAdapter(), io.StringIO("\n".join(lines) + "\n"), out) == 0
    answers: list[dict[str, Any]] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [a.get("id") for a in answers] == [1, None, 2, 3, 4]
    assert "longer than" in answers[1]["error"]["message"]
    assert answers[3]["result"]["now"] == 4
