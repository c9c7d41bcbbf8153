"""The function registry: the actions, mutations and queries a world knows by name.

Register a function with a world's decorators (``@world.action()``, ``@world.mutation()``,
``@world.query()``); the decorator returns a :class:`FunctionRef`, the model's counterpart of
Convex's ``api.module.fn`` references, which every API that runs or enqueues a function takes
(a registered name as a ``str`` works too). Actions must be ``async def`` coroutine functions;
mutations and queries are plain functions. A mutation declares how long it runs
(``duration_ms``): its reads happen at its start and its writes commit at the end, which is what
makes OCC conflicts between concurrent mutations possible (rule EXE-2).
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any

import attrs

from refmodel.errors import InvalidArgument, InvalidType, UnknownFunction
from refmodel.values import article, check_time, short


class FunctionKind(enum.Enum):
    """The three kinds of Convex functions."""

    ACTION = "action"
    MUTATION = "mutation"
    QUERY = "query"


@attrs.frozen
class FunctionRef:
    """A reference to a registered function, as returned by the registration decorators."""

    name: str
    kind: FunctionKind

    def __repr__(self) -> str:
        return f"FunctionRef({self.name!r}, {self.kind.value})"


@attrs.frozen(kw_only=True)
class FunctionDef:
    """A registered function: its reference, handler and (for mutations) duration."""

    ref: FunctionRef
    handler: Callable[..., Any]
    duration_ms: int = 0


class Registry:
    """Functions by name, in registration order."""

    def __init__(self) -> None:
        self._by_name: dict[str, FunctionDef] = {}

    def register(
        self, kind: FunctionKind, handler: Callable[..., Any], name: str | None, duration_ms: int
    ) -> FunctionRef:
        """Register ``handler`` as a function of ``kind``.

        Raises:
            InvalidType: the handler is not callable, an action is not ``async def``, or a
                mutation or query is ``async def``.
            InvalidArgument: the name is empty or already registered, or the duration is
                negative. Nothing is registered.
        """
        if not callable(handler):
            raise InvalidType(f"{article(kind.value)} handler must be callable, got {handler!r}")
        fn_name = handler.__name__ if name is None else name
        if type(fn_name) is not str:
            raise InvalidType(f"function name must be a non-empty str, got {fn_name!r}")
        if not fn_name:
            raise InvalidArgument(f"function name must be a non-empty str, got {fn_name!r}")
        if fn_name in self._by_name:
            raise InvalidArgument(f"a function named {fn_name!r} is already registered")
        is_async = inspect.iscoroutinefunction(handler)
        if kind is FunctionKind.ACTION and not is_async:
            raise InvalidType(f"action {fn_name!r} must be an 'async def' function")
        if kind is not FunctionKind.ACTION and is_async:
            raise InvalidType(f"{kind.value} {fn_name!r} must be a plain 'def' function")
        duration = check_time(duration_ms, "duration_ms")
        if kind is not FunctionKind.MUTATION and duration:
            raise InvalidArgument(
                f"duration_ms applies to mutations only; {kind.value}s take time by awaiting"
                if kind is FunctionKind.ACTION
                else "duration_ms applies to mutations only; queries run instantly"
            )
        ref = FunctionRef(fn_name, kind)
        self._by_name[fn_name] = FunctionDef(ref=ref, handler=handler, duration_ms=duration)
        return ref

    def resolve(self, fn: Any, expected: FunctionKind | None = None) -> FunctionDef:
        """The registered function that ``fn`` (a :class:`FunctionRef` or a name) refers to.

        Raises:
            UnknownFunction: no function of that name is registered.
            InvalidType: ``fn`` is neither a reference nor a str.
            InvalidArgument: the function is not of the ``expected`` kind.
        """
        if isinstance(fn, FunctionRef):
            name = fn.name
        elif type(fn) is str:
            name = fn
        else:
            raise InvalidType(
                "a function reference must be a FunctionRef or a registered name, got "
                f"{short(fn)}"
            )
        found = self._by_name.get(name)
        if found is None:
            raise UnknownFunction(f"no function named {name!r} is registered")
        if expected is not None and found.ref.kind is not expected:
            raise InvalidArgument(
                f"{name!r} is {article(found.ref.kind.value)}, but "
                f"{article(expected.value)} is needed here"
            )
        return found

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._by_name)
