"""The public Hypothesis strategies (:mod:`refmodel.strategies`) and the pytest plugin
(:mod:`refmodel.pytest_plugin`), used the way a Convex user would use them.

The example property of the README (``examples/test_email_pool.py``) runs here, and its
shared-pool twin must be refuted: the strategies find the workload that breaks it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from refmodel import RetryBehavior, World
from refmodel.scenario import load
from refmodel.strategies import play, pool_options, retry_behaviors, scenarios, workloads
from tests.spec import checks

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
FEW = settings(max_examples=25, database=None, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])


def example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "example_email_pool", ROOT / "examples" / "test_email_pool.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@checks("PAR-1", "ORD-1")
def test_the_readme_example_property_holds_for_separate_pools() -> None:
    module = example_module()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    source = (ROOT / "examples" / "test_email_pool.py").read_text(encoding="utf-8")
    assert f"```python\n{source}```\n" in readme  # The README shows the file as it is.
    module.test_my_email_pool_never_waits_more_than_1s_behind_the_scrapes()


@checks("PAR-1", "ORD-1")
def test_the_strategies_refute_the_property_when_emails_share_the_scrapes_pool() -> None:
    module = example_module()
    shared = {"background": {"maxParallelism": 5}}
    strategy = workloads(shared, module.FUNCTIONS,
                         work=[("background", "email"), ("background", "scrape")])
    # Generation alone finds one; shrinking it (as a failing @given test does) costs more.
    found = find(strategy, lambda w: max(module.behind_the_scrapes(w), default=0) > 1000,
                 settings=settings(max_examples=300, derandomize=True, database=None,
                                   phases=[Phase.generate]))
    assert max(module.behind_the_scrapes(found)) > 1000
    scrapes = sum(len(s["refs"]) for s in found["steps"] if s.get("fn") == "scrape")
    assert scrapes >= 6  # More scrapes than slots, or no email would wait a second.


@checks("DET-1")
@FEW
@given(scenarios())
def test_drawn_scenarios_load_and_play_the_same_twice(scenario: dict[str, Any]) -> None:
    load(scenario)
    first, second = play(scenario), play(scenario)
    assert first.trace_jsonl() == second.trace_jsonl()


@checks("CFG-1", "CFG-4")
@FEW
@given(pool_options("seed"), pool_options("current", max_parallelism=20))
def test_drawn_pool_options_are_accepted(seed: dict[str, Any], current: dict[str, Any]) -> None:
    assert World(profile="seed").pool("p", **seed).options.max_parallelism == \
        seed["max_parallelism"]
    made = World(profile="current").pool("p", **current).options
    assert 0 <= made.max_parallelism <= 20


@checks("CFG-6")
@FEW
@given(retry_behaviors(max_attempts=3))
def test_drawn_retry_behaviours_are_valid(behavior: RetryBehavior) -> None:
    assert 1 <= behavior.max_attempts <= 3 and behavior.delay_ms(1, 0.5) >= 0


@checks()
def test_strategies_reject_what_they_cannot_draw() -> None:
    functions = {"f": {"kind": "action", "attempts": [{}]}}
    with pytest.raises(ValueError, match="work names pool 'q'"):
        workloads({"p": {}}, functions, work=[("q", "f")])
    with pytest.raises(ValueError, match="work names function 'g'"):
        workloads({"p": {}}, functions, work=[("p", "g")])
    with pytest.raises(ValueError, match="work must name"):
        workloads({"p": {}}, functions, work=[])
    with pytest.raises(ValueError, match="unknown profile"):
        pool_options("future")
    with pytest.raises(ValueError, match="unknown profile"):
        scenarios(profile="future")


# The pytest plugin ---------------------------------------------------------------------------


@checks("DET-1")
def test_the_world_fixture_is_fresh_and_seeded(world: World) -> None:
    assert (world.seed, world.profile.name, world.now) == (0, "seed", 0)
    assert [e.kind for e in world.trace] == ["world_started"]


@checks()
@pytest.mark.refmodel(profile="current", seed=5)
def test_the_refmodel_marker_gives_the_world_its_arguments(world: World) -> None:
    assert (world.seed, world.profile.name) == (5, "current")


FAILING_TEST = '''
import pytest

def test_stuck(world):
    pool = world.pool("p", max_parallelism=1)

    @world.action("job")
    async def job(ctx, args):
        await ctx.sleep(100)

    pool.enqueue_action(world.client, job)
    pool.enqueue_action(world.client, job)
    world.run_until(50)
    assert world.seed == 0, "wrong seed"

def test_fine(world):
    assert world.now == 0
'''


@checks()
def test_a_failing_test_reports_the_worlds_timeline_and_trace(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(test_plugin_demo=FAILING_TEST)
    traces = tmp_path / "traces"
    result = pytester.runpytest_inprocess(  # The plugin as a user gets it, installed or not.
        "-p", "no:cacheprovider", "-p", "no:refmodel", "-p", "refmodel.pytest_plugin",
        "--refmodel-seed", "7", "--refmodel-trace-lines", "3",
        "--refmodel-trace-dir", str(traces),
    )
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "refmodel timeline" in text and "seed 7, profile seed, 5 event(s) at 50 ms" in text
    assert "p/1 job |#####" in text and "p/2 job |....." in text
    assert "legend: . waiting  # running" in text
    assert "refmodel trace (last 3 events)" in text
    assert '"kind":"started","pool":"p","id":"p/1"' in text
    written = list(traces.glob("*.jsonl"))
    assert [path.name for path in written] == ["test_plugin_demo.py_test_stuck.jsonl"]
    lines = written[0].read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["data"]["seed"] == 7 and len(lines) == 5
