"""Running and reporting: play a set of fixtures through an adapter, report per rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from refmodel.adapter import Adapter, AdapterError, ModelAdapter, SubprocessAdapter
from refmodel.conformance.files import Fixture
from refmodel.conformance.play import play
from refmodel.conformance.verdicts import (
    Verdict,
    check_recording,
    deviations_of,
    latency_of,
    verdict_of,
)


@attrs.frozen(kw_only=True)
class Report:
    """The verdicts of a conformance run, with who was checked."""

    adapter: str
    features: tuple[str, ...]
    latency: Mapping[str, int]
    verdicts: tuple[Verdict, ...]

    @property
    def ok(self) -> bool:
        """Whether no MUST fixture failed."""
        return not any(v.outcome == "fail" and v.level == "MUST" for v in self.verdicts)

    def failures(self) -> list[Verdict]:
        """The failed verdicts, in order."""
        return [v for v in self.verdicts if v.outcome == "fail"]

    def text(self) -> str:
        """A per-rule report, then one line per failed or skipped fixture."""
        lines = [f"conformance of {self.adapter}"]
        lines.append(f"features: {', '.join(self.features) or '(none)'}")
        shown = ", ".join(f"{k}={v}" for k, v in self.latency.items() if v) or "all 0"
        lines.append(f"latency: {shown}")
        lines.append("")
        lines.append(f"{'rule':<8} {'pass':>5} {'fail':>5} {'skip':>5}")
        for rule in sorted({v.rule for v in self.verdicts}, key=_rule_key):
            counts = {o: 0 for o in ("pass", "fail", "skipped")}
            for v in self.verdicts:
                if v.rule == rule:
                    counts[v.outcome] += 1
            lines.append(f"{rule:<8} {counts['pass']:>5} {counts['fail']:>5} "
                         f"{counts['skipped']:>5}")
        lines.append("")
        seen: set[str] = set()
        for v in self.verdicts:
            if v.outcome == "pass" or v.fixture in seen:
                continue
            seen.add(v.fixture)
            rules = ",".join(x.rule for x in self.verdicts if x.fixture == v.fixture)
            tag = "FAIL" if v.outcome == "fail" else "SKIP"
            lines.append(f"{tag} {v.fixture} [{v.level}] {rules}: {v.detail}")
        fixtures = {v.fixture: v for v in self.verdicts}
        failed = {v.fixture for v in self.verdicts if v.outcome == "fail"}
        must = {v.fixture for v in self.verdicts if v.outcome == "fail" and v.level == "MUST"}
        skipped = {v.fixture for v in self.verdicts if v.outcome == "skipped"}
        passed = len(fixtures) - len(failed) - len(skipped)
        lines.append(
            f"{len(fixtures)} fixtures: {passed} passed, {len(failed)} failed "
            f"({len(must)} MUST), {len(skipped)} skipped"
        )
        return "\n".join(lines) + "\n"


def _rule_key(rule: str) -> tuple[str, int]:
    family, _, number = rule.partition("-")
    return family, int(number)


def checked_handshake(adapter: Adapter) -> dict[str, Any]:
    """The adapter's handshake, validated.

    Raises:
        AdapterError: it is not an object with a list of feature names and valid latencies.
    """
    handshake = adapter.handshake()
    if not isinstance(handshake, dict):
        raise AdapterError(f"adapter answered handshake with {handshake!r}, not an object")
    features = handshake.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise AdapterError(f"handshake features must be a list of names, got {features!r}")
    latency_of(handshake)
    deviations_of(handshake)
    return handshake


def run_conformance(adapter: Adapter, fixtures: Sequence[Fixture]) -> Report:
    """Play every fixture on ``adapter`` (skipping those that need a missing feature).

    Raises:
        AdapterError: the adapter crashed, hung or answered garbage.
    """
    handshake = checked_handshake(adapter)
    verdicts: list[Verdict] = []
    declared = set(handshake.get("features", []))
    lost = ""
    for fixture in fixtures:
        if lost:
            verdicts.extend(verdict_of(fixture, rule, "skipped", lost) for rule in fixture.rules)
            continue
        recording = None
        if set(fixture.features) <= declared:
            recording = play(adapter, fixture.scenario)
            if recording.lost:
                lost = f"the adapter was killed after it stalled in fixture {fixture.name!r}"
        verdicts.extend(check_recording(fixture, recording, handshake))
    name = f"{handshake.get('name', '?')} {handshake.get('version', '')}".strip()
    return Report(
        adapter=name,
        features=tuple(sorted(declared)),
        latency=latency_of(handshake),
        verdicts=tuple(verdicts),
    )


def open_adapter(command: str, timeout_s: float = 10.0) -> Adapter:
    """``"model"``: the in-process model; anything else: a program run with that command.

    Raises:
        AdapterError: the program cannot start.
    """
    if command == "model":
        return ModelAdapter()
    return SubprocessAdapter(command, timeout_s=timeout_s)


