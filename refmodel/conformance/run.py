"""Running and reporting: play a set of fixtures through an adapter, report per rule."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from refmodel.adapter import Adapter, AdapterError, ModelAdapter, SubprocessAdapter
from refmodel.conformance.files import Fixture
from refmodel.conformance.instants import check_in_either_order
from refmodel.conformance.play import play
from refmodel.conformance.verdicts import (
    Verdict,
    declared_features,
    deviations_of,
    latency_of,
    verdict_of,
)
from refmodel.constants import DEVIATIONS


@attrs.frozen(kw_only=True)
class Report:
    """The verdicts of a conformance run, with who was checked."""

    adapter: str
    features: tuple[str, ...]
    latency: Mapping[str, int]
    verdicts: tuple[Verdict, ...]
    deviations: tuple[str, ...] = ()
    """The documented deviations the adapter declared in its handshake."""

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
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """``"N fixtures: P passed, F failed (M MUST), S skipped"``."""
        fixtures = {v.fixture for v in self.verdicts}
        failed = {v.fixture for v in self.verdicts if v.outcome == "fail"}
        must = {v.fixture for v in self.verdicts if v.outcome == "fail" and v.level == "MUST"}
        skipped = {v.fixture for v in self.verdicts if v.outcome == "skipped"} - failed
        passed = len(fixtures) - len(failed) - len(skipped)
        return (f"{len(fixtures)} fixtures: {passed} passed, {len(failed)} failed "
                f"({len(must)} MUST), {len(skipped)} skipped")

    def markdown(self) -> str:
        """The report as Markdown (``conformance --report FILE.md``): the adapter, every
        documented deviation it declares with its rule, its text and the fixtures that show
        it (the evidence), then every fixture's outcome (and for a pass that needed another
        order of an instant or a deviation, which)."""
        shown = ", ".join(f"`{k}` {v}" for k, v in self.latency.items() if v) or "all 0"
        out = [f"# Conformance of {self.adapter}", "", self.summary() + ".", "",
               f"- features: {', '.join(f'`{f}`' for f in self.features) or '(none)'}",
               f"- latency bounds (ms): {shown}", "", "## Deviations", ""]
        if not self.deviations:
            out.append("The adapter declares no documented deviation.")
        else:
            out += ["| rule | deviation | what the spec admits | evidence |",
                    "| --- | --- | --- | --- |"]
            for name in self.deviations:
                rule = name.split("/", 1)[0]
                seen = sorted({v.fixture for v in self.verdicts if v.deviation == name})
                evidence = "; ".join(
                    f"`{f}`: {_cell(next(v.detail for v in self.verdicts if v.fixture == f))}"
                    for f in seen) or "declared, not observed in these fixtures"
                out.append(f"| {rule} | `{name}` | {_cell(DEVIATIONS[name])} | {evidence} |")
        out += ["", "## Fixtures", "", "| fixture | level | rules | outcome | detail |",
                "| --- | --- | --- | --- | --- |"]
        for fixture in dict.fromkeys(v.fixture for v in self.verdicts):
            mine = [v for v in self.verdicts if v.fixture == fixture]
            outcome = ("fail" if any(v.outcome == "fail" for v in mine)
                       else mine[0].outcome)
            if outcome == "pass" and mine[0].deviation:
                outcome = f"pass (deviation `{mine[0].deviation}`)"
            # A pass says how it passed, when not as the fixture expects: the order or the
            # deviation it needed.
            detail = next((v.detail for v in mine if v.outcome != "pass"), mine[0].detail)
            rules = ", ".join(sorted({v.rule for v in mine}, key=_rule_key))
            out.append(f"| `{fixture}` | {mine[0].level} | {rules} | {outcome} | "
                       f"{_cell(detail)} |")
        return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """``text`` fit for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")[:300]


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
    declared_features(handshake)
    return handshake


def run_conformance(adapter: Adapter, fixtures: Sequence[Fixture]) -> Report:
    """Play every fixture on ``adapter`` (skipping those that need a missing feature).

    Raises:
        AdapterError: the adapter crashed, hung or answered garbage.
    """
    handshake = checked_handshake(adapter)
    verdicts: list[Verdict] = []
    declared = declared_features(handshake)
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
        verdicts.extend(check_in_either_order(fixture, recording, handshake))
    name = f"{handshake.get('name', '?')} {handshake.get('version', '')}".strip()
    return Report(
        adapter=name,
        features=tuple(sorted(declared)),
        latency=latency_of(handshake),
        verdicts=tuple(verdicts),
        deviations=tuple(sorted(deviations_of(handshake))),
    )


CONVEX_ADAPTER = Path(__file__).resolve().parents[2] / "adapters" / "convex"
"""The repository's adapter for the published @convex-dev/workpool (``--adapter convex``)."""

CONVEX_TIMEOUT_S = 60.0
"""The least per-call timeout for ``--adapter convex``: its first call waits for vitest."""


def convex_command() -> str:
    """The command that runs the real component's adapter (``adapters/convex``).

    Raises:
        AdapterError: Node is not installed, or the adapter's packages are not (``npm ci``).
    """
    program = CONVEX_ADAPTER / "bin" / "adapter.mjs"
    if not program.is_file():
        raise AdapterError(f"--adapter convex needs {program}, which this installation of "
                           "refmodel does not have (it comes with a clone of the repository)")
    node = shutil.which("node")
    if node is None:
        raise AdapterError("--adapter convex needs Node 20 or newer on the PATH (node was not "
                           "found)")
    if not (CONVEX_ADAPTER / "node_modules" / "@convex-dev" / "workpool").is_dir():
        raise AdapterError(f"--adapter convex needs its packages: run npm ci in {CONVEX_ADAPTER}")
    return f"{shlex.quote(node)} {shlex.quote(str(program))}"


def open_adapter(command: str, timeout_s: float = 10.0) -> Adapter:
    """``"model"``: the in-process model; ``"convex"``: the published component through
    ``adapters/convex`` (a timeout of at least 60 s); anything else: a program run with that
    command.

    Raises:
        AdapterError: the program cannot start.
    """
    if command == "model":
        return ModelAdapter()
    if command == "convex":
        return SubprocessAdapter(convex_command(), timeout_s=max(timeout_s, CONVEX_TIMEOUT_S))
    return SubprocessAdapter(command, timeout_s=timeout_s)


