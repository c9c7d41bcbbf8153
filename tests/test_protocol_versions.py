"""Adapter protocol version 2 and its negotiation (CNF-1): the harness offers versions 1 and 2,
a version-1 adapter is played under version 1's rules unchanged, a version-2 adapter may declare
feature variants (mutations without duration), and a handshake that breaks either is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from refmodel.adapter import AdapterError, ModelAdapter, SubprocessAdapter, answer
from refmodel.conformance import load_fixtures, run_conformance
from refmodel.conformance.run import checked_handshake
from refmodel.conformance.verdicts import declared_features
from tests.spec import checks

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = load_fixtures(ROOT / "specs" / "fixtures")
V1 = ROOT / "tests" / "broken_programs" / "protocol_v1_model.py"


def _program(*args: str) -> SubprocessAdapter:
    return SubprocessAdapter(" ".join([sys.executable, *args]), timeout_s=30)


@checks("CNF-1", "CNF-2")
@pytest.mark.parametrize("version", [1, 2])
def test_version_1_and_version_2_adapters_both_pass_every_fixture(version: int) -> None:
    program = f"{V1}" if version == 1 else "-m refmodel.adapter"
    adapter = _program(*program.split())
    try:
        assert adapter.handshake()["protocol"] == version
        report = run_conformance(adapter, FIXTURES)
    finally:
        adapter.close()
    assert report.ok, report.failures()
    assert not [v for v in report.verdicts if v.outcome == "skipped"]


@checks("CNF-2")
def test_mutations_without_duration_skip_exactly_the_fixtures_whose_mutations_take_time() -> None:
    model = ModelAdapter().handshake()
    handshake = {**model, "featureVariants": {"mutations": ["no-duration"]},
                 "features": [f for f in model["features"] if f != "mutation-durations"]}
    declared = declared_features(handshake)
    assert "mutations" in declared and "mutation-durations" not in declared

    class NoDurations(ModelAdapter):
        def handshake(self) -> dict[str, Any]:
            return handshake

    report = run_conformance(NoDurations(), FIXTURES)
    skipped = {v.fixture for v in report.verdicts if v.outcome == "skipped"}
    timed = {f.name for f in FIXTURES if "mutation-durations" in f.features}
    assert skipped == timed and timed
    assert report.ok
    assert "mutation-durations" in declared_features({"protocol": 1, "features": ["mutations"]})


@checks("CNF-1", "CNF-3")
@pytest.mark.parametrize(("handshake", "message"), [
    ({"protocol": 1, "features": ["current-api"], "featureVariants": {}},
     "featureVariants needs protocol 2"),
    ({"protocol": 2, "features": ["current-api"], "featureVariants": {"queries": ["fast"]}},
     "featureVariants must map a feature"),
    ({"protocol": 2, "features": ["current-api"],
      "featureVariants": {"mutations": ["no-duration", "x"]}}, "featureVariants must map"),
])
def test_a_handshake_that_breaks_its_version_is_refused(
    handshake: dict[str, Any], message: str
) -> None:
    class Bad(ModelAdapter):
        def handshake(self) -> dict[str, Any]:
            return handshake

    with pytest.raises(AdapterError, match=message):
        checked_handshake(Bad())


@checks("CNF-1")
def test_a_version_1_program_that_declares_variants_is_refused_at_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from refmodel.cli import main

    command = f"{sys.executable} {V1} " + json.dumps(json.dumps({"mutations": ["no-duration"]}))
    code = main(["conformance", "--adapter", command, "--fixtures",
                 str(ROOT / "specs" / "fixtures")])
    err = capsys.readouterr().err
    assert code == 2 and "featureVariants needs protocol 2" in err


@checks("CNF-1")
def test_the_model_program_answers_the_version_offered() -> None:
    adapter = ModelAdapter()
    two, _ = answer(adapter, 1, json.dumps({"id": 1, "method": "handshake",
                                            "params": {"protocols": [1, 2]}}))
    one, _ = answer(adapter, 2, json.dumps({"id": 2, "method": "handshake",
                                            "params": {"protocols": [1]}}))
    old, _ = answer(adapter, 3, json.dumps({"id": 3, "method": "handshake"}))
    none, _ = answer(adapter, 4, json.dumps({"id": 4, "method": "handshake",
                                             "params": {"protocols": [3]}}))
    assert two is not None and two["result"]["protocol"] == 2
    assert one is not None and one["result"]["protocol"] == 1
    assert old is not None and old["result"]["protocol"] == 2
    assert none is not None and "speaks protocols [1, 2], not [3]" in none["error"]["message"]
