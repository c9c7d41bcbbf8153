"""How tests name the spec rules they check.

Decorate a test function (or a state machine's invariant) with ``@checks("PAR-1", ...)``.
``tests/test_spec.py`` reads every ``checks(...)`` in the tests and keeps that set of rule IDs
and the rule headings in ``specs/workpool.md`` in step (DESIGN §6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def checks(*rule_ids: str) -> Callable[[F], F]:
    """Mark a test as checking the given spec rules; the IDs are kept on ``__rules__``."""

    def mark(test: F) -> F:
        existing: tuple[str, ...] = getattr(test, "__rules__", ())
        test.__rules__ = existing + rule_ids  # type: ignore[attr-defined]
        return test

    return mark
