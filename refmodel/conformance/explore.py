"""Exploring: generate scenarios with Hypothesis, play each on the model and on an adapter,
compare, and shrink a divergence to a minimal fixture plus a runnable pytest file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from refmodel.adapter import Adapter, AdapterError
from refmodel.conformance.coverage import Coverage
from refmodel.conformance.expect import jitter_divergence, model_fixture
from refmodel.conformance.files import PROFILE_FEATURE, ConformanceError, Fixture
from refmodel.conformance.instants import divergences_in_either_order
from refmodel.conformance.play import Recording, play
from refmodel.conformance.run import checked_handshake
from refmodel.conformance.verdicts import (
    Divergence,
    declared_features,
    deviations_of,
    latency_of,
    trace_divergences,
)
from refmodel.workpool.profiles import as_profile


@attrs.frozen(kw_only=True)
class Divergent:
    """A (shrunk) scenario on which the adapter diverges from the model.

    Attributes:
        fixture: the scenario with the model's expectations; its rules are those the first
            divergence is evidence against.
        detail: the first divergence.
        rules: every rule any divergence on this scenario is evidence against.
        fixture_path, test_path: where it was written, if it was.
    """

    fixture: Fixture
    detail: str
    rules: tuple[str, ...]
    fixture_path: Path | None = None
    test_path: Path | None = None


EXPLORE_STABILITY_SEEDS = (1,)
"""The other seed with which the model must reproduce an explored scenario's expectations
for them to be compared (else only the trace checker judges it)."""

SHRINK_PLAYS = 150
"""At most this many scenarios are played while shrinking a divergence: past it, the
smallest found so far is the answer (so a slow adapter cannot make exploring slow)."""


def scenario_strategy(features: Iterable[str], deviations: Iterable[str] = ()) -> Any:
    """A Hypothesis strategy of small scenarios that use only ``features``, and every one of
    them somewhere.

    One or two pools (with, where declared, retry defaults, timeouts and a ttl), up to three
    declared actions of up to three attempts (returns, throws, and where declared
    throwsNonRetryable and hangs), a mutation that may throw, a query, an onComplete mutation,
    and up to eight steps: enqueues with options (retry with small backoffs, on a mutation
    too, runAt or runAfter, onComplete with a context), batches, cancels and status reads
    (of the pool's own ids or another pool's), cancelAll with or without a limit, configure
    (a pause included), and advances with small deltas biased to the boundaries of the
    durations (0, 1, 9, 10, 11 ms). Return values differ per function and attempt, so that
    items ending at one instant are told apart. It shrinks towards fewer steps and smaller
    times.

    Returns:
        The strategy, or ``None`` when the features name neither status API.
    """
    from hypothesis import strategies as st

    declared = set(features)
    profiles = [profile for profile, api in PROFILE_FEATURE.items() if api in declared]
    if not profiles:
        return None
    palettes = st.lists(st.one_of(st.sampled_from([1, 10]), st.integers(1, 40)),
                        min_size=1, max_size=2)
    deltas = st.one_of(st.sampled_from([0, 1, 9, 10, 11]), st.integers(0, 50))
    ignores_retry = "ENQ-5/retry-on-mutation-ignored" in set(deviations)
    # A fixture pins cancelAll's later pages landing late; exploring it would only find it again.
    paged = "CAN-7/paged-cancel-all" in set(deviations)
    backoffs = st.sampled_from([0, 5, 10, 20])
    contexts = st.one_of(st.none(), st.integers(0, 9), st.sampled_from([{"user": "ada"},
                                                                        ["x", 1]]))
    endings = ["returns", "throws"]
    endings += [name for name, feature in (("throwsNonRetryable", "nonRetryable"),
                                           ("hangs", "hang")) if feature in declared]

    def retry_behavior(draw: Any) -> dict[str, Any]:
        return {"maxAttempts": draw(st.integers(1, 3)), "initialBackoffMs": draw(backoffs),
                "base": 2}

    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        profile = draw(st.sampled_from(profiles))
        rules = as_profile(profile).options
        # Most durations come from a palette of one or two, so that items often end at one
        # instant (where slots, results and callbacks must still be told apart).
        palette = draw(palettes)
        durations = st.one_of(st.sampled_from(palette), st.sampled_from(palette),
                              st.sampled_from([0, 1, 10]), st.integers(0, 40))
        pools: dict[str, dict[str, Any]] = {}
        for i in range(draw(st.integers(1, 2))):
            options: dict[str, Any] = {"maxParallelism": draw(st.sampled_from([1, 1, 2, 3]))}
            if rules.timeouts and "timeouts" in declared and draw(st.booleans()):
                options["actionTimeoutMs"] = draw(st.integers(1, 40))
                if "mutations" in declared and draw(st.booleans()):
                    options["mutationTimeoutMs"] = draw(st.integers(1, 40))
            if rules.keeps_results and "ttl" in declared and draw(st.booleans()):
                # Short enough that evictions happen while the scenario is still observed.
                options["ttl"] = draw(st.one_of(st.sampled_from([1, 10]), st.integers(1, 40)))
            if "retries" in declared and draw(st.booleans()):
                options["retryActionsByDefault"] = draw(st.booleans())
                options["defaultRetryBehavior"] = retry_behavior(draw)
            pools[f"p{i}"] = options
        functions: dict[str, dict[str, Any]] = {}
        for i in range(draw(st.integers(1, 3))):
            attempts = []
            for k in range(draw(st.integers(1, 3))):
                ending = draw(st.sampled_from(endings))
                attempt: dict[str, Any] = {"durationMs": draw(durations)}
                if ending == "returns":
                    attempt["returns"] = draw(st.sampled_from([f"f{i}.{k}", i * 10 + k]))
                elif ending == "hangs":
                    attempt["hangs"] = True
                else:
                    attempt[ending] = f"e{draw(st.integers(0, 9))}"
                attempts.append(attempt)
            functions[f"f{i}"] = {"kind": "action", "attempts": attempts}
        if "mutations" in declared and draw(st.booleans()):
            mutation: dict[str, Any] = {
                "kind": "mutation",
                "durationMs": draw(durations) if "mutation-durations" in declared else 0,
            }
            if draw(st.booleans()):
                mutation["throws"] = "m failed"
            else:
                mutation["returns"] = "m"
            functions["m"] = mutation
        if "queries" in declared and draw(st.booleans()):
            functions["q"] = {"kind": "query", "returns": ["q"]}
        if "onComplete" in declared:
            functions["done"] = {"kind": "mutation", "recordsOnComplete": True}
        work = sorted(name for name in functions if name != "done")
        ops = ["enqueue", "enqueue", "enqueue", "advance", "advance"]
        ops += [op for op, feature in (("cancel", "cancel"), ("cancel", "cancel"),
                                       ("cancelAll", "cancelAll"),
                                       ("enqueueBatch", "batch"), ("configure", "configure"),
                                       ("configure", "configure"))
                if feature in declared]
        ops += ["status"]
        steps: list[dict[str, Any]] = []
        refs: list[str] = []
        for _ in range(draw(st.integers(1, 8))):
            op = draw(st.sampled_from(ops))
            if op in ("cancel", "status") and not refs:
                op = "enqueue"
            pool = draw(st.sampled_from(sorted(pools)))
            if op == "advance":
                steps.append({"op": "advance", "ms": draw(deltas)})
            elif op in ("cancel", "status"):
                steps.append({"op": op, "pool": pool, "ref": draw(st.sampled_from(refs))})
            elif op == "cancelAll":
                step: dict[str, Any] = {"op": op, "pool": pool}
                if not paged and draw(st.booleans()):
                    step["limit"] = draw(st.integers(1, 2))
                steps.append(step)
            elif op == "configure":
                limits = [0, 0, 1, 2, 3] if rules.min_parallelism == 0 else [1, 2, 3]  # 0: pause.
                steps.append({"op": op, "pool": pool,
                              "maxParallelism": draw(st.sampled_from(limits))})
            else:
                fn = draw(st.sampled_from(work))
                options = {}
                # A retry on a mutation or query is refused (ENQ-5): seldom try one, and not at
                # all where the adapter declares the deviation that accepts it (a fixture pins
                # that behaviour; exploring it again would only find it again).
                action = functions[fn]["kind"] == "action"
                odds = 1 if action else 9
                if "retries" in declared and (action or not ignores_retry) and draw(
                    st.integers(0, odds)
                ) == 0:
                    options["retry"] = draw(st.one_of(st.booleans(), st.builds(
                        dict, maxAttempts=st.integers(1, 3), initialBackoffMs=backoffs,
                        base=st.just(2))))
                if "runAt" in declared and draw(st.booleans()):
                    if draw(st.booleans()):
                        options["runAfter"] = draw(st.integers(0, 30))
                    else:
                        options["runAt"] = draw(st.integers(0, 40))
                if "onComplete" in declared and draw(st.booleans()):
                    options["onComplete"] = "done"
                    options["context"] = draw(contexts)
                step = {"op": op, "pool": pool, "fn": fn}
                if op == "enqueue":
                    refs.append(f"w{len(refs) + 1}")
                    step.update({"args": {}, "ref": refs[-1]})
                else:
                    batch = [f"w{len(refs) + i + 1}" for i in range(draw(st.integers(1, 3)))]
                    refs.extend(batch)
                    step.update({"argsList": [{} for _ in batch], "refs": batch})
                if options:
                    step["options"] = options
                steps.append(step)
        return {"profile": profile, "seed": 0, "pools": pools, "functions": functions,
                "steps": steps}

    return build()


def explore(
    adapter: Adapter,
    examples: int,
    *,
    out: Path | None = None,
    command: str = "model",
    seed: int = 0,
    coverage: Coverage | None = None,
    on_example: Callable[[], None] | None = None,
) -> Divergent | None:
    """Generate small scenarios, play each on the model and on ``adapter``, compare.

    Scenarios use only the features the adapter declares. Two oracles judge each: the
    model's expectations (when they do not depend on its jitter draw: retries that meet
    contention or cancels may make them) and the trace checker on the adapter's own trace
    (``refmodel.checker``, which never depends on the draw). On a divergence Hypothesis shrinks
    the scenario (fewer steps, smaller times); functions no step uses are dropped; the minimal
    one is written to ``out`` as a fixture and as a pytest file that replays it with
    ``command``.

    Args:
        coverage: if given, every generated scenario (until the first divergence) is counted
            in it (``refmodel.conformance.coverage``).
        on_example: if given, called as each scenario is tried (a progress bar).

    Returns:
        The minimal divergence, or ``None`` if none was found in ``examples`` scenarios.

    Raises:
        AdapterError: the adapter crashed, hung or answered garbage.
        ConformanceError: Hypothesis is not installed, or the adapter declares no status API.
    """
    try:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as hypothesis_seed
    except ImportError:  # pragma: no cover - hypothesis is a run-time dependency
        raise ConformanceError(
            "--explore needs hypothesis: pip install hypothesis"
        ) from None

    handshake = checked_handshake(adapter)
    strategy = scenario_strategy(sorted(declared_features(handshake)),
                                 sorted(deviations_of(handshake)))
    if strategy is None:
        raise ConformanceError(
            "the adapter declares neither seed-api nor current-api: nothing to explore"
        )
    latency = latency_of(handshake)
    declared = deviations_of(handshake)
    failures: list[tuple[Fixture, list[Divergence]]] = []
    broken: list[AdapterError] = []

    def judge(fixture: Fixture, stable: bool) -> list[Divergence]:
        recording = play(adapter, fixture.scenario)
        found = (divergences_in_either_order(fixture.expect, recording, latency, declared)
                 if stable else [])
        return sorted([*found, *trace_divergences(recording, handshake)],
                      key=lambda d: (d.at, d.rank))

    shrinking = [0]

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        verbosity=Verbosity.quiet,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def probe(scenario: dict[str, Any]) -> None:
        if on_example is not None:
            on_example()  # Progress, on a terminal.
        if broken:
            return
        if failures:
            shrinking[0] += 1
            if shrinking[0] > SHRINK_PLAYS:
                return  # Enough shrinking: what is found so far stands.
        fixture, stable, model = _explore_fixture(scenario)
        if coverage is not None and not failures:
            coverage.record(model, fixture if stable else None)
        try:
            found = judge(fixture, stable)
        except AdapterError as error:
            broken.append(error)
            return
        if found:
            failures.append((fixture, found))
            raise AssertionError(found[0].what)

    try:
        probe()
    except Exception:
        if broken:
            raise broken[0] from None
        if not failures:
            raise
    if broken:
        raise broken[0]
    if not failures:
        return None
    fixture, found = failures[-1]
    slim = _without_unused_functions(fixture.scenario)
    if slim != fixture.scenario:
        slim_fixture, slim_stable, _ = _explore_fixture(slim)
        slim_found = judge(slim_fixture, slim_stable)
        if slim_found:
            fixture, found = slim_fixture, slim_found
    fixture = attrs.evolve(fixture, rules=found[0].rules)
    every = tuple(dict.fromkeys(rule for d in found for rule in d.rules))
    result = Divergent(fixture=fixture, detail=found[0].what, rules=every)
    if out is not None:
        fixture_path, test_path = write_divergence(fixture, found[0].what, out, command)
        result = attrs.evolve(result, fixture_path=fixture_path, test_path=test_path)
    return result


def _without_unused_functions(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """``scenario`` without the declared functions that no step enqueues or calls back."""
    used = set()
    for step in scenario["steps"]:
        if "fn" in step:
            used.add(step["fn"])
        callback = step.get("options", {}).get("onComplete")
        if callback is not None:
            used.add(callback)
    functions = {name: spec for name, spec in scenario["functions"].items() if name in used}
    return {**scenario, "functions": functions}


def _explore_fixture(scenario: Mapping[str, Any]) -> tuple[Fixture, bool, Recording]:
    """The model's expectations for a generated scenario, whether they hold for other jitter
    draws too, and the model's recording."""
    text = json.dumps(scenario, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    fixture, model = model_fixture(
        name=f"explore-{digest}",
        description="A minimal scenario on which the adapter diverged from the model, "
                    "found by python -m refmodel conformance --explore.",
        rules=["LIF-1"],
        level="MUST",
        scenario=scenario,
        stability_seeds=(),
    )
    return fixture, jitter_divergence(fixture, EXPLORE_STABILITY_SEEDS) is None, model


_TEST_TEMPLATE = '''"""A divergence from the model, found by exploring with
``python -m refmodel conformance --explore``.

Replay with ``pytest {test_name}``.
The fixture beside this file holds the scenario and the observations the model makes; the
adapter below must make them too.

First divergence: {detail}
"""

from pathlib import Path

from refmodel.conformance import load_fixture, open_adapter, run_conformance

ADAPTER = {command!r}
FIXTURE = Path(__file__).with_name({fixture_name!r})


def test_{function}() -> None:
    adapter = open_adapter(ADAPTER)
    try:
        report = run_conformance(adapter, [load_fixture(FIXTURE)])
    finally:
        adapter.close()
    assert [verdict.detail for verdict in report.failures()] == []
'''


def write_divergence(fixture: Fixture, detail: str, out: Path, command: str) -> tuple[Path, Path]:
    """Write ``fixture`` and a pytest file that replays it against ``command`` into ``out``.

    Raises:
        OSError: ``out`` cannot be written.
    """
    out.mkdir(parents=True, exist_ok=True)
    fixture_path = out / f"{fixture.name}.json"
    fixture_path.write_text(fixture.to_text(), encoding="utf-8")
    function = fixture.name.replace("-", "_")
    test_path = out / f"test_{function}.py"
    safe = detail.replace("\\", "/").replace('"""', "'''")
    test_path.write_text(
        _TEST_TEMPLATE.format(
            test_name=test_path.name,
            detail=safe,
            command=command,
            fixture_name=fixture_path.name,
            function=function,
        ),
        encoding="utf-8",
    )
    return fixture_path, test_path


