"""A module that reaches into private state, for the guard of ``tests/test_structure.py`` to
flag: never imported."""

from refmodel.values import _hidden  # type: ignore[attr-defined]  # noqa: F401


def reach(world: object) -> object:
    return world._clock  # type: ignore[attr-defined]
