"""The architecture, guarded: no import circle among refmodel's modules, the engine imports
nothing of the Workpool, no module reads another module's private state, and every rule of the
spec names a home module that exists and mentions it (DESIGN §6; STYLE: "a newcomer should find
where a rule lives from the file names alone")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import refmodel
from tests.spec import checks

PACKAGE = Path(refmodel.__file__).resolve().parent
ROOT = PACKAGE.parent
SPEC = ROOT / "specs" / "workpool.md"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = _modules()
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def _imports(name: str) -> set[str]:
    """Every refmodel module ``name`` imports, anywhere in it (also inside functions and
    ``if TYPE_CHECKING:``)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if candidate in MODULES:
                    found.add(candidate)
                elif node.module in MODULES:
                    found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
    return found - {name}


GRAPH = {name: _imports(name) for name in MODULES}


def _circles() -> list[list[str]]:
    """The strongly connected components of more than one module that are not only a package
    and its own submodules (a package's ``__init__`` re-exporting them is no circle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if v in PACKAGES and w.startswith(v + "."):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len([m for m in component if m not in PACKAGES]) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


@checks()
def test_no_import_circle_among_refmodels_modules() -> None:
    assert _circles() == []


@checks()
def test_the_engine_imports_nothing_of_the_workpool_nor_the_world() -> None:
    engine = [name for name in MODULES if name.startswith("refmodel.engine")]
    forbidden = {
        (name, imported)
        for name in engine
        for imported in GRAPH[name]
        if imported.startswith(("refmodel.workpool", "refmodel.world"))
    }
    assert sorted(forbidden) == []


@checks()
def test_the_workpool_imports_nothing_of_the_world() -> None:
    workpool = [name for name in MODULES if name.startswith("refmodel.workpool")]
    assert sorted(
        (name, imported)
        for name in workpool
        for imported in GRAPH[name]
        if imported == "refmodel.world"
    ) == []


def _private_names_defined(tree: ast.Module) -> set[str]:
    """The private names a module defines: functions, classes, module and class attributes,
    ``self._x`` assignments and ``__slots__`` entries."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
            names.add(node.target.attr)
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets)
            and isinstance(node.value, ast.Tuple)
        ):
            names.update(
                e.value for e in node.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    return {name for name in names if name.startswith("_")}


def _reach_ins(path: Path) -> list[str]:
    """Reads of ``x._private`` where ``x`` is not ``self``/``cls`` and the module does not
    define ``_private`` itself, and imports of another module's private names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _private_names_defined(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            attr = node.attr
            private = attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))
            owner = node.value
            is_self = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            if private and not is_self and attr not in own:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{attr}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
            "refmodel"
        ):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.endswith("__"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} import {alias.name}")
    return found


@checks()
def test_no_module_reaches_into_another_modules_private_state() -> None:
    found = [reach for path in MODULES.values() for reach in _reach_ins(path)]
    assert found == []


@checks()
def test_the_reach_in_guard_sees_a_reach_in() -> None:
    """The guard is not vacuous: it flags what it must."""
    sample = ROOT / "tests" / "structure_sample.py"
    assert [line.split(" ", 1)[1] for line in _reach_ins(sample)] == [
        "import _hidden", "._clock"
    ]


# Rule homes ------------------------------------------------------------------------------------

_RULE = re.compile(r"^### ([A-Z]+-\d+): ", re.M)
_HOME = re.compile(r"^Home: `(refmodel(?:\.[a-z_]+)*)`$", re.M)


def _rule_sections() -> dict[str, str]:
    text = SPEC.read_text(encoding="utf-8")
    marks = list(_RULE.finditer(text))
    sections = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections[mark.group(1)] = text[mark.end():end]
    return sections


def _home_files(home: str) -> list[Path]:
    """The files of the module ``home`` (a dotted name): its ``.py`` file, or every file of
    the package of that name."""
    path = ROOT.joinpath(*home.split("."))
    if path.with_suffix(".py").exists():
        return [path.with_suffix(".py")]
    return sorted(path.rglob("*.py")) if path.is_dir() else []


@checks()
def test_every_rule_names_its_home_module_and_the_module_mentions_the_rule() -> None:
    missing = []
    for rule, section in _rule_sections().items():
        home = _HOME.search(section)
        if home is None:
            missing.append(f"{rule}: no Home line")
            continue
        files = _home_files(home.group(1))
        if not files:
            missing.append(f"{rule}: {home.group(1)} does not exist")
        elif not any(rule in file.read_text(encoding="utf-8") for file in files):
            missing.append(f"{rule}: {home.group(1)} does not mention it")
    assert missing == []
