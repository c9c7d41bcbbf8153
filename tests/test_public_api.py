"""The public API guard: ``refmodel.__all__`` is exactly the list below (DESIGN §8).

Adding or removing a public name is a decision: change this list in the same change. The list
is sorted as ruff's RUF022 sorts ``__all__`` ("isort-style"): constants in capitals first, then
every other name, each group in character order.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import refmodel
from tests.spec import checks

PUBLIC_API = [
    "CURRENT_PROFILE",
    "PROFILES",
    "SEED_PROFILE",
    "ActionCtx",
    "CallFailed",
    "CallHandle",
    "ClientCtx",
    "ConflictError",
    "CurrentStatus",
    "EmptySchedule",
    "Ending",
    "ForeignWorkId",
    "FunctionKind",
    "FunctionRef",
    "InvalidArgument",
    "InvalidType",
    "JsonlWriter",
    "MemoryTrace",
    "MutationCtx",
    "NonRetryableError",
    "NotInAction",
    "Phase",
    "PollTimeout",
    "PoolCtx",
    "PoolOptions",
    "PoolScheduler",
    "PoolStatistics",
    "Profile",
    "QueryCtx",
    "ReentrantCall",
    "RefmodelError",
    "RetryBehavior",
    "SchedState",
    "ScheduledFunction",
    "SeedStatus",
    "State",
    "Step",
    "StepLimitExceeded",
    "TraceEvent",
    "UnknownFunction",
    "UnknownScheduledId",
    "UnknownWorkId",
    "WorkEvicted",
    "WorkFailed",
    "WorkId",
    "WorkInfo",
    "WorkKind",
    "Workpool",
    "World",
    "debug",
]


def _names_bound_in_init() -> set[str]:
    """Every name bound at module level in ``refmodel/__init__.py``, read from its source."""
    source = Path(refmodel.__file__).read_text(encoding="utf-8")
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


@checks()
def test_all_is_exactly_the_public_api() -> None:
    assert refmodel.__all__ == PUBLIC_API


@checks()
def test_public_api_list_is_sorted() -> None:
    assert sorted(PUBLIC_API, key=lambda name: (not name.isupper(), name)) == PUBLIC_API


@checks()
def test_every_name_in_all_is_importable() -> None:
    module = importlib.import_module("refmodel")
    missing = [name for name in refmodel.__all__ if not hasattr(module, name)]
    assert missing == []
    namespace: dict[str, object] = {}
    exec("from refmodel import *", namespace)
    assert sorted(name for name in namespace if name != "__builtins__") == sorted(PUBLIC_API)


@checks()
def test_no_public_name_of_the_package_is_missing_from_all() -> None:
    public = {name for name in _names_bound_in_init() if not name.startswith("_")}
    assert sorted(public - set(refmodel.__all__)) == []


@checks()
def test_no_public_attribute_of_the_package_is_missing_from_all() -> None:
    # Submodules become attributes of the package once imported; they are not API names.
    public = {
        name
        for name, value in vars(refmodel).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(public - set(refmodel.__all__)) == []
