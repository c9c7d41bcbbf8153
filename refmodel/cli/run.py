"""``run SCENARIO.json``: play a workload written as data (``specs/scenario.schema.json``) and
print a summary per pool: what ended how, what is still waiting or running, and the start
lag (how long work waited for a slot).

Options: ``--trace FILE`` writes the trace as JSON Lines, ``--until T`` stops at virtual
time T ms (default: when the workload is over: every step made and no work pending or
running), ``--seed K`` plays with another seed than the scenario's. A scenario that fails
validation gets one line naming the JSON path of the bad field, and nothing is written.
Progress shows on a terminal (standard error) for long runs.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from refmodel.cli.args import Commands, non_negative, path, seed
from refmodel.debugger.explain import ms


def register(commands: Commands) -> None:
    """Add the ``run`` command."""
    run = commands.add_parser("run", help="play a scenario file and summarise what happened")
    run.add_argument("scenario", metavar="SCENARIO.json", type=path,
                     help="a scenario, or a conformance fixture (its scenario is played)")
    run.add_argument("--trace", metavar="FILE", type=path,
                     help="write the trace to FILE as JSON Lines")
    run.add_argument("--until", type=non_negative, metavar="T",
                     help="stop at virtual time T ms instead of when the workload is over")
    run.add_argument("--seed", type=seed, metavar="K", help="play with seed K")
    run.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from refmodel.debugger.session import Session, scenario_from_file
    from refmodel.progress import progress
    from refmodel.scenario import ScenarioError

    scenario = scenario_from_file(args.scenario)
    session = Session.from_scenario(scenario, seed=args.seed)
    out = None
    if args.trace is not None:
        try:
            out = open(args.trace, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as error:
            raise ScenarioError(f"cannot write {args.trace}: {error.strerror}") from None
    player = session.player
    horizon = args.until if args.until is not None else _script_end(scenario.steps)
    try:
        with progress(f"run {scenario.name}", horizon or None) as bar:
            session.play(args.until, on_move=lambda move: bar.update(min(move.time, horizon)))
        if out is not None:
            out.write(player.world.trace_jsonl())
    finally:
        if out is not None:
            out.close()
    sys.stdout.write(summary(session, args.until))
    return 0


def _script_end(steps: list[dict[str, object]]) -> int:
    return sum(int(str(step["ms"])) for step in steps if step["op"] == "advance")


def summary(session: object, until: int | None) -> str:
    """The text ``run`` prints for a played session."""
    from refmodel.debugger.session import Session

    assert isinstance(session, Session)
    player = session.player
    world = player.world
    recipe = session.recipe
    name = recipe.scenario.name if recipe is not None and recipe.scenario else "world"
    if until is not None:
        why = f"stopped at {ms(world.now)} (--until)"
    elif player.over:
        why = f"the workload was over at {ms(world.now)}"
    else:
        why = f"nothing was left to run at {ms(world.now)}"
    head = f"{name}: profile {world.profile.name}, seed {world.seed}"
    lines = [f"{head}; {player.moves} moves; {why}"]
    ended: dict[str, Counter[str]] = {name: Counter() for name in world.pools}
    lags: dict[str, list[tuple[int, str]]] = {name: [] for name in world.pools}
    enqueued: Counter[str] = Counter()
    for event in world.trace:
        if event.pool not in ended or event.id is None:
            continue
        if event.kind == "enqueued":
            enqueued[event.pool] += 1
        elif event.kind in ("succeeded", "failed", "canceled", "timed_out"):
            ended[event.pool][event.kind.replace("_", " ")] += 1
        elif event.kind == "started":
            lags[event.pool].append((int(event.data.get("lagMs", 0)), event.id))
    for pool in world.pools.values():
        stats = pool.statistics()
        outcomes = ", ".join(f"{count} {kind}" for kind, count in sorted(ended[pool.name].items()))
        still = [f"{n} {what}" for n, what in ((stats.running, "running"),
                                                (stats.pending, "waiting")) if n]
        parts = [part for part in (outcomes, ", ".join(still)) if part]
        lines.append(f"pool {pool.name} (max_parallelism {stats.max_parallelism}): "
                     f"{enqueued[pool.name]} enqueued; {'; '.join(parts) or 'nothing ran'}")
        if lags[pool.name]:
            worst, who = max(lags[pool.name], key=lambda lag: (lag[0], -int(lag[1].split('/')[1])))
            mean = sum(lag for lag, _ in lags[pool.name]) / len(lags[pool.name])
            lines.append(f"  start lag: max {ms(worst)} ({who}), mean {ms(mean)} over "
                         f"{len(lags[pool.name])} start(s)")
    for rejected in player.rejected:
        lines.append(f"rejected {rejected}")
    return "\n".join(lines) + "\n"
