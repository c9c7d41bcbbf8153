"""The commands ``fill`` and ``conformance`` (their argument parsing is in
``refmodel.cli.conformance``)."""

from __future__ import annotations

from pathlib import Path

from refmodel.adapter import Adapter, AdapterError
from refmodel.conformance.coverage import Coverage
from refmodel.conformance.expect import fill
from refmodel.conformance.explore import explore
from refmodel.conformance.files import ConformanceError, Fixture, load_fixtures
from refmodel.conformance.run import checked_handshake, open_adapter, run_conformance


def fill_command(out: str) -> int:
    """``python -m refmodel fill --out DIR``: write the fixtures; return the exit status.

    Raises:
        ConformanceError: a bad fixture source, or ``out`` cannot be written.
    """
    try:
        written = fill(Path(out))
    except OSError as error:
        raise ConformanceError(f"cannot write fixtures to {out!r}: {error.strerror}") from None
    print(f"wrote {len(written) - 1} fixtures and index.json to {out}")
    return 0


def conformance_command(
    adapter_command: str,
    fixtures_dir: str | None,
    examples: int | None,
    out: str,
    timeout_s: float,
    *,
    seed: int = 0,
    witnesses: str | None = None,
    report: str | None = None,
    workers: int | None = None,
    cluster: str | None = None,
) -> int:
    """``python -m refmodel conformance``: 0 if no MUST fixture fails and exploring found no
    divergence, else 1.

    Fixtures run from ``fixtures_dir`` (default ``specs/fixtures``) unless only ``--explore``
    is given.

    Raises:
        ConformanceError: bad fixtures. AdapterError: the adapter misbehaved.
    """
    if (workers is not None or cluster is not None) and examples is None:
        raise ConformanceError("--workers and --cluster share out --explore N: give --explore")
    fixtures: list[Fixture] = []
    if fixtures_dir is not None or examples is None:
        fixtures = load_fixtures(Path(fixtures_dir or "specs/fixtures"))
    adapter = open_adapter(adapter_command, timeout_s)
    status = 0
    try:
        if fixtures:
            played = run_conformance(adapter, fixtures)
            print(played.text(), end="")
            status = 0 if played.ok else 1
            if report is not None:
                Path(report).write_text(played.markdown(), encoding="utf-8")
                print(f"report written to {report}")
        if examples is not None and (workers is not None or cluster is not None):
            status = max(status, _explore_scaled(adapter, adapter_command, examples, seed,
                                                 timeout_s, workers, cluster, out, witnesses))
        elif examples is not None:
            coverage = Coverage()
            from refmodel.progress import progress

            with progress(f"explore {examples} scenarios", examples) as bar:
                found = explore(adapter, examples, out=Path(out), command=adapter_command,
                                seed=seed, coverage=coverage, on_example=bar.advance)
            print(coverage.report(checked_handshake(adapter).get("features", [])), end="")
            if witnesses is not None:
                written = coverage.write_witnesses(Path(witnesses))
                print(f"explore: {len(written)} witness fixtures written to {witnesses}")
            if found is None:
                print(f"explore: no divergence in {examples} scenarios")
            else:
                status = 1
                print(f"explore: divergence [{', '.join(found.fixture.rules)}]: {found.detail}")
                print(f"explore: minimal scenario ({len(found.fixture.scenario['steps'])} "
                      f"steps) written to {found.fixture_path}")
                print(f"explore: replay it with: pytest {found.test_path}")
    except OSError as error:
        adapter.close()
        raise ConformanceError(f"cannot write to {out!r}: {error.strerror}") from None
    except AdapterError:
        _abandon(adapter)  # It misbehaved: do not wait for it to shut down politely.
        raise
    adapter.close()
    return status


def _explore_scaled(
    adapter: Adapter, command: str, examples: int, seed: int, timeout_s: float,
    workers: int | None, cluster: str | None, out: str, witnesses: str | None,
) -> int:
    """``--explore N --workers K [--cluster ADDRESS]``: print what the workers found; 1 if
    they found a divergence."""
    from refmodel.conformance.scale import explore_scaled
    from refmodel.progress import progress

    features = checked_handshake(adapter).get("features", [])
    with progress(f"explore {examples} scenarios", examples) as bar:
        run = explore_scaled(command, examples, workers=workers or 1, seed=seed,
                             timeout_s=timeout_s, cluster=cluster, out=Path(out),
                             on_block=bar.advance)
    print(run.coverage.report(features), end="")
    if witnesses is not None:
        written = run.coverage.write_witnesses(Path(witnesses))
        print(f"explore: {len(written)} witness fixtures written to {witnesses}")
    where = f"the cluster {cluster}" if cluster is not None else "this machine"
    print(f"explore: {run.coverage.scenarios} scenarios on {run.workers} worker(s) on {where} "
          f"in {run.seconds:.1f} s ({run.rate:.1f} scenarios/s)")
    for error in run.errors:
        print(f"explore: {error}")
    found = run.divergence
    if found is None:
        print(f"explore: no divergence in {run.coverage.scenarios} scenarios")
        return 2 if run.errors else 0
    print(f"explore: divergence [{', '.join(found.fixture.rules)}]: {found.detail}")
    print(f"explore: minimal scenario ({len(found.fixture.scenario['steps'])} steps) written "
          f"to {found.fixture_path}")
    print(f"explore: replay it with: pytest {found.test_path}")
    return 1


def _abandon(adapter: Adapter) -> None:
    kill = getattr(adapter, "kill", None)
    if callable(kill):
        kill()
    else:
        adapter.close()


