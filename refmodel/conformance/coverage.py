"""Coverage: which rules a run of scenarios exercised, with a minimal witness for each.

Like a "sometimes" assertion, a rule is *reached* by a scenario when the model's recording of
it shows the situation the rule is about: a pool at its limit while work waits (PAR-1), two
items ending at one instant with different results (EXE-1), a retry that restarts after
waiting for a slot (LIV-1), an onComplete given a context (ONC-2), and so on
(:data:`SITUATIONS`). A conformance run is only as strong as the situations it reached:
``conformance --explore N`` prints, per rule, how many of its scenarios reached it and the
smallest one that did (its *witness*, written as a fixture), and lists the rules its adapter's
features make reachable but no scenario reached.

What a rule needs to be reachable is the features it is listed with: a rule of the seed
profile needs ``seed-api``, one about cancels ``cancel``, and so on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from refmodel.conformance.files import Fixture
from refmodel.conformance.play import Recording, enqueue_steps

SITUATIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "PAR-1": ((), "a pool runs at its limit while work waits"),
    "PAR-2": (("current-api", "configure"), "a paused pool holds waiting work"),
    "ORD-1": ((), "an item starts while another of its pool waits too"),
    "ORD-2": (("runAt",), "an item waits for its runAt, then starts"),
    "WC-1": ((), "a slot is refilled at the instant it frees"),
    "LIV-1": (("retries",), "a retry restarts after waiting for a slot"),
    "EXE-1": ((), "two items end at one instant with different results"),
    "EXE-2": (("mutations",), "a mutation runs as work"),
    "ENQ-5": (("batch",), "a batch is enqueued"),
    "ENQ-6": (("runAt",), "an item is enqueued with a runAt or runAfter"),
    "ENQ-7": (("queries",), "a query runs as work"),
    "RTY-1": (("retries",), "a failed attempt is retried"),
    "RTY-2": (("retries",), "a retry starts its next attempt"),
    "RTY-3": (("retries",), "another item starts while one waits to retry"),
    "RTY-4": (("retries",), "an item fails with attempts left (non-retryable) or none left"),
    "TMO-1": (("seed-api", "timeouts"), "an attempt times out"),
    "TTL-1": (("seed-api", "ttl"), "a result is evicted"),
    "STS-1": (("seed-api",), "a status is read"),
    "STS-3": (("seed-api", "ttl"), "the status of an evicted item is read"),
    "STS-4": ((), "the status of another pool's id is asked for"),
    "STS-5": (("current-api",), "a status is read"),
    "CAN-1": (("cancel",), "waiting work is canceled"),
    "CAN-2": (("seed-api", "cancel"), "running work is canceled"),
    "CAN-3": (("cancel",), "a cancel of finished work changes nothing"),
    "CAN-5": (("cancel",), "a cancel of another pool's id is refused"),
    "CAN-6": (("current-api", "cancel"), "running work is asked to cancel"),
    "CAN-7": (("cancelAll",), "cancelAll is called"),
    "CFG-5": (("configure",), "a pool is reconfigured"),
    "ONC-1": (("onComplete",), "an onComplete is called"),
    "ONC-2": (("onComplete",), "an onComplete is given a context"),
    "ONC-3": (("onComplete",), "an onComplete reports a failure or a cancel"),
}
"""Per rule: the features that make it reachable (all needed), and the situation that reaches
it."""


def reachable(features: Iterable[str]) -> list[str]:
    """The rules an adapter with ``features`` can reach, in spec order."""
    declared = set(features)
    profiles = {"seed-api", "current-api"} & declared
    rules = []
    for rule, (needs, _) in SITUATIONS.items():
        if not set(needs) <= declared:
            continue
        if rule == "STS-4" and not profiles:
            continue
        rules.append(rule)
    return sorted(rules, key=_rule_key)


def exercised(recording: Recording) -> set[str]:
    """The rules whose situations the (model's) recording shows."""
    scenario = recording.scenario
    steps = enqueue_steps(scenario)
    by_key: dict[tuple[Any, Any], str] = {
        (w["pool"], w["id"]): ref for ref, w in recording.refs.items()
    }
    found: set[str] = set()
    for index, step in enumerate(scenario["steps"]):
        op = step["op"]
        if op == "enqueueBatch":
            found.add("ENQ-5")
        elif op == "cancelAll":
            found.add("CAN-7")
        elif op in ("cancel", "status") and steps[step["ref"]]["pool"] != step["pool"]:
            found.add("CAN-5" if op == "cancel" else "STS-4")
        if op in ("enqueue", "enqueueBatch") and "error" not in recording.calls[index]["result"]:
            options = step.get("options", {})
            if "runAt" in options or "runAfter" in options:
                found.add("ENQ-6")
    limit: dict[str, int] = {}
    running: dict[str, set[str]] = {}
    waiting: dict[str, dict[str, float]] = {}  # pool -> ref -> eligible
    retrying: dict[str, set[str]] = {}
    freed: dict[str, int] = {}
    ended_at: dict[int, dict[str, Any]] = {}
    run_at: dict[str, float] = {}
    retry_at: dict[str, float] = {}
    for event in recording.events:
        kind = event["kind"]
        t = event["t"]
        pool = str(event.get("pool"))
        data = event.get("data") or {}
        if kind in ("pool_created", "config_updated"):
            limit[pool] = int(data.get("maxParallelism", 0))
            if kind == "config_updated":
                found.add("CFG-5")
                if limit[pool] == 0 and waiting.get(pool):
                    found.add("PAR-2")
            continue
        ref = by_key.get((event.get("pool"), event.get("id")))
        if ref is None:
            continue
        pool_running = running.setdefault(pool, set())
        pool_waiting = waiting.setdefault(pool, {})
        if kind == "enqueued":
            pool_waiting[ref] = data.get("runAt", t)
            run_at[ref] = data.get("runAt", t)
            if data.get("kind") == "query":
                found.add("ENQ-7")
            elif data.get("kind") == "mutation":
                found.add("EXE-2")
        elif kind == "started":
            eligible = pool_waiting.pop(ref, t)
            if any(e <= t for e in pool_waiting.values()):
                found.add("ORD-1")
            if data.get("attempt", 1) == 1 and run_at.get(ref, t) > _enqueue_t(
                    recording, ref):
                found.add("ORD-2")
            if freed.get(pool) == t and eligible < t:
                found.add("WC-1")
            if data.get("attempt", 1) > 1:
                found.add("RTY-2")
                if t > retry_at.get(ref, t) and freed.get(pool) == t:
                    found.add("LIV-1")
            elif retrying.get(pool):
                found.add("RTY-3")
            pool_running.add(ref)
            if len(pool_running) >= limit.get(pool, 1) and pool_waiting:
                found.add("PAR-1")
        elif kind in ("succeeded", "failed", "retrying", "timed_out", "canceled"):
            if ref in pool_running:
                pool_running.discard(ref)
                freed[pool] = t
            pool_waiting.pop(ref, None)
            retrying.setdefault(pool, set()).discard(ref)
            if kind == "retrying":
                found.add("RTY-1")
                retrying[pool].add(ref)
                pool_waiting[ref] = data.get("retryAt", t)
                retry_at[ref] = data.get("retryAt", t)
            elif kind == "timed_out":
                found.add("TMO-1")
            elif kind == "canceled":
                found.add("CAN-2" if data.get("wasRunning") else "CAN-1")
            elif kind == "failed" and (
                data.get("nonRetryable")
                or _attempts_exhausted(scenario, steps[ref], data.get("attempt", 1))
            ):
                found.add("RTY-4")
            if kind == "succeeded":
                same = ended_at.setdefault(t, {})
                if any(result != data.get("result") for result in same.values()):
                    found.add("EXE-1")
                same[ref] = data.get("result")
        elif kind == "evicted":
            found.add("TTL-1")
        elif kind == "cancel_ignored":
            found.add("CAN-3")
        elif kind == "cancel_requested":
            found.add("CAN-6")
        elif kind == "on_complete":
            found.add("ONC-1")
            if data.get("context") is not None:
                found.add("ONC-2")
            if (data.get("result") or {}).get("kind") in ("failed", "canceled"):
                found.add("ONC-3")
        elif kind == "status_read" and "status" in data:
            status = data["status"]
            found.add("STS-1" if "kind" in status else "STS-5")
            if status.get("kind") == "evicted":
                found.add("STS-3")
    return found


def _enqueue_t(recording: Recording, ref: str) -> int:
    """The instant ``ref`` was enqueued at (its enqueue step's call time)."""
    for call in recording.calls:
        step = recording.scenario["steps"][call["step"]]
        if step.get("ref") == ref or ref in step.get("refs", []):
            return int(call["t"])
    return 0


def _attempts_exhausted(scenario: Mapping[str, Any], step: Mapping[str, Any], attempt: int) -> bool:
    retry = step.get("options", {}).get("retry")
    pool = scenario["pools"][step["pool"]]
    if retry is None and pool.get("retryActionsByDefault"):
        retry = True
    if retry is True:
        retry = pool.get("defaultRetryBehavior") or {}
    if not isinstance(retry, Mapping):
        return False
    return attempt >= int(retry.get("maxAttempts", 5)) > 1


class Coverage:
    """What a run of scenarios reached: per rule, how many scenarios, and the smallest one.

    Attributes:
        scenarios: how many scenarios were counted.
        counts: per rule, how many of them reached it.
        witnesses: per rule, the smallest scenario (fewest steps, then shortest JSON) that
            reached it, as a fixture whose expectations do not depend on the jitter draw.
    """

    def __init__(self) -> None:
        self.scenarios = 0
        self.counts: dict[str, int] = {}
        self.witnesses: dict[str, Fixture] = {}

    def record(self, recording: Recording, fixture: Fixture | None) -> None:
        """Count the rules ``recording`` (the model's) reached; ``fixture``: its stable
        expectations, a witness candidate (``None``: they depend on the jitter draw)."""
        self.scenarios += 1
        for rule in exercised(recording):
            self.counts[rule] = self.counts.get(rule, 0) + 1
            if fixture is not None and smaller(fixture, self.witnesses.get(rule)):
                self.witnesses[rule] = fixture

    def report(self, features: Iterable[str]) -> str:
        """The coverage table for an adapter with ``features``, with the rules never
        reached."""
        rules = reachable(features)
        lines = [f"coverage of {self.scenarios} scenarios (rule: scenarios reaching it, "
                 "smallest witness):"]
        never = []
        for rule in rules:
            count = self.counts.get(rule, 0)
            if not count:
                never.append(rule)
                continue
            witness = self.witnesses.get(rule)
            shown = f"{len(witness.scenario['steps'])} steps" if witness else "none stable"
            lines.append(f"  {rule:<6} {count:>6}  {shown:<12} {SITUATIONS[rule][1]}")
        lines.append("never reached: " + (", ".join(never) if never else "none"))
        return "\n".join(lines) + "\n"

    def write_witnesses(self, out: Path) -> list[Path]:
        """Write each rule's witness as ``witness-<rule>.json`` into ``out``.

        Raises:
            OSError: ``out`` cannot be written.
        """
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for rule in sorted(self.witnesses, key=_rule_key):
            witness = self.witnesses[rule]
            name = f"witness-{rule.lower()}"
            fixture = Fixture(
                name=name,
                description=f"A smallest explored scenario in which {SITUATIONS[rule][1]}.",
                rules=(rule,),
                level="MUST",
                features=witness.features,
                scenario={**witness.scenario, "name": name},
                expect=witness.expect,
            )
            path = out / f"{name}.json"
            path.write_text(fixture.to_text(), encoding="utf-8")
            written.append(path)
        return written


def smaller(fixture: Fixture, than: Fixture | None) -> bool:
    if than is None:
        return True
    mine = (len(fixture.scenario["steps"]), len(json.dumps(fixture.scenario, sort_keys=True)))
    theirs = (len(than.scenario["steps"]), len(json.dumps(than.scenario, sort_keys=True)))
    return mine < theirs


def _rule_key(rule: str) -> tuple[str, int]:
    family, _, number = rule.partition("-")
    return family, int(number)
