"""How long going back takes, next to playing the run: ``python -m refmodel.debugger.replay_bench
--jobs N``.

A session rewinds by replaying its run (worlds hold live coroutines, which cannot be
copied), so ``back`` from move k costs about what playing to move k cost. This plays a
scenario of N 10 ms actions through a pool of 10 to its end, then goes back one move, and
prints ``moves=M play_s=S back_s=B back_per_play=R`` (wall-clock seconds; R is the ratio).
"""

from __future__ import annotations

import argparse
import time  # wall-clock ok: the benchmark times the debugger from outside

from refmodel.debugger.session import Session
from refmodel.scenario import load


def measure(jobs: int) -> str:
    """Play, go back one move, and return the one-line report."""
    scenario = load({
        "profile": "current", "seed": 1, "pools": {"p": {"maxParallelism": 10}},
        "functions": {"f": {"kind": "action", "attempts": [{"durationMs": 10, "returns": 1}]}},
        "steps": [{"op": "enqueueBatch", "pool": "p", "fn": "f", "argsList": [{}] * jobs,
                   "refs": [f"r{i}" for i in range(jobs)]}],
    })
    session = Session.from_scenario(scenario)
    began = time.perf_counter()  # wall-clock ok
    session.play()
    played = time.perf_counter() - began  # wall-clock ok
    moves = session.position
    began = time.perf_counter()  # wall-clock ok
    session.back(1)
    back = time.perf_counter() - began  # wall-clock ok
    ratio = back / played if played > 0 else float("inf")
    return f"moves={moves} play_s={played:.3f} back_s={back:.3f} back_per_play={ratio:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print its line."""
    parser = argparse.ArgumentParser(prog="python -m refmodel.debugger.replay_bench")
    parser.add_argument("--jobs", type=int, default=10_000)
    print(measure(parser.parse_args(argv).jobs))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
