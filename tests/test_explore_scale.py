"""Exploration that scales out (CNF-3): the same scenarios and the same divergence whatever the
number of workers, a divergence written once, a cluster path, and bad options refused."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from refmodel.cli import main
from refmodel.conformance.files import ConformanceError
from refmodel.conformance.scale import BLOCK, blocks, deal, explore_scaled
from tests.spec import checks

ROOT = Path(__file__).resolve().parents[1]
LIFO = f"{sys.executable} {ROOT / 'tests' / 'broken_programs' / 'lifo.py'}"


@checks("CNF-3")
@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_the_blocks_are_the_same_whatever_the_workers_and_each_is_dealt_once(
    workers: int,
) -> None:
    every = blocks(130, seed=4)
    assert sum(b.examples for b in every) == 130
    assert [b.examples for b in every] == [BLOCK] * 5 + [5]
    assert len({b.seed for b in every}) == len(every)
    hands = deal(every, workers)
    dealt = sorted((b for hand in hands for b in hand), key=lambda b: b.index)
    assert dealt == every
    assert len(hands) == min(workers, len(every))


@checks("CNF-3")
def test_one_or_two_workers_explore_the_same_scenarios_and_find_the_same_divergence(
    tmp_path: Path,
) -> None:
    runs = [explore_scaled("model", 60, workers=k, seed=1) for k in (1, 2)]
    assert runs[0].coverage.counts == runs[1].coverage.counts
    assert runs[0].coverage.scenarios == runs[1].coverage.scenarios == 60
    assert runs[0].divergence is None and runs[1].divergence is None
    found = [explore_scaled(LIFO, 50, workers=k, seed=0, out=tmp_path / f"k{k}")
             for k in (1, 2)]
    first, second = (run.divergence for run in found)
    assert first is not None and second is not None
    assert first.fixture.scenario == second.fixture.scenario
    assert "ORD-1" in first.rules
    for k in (1, 2):
        written = sorted(p.name for p in (tmp_path / f"k{k}").iterdir())
        assert len(written) == 2 and written[0].endswith(".json")


@checks("CNF-3", "ERR-1")
@pytest.mark.parametrize(("argv", "message"), [
    (["--workers", "0"], "expected a positive integer"),
    (["--workers", "abc"], "expected a positive integer, got 'abc'"),
    (["--workers", "100000"], "at most 256"),
])
def test_bad_worker_counts_are_refused_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["conformance", "--adapter", "model", "--explore", "5", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@checks("CNF-3", "ERR-1")
def test_workers_without_explore_and_an_unreachable_cluster_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["conformance", "--adapter", "model", "--workers", "2"]) == 2
    assert "give --explore" in capsys.readouterr().err
    with pytest.raises(ConformanceError):
        explore_scaled("model", 5, workers=0)


@checks("CNF-3")
@pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                    reason="Dask distributed is the optional extra 'cluster'")
def test_a_local_dask_cluster_explores_the_same_scenarios() -> None:
    on_cluster = explore_scaled("model", 50, workers=2, seed=1, cluster="local")
    here = explore_scaled("model", 50, workers=1, seed=1)
    assert on_cluster.coverage.counts == here.coverage.counts
    assert on_cluster.workers == 2
