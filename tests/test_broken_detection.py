"""Every deliberately broken workpool is caught three ways, by the rule it breaks.

Each broken workpool of ``tests/broken_adapters.py`` (``BROKEN``: one bug each) must be caught

1. by the fixtures (``specs/fixtures``): played through :func:`run_conformance`, some MUST
   fixture that lists its rule fails; the same for the ones also served as protocol programs
   (``PROGRAMS``), through :class:`SubprocessAdapter`, with the same verdicts;
2. by exploring (``--explore``): :func:`explore` finds a divergence from the model and shrinks
   it, and the trace checker (``check``) names the rule on the broken workpool's play of the
   shrunk scenario, while the model's play of it passes both the fixture and ``check``; where
   the conformance checker's own tag is evidence against the rule, explore's rules name it too;
3. by ``check`` on its trace of the scenario of ``tests/broken_scenarios.py`` that exposes it.

The model passes everything with no false alarm: every fixture in-process and as a subprocess,
and every exploration the broken workpools get.

Exploring uses one small budget and one Hypothesis seed for all (explore is deterministic for
a seed). Each broken workpool is explored over the features its bug lives in (:data:`FOCUS`:
its profile's status API and what its scenario needs), by declaring only those in the
handshake, which is how :func:`explore` lets a caller narrow its scenarios (CNF-2); with every
feature declared, a few bugs need far larger budgets.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from refmodel.adapter import Adapter, ModelAdapter, SubprocessAdapter
from refmodel.checker import CheckOptions, check
from refmodel.conformance import Fixture, Report, explore, load_fixtures, run_conformance
from tests.broken_adapters import (
    BROKEN,
    MISSED,
    PROGRAMS,
    ForeignStatusReadsFinished,
    IgnoresRetryOnMutations,
    program_command,
)
from tests.broken_scenarios import SCENARIOS, played_trace
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = ROOT / "specs" / "fixtures"
MODEL_PROGRAM = f"{sys.executable} -m refmodel.adapter"

EXPLORE_EXAMPLES = 40
"""Scenarios generated per exploration (Hypothesis then shrinks the first divergence)."""
EXPLORE_SEED = 1
"""The Hypothesis seed of every exploration."""

MORE_EXAMPLES = {"stops-running-on-cancel": 60}
"""The broken workpools this seed needs more scenarios for (a cancel of running work, in a
generator that spreads its steps over every declared feature)."""

FOCUS: dict[str, tuple[str, ...]] = {
    "canceled-still-starts": ("cancel",),
    "evicts-early": ("ttl",),
    "jitter-out-of-bounds": ("retries",),
    "lifo": (),
    "lost-return-value": ("onComplete",),
    "no-on-complete-for-canceled": ("onComplete", "cancel"),
    "no-refill-after-completion": (),
    "no-timeout": ("timeouts", "hang"),
    "on-complete-twice": ("onComplete",),
    "retry-holds-slot": ("retries",),
    "starts-before-run-at": ("runAt",),
    "stops-running-on-cancel": ("cancel",),
    "succeeds-twice": (),
    "two-slots-freed": (),
}
"""Per broken workpool, the features besides its profile's status API that it is explored with."""

TAGGED_OTHERWISE = {
    "retry-holds-slot": "a retry that never starts is tagged by its attempt count, RTY-1/WC-1",
}
"""The broken workpools whose shrunk divergence the conformance checker tags with another rule
than theirs; ``check`` names theirs."""

CHECKED_OTHERWISE = {
    "retry-holds-slot": ("LIV-1", "when the shrunk scenario's only waiting item is the retry, "
                                  "the slot it holds keeps it from restarting: it is overdue"),
}
"""The broken workpools whose shrunk scenario ``check`` may judge under another rule: that rule,
and why."""


class Focused:
    """An adapter that declares only some features, so that exploring narrows to them."""

    def __init__(self, inner: Adapter, features: tuple[str, ...]) -> None:
        self.inner = inner
        self.features = features

    def handshake(self) -> dict[str, Any]:
        return {**self.inner.handshake(), "features": list(self.features)}

    def reset(self, scenario: Mapping[str, Any]) -> None:
        self.inner.reset(scenario)

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        return self.inner.call(step)

    def advance(self, ms: int) -> dict[str, Any]:
        return self.inner.advance(ms)

    def close(self) -> None:
        self.inner.close()


def focus_of(name: str) -> tuple[str, ...]:
    """The features broken workpool ``name`` is explored with."""
    profile = BROKEN[name][2]
    return (f"{profile}-api", *FOCUS[name])


@pytest.fixture(scope="module")
def fixtures() -> list[Fixture]:
    return load_fixtures(FIXTURES_DIR)


def checked_rules(adapter: Adapter, scenario: Mapping[str, Any]) -> list[str]:
    """The rules ``check`` reports on ``adapter``'s trace of ``scenario``; closes ``adapter``."""
    try:
        played = played_trace(adapter, scenario)
    finally:
        adapter.close()
    return check(played.lines, options=CheckOptions(end_ms=played.end_ms)).rules()


def failed_must_rules(report: Report) -> set[str]:
    return {v.rule for v in report.failures() if v.level == "MUST"}


def conformance_of(adapter: Adapter, fixtures: list[Fixture]) -> Report:
    try:
        return run_conformance(adapter, fixtures)
    finally:
        adapter.close()


# The model: no false alarm -------------------------------------------------------------------


@checks("CNF-1", "CNF-2")
def test_the_model_passes_every_fixture_in_process_and_as_a_subprocess(
    fixtures: list[Fixture],
) -> None:
    in_process = conformance_of(ModelAdapter(), fixtures)
    assert in_process.failures() == []
    assert {v.outcome for v in in_process.verdicts} == {"pass"}
    program = conformance_of(SubprocessAdapter(MODEL_PROGRAM, timeout_s=30), fixtures)
    assert program.failures() == []
    assert program.verdicts == in_process.verdicts


@checks("CNF-2")
@pytest.mark.parametrize(
    "features",
    [None, *sorted({focus_of(name) for name in BROKEN})],
    ids=lambda features: "all" if features is None else "+".join(features),
)
def test_exploring_the_model_as_each_broken_workpool_is_explored_finds_nothing(
    features: tuple[str, ...] | None,
) -> None:
    adapter: Adapter = ModelAdapter() if features is None else Focused(ModelAdapter(), features)
    assert explore(adapter, EXPLORE_EXAMPLES, seed=EXPLORE_SEED) is None


# 1. The fixtures -----------------------------------------------------------------------------


@checks("CNF-2", "PAR-1", "ORD-1", "ORD-2", "WC-1", "TMO-1", "TTL-1", "LIF-1", "CAN-1",
        "CAN-6", "RTY-2", "RTY-3", "ONC-1", "ONC-3")
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_workpool_fails_a_must_fixture_of_its_rule(
    name: str, fixtures: list[Fixture]
) -> None:
    factory, rule, _ = BROKEN[name]
    report = conformance_of(factory(), fixtures)
    assert not report.ok
    assert rule in failed_must_rules(report), report.text()


@checks("CNF-2", "PAR-1", "ORD-1", "CAN-1", "CAN-6")
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_broken_program_fails_the_same_fixtures_through_the_protocol(
    name: str, fixtures: list[Fixture]
) -> None:
    factory, rule, _ = BROKEN[name]
    report = conformance_of(SubprocessAdapter(program_command(name), timeout_s=30), fixtures)
    assert not report.ok
    assert rule in failed_must_rules(report), report.text()
    assert report.verdicts == conformance_of(factory(), fixtures).verdicts


# 2. Exploring --------------------------------------------------------------------------------


@checks("CNF-2", "CHK-1", "PAR-1", "ORD-1", "ORD-2", "WC-1", "TMO-1", "TTL-1", "LIF-1",
        "CAN-1", "CAN-6", "RTY-2", "RTY-3", "ONC-1", "ONC-3")
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_exploring_each_broken_workpool_finds_a_divergence_check_names_by_its_rule(
    name: str,
) -> None:
    factory, rule, _ = BROKEN[name]
    examples = MORE_EXAMPLES.get(name, EXPLORE_EXAMPLES)
    found = explore(Focused(factory(), focus_of(name)), examples, seed=EXPLORE_SEED)
    assert found is not None, f"no divergence in {examples} scenarios"
    scenario = found.fixture.scenario
    assert found.rules
    if name not in TAGGED_OTHERWISE:
        assert rule in found.rules, found.detail
    checked = checked_rules(factory(), scenario)
    allowed = {rule, CHECKED_OTHERWISE.get(name, (rule, ""))[0]}
    assert allowed & set(checked), (checked, found.detail)
    assert checked_rules(ModelAdapter(), scenario) == []
    assert conformance_of(ModelAdapter(), [found.fixture]).failures() == []
    assert not conformance_of(factory(), [found.fixture]).ok


# 3. The trace checker ------------------------------------------------------------------------


@checks("CHK-1", "PAR-1", "ORD-1", "ORD-2", "WC-1", "TMO-1", "TTL-1", "LIF-1", "CAN-1",
        "CAN-6", "RTY-2", "RTY-3", "ONC-1", "ONC-3")
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_names_the_rule_each_broken_workpool_breaks(name: str) -> None:
    factory, rule, _ = BROKEN[name]
    assert checked_rules(ModelAdapter(), SCENARIOS[name]) == []
    assert checked_rules(factory(), SCENARIOS[name]) == [rule]


@checks("CNF-2", "CHK-1")
def test_every_broken_workpool_is_explored_and_enough_are_programs() -> None:
    assert len(BROKEN) >= 12
    assert len(PROGRAMS) >= 3
    assert sorted(FOCUS) == sorted(BROKEN) == sorted(SCENARIOS)
    assert set(TAGGED_OTHERWISE) <= set(BROKEN)


# 4. The classes of bug the first kit missed ----------------------------------------------------


@checks("CNF-2", "ONC-2", "EXE-1", "PAR-2", "WC-1", "CAN-5", "RTY-1", "TMO-1", "CAN-1", "RTY-4",
        "STS-5", "CLK-5", "STS-4", "ENQ-5")
@pytest.mark.parametrize("name", sorted(MISSED))
def test_each_class_of_missed_bug_fails_a_must_fixture_of_its_rule(
    name: str, fixtures: list[Fixture]
) -> None:
    factory, rule, _ = MISSED[name]
    report = conformance_of(factory(), fixtures)
    assert not report.ok
    assert rule in failed_must_rules(report), report.text()
    tagged = [v.detail for v in report.failures() if f"{rule}]" in v.detail or f"{rule}," in
              v.detail]
    assert tagged, f"no divergence is tagged {rule}: {report.text()}"


@checks("CNF-2", "STS-4", "ENQ-5")
@pytest.mark.parametrize("adapter", [ForeignStatusReadsFinished, IgnoresRetryOnMutations])
def test_a_declared_deviation_passes_the_fixture_that_pins_it(
    adapter: Any, fixtures: list[Fixture]
) -> None:
    assert conformance_of(adapter(declare=True), fixtures).failures() == []
    assert not conformance_of(adapter(declare=False), fixtures).ok


MISSED_EXPLORED: dict[str, tuple[tuple[str, ...], int]] = {
    "wrong-context": (("onComplete",), 60),
    "shared-result-buffer": ((), 100),
    "pause-ignored-while-running": (("configure",), 60),
    "shared-slots": ((), 60),
    "run-at-blocks-later-work": (("runAt",), 60),
    "cancels-any-pools-id": (("cancel",), 60),
    "retries-mutations": (("retries", "mutations"), 100),
    "no-mutation-timeout": (("timeouts", "mutations"), 300),
    "drops-cancel-of-pending": (("cancel",), 60),
    "retries-non-retryable": (("retries", "nonRetryable"), 60),
    "foreign-status-reads-finished": ((), 60),
    "ignores-retry-on-mutations": (("retries", "mutations", "batch"), 80),
}
"""Per class of missed bug that explore catches too: the features it is explored with
(besides its profile's status API) and the scenarios it takes. Three are left to the
fixtures: the livelock (``retries-forever-without-backoff``: every shrinking step replays
20,000 events), ``status-running-during-backoff`` (a status read while an item waits to
retry) and ``raise-not-acted-on`` (a raise of the limit while nothing runs), which take more
scenarios than this suite spends."""


QUICK_TO_EXPLORE = ("wrong-context", "shared-result-buffer", "cancels-any-pools-id",
                    "foreign-status-reads-finished", "ignores-retry-on-mutations")
"""The ones explored on every test run; the others only with the Hypothesis profile
``thorough`` (``tox -e explore``), as their shrinking takes seconds each."""

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


@checks("CNF-2", "ONC-2", "EXE-1", "PAR-2", "WC-1", "ORD-1", "CAN-5", "RTY-1", "TMO-1",
        "CAN-1", "RTY-4", "STS-4", "ENQ-5")
@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=[] if THOROUGH or name in QUICK_TO_EXPLORE else [
        pytest.mark.skip(reason="explored with HYPOTHESIS_PROFILE=thorough")])
     for name in sorted(MISSED_EXPLORED)],
)
def test_exploring_finds_each_class_of_missed_bug_by_its_rule(name: str) -> None:
    factory, rule, profile = MISSED[name]
    features, examples = MISSED_EXPLORED[name]
    found = explore(Focused(factory(), (f"{profile}-api", *features)), examples,
                    seed=EXPLORE_SEED)
    assert found is not None, f"no divergence in {examples} scenarios"
    assert rule in found.rules, found.detail
    assert conformance_of(ModelAdapter(), [found.fixture]).failures() == []
    assert not conformance_of(factory(), [found.fixture]).ok
