"""``check TRACE.jsonl``: check a trace an implementation recorded against the spec's rules
(:mod:`refmodel.checker`; ``specs/checker.md``). Exit 0: no violations; 1: violations, one a
line; 2: the trace cannot be read."""

from __future__ import annotations

import argparse

from refmodel.cli.args import Commands, non_negative, path, pool_limit
from refmodel.constants import DEVIATIONS


def register(commands: Commands) -> None:
    """Add the ``check`` command."""
    check = commands.add_parser(
        "check", help="check a recorded trace (JSON Lines) against the spec's rules"
    )
    check.add_argument("trace", metavar="TRACE.jsonl", type=path,
                       help="the trace to check; - reads standard input")
    check.add_argument("--profile", choices=["seed", "current"],
                       help="override the trace's world_started profile")
    for flag, what in (
        ("start-lag-ms", "a start may lag the instant it became possible by up to MS"),
        ("completion-lag-ms", "an end, a cancel of waiting work or an onComplete may be "
         "recorded up to MS late"),
        ("eviction-slack-ms", "an eviction may come up to MS after finish + ttl (seed)"),
        ("timeout-slack-ms", "a timeout may come up to MS after start + timeout (seed)"),
        ("early-start-ms", "a start may come up to MS before its runAt or retryAt"),
    ):
        check.add_argument(f"--{flag}", type=non_negative, default=0, metavar="MS",
                           help=f"{what} (default 0)")
    check.add_argument("--end-ms", type=non_negative, default=None, metavar="MS",
                       help="the trace holds every event up to this instant")
    check.add_argument("--max-parallelism", type=pool_limit, action="append", default=[],
                       metavar="POOL=N", help="a pool's maxParallelism (overrides the trace)")
    check.add_argument("--no-pool-retry", action="store_true",
                       help="do not assume the pool's defaultRetryBehavior for items whose "
                            "enqueued event gives no retry")
    check.add_argument("--deviation", type=_deviation, action="append", default=[],
                       metavar="RULE/NAME",
                       help="a documented deviation the implementation declares (repeatable): "
                            + ", ".join(sorted(DEVIATIONS)))
    check.set_defaults(run=_check)


def _deviation(text: str) -> str:
    if text not in DEVIATIONS:
        raise argparse.ArgumentTypeError(
            f"unknown deviation {text!r}; known: {', '.join(sorted(DEVIATIONS))}"
        )
    return text


def _check(args: argparse.Namespace) -> int:
    from refmodel.checker import CheckOptions, check_file

    options = CheckOptions(
        profile=args.profile,
        start_lag_ms=args.start_lag_ms,
        completion_lag_ms=args.completion_lag_ms,
        eviction_slack_ms=args.eviction_slack_ms,
        timeout_slack_ms=args.timeout_slack_ms,
        early_start_ms=args.early_start_ms,
        deviations=frozenset(args.deviation),
        end_ms=args.end_ms,
        max_parallelism=dict(args.max_parallelism),
        assume_pool_retry=not args.no_pool_retry,
    )
    report = check_file(args.trace, options)
    print(f"{args.trace}: {report.text()}")
    return 0 if report.ok else 1
