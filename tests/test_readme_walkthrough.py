"""The README's "Debug a stuck job" walk-through runs exactly as written: its commands are
parsed out of the README and run, and what they print must be what the README shows.

A walk-through of the tools is not a rule of the spec: this test cites no rule.
"""

from __future__ import annotations

import io
import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from refmodel.cli import main
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "(refmodel) "


def walkthrough() -> list[tuple[list[str], str, str]]:
    """The walk-through's commands: ``(argv after 'python3 -m refmodel', stdin, expected
    stdout)`` in order, from the first console block of the README's section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Debug a stuck job\n", 1)[1]
    block = section.split("```console\n", 1)[1].split("```\n", 1)[0]
    commands: list[tuple[list[str], str, str]] = []
    for line in block.splitlines(keepends=True):
        if line.startswith("$ "):
            words = shlex.split(line[2:])
            assert words[:3] == ["python3", "-m", "refmodel"], line
            commands.append((words[3:], "", ""))
        else:
            argv, stdin, out = commands[-1]
            if line.startswith(PROMPT):
                stdin += line[len(PROMPT):]
            commands[-1] = (argv, stdin, out + line)
    return commands


@checks()
def test_the_readme_walkthrough_prints_what_the_readme_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    commands = walkthrough()
    assert [argv[0] for argv, _, _ in commands] == ["debug", "run", "timeline"]
    for argv, stdin, expected in commands:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(argv)
        out = capsys.readouterr()
        assert (status, out.err) == (0, ""), argv
        assert out.out == expected, argv
    perfetto = json.loads((tmp_path / "stuck-email.perfetto.json").read_text(encoding="utf-8"))
    spans = [e for e in perfetto["traceEvents"] if e["ph"] == "X"]
    email = next(e for e in spans if e["args"]["id"] == "background/13")
    assert (email["ts"], email["dur"], email["args"]["lagMs"]) == (2_000_000, 300_000, 1500)
