"""The spec's numbers and the retry-delay formulas (:mod:`refmodel.constants`), and the clamp on
which the model and the checker must agree (rule RTY-2)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

import refmodel
from refmodel import RetryBehavior, World
from refmodel.checker import CheckOptions, check
from refmodel.constants import (
    MAX_RETRY_DELAY_MS,
    YEAR_MS,
    nominal_backoff_ms,
    retry_delay_ms,
    retry_delay_window,
)
from tests.spec import checks

PACKAGE = Path(refmodel.__file__).resolve().parent


@checks("RTY-2")
def test_the_clamp_is_one_year_of_365_days() -> None:
    assert MAX_RETRY_DELAY_MS == YEAR_MS == 365 * 24 * 60 * 60 * 1000 == 31_536_000_000


@checks("RTY-2")
@pytest.mark.parametrize(
    ("initial", "base", "retry", "jitter", "expected"),
    [
        (250, 2, 1, 0.5, 125),
        (250, 2, 1, 1.4999, 374),
        (250, 2, 3, 0.7, 700),
        (100, 1.5, 2, 1.0, 150),
        (0, 2, 50, 1.2, 0),
        (0, 2.0, 2000, 1.2, 0),  # 2.0 ** 1999 overflows, but a zero backoff stays zero.
        (10**12, 2, 1, 0.5, MAX_RETRY_DELAY_MS),
        (MAX_RETRY_DELAY_MS, 1, 1, 0.5, MAX_RETRY_DELAY_MS // 2),
        (MAX_RETRY_DELAY_MS + 1, 1, 1, 0.9999999999, MAX_RETRY_DELAY_MS - 3),
        (MAX_RETRY_DELAY_MS, 1, 1, 1.0, MAX_RETRY_DELAY_MS),
        (250, 2, 1100, 1.0, MAX_RETRY_DELAY_MS),  # An exact int beyond any float.
        (250, 2.0, 1100, 1.0, MAX_RETRY_DELAY_MS),  # A float power that overflows.
    ],
)
def test_retry_delay_is_the_floored_jittered_backoff_at_most_the_clamp(
    initial: int, base: float, retry: int, jitter: float, expected: int
) -> None:
    assert retry_delay_ms(initial, base, retry, jitter) == expected
    assert RetryBehavior(initial_backoff_ms=initial, base=base, max_attempts=retry + 1).delay_ms(
        retry, jitter
    ) == expected


@checks("RTY-2")
def test_the_nominal_backoff_beyond_a_float_is_infinite() -> None:
    assert nominal_backoff_ms(250, 2, 1100) == math.inf
    assert nominal_backoff_ms(250, 2, 3) == 1000
    assert type(nominal_backoff_ms(250, 2, 3)) is int  # Exact until the jitter multiplies it.


@checks("RTY-2")
def test_the_conformance_window_is_floor_half_to_one_and_a_half_backoffs_with_the_clamp() -> None:
    assert retry_delay_window(250, 2, 1) == (125, 375)
    assert retry_delay_window(250, 2, 2) == (250, 750)
    assert retry_delay_window(5, 2, 1) == (2, 7.5)  # Another implementation need not round.
    assert type(retry_delay_window(250, 2, 1)[1]) is int  # Whole numbers stay ints.
    assert retry_delay_window(10**12, 2, 1) == (MAX_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS)
    assert retry_delay_window(30_000_000_000, 1, 1) == (15_000_000_000, MAX_RETRY_DELAY_MS)


@checks("RTY-2", "CHK-1")
@pytest.mark.parametrize("profile", ["seed", "current"])
def test_check_accepts_the_models_trace_with_a_backoff_beyond_the_clamp(profile: str) -> None:
    world = World(seed=3, profile=profile)
    options = {"max_parallelism": 1} if profile == "seed" else {}
    pool = world.pool("p", **options)

    @world.action("flaky")
    async def flaky(ctx: object, args: dict[str, object]) -> None:
        raise RuntimeError("down")

    slow = pool.enqueue_action(
        world.client, flaky, {}, retry=RetryBehavior(max_attempts=3, initial_backoff_ms=10**12)
    )
    steep = pool.enqueue_action(
        world.client, flaky, {}, retry={"max_attempts": 3, "initial_backoff_ms": 1, "base": 1e300}
    )
    world.run_until_idle()
    delays = {
        (e.id, e.data["attempt"]): e.data["delayMs"] for e in world.trace if e.kind == "retrying"
    }
    assert delays[(slow, 1)] == delays[(slow, 2)] == delays[(steep, 2)] == MAX_RETRY_DELAY_MS
    assert delays[(steep, 1)] in (0, 1)
    assert world.now == 2 * MAX_RETRY_DELAY_MS
    report = check(world.trace_jsonl().splitlines(), options=CheckOptions(end_ms=world.now))
    assert report.ok, report.violations


@checks()
def test_no_module_writes_a_spec_number_of_its_own() -> None:
    """The numbers of :mod:`refmodel.constants` are written there and nowhere else in the
    package: a year, a day, the retry defaults' backoff, the ctx poll timeout."""
    written = {
        365 * 24 * 60 * 60 * 1000: "a year",
        24 * 60 * 60 * 1000: "a day",
        15 * 60 * 1000: "a default timeout",
    }
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "constants.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BinOp):
                try:
                    value = eval(compile(ast.Expression(node), str(path), "eval"), {})
                except Exception:
                    continue
                if value in written:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {written[value]}")
    assert found == []
