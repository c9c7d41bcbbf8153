"""The sources of the conformance fixtures in ``specs/fixtures/`` (DESIGN §7).

Each entry of :data:`FIXTURES` is a scenario (``refmodel.scenario``) with a name, a
description, the spec rules it covers and the level (MUST / SHOULD / MAY) at which an
implementation is held to it. ``python -m refmodel fill`` plays each scenario on the model and
writes it, with the observations every implementation must make, as
``specs/fixtures/<name>.json`` (``refmodel.conformance.fill``).

Writing a fixture: keep it small, make each step say one thing, and keep retried work clear of
contention and of cancel/status steps near its retry, so that what is expected does not depend
on the model's jitter draw (``fill`` refuses a fixture whose expectations do).

What the scenario format cannot express is not covered here: ``poll_result`` and the ``ctx``
wrapper (rules RES-*, CTX-*) need user code that awaits work, and OCC conflicts between
mutations need concurrent writers (see the report in ``specs/fixtures/README.md``).
"""

from __future__ import annotations

from typing import Any


def returns(ms: int, value: Any = None) -> dict[str, Any]:
    """An attempt that runs ``ms`` and returns ``value``."""
    return {"durationMs": ms, "returns": value}


def throws(ms: int, message: str) -> dict[str, Any]:
    """An attempt that runs ``ms`` and throws ``message``."""
    return {"durationMs": ms, "throws": message}


def action(*attempts: dict[str, Any]) -> dict[str, Any]:
    """A declared action whose k-th attempt behaves like ``attempts[k-1]`` (the last repeats)."""
    return {"kind": "action", "attempts": list(attempts)}


def enqueue(ref: str, fn: str, pool: str = "p", **options: Any) -> dict[str, Any]:
    """An enqueue step."""
    step: dict[str, Any] = {"op": "enqueue", "pool": pool, "fn": fn, "args": {}, "ref": ref}
    if options:
        step["options"] = options
    return step


def status(ref: str, pool: str = "p") -> dict[str, Any]:
    """A status step."""
    return {"op": "status", "pool": pool, "ref": ref}


def cancel(ref: str, pool: str = "p") -> dict[str, Any]:
    """A cancel step."""
    return {"op": "cancel", "pool": pool, "ref": ref}


def advance(ms: int) -> dict[str, Any]:
    """An advance step."""
    return {"op": "advance", "ms": ms}


def scenario(
    profile: str, pools: dict[str, Any], functions: dict[str, Any], steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """A scenario with seed 0."""
    return {"profile": profile, "seed": 0, "pools": pools, "functions": functions,
            "steps": steps}


def fails_then_hangs(
    max_attempts: int, work_ms: int, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """A current-profile scenario with one slot: a fails at 1 ms and is retried at once (up to
    ``max_attempts``), then hangs; ``steps``; b (``work_ms`` long) is enqueued; 300 ms pass."""
    retry = {"maxAttempts": max_attempts, "initialBackoffMs": 0, "base": 2}
    return scenario(
        "current", {"p": {"maxParallelism": 1}},
        {"flaky": action(throws(1, "once"), {"hangs": True}),
         "work": action(returns(work_ms, "ok"))},
        [enqueue("a", "flaky", retry=retry), *steps, enqueue("b", "work"), advance(300)],
    )


ON_COMPLETE = {"kind": "mutation", "recordsOnComplete": True}
RETRY_100 = {"maxAttempts": 5, "initialBackoffMs": 100, "base": 2}

SEED: list[dict[str, Any]] = [
    {
        "name": "enq-1-pending-until-start",
        "description": "An enqueued item reads pending until it starts, even with a free slot "
                       "(the start happens after the call, at the same instant), then "
                       "inProgress, then success with its result; the clock reads exactly the "
                       "advanced time.",
        "rules": ["ENQ-1", "STS-1", "STS-2", "CLK-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, 1))},
            [enqueue("a", "work"), status("a"), advance(0), status("a"), advance(9),
             status("a"), advance(1), status("a")],
        ),
    },
    {
        "name": "par-1-two-slots",
        "description": "With maxParallelism 2, four 10 ms items run two at a time: two start "
                       "at 0 and two at 10, when the first two end.",
        "rules": ["PAR-1", "WC-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 2}}, {"work": action(returns(10, "done"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"),
             enqueue("d", "work"), advance(5), status("c"), advance(5), status("c"),
             advance(10)],
        ),
    },
    {
        "name": "ord-1-fifo-one-slot",
        "description": "With one slot, items start in enqueue order, each the instant the one "
                       "before it ends, whatever their durations.",
        "rules": ["ORD-1", "WC-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}},
            {"slow": action(returns(10)), "quick": action(returns(5)),
             "instant": action(returns(1))},
            [enqueue("a", "slow"), enqueue("b", "quick"), enqueue("c", "instant"),
             enqueue("d", "slow"), advance(30)],
        ),
    },
    {
        "name": "ord-1-freed-slots-in-order",
        "description": "Three slots: a, b, c start together (their order is free); d takes "
                       "the slot a frees at 10; e takes one of the two slots b and c free "
                       "at 20.",
        "rules": ["ORD-1", "WC-1", "PAR-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 3}},
            {"ten": action(returns(10)), "twenty": action(returns(20))},
            [enqueue("a", "ten"), enqueue("b", "twenty"), enqueue("c", "twenty"),
             advance(5), enqueue("d", "ten"), enqueue("e", "ten"), advance(40)],
        ),
    },
    {
        "name": "ord-2-run-after",
        "description": "Work enqueued with runAfter 50 is pending at 49 and starts at 50, "
                       "never before, although a slot is free.",
        "rules": ["ORD-2", "ENQ-6", "STS-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 2}}, {"work": action(returns(10, "x"))},
            [enqueue("a", "work", runAfter=50), enqueue("b", "work"), advance(49),
             status("a"), advance(1), status("a"), advance(20)],
        ),
    },
    {
        "name": "enq-6-past-run-at-is-clamped",
        "description": "A runAt in the past is clamped to the enqueue instant, so the item "
                       "queues behind work that was already waiting, not ahead of it.",
        "rules": ["ENQ-6", "ORD-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}},
            {"long": action(returns(100)), "work": action(returns(10))},
            [enqueue("a", "long"), advance(20), enqueue("b", "work"), advance(30),
             enqueue("c", "work", runAt=10), advance(150)],
        ),
    },
    {
        "name": "wc-1-instant-work-refills-at-once",
        "description": "With one slot, work that ends the instant it starts frees its slot in "
                       "the same instant, and the next item starts then too.",
        "rules": ["WC-1", "EXE-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}},
            {"ten": action(returns(10, 10)), "now": action(returns(0, 0)),
             "five": action(returns(5, 5))},
            [enqueue("a", "ten"), enqueue("b", "now"), enqueue("c", "five"), advance(10),
             status("b"), status("c"), advance(10)],
        ),
    },
    {
        "name": "exe-1-return-value-and-thrown-message",
        "description": "An action's return value is its result; a thrown message is its "
                       "error, as status reports.",
        "rules": ["EXE-1", "STS-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 2}},
            {"good": action(returns(5, {"n": 1, "tags": ["x"]})),
             "bad": action(throws(5, "boom"))},
            [enqueue("a", "good"), enqueue("b", "bad"), advance(5), status("a"), status("b")],
        ),
    },
    {
        "name": "exe-2-mutation-and-query-work",
        "description": "A mutation work item holds its slot for its duration and commits at "
                       "its end; a query returns at once.",
        "rules": ["EXE-2", "ENQ-7", "WC-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}},
            {"save": {"kind": "mutation", "durationMs": 20, "writes": ["counter"],
                      "returns": "saved"},
             "count": {"kind": "query", "returns": 42}},
            [enqueue("m", "save"), enqueue("q", "count"), advance(10), status("m"),
             advance(10), status("m"), status("q")],
        ),
    },
    {
        "name": "tmo-1-action-timeout",
        "description": "An action that never ends times out at start + actionTimeoutMs with "
                       "error Timeout; its slot is refilled at that instant.",
        "rules": ["TMO-1", "TMO-2", "WC-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1, "actionTimeoutMs": 50}},
            {"stuck": action({"hangs": True}), "work": action(returns(10, "after"))},
            [enqueue("a", "stuck"), enqueue("b", "work"), advance(49), status("a"),
             advance(1), status("a"), status("b"), advance(10)],
        ),
    },
    {
        "name": "tmo-1-completion-at-the-deadline-wins",
        "description": "Work that ends exactly at its timeout succeeds: the completion comes "
                       "before the deadline in the same instant.",
        "rules": ["TMO-1", "EXE-2"],
        "level": "MUST",
        "scenario": scenario(
            "seed",
            {"p": {"maxParallelism": 2, "actionTimeoutMs": 50, "mutationTimeoutMs": 20}},
            {"edge": action(returns(50, "in time")),
             "save": {"kind": "mutation", "durationMs": 20, "writes": ["doc"]}},
            [enqueue("a", "edge"), enqueue("m", "save"), advance(50), status("a"),
             status("m")],
        ),
    },
    {
        "name": "can-1-cancel-pending",
        "description": "A pending item canceled at 10 ends canceled at 10 and never starts; "
                       "the item behind it starts when the slot frees.",
        "rules": ["CAN-1", "ORD-1", "STS-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}}, {"work": action(returns(50, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"), advance(10),
             cancel("b"), status("b"), advance(100)],
        ),
    },
    {
        "name": "can-1-cancel-waiting-for-run-at",
        "description": "Work waiting for its runAt is canceled at once and never starts.",
        "rules": ["CAN-1", "ENQ-6"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}}, {"work": action(returns(10))},
            [enqueue("a", "work", runAfter=100), advance(10), cancel("a"), status("a"),
             advance(200)],
        ),
    },
    {
        "name": "can-2-cancel-running-seed",
        "description": "In the seed profile a running item canceled at 10 ends canceled at "
                       "10 and its slot is refilled at 10.",
        "rules": ["CAN-2", "WC-1", "STS-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}},
            {"long": action(returns(50, "late")), "work": action(returns(10, "next"))},
            [enqueue("a", "long"), enqueue("b", "work"), advance(10), cancel("a"),
             status("a"), advance(0), status("b"), advance(50)],
        ),
    },
    {
        "name": "can-3-cancel-finished-is-a-no-op",
        "description": "Canceling work that has finished changes nothing.",
        "rules": ["CAN-3", "STS-2"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}},
            {"work": action(returns(10, "kept")), "bad": action(throws(5, "lost"))},
            [enqueue("a", "work"), enqueue("b", "bad"), advance(20), cancel("a"),
             cancel("b"), status("a"), status("b")],
        ),
    },
    {
        "name": "ttl-1-eviction",
        "description": "A result is kept for ttl ms after the work finishes and evicted at "
                       "exactly finished_at + ttl; then status reads evicted and cancel is a "
                       "no-op.",
        "rules": ["TTL-1", "TTL-2", "STS-3"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1, "ttl": 100}},
            {"work": action(returns(10, 1))},
            [enqueue("a", "work"), advance(109), status("a"), advance(1), status("a"),
             cancel("a"), status("a")],
        ),
    },
    {
        "name": "par-1-simultaneous-ends-free-one-slot-each",
        "description": "With maxParallelism 2, two attempts that end at the same instant free "
                       "one slot each: at 10 c and d start and e still waits, until 20.",
        "rules": ["PAR-1", "WC-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 2}}, {"work": action(returns(10, "done"))},
            [*(enqueue(ref, "work") for ref in "abcdef"), advance(10), status("e"),
             advance(20)],
        ),
    },
    {
        "name": "lif-1-each-item-ends-once",
        "description": "Each item has exactly one terminal event, whichever way it ends: a "
                       "success, a failure, a cancel of running work and a timeout.",
        "rules": ["LIF-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 3, "actionTimeoutMs": 30}},
            {"good": action(returns(10, "ok")), "bad": action(throws(10, "boom")),
             "slow": action(returns(20, "late")), "stuck": action({"hangs": True})},
            [enqueue("a", "good"), enqueue("b", "bad"), enqueue("c", "slow"),
             enqueue("d", "stuck"), advance(5), cancel("c"), advance(100)],
        ),
    },
]

CURRENT: list[dict[str, Any]] = [
    {
        "name": "rty-1-retry-until-success",
        "description": "An action retried with backoff 100 ms, base 2: two failures, then "
                       "success on the third attempt; each wait is within the jitter bounds "
                       "and each retry starts at its retryAt.",
        "rules": ["RTY-1", "RTY-2", "RTY-3", "LIV-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 2}},
            {"flaky": action(throws(10, "e1"), throws(10, "e2"), returns(10, 7))},
            [enqueue("a", "flaky", retry=RETRY_100), advance(2000)],
        ),
    },
    {
        "name": "rty-1-attempts-exhausted",
        "description": "maxAttempts counts every attempt: with 3, an action that always "
                       "throws runs three times, fails with its last message, and onComplete "
                       "sees that failure once.",
        "rules": ["RTY-1", "RTY-2", "ONC-1", "ONC-2"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"never": action(throws(5, "nope")), "done": ON_COMPLETE},
            [enqueue("a", "never", retry={"maxAttempts": 3, "initialBackoffMs": 50, "base": 3},
                     onComplete="done", context={"job": 1}),
             advance(1000)],
        ),
    },
    {
        "name": "rty-4-non-retryable",
        "description": "An attempt that throws a NonRetryableError ends the work as failed "
                       "with its message, whatever retries remain.",
        "rules": ["RTY-4", "ONC-2"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"fatal": action({"durationMs": 5, "throwsNonRetryable": "fatal"}),
             "done": ON_COMPLETE},
            [enqueue("a", "fatal", retry=RETRY_100, onComplete="done"), advance(500)],
        ),
    },
    {
        "name": "rty-3-backoff-holds-no-slot",
        "description": "While a failed action waits to retry it holds no slot: with one "
                       "slot, the next item starts the instant the attempt fails.",
        "rules": ["RTY-3", "WC-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"flaky": action(throws(10, "once"), returns(5, "second")),
             "work": action(returns(20, "b"))},
            [enqueue("a", "flaky", retry={"maxAttempts": 2, "initialBackoffMs": 1000,
                                          "base": 2}),
             enqueue("b", "work"), advance(10), status("a"), status("b"), advance(3000)],
        ),
    },
    {
        "name": "rty-1-pool-default-retry",
        "description": "retryActionsByDefault retries an action enqueued without a retry "
                       "option with the pool's defaultRetryBehavior; retry false opts out.",
        "rules": ["RTY-1", "RTY-2"],
        "level": "MUST",
        "scenario": scenario(
            "current",
            {"p": {"maxParallelism": 3, "retryActionsByDefault": True,
                   "defaultRetryBehavior": {"maxAttempts": 2, "initialBackoffMs": 40,
                                            "base": 2}}},
            {"flaky": action(throws(5, "first"), returns(5, "again"))},
            [enqueue("a", "flaky"), enqueue("b", "flaky", retry=False), advance(500)],
        ),
    },
    {
        "name": "onc-1-on-complete-once-with-result",
        "description": "onComplete is called once, when the work ends, with the success and "
                       "its return value; never for an attempt that is retried.",
        "rules": ["ONC-1", "ONC-2", "ONC-3"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 2}},
            {"good": action(returns(10, {"v": 1})),
             "flaky": action(throws(10, "again"), returns(10, "second")),
             "done": ON_COMPLETE},
            [enqueue("a", "good", onComplete="done", context={"user": "u1"}),
             enqueue("b", "flaky", onComplete="done", context="b",
                     retry={"maxAttempts": 2, "initialBackoffMs": 200, "base": 2}),
             advance(1000)],
        ),
    },
    {
        "name": "onc-2-canceled-pending",
        "description": "Canceling pending work calls its onComplete with kind canceled, at "
                       "the cancel.",
        "rules": ["ONC-2", "CAN-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"work": action(returns(50, "ok")), "done": ON_COMPLETE},
            [enqueue("a", "work", onComplete="done"), enqueue("b", "work", onComplete="done"),
             advance(10), cancel("b"), status("b"), advance(100)],
        ),
    },
    {
        "name": "can-6-cancel-running-current",
        "description": "In the current profile a canceled running item runs to its end and "
                       "reports its real result; its status reads running meanwhile.",
        "rules": ["CAN-6", "STS-5", "ONC-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"long": action(returns(50, "late")), "done": ON_COMPLETE},
            [enqueue("a", "long", onComplete="done"), advance(10), cancel("a"), status("a"),
             advance(40), status("a")],
        ),
    },
    {
        "name": "can-6-cancel-running-stops-retry",
        "description": "A running attempt canceled before it fails is not retried: the work "
                       "ends canceled when the attempt fails, and onComplete sees canceled.",
        "rules": ["CAN-6", "RTY-1", "ONC-2"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"flaky": action(throws(20, "fails"), returns(5, "never")), "done": ON_COMPLETE},
            [enqueue("a", "flaky", retry=RETRY_100, onComplete="done"), advance(10),
             cancel("a"), status("a"), advance(500)],
        ),
    },
    {
        "name": "can-1-cancel-during-backoff",
        "description": "Work waiting to retry reads pending with one previous attempt; a "
                       "cancel then ends it canceled at once.",
        "rules": ["CAN-1", "RTY-3", "STS-5"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"flaky": action(throws(10, "once"), returns(5, "never"))},
            [enqueue("a", "flaky", retry={"maxAttempts": 3, "initialBackoffMs": 1000,
                                          "base": 2}),
             advance(20), status("a"), cancel("a"), status("a"), advance(3000)],
        ),
    },
    {
        "name": "can-7-cancel-all",
        "description": "cancelAll cancels the pending items at once and lets the running "
                       "one finish; work enqueued after it is untouched.",
        "rules": ["CAN-7", "CAN-6"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(50, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"), advance(10),
             {"op": "cancelAll", "pool": "p"}, enqueue("d", "work"), status("b"),
             advance(200)],
        ),
    },
    {
        "name": "enq-5-batch",
        "description": "A batch enqueue returns one id per args, in input order, and the "
                       "items start in that order.",
        "rules": ["ENQ-5", "ORD-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 2}}, {"work": action(returns(10, "ok"))},
            [{"op": "enqueueBatch", "pool": "p", "fn": "work",
              "argsList": [{"i": 1}, {"i": 2}, {"i": 3}], "refs": ["a", "b", "c"]},
             status("c"), advance(30)],
        ),
    },
    {
        "name": "enq-5-batch-is-all-or-nothing",
        "description": "A batch with an option its kind refuses (retry on a mutation) is "
                       "rejected as a whole: no item is enqueued.",
        "rules": ["ENQ-5"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 2}},
            {"save": {"kind": "mutation", "durationMs": 5}},
            [{"op": "enqueueBatch", "pool": "p", "fn": "save", "argsList": [{}, {}],
              "refs": ["a", "b"], "options": {"retry": True}},
             advance(10)],
        ),
        "deviations": {
            "ENQ-5/retry-on-mutation-ignored": {
                "scenario": scenario(
                    "current", {"p": {"maxParallelism": 2}},
                    {"save": {"kind": "mutation", "durationMs": 5}},
                    [{"op": "enqueueBatch", "pool": "p", "fn": "save", "argsList": [{}, {}],
                      "refs": ["a", "b"]}, advance(10)],
                ),
            },
        },
    },
    {
        "name": "enq-6-run-at-and-run-after",
        "description": "runAt is an absolute time and runAfter is relative to the enqueue; "
                       "each item starts at its time, in that order.",
        "rules": ["ENQ-6", "ORD-2", "ORD-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(3, "ok"))},
            [advance(5), enqueue("late", "work", runAt=40), enqueue("soon", "work",
                                                                    runAfter=20),
             advance(20), status("soon"), status("late"), advance(30)],
        ),
    },
    {
        "name": "cfg-5-pause-and-resume",
        "description": "A pool with maxParallelism 0 starts nothing; raising it to 1 starts "
                       "the oldest item at that instant.",
        "rules": ["CFG-5", "PAR-2", "STS-5", "ORD-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 0}}, {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), advance(50), status("a"),
             {"op": "configure", "pool": "p", "maxParallelism": 1}, advance(0), status("a"),
             status("b"), advance(30)],
        ),
    },
    {
        "name": "cfg-5-lower-parallelism",
        "description": "Lowering maxParallelism stops nothing that runs; new work starts only "
                       "once fewer than the new limit run.",
        "rules": ["CFG-5", "PAR-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 3}},
            {"work": action(returns(30, "ok")), "short": action(returns(5, "d"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"), advance(10),
             {"op": "configure", "pool": "p", "maxParallelism": 1}, enqueue("d", "short"),
             advance(10), status("d"), advance(20)],
        ),
    },
    {
        "name": "cfg-5-log-level-update",
        "description": "A runtime logLevel update is accepted and changes nothing else.",
        "rules": ["CFG-5"],
        "level": "SHOULD",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), {"op": "configure", "pool": "p", "logLevel": "DEBUG"},
             advance(20)],
        ),
    },
    {
        "name": "sts-5-current-status",
        "description": "The current status reads pending with previousAttempts before a "
                       "start and while waiting to retry, running while an attempt runs, and "
                       "finished once the work has ended.",
        "rules": ["STS-5", "RTY-3"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"flaky": action(throws(10, "once"), returns(10, "ok"))},
            [enqueue("a", "flaky", retry={"maxAttempts": 2, "initialBackoffMs": 1000,
                                          "base": 2}),
             status("a"), advance(5), status("a"), advance(10), status("a"), advance(2000),
             status("a")],
        ),
    },
    {
        "name": "exe-2-current-mutation-and-query",
        "description": "In the current profile mutations and queries run as work too, and "
                       "their onComplete sees their return values.",
        "rules": ["EXE-2", "ENQ-7", "ONC-2"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"save": {"kind": "mutation", "durationMs": 15, "writes": ["doc"],
                      "returns": "saved"},
             "read": {"kind": "query", "returns": [1, 2]}, "done": ON_COMPLETE},
            [enqueue("m", "save", onComplete="done"), enqueue("q", "read", onComplete="done"),
             advance(10), status("m"), advance(10)],
        ),
    },
    {
        "name": "onc-1-on-complete-once-for-canceled-work",
        "description": "onComplete is called exactly once, with kind canceled, for work "
                       "canceled while it waits to retry (at the cancel) and for work canceled "
                       "while its attempt runs (when the attempt fails, and is not retried).",
        "rules": ["ONC-1", "CAN-6"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 2}},
            {"quick": action(throws(5, "first"), returns(5, "never")),
             "slow": action(throws(20, "fails"), returns(5, "never")), "done": ON_COMPLETE},
            [enqueue("a", "quick", onComplete="done",
                     retry={"maxAttempts": 2, "initialBackoffMs": 1000, "base": 2}),
             enqueue("b", "slow", onComplete="done", retry=RETRY_100), advance(10),
             cancel("a"), cancel("b"), advance(500)],
        ),
    },
]

GAPS: list[dict[str, Any]] = [
    {
        "name": "exe-1-same-instant-results",
        "description": "Two items end at the same instant with different return values: "
                       "each keeps its own (status, and the result of its succeeded event).",
        "rules": ["EXE-1", "STS-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 2}},
            {"one": action(returns(10, "one")), "two": action(returns(10, "two"))},
            [enqueue("a", "one"), enqueue("b", "two"), advance(10), status("a"),
             status("b")],
        ),
    },
    {
        "name": "onc-2-context-and-same-instant-results",
        "description": "Two items with different contexts and return values end at the same "
                       "instant: each onComplete gets its own item's context and result.",
        "rules": ["ONC-2", "ONC-3", "EXE-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 2}},
            {"one": action(returns(10, {"value": 1})), "two": action(returns(10, [2])),
             "done": ON_COMPLETE},
            [enqueue("a", "one", onComplete="done", context={"user": "ada"}),
             enqueue("b", "two", onComplete="done", context=["bob", 2]), advance(20)],
        ),
    },
    {
        "name": "cfg-5-pause-a-running-pool",
        "description": "Setting maxParallelism 0 while an item runs lets it finish and starts "
                       "nothing more, though its slot frees; raising it to 1 starts the next "
                       "at that instant.",
        "rules": ["CFG-5", "PAR-2"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(30, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), advance(10),
             {"op": "configure", "pool": "p", "maxParallelism": 0}, advance(40), status("a"),
             status("b"), {"op": "configure", "pool": "p", "maxParallelism": 1},
             advance(0), status("b"), advance(40)],
        ),
    },
    {
        "name": "par-1-two-pools-at-once",
        "description": "Two pools of one slot each run side by side: each limit counts only "
                       "its own pool's work.",
        "rules": ["PAR-1", "WC-1", "ORD-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}, "q": {"maxParallelism": 1}},
            {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("x", "work", pool="q"),
             enqueue("y", "work", pool="q"), advance(30)],
        ),
    },
    {
        "name": "ord-1-run-at-lets-later-work-overtake",
        "description": "An item waiting for its runAt does not hold back work enqueued after "
                       "it that is eligible now: FIFO is by eligibility time first.",
        "rules": ["ORD-1", "ORD-2", "ENQ-6", "WC-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, "ok"))},
            [enqueue("later", "work", runAt=30), enqueue("now", "work"),
             enqueue("soon", "work", runAfter=15), advance(60)],
        ),
    },
    {
        "name": "cfg-5-lower-then-raise",
        "description": "Lowering maxParallelism, then raising it above the running count, "
                       "starts waiting work the instant it is raised.",
        "rules": ["CFG-5", "WC-1", "PAR-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 2}}, {"work": action(returns(30, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"),
             enqueue("d", "work"), advance(5),
             {"op": "configure", "pool": "p", "maxParallelism": 1}, advance(5),
             {"op": "configure", "pool": "p", "maxParallelism": 4}, advance(0), status("c"),
             status("d"), advance(60)],
        ),
    },
    {
        "name": "can-5-cancel-of-another-pools-id",
        "description": "A pool refuses to cancel an id another pool issued, and that item runs "
                       "on to its end.",
        "rules": ["CAN-5", "ERR-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1}, "q": {"maxParallelism": 1}},
            {"work": action(returns(10, "ok"))},
            [enqueue("a", "work", runAfter=5), cancel("a", pool="q"), advance(20),
             status("a")],
        ),
    },
    {
        "name": "sts-4-status-of-another-pools-id",
        "description": "A pool refuses the status of an id another pool issued. The current "
                       "component under convex-test answers finished: an implementation that "
                       "declares STS-4/foreign-id-finished may.",
        "rules": ["STS-4"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}, "q": {"maxParallelism": 1}},
            {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), status("a", pool="q"), advance(20)],
        ),
        "deviations": {
            "STS-4/foreign-id-finished": {
                "calls": {"1": {"result": "ok", "status": {"anyOf": [{"state": "finished"}]}}},
            },
        },
    },
    {
        "name": "enq-5-retry-on-a-mutation-batch",
        "description": "A batch of mutations with a retry option is refused whole. The current "
                       "component ignores the option instead: an implementation that declares "
                       "ENQ-5/retry-on-mutation-ignored may run the batch without retries.",
        "rules": ["ENQ-5", "RTY-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"save": {"kind": "mutation", "durationMs": 5, "throws": "conflict"}},
            [{"op": "enqueueBatch", "pool": "p", "fn": "save", "argsList": [{}, {}],
              "refs": ["a", "b"], "options": {"retry": True}}, advance(20)],
        ),
        "deviations": {
            "ENQ-5/retry-on-mutation-ignored": {
                "scenario": scenario(
                    "current", {"p": {"maxParallelism": 1}},
                    {"save": {"kind": "mutation", "durationMs": 5, "throws": "conflict"}},
                    [{"op": "enqueueBatch", "pool": "p", "fn": "save", "argsList": [{}, {}],
                      "refs": ["a", "b"]}, advance(20)],
                ),
            },
        },
    },
    {
        "name": "rty-1-failing-mutation-under-retry-by-default",
        "description": "With retryActionsByDefault, a failing action is retried, but a failing "
                       "mutation is not: it fails at once, and its onComplete says so.",
        "rules": ["RTY-1", "EXE-2", "ONC-3"],
        "level": "MUST",
        "scenario": scenario(
            "current",
            {"p": {"maxParallelism": 2, "retryActionsByDefault": True,
                   "defaultRetryBehavior": {"maxAttempts": 2, "initialBackoffMs": 1000,
                                            "base": 2}}},
            {"save": {"kind": "mutation", "durationMs": 5, "throws": "bad row"},
             "send": action(throws(5, "down"), returns(5, "sent")), "done": ON_COMPLETE},
            [enqueue("m", "save", onComplete="done"), enqueue("s", "send", onComplete="done"),
             advance(2000)],
        ),
    },
    {
        "name": "tmo-1-mutation-timeout",
        "description": "A mutation that runs past the pool's mutationTimeoutMs times out at "
                       "start + timeout, like an action past actionTimeoutMs.",
        "rules": ["TMO-1", "STS-1"],
        "level": "MUST",
        "scenario": scenario(
            "seed", {"p": {"maxParallelism": 1, "mutationTimeoutMs": 10}},
            {"slow": {"kind": "mutation", "durationMs": 30, "returns": "late"},
             "work": action(returns(5, "ok"))},
            [enqueue("m", "slow"), enqueue("a", "work"), advance(10), status("m"),
             advance(20)],
        ),
    },
    {
        "name": "rty-2-fractional-backoff",
        "description": "With an initial backoff of 5 ms the delay before the retry lies in "
                       "[2, 7.5] ms: an implementation that does not round may wait 7.3 ms.",
        "rules": ["RTY-2", "RTY-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"flaky": action(throws(5, "once"), returns(5, "ok"))},
            [enqueue("a", "flaky", retry={"maxAttempts": 2, "initialBackoffMs": 5,
                                          "base": 2}), advance(30)],
        ),
    },
    {
        "name": "rty-2-instant-failures-back-off",
        "description": "An attempt that fails without taking time is retried only after its "
                       "backoff: the clock moves on between attempts, and the work fails after "
                       "its last one.",
        "rules": ["RTY-2", "RTY-4", "CLK-5", "LIV-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"fail": action(throws(0, "no"))},
            [enqueue("a", "fail", retry={"maxAttempts": 3, "initialBackoffMs": 10,
                                         "base": 2}), advance(100)],
        ),
    },
    {
        "name": "can-7-cancel-all-with-a-limit",
        "description": "cancelAll with a page limit still cancels every waiting item (the "
                       "limit only sizes the pages the real component works in).",
        "rules": ["CAN-7"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"), advance(1),
             {"op": "cancelAll", "pool": "p", "limit": 1}, status("b"), status("c"),
             advance(20)],
        ),
        "deviations": {
            # The first page (the newest item, c) is canceled at the call; b's page lands
            # after the loop has started b, which then runs on.
            "CAN-7/paged-cancel-all": {
                "scenario": scenario(
                    "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, "ok"))},
                    [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"),
                     advance(1), cancel("c"), status("b"), status("c"), advance(20)],
                ),
            },
        },
    },
    {
        "name": "can-7-cancel-all-covers-the-same-instant",
        "description": "cancelAll cancels the waiting work enqueued at the instant of the call "
                       "as well as the work enqueued before it.",
        "rules": ["CAN-7"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), advance(1), enqueue("c", "work"),
             {"op": "cancelAll", "pool": "p"}, status("b"), status("c"), advance(20)],
        ),
    },
    {
        "name": "can-7-cancel-all-after-a-burst-of-enqueues",
        "description": "Four items enqueued into a one-slot pool, then cancelAll, then one more "
                       "at the same instant: the four are canceled and the last one runs. The "
                       "current component spares some of the burst (deviation "
                       "CAN-7/same-instant-enqueue-spared).",
        "rules": ["CAN-7", "ORD-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(1, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"),
             enqueue("d", "work"), {"op": "cancelAll", "pool": "p"}, enqueue("e", "work"),
             advance(20)],
        ),
    },
    {
        "name": "sts-5-status-while-a-cancel-is-handled",
        "description": "Two items in a one-slot pool, a cancel of the waiting one, then its "
                       "status at the same instant: finished (or, with a lag, pending). The "
                       "current component reads running while its loop handles the cancel "
                       "(deviation STS-5/canceled-reads-running).",
        "rules": ["STS-5", "CAN-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), enqueue("b", "work"), enqueue("c", "work"),
             {"op": "cancelAll", "pool": "p"}, cancel("a"), advance(0), status("a"),
             advance(30)],
        ),
    },
    {
        "name": "can-7-cancel-all-meets-a-start-of-its-instant",
        "description": "An item enqueued into an idle pool and a cancelAll at the same instant: "
                       "the model handles the call first and cancels the item; an "
                       "implementation with a declared lag may start the item before the call, "
                       "which then finds it running (spec section 8).",
        "rules": ["CAN-7", "CAN-6"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(10, "ok"))},
            [enqueue("a", "work"), {"op": "cancelAll", "pool": "p"}, status("a"), advance(20)],
        ),
    },
    {
        "name": "rty-2-work-enqueued-before-a-late-retry-decision",
        "description": "a fails at 1 ms and is retried at once, then hangs; b is enqueued at "
                       "9 ms. The model decides the retry at the failure, restarts a at 1 ms and "
                       "b waits for good; an implementation that decides it later (decidedAt, "
                       "as the current component's loop does) makes a due after b, which may "
                       "then run first (spec section 8).",
        "rules": ["RTY-2", "ORD-1"],
        "level": "MUST",
        "scenario": fails_then_hangs(2, 10, [advance(9)]),
    },
    {
        "name": "can-6-cancel-meets-an-attempt-about-to-fail",
        "description": "a's first attempt fails at 1 ms with a retry to come, and a cancel of a "
                       "at 1 ms follows; b is enqueued after it. The model ends the attempt "
                       "before the call, restarts a (it hangs) and b waits for good; an "
                       "implementation whose attempt ended after the call meets it running, "
                       "ends a canceled at the failure and runs b (spec section 8).",
        "rules": ["CAN-6", "CAN-1"],
        "level": "MUST",
        "scenario": fails_then_hangs(3, 1, [advance(1), cancel("a")]),
    },
    {
        "name": "can-1-cancel-before-the-retry-is-decided",
        "description": "a fails at 1 ms with a retry to come, then hangs; at 9 ms a is canceled "
                       "and b enqueued. The model restarts a at 1 ms, so the cancel finds it "
                       "running and b waits for good; an implementation whose loop handles the "
                       "cancel before it decides the retry (decidedAt null) ends a canceled and "
                       "runs b (spec section 8).",
        "rules": ["CAN-1", "RTY-2"],
        "level": "MUST",
        "scenario": fails_then_hangs(3, 1, [advance(9), cancel("a")]),
    },
    {
        "name": "cfg-5-new-limit-meets-a-start-of-its-instant",
        "description": "Three slots: a (it hangs) is enqueued and starts, then b is enqueued "
                       "and the limit becomes 1, all at 0 ms. The model starts b before the "
                       "call; an implementation whose start of b lagged past the call (its loop "
                       "was busy starting a) leaves b waiting for good (spec section 8).",
        "rules": ["CFG-5", "PAR-1"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 3}},
            {"stuck": action({"hangs": True}), "work": action(returns(1, "ok"))},
            [enqueue("a", "stuck"), advance(0), enqueue("b", "work"), advance(0),
             {"op": "configure", "pool": "p", "maxParallelism": 1}, advance(300)],
        ),
    },
    {
        "name": "sts-5-status-of-a-failure-held-by-a-pause",
        "description": "a fails at 1 ms with a retry to come; at 10 ms it is canceled, its "
                       "status read, and its pool paused for good. The model reads finished; an "
                       "implementation that handles failures and cancels on its loop's next "
                       "pass, which the pause holds, reads a as failed once and awaiting its "
                       "retry (spec section 8).",
        "rules": ["STS-5", "PAR-2"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"flaky": action(throws(1, "once"))},
            [enqueue("a", "flaky", retry=True), advance(10), cancel("a"), status("a"),
             {"op": "configure", "pool": "p", "maxParallelism": 0}, advance(300)],
        ),
    },
    {
        "name": "rty-4-non-retryable-then-status",
        "description": "A NonRetryableError ends an item with attempts left, and its status "
                       "reads finished at once.",
        "rules": ["RTY-4", "STS-5"],
        "level": "MUST",
        "scenario": scenario(
            "current", {"p": {"maxParallelism": 1}},
            {"card": action({"durationMs": 5, "throwsNonRetryable": "declined"},
                            returns(5, "never"))},
            [enqueue("a", "card", retry=RETRY_100), advance(5), status("a"), advance(300)],
        ),
    },
]
"""Fixtures for what the first ones left unobserved: results and contexts at one instant, a
pool paused while it runs, two pools, work overtaking a runAt, a limit lowered then raised,
another pool's ids, mutations under retry-by-default and past their timeout, fractional
backoffs, a cancelAll limit and a cancelAll at the instant of an enqueue, and the named
deviations they pin."""

FIXTURES: list[dict[str, Any]] = SEED + CURRENT + GAPS
"""Every fixture source, in the order ``fill`` writes them."""
