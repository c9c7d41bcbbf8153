"""The spec guard: the rule list of ``specs/workpool.md`` and the rules the tests cite (DESIGN §6).

- every rule heading has a unique ID and is followed by its ``Profiles:`` line;
- every ID a test cites with ``checks(...)`` (``tests/spec.py``) is a rule of the spec, and every
  rule of the spec is cited by at least one test;
- ``specs/lifecycle.md`` is exactly what ``refmodel.workpool.lifecycle.markdown()`` generates.

Citations are read from the source of ``tests/*.py`` (not by importing the tests), as the calls
``checks(...)`` whose arguments are string literals; mentions in docstrings or comments do not
count, and a call with any other argument fails the guard, so that every cited ID can be found
with ``grep``.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from refmodel.workpool import lifecycle
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "workpool.md"
LIFECYCLE = ROOT / "specs" / "lifecycle.md"
TESTS = ROOT / "tests"
HEADING = re.compile(r"^### ([A-Z]+-\d+): ", re.MULTILINE)
RULE_ID = re.compile(r"[A-Z]+-\d+\Z")


def spec_rule_ids() -> list[str]:
    """The rule IDs of the spec's headings, in file order (duplicates kept)."""
    return HEADING.findall(SPEC.read_text(encoding="utf-8"))


def _is_checks_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "checks") or (
        isinstance(func, ast.Attribute) and func.attr == "checks"
    )


def cited_rule_ids() -> dict[str, list[str]]:
    """Every rule ID cited in ``tests/*.py``, with the files that cite it.

    Raises:
        AssertionError: a ``checks(...)`` call has an argument that is not a literal rule ID.
    """
    cited: dict[str, list[str]] = {}
    for path in sorted(TESTS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not _is_checks_call(node):
                continue
            assert isinstance(node, ast.Call)
            for arg in node.args:
                assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                    f"{path.name}:{node.lineno}: checks() takes rule IDs as string literals"
                )
                assert RULE_ID.match(arg.value), (
                    f"{path.name}:{node.lineno}: {arg.value!r} is not a rule ID like 'PAR-1'"
                )
                cited.setdefault(arg.value, []).append(path.name)
            assert not node.keywords, f"{path.name}:{node.lineno}: checks() takes no keywords"
    return cited


@checks()
def test_spec_rule_ids_are_unique() -> None:
    ids = spec_rule_ids()
    duplicates = sorted(rule for rule, count in Counter(ids).items() if count > 1)
    assert duplicates == []
    assert len(ids) > 0


@checks()
def test_every_rule_heading_is_followed_by_its_profiles_line() -> None:
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    missing = [
        line
        for i, line in enumerate(lines)
        if HEADING.match(line + "\n")
        and not (i + 1 < len(lines) and lines[i + 1].startswith("Profiles: "))
    ]
    assert missing == []


@checks()
def test_level_three_headings_are_used_only_for_rules() -> None:
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    others = [line for line in lines if line.startswith("### ") and not HEADING.match(line)]
    assert others == []


@checks()
def test_every_cited_rule_exists_in_the_spec() -> None:
    rules = set(spec_rule_ids())
    unknown = {rule: files for rule, files in cited_rule_ids().items() if rule not in rules}
    assert unknown == {}


@checks()
def test_every_spec_rule_is_cited_by_a_test() -> None:
    cited = cited_rule_ids()
    uncited = [rule for rule in spec_rule_ids() if rule not in cited]
    assert uncited == []


@checks("LIF-1")
def test_lifecycle_md_is_generated_from_the_code() -> None:
    assert LIFECYCLE.read_bytes() == lifecycle.markdown().encode("utf-8")
