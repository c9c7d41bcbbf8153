"""Exploration that scales out: ``conformance --explore N --workers K [--cluster ADDRESS]``.

Theory of operation. The N scenarios are cut into blocks of :data:`BLOCK` examples; block b is
explored with the Hypothesis seed ``(seed, b)``, so the set of scenarios depends on N and the
seed only, never on how many workers share them. The blocks are dealt round-robin to K
workers; each worker opens its own adapter (a slow implementation is what makes this worth
it) and explores its blocks one after another. The coverage of every block is summed; the
divergence of the lowest-numbered block that found one (already shrunk by its worker) is
written once, as a fixture and a pytest file that replay it anywhere, so a failure found on one
worker replays on all without sharing a Hypothesis database.

Workers are processes on this machine (``concurrent.futures``), or, with ``--cluster``, tasks
on a Dask distributed cluster: ``local`` starts a local one, ``tcp://host:8786`` uses a running
scheduler, whose workers must have refmodel (and the adapter program) installed.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import json
import time  # wall-clock ok: throughput is reported in scenarios per second of real time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from refmodel.adapter import AdapterError
from refmodel.conformance.coverage import Coverage, smaller
from refmodel.conformance.explore import Divergent, explore, write_divergence
from refmodel.conformance.files import ConformanceError, fixture_from_json

BLOCK = 25
"""Examples per block: each block is one Hypothesis run with its own seed."""

MAX_WORKERS = 256
"""The most workers ``--workers`` takes."""


@attrs.frozen(kw_only=True)
class Block:
    """``examples`` scenarios explored with the Hypothesis seed ``seed``."""

    index: int
    examples: int
    seed: int


@attrs.frozen(kw_only=True)
class BlockResult:
    """What one block found, as plain data that crosses process and machine boundaries."""

    index: int
    scenarios: int
    counts: dict[str, int]
    witnesses: dict[str, str]
    """Per rule, the smallest witness fixture, as JSON text."""
    divergence: tuple[str, str, tuple[str, ...]] | None
    """``(fixture JSON, detail, rules)`` of the block's shrunk divergence, if any."""
    error: str | None = None
    """Why the block could not be explored (its adapter misbehaved), if it could not."""


def blocks(examples: int, seed: int) -> list[Block]:
    """The blocks of ``examples`` scenarios for ``seed``: the same whatever the workers."""
    out = []
    for index, start in enumerate(range(0, examples, BLOCK)):
        out.append(Block(index=index, examples=min(BLOCK, examples - start),
                         seed=seed * 1_000_003 + index))
    return out


def deal(all_blocks: Sequence[Block], workers: int) -> list[list[Block]]:
    """``all_blocks`` dealt round-robin to ``workers`` (empty hands dropped)."""
    hands: list[list[Block]] = [[] for _ in range(workers)]
    for block in all_blocks:
        hands[block.index % workers].append(block)
    return [hand for hand in hands if hand]


def run_blocks(command: str, timeout_s: float, hand: Sequence[Block]) -> list[BlockResult]:
    """One worker: open the adapter ``command`` once and explore each block of ``hand``.

    A block whose adapter misbehaves reports the error; the worker reopens the adapter for
    the next block."""
    from refmodel.conformance.run import open_adapter

    results = []
    adapter = None
    for block in hand:
        coverage = Coverage()
        try:
            if adapter is None:
                adapter = open_adapter(command, timeout_s)
            found = explore(adapter, block.examples, out=None, command=command,
                            seed=block.seed, coverage=coverage)
        except (AdapterError, ConformanceError) as error:
            results.append(BlockResult(index=block.index, scenarios=coverage.scenarios,
                                       counts=dict(coverage.counts), witnesses={},
                                       divergence=None, error=str(error)))
            if adapter is not None:
                _close(adapter)
            adapter = None
            continue
        divergence = None if found is None else (found.fixture.to_text(), found.detail,
                                                 found.rules)
        results.append(BlockResult(
            index=block.index, scenarios=coverage.scenarios, counts=dict(coverage.counts),
            witnesses={rule: fixture.to_text() for rule, fixture in coverage.witnesses.items()},
            divergence=divergence))
    if adapter is not None:
        _close(adapter)
    return results


def _close(adapter: Any) -> None:
    try:
        adapter.close()
    except AdapterError:
        kill = getattr(adapter, "kill", None)
        if callable(kill):
            kill()


@attrs.frozen(kw_only=True)
class ScaledRun:
    """What a scaled exploration found."""

    coverage: Coverage
    divergence: Divergent | None
    errors: tuple[str, ...]
    seconds: float
    workers: int

    @property
    def rate(self) -> float:
        """Scenarios per second of wall-clock time."""
        return self.coverage.scenarios / self.seconds if self.seconds > 0 else 0.0


def explore_scaled(
    command: str,
    examples: int,
    *,
    workers: int,
    seed: int = 0,
    timeout_s: float = 10.0,
    cluster: str | None = None,
    out: Path | None = None,
    on_block: Callable[[int], None] | None = None,
) -> ScaledRun:
    """Explore ``examples`` scenarios on ``workers`` adapters of ``command`` at once.

    Args:
        cluster: ``None`` for processes on this machine; ``"local"`` for a local Dask
            cluster; else the address of a Dask scheduler.
        on_block: called with the scenarios of each block as its worker reports it.

    Raises:
        ConformanceError: a bad worker count, or a cluster that cannot be reached or used.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise ConformanceError(f"--workers must be from 1 to {MAX_WORKERS}, got {workers}")
    hands = deal(blocks(examples, seed), workers)
    began = time.perf_counter()  # wall-clock ok
    if cluster is None:
        results = _on_processes(command, timeout_s, hands, on_block)
    else:
        results = _on_cluster(cluster, command, timeout_s, hands, workers, on_block)
    seconds = time.perf_counter() - began  # wall-clock ok
    results.sort(key=lambda r: r.index)
    coverage = Coverage()
    for result in results:
        coverage.scenarios += result.scenarios
        for rule, count in result.counts.items():
            coverage.counts[rule] = coverage.counts.get(rule, 0) + count
        for rule, text in result.witnesses.items():
            fixture = fixture_from_json(json.loads(text), f"witness {rule}")
            if smaller(fixture, coverage.witnesses.get(rule)):
                coverage.witnesses[rule] = fixture
    divergence = None
    first = next((r for r in results if r.divergence is not None), None)
    if first is not None and first.divergence is not None:
        text, detail, rules = first.divergence
        fixture = fixture_from_json(json.loads(text), "divergence")
        divergence = Divergent(fixture=fixture, detail=detail, rules=rules)
        if out is not None:
            fixture_path, test_path = write_divergence(fixture, detail, out, command)
            divergence = attrs.evolve(divergence, fixture_path=fixture_path, test_path=test_path)
    errors = tuple(f"block {r.index}: {r.error}" for r in results if r.error)
    return ScaledRun(coverage=coverage, divergence=divergence, errors=errors, seconds=seconds,
                     workers=len(hands))


def _on_processes(
    command: str, timeout_s: float, hands: Sequence[Sequence[Block]],
    on_block: Callable[[int], None] | None,
) -> list[BlockResult]:
    results: list[BlockResult] = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=len(hands)) as pool:
        futures = [pool.submit(run_blocks, command, timeout_s, hand) for hand in hands]
        for future in concurrent.futures.as_completed(futures):
            for result in future.result():
                results.append(result)
                if on_block is not None:
                    on_block(result.scenarios)
    return results


def _on_cluster(
    address: str, command: str, timeout_s: float, hands: Sequence[Sequence[Block]],
    workers: int, on_block: Callable[[int], None] | None,
) -> list[BlockResult]:
    try:
        distributed: Any = importlib.import_module("distributed")  # An optional extra.
    except ImportError:
        raise ConformanceError(
            "--cluster needs Dask distributed, an optional extra: pip install "
            "'refmodel[cluster]'"
        ) from None
    local = None
    try:
        if address == "local":
            local = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None)
            client = distributed.Client(local)
        else:
            client = distributed.Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConformanceError(f"cannot reach the cluster {address!r}: {error}") from None
    try:
        futures = [client.submit(run_blocks, command, timeout_s, list(hand), pure=False)
                   for hand in hands]
        results: list[BlockResult] = []
        for hand_results in client.gather(futures):
            for result in hand_results:
                results.append(result)
                if on_block is not None:
                    on_block(result.scenarios)
        return results
    finally:
        client.close()
        if local is not None:
            local.close()
