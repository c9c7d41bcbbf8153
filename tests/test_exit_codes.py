"""Exit codes mean one thing (ERR-1): 1 is a verdict of check or conformance and only that;
anything that keeps a command from running is 2 with one line on stderr, never a traceback.
Every command is run through a table of bad inputs."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import pytest

from refmodel.cli import EXIT_CODES, _parser, main
from tests.spec import checks

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = str(ROOT / "specs" / "fixtures")


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(argv)`` in this process: its status (argparse's exits included), stdout, stderr."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _files(tmp: Path) -> dict[str, str]:
    (tmp / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp / "junk.jsonl").write_text("not json\n", encoding="utf-8")
    (tmp / "huge.jsonl").write_text(
        '{"t":1' + "0" * 5000 + ',"seq":1,"kind":"world_started","pool":null,"id":null,'
        '"data":{}}\n', encoding="utf-8")
    (tmp / "bad.json").write_text('{"pools": 5}', encoding="utf-8")
    (tmp / "deep.json").write_text("[" * 100_000, encoding="utf-8")
    (tmp / "notutf8.jsonl").write_bytes(b"\xff\xfe\n")
    (tmp / "deep.py").write_text(
        "import sys\nfor line in sys.stdin:\n    print('[' * 100000, flush=True)\n",
        encoding="utf-8")
    (tmp / "dir").mkdir()
    files = ("empty.jsonl", "junk.jsonl", "huge.jsonl", "bad.json", "deep.json",
             "notutf8.jsonl", "deep.py", "dir")
    return {name.replace(".py", "py").split(".")[0]: str(tmp / name) for name in files}


BAD_INPUTS: list[tuple[str, list[str], str]] = [
    ("no-command", [], "the following arguments are required: COMMAND"),
    ("unknown-command", ["nope"], "invalid choice: 'nope'"),
    ("example-unknown", ["example", "nope"], "invalid choice: 'nope'"),
    ("example-seed-huge", ["example", "--seed", "9" * 30], "expected an integer seed"),
    ("example-seed-text", ["example", "--seed", "x"], "expected an integer seed, got 'x'"),
    ("trace-unknown", ["trace", "nope"], "invalid choice: 'nope'"),
    ("bench-jobs-huge", ["bench", "--jobs", "99999999999999999999999"], "at most 10,000,000"),
    ("bench-jobs-zero", ["bench", "--jobs", "0"], "expected a positive integer"),
    ("bench-jobs-float", ["bench", "--jobs", "2.5"], "expected a positive integer, got '2.5'"),
    ("bench-worlds-product", ["bench", "--worlds", "100000", "--jobs-per-world", "1000"],
     "is more than 10,000,000 jobs"),
    ("bench-parallelism-beyond-profile", ["bench", "--jobs", "10", "--parallelism", "1000"],
     "max_parallelism"),
    ("check-missing", ["check", "{tmp}/missing.jsonl"], "cannot read the file"),
    ("check-empty-path", ["check", ""], "expected a path, got an empty string"),
    ("check-nul-path", ["check", "a\x00b"], "a path cannot hold a NUL character"),
    ("conformance-nul-adapter", ["conformance", "--adapter", "a\x00b", "--fixtures", FIXTURES],
     "could not start"),
    ("check-directory", ["check", "{dir}"], "cannot read the file"),
    ("check-empty", ["check", "{empty}"], "no events"),
    ("check-junk", ["check", "{junk}"], "line 1: invalid JSON"),
    ("check-huge-number", ["check", "{huge}"], "a number of more than 4,300 digits"),
    ("check-not-utf8", ["check", "{notutf8}"], "not UTF-8 text"),
    ("check-lag-negative", ["check", "{junk}", "--start-lag-ms", "-1"],
     "expected an integer >= 0"),
    ("check-deviation-unknown", ["check", "{junk}", "--deviation", "X-1/y"],
     "unknown deviation"),
    ("fill-empty-out", ["fill", "--out", ""], "expected a path, got an empty string"),
    ("fill-out-is-a-file", ["fill", "--out", "{bad}"], "cannot write fixtures"),
    ("conformance-empty-adapter", ["conformance", "--adapter", "", "--fixtures", FIXTURES],
     "the adapter command is empty"),
    ("conformance-unquoted-adapter", ["conformance", "--adapter", "'x", "--fixtures",
                                      FIXTURES], "No closing quotation"),
    ("conformance-missing-program", ["conformance", "--adapter", "/nonexistent/adapter",
                                     "--fixtures", FIXTURES], "could not start"),
    ("conformance-nested-answer", ["conformance", "--adapter", f"{sys.executable} {{deeppy}}",
                                   "--fixtures", FIXTURES], "JSON nested too deeply"),
    ("conformance-missing-fixtures", ["conformance", "--adapter", "model", "--fixtures",
                                      "{tmp}/none"], "does not exist"),
    ("conformance-explore-zero", ["conformance", "--adapter", "model", "--explore", "0"],
     "expected a positive integer"),
    ("conformance-timeout-nan", ["conformance", "--adapter", "model", "--timeout", "nan"],
     "expected a positive number of seconds"),
    ("run-missing", ["run", "{tmp}/missing.json"], "cannot read"),
    ("run-bad-scenario", ["run", "{bad}"], "scenario: missing required field 'functions'"),
    ("run-deep-json", ["run", "{deep}"], "nested too deeply"),
    ("run-until-negative", ["run", "{bad}", "--until", "-5"], "expected an integer >= 0"),
    ("debug-missing", ["debug", "{tmp}/missing.json"], "cannot read"),
    ("debug-bad-scenario", ["debug", "{bad}"], "scenario: missing required field 'functions'"),
    ("timeline-missing", ["timeline", "{tmp}/missing.jsonl"], "cannot read"),
    ("timeline-junk", ["timeline", "{junk}"], "invalid JSON"),
    ("timeline-width-huge", ["timeline", "{junk}", "--width", "99999999"],
     "at most 10,000"),
]


@checks("ERR-1")
@pytest.mark.parametrize(("argv", "message"), [pytest.param(a, m, id=i) for i, a, m in
                                               BAD_INPUTS])
def test_every_command_refuses_bad_input_with_status_2_and_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = {"tmp": str(tmp_path), **_files(tmp_path)}
    code, _, err = run_cli([arg.format(**names) for arg in argv], capsys)
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err


@checks("ERR-1")
def test_no_bad_input_of_the_table_is_left_to_chance() -> None:
    """Every command of the parser appears in the table above."""
    parser = _parser()
    commands = {name for action in parser._subparsers._group_actions  # type: ignore[union-attr]
                for name in action.choices}  # type: ignore[union-attr]
    covered = {argv[0] for _, argv, _ in BAD_INPUTS if argv}
    assert commands - {"profiles", "lifecycle"} <= covered, commands - covered


@checks("ERR-1")
def test_every_option_of_every_command_says_what_it_does() -> None:
    parser = _parser()
    undocumented = [
        (name, action.option_strings or action.dest)
        for group in parser._subparsers._group_actions  # type: ignore[union-attr]
        for name, sub in group.choices.items()  # type: ignore[union-attr]
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert undocumented == []


@checks("CHK-1", "ERR-1")
def test_check_exits_1_for_a_violation_and_0_for_none_and_reads_standard_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, trace, _ = run_cli(["trace", "counter"], capsys)
    assert code == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(trace.encode())))
    assert run_cli(["check", "-"], capsys)[:2] == (0, "-: 105 events, profile seed: no "
                                                      "violations\n")
    code, trace, _ = run_cli(["trace", "emails"], capsys)
    path = tmp_path / "emails.jsonl"
    path.write_text(trace, encoding="utf-8")
    assert run_cli(["check", str(path)], capsys)[0] == 0
    code, out, _ = run_cli(["check", str(path), "--max-parallelism", "emailWorkpool=1"],
                           capsys)
    assert code == 1
    assert "PAR-1" in out


@checks("ERR-1")
def test_a_command_line_mistake_prints_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "refmodel", "run", str(deep)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@checks("ERR-1")
def test_the_exit_code_table_is_the_readmes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in readme
