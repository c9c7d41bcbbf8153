"""The function registry: the actions, mutations and queries a world knows by name.

Register a function with a world's decorators (``@world.action()``, ``@world.mutation()``,
``@world.query()``); the decorator returns a :class:`FunctionRef`, the model's counterpart of
Convex's ``api.module.fn`` references, which every API that runs or enqueues a function takes
(a registered name as a ``str`` works too). Actions must be ``async def`` coroutine functions;
mutations and queries are plain functions. A mutation declares how long it runs
(``duration_ms``): its reads happen at its start and its writes commit at the end, which is what
makes OCC conflicts between concurrent mutations possible (rule EXE-2).

An action can also be *declared as data* (``world.declare_action(...)``): each attempt runs a
number of milliseconds and then ends as an :class:`Ending` says (returns a value, throws,
throws a non-retryable error, or hangs), both given as constants or computed from the args and
the attempt number by plain functions. This is what scenario files describe (DESIGN §4), and it
runs without a coroutine, a context or a sleep per attempt: a declared action of duration
``d > 0`` behaves exactly like ``async def f(ctx, args): await ctx.sleep(d); ...`` (the same
events, in the same order, at the same instants), and one of duration 0 ends at its start.
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
class Ending:
    """How an attempt of a declared action ends (DESIGN §4).

    Make one with :meth:`returns`, :meth:`throws` or :meth:`hangs`.

    Attributes:
        kind: ``"returns"``, ``"throws"`` or ``"hangs"``.
        value: what it returns (``"returns"``) or the error message (``"throws"``).
        retryable: for ``"throws"``, ``False`` when it throws a NonRetryableError (RTY-4).
    """

    kind: str
    value: Any = None
    retryable: bool = True

    @classmethod
    def returns(cls, value: Any = None) -> Ending:
        """The attempt returns ``value`` (a JSON-like value)."""
        return cls(kind="returns", value=value)

    @classmethod
    def throws(cls, message: str, *, retryable: bool = True) -> Ending:
        """The attempt throws an error with ``message`` (``retryable=False``: a
        NonRetryableError, which no retry behaviour retries)."""
        return cls(kind="throws", value=message, retryable=retryable)

    @classmethod
    def hangs(cls) -> Ending:
        """The attempt never ends on its own (only a timeout or a cancel ends it)."""
        return cls(kind="hangs")


RETURNS_NONE = Ending.returns(None)

DurationSpec = int | Callable[[dict[str, Any], int], int]
EndingSpec = Ending | Callable[[dict[str, Any], int], Ending]


@attrs.frozen(kw_only=True)
class Declared:
    """An action declared as data: how long each attempt runs and how it ends.

    ``duration_ms`` and ``ending`` are constants, or plain functions of ``(args, attempt)``
    (``attempt`` counts from 1: a pool's retries get 2, 3, ...; a direct call gets 1).
    """

    duration_ms: DurationSpec
    ending: EndingSpec


@attrs.frozen(kw_only=True, eq=False)
class FunctionDef:
    """A registered function: its reference, handler and (for mutations) duration, or for a
    declared action its :class:`Declared` behaviour (``handler`` is then ``None``).

    Compared and hashed by identity: one registration is one function.
    """

    ref: FunctionRef
    handler: Callable[..., Any] | None
    duration_ms: int = 0
    declared: Declared | None = None


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
            raise InvalidType(
                f"{article(kind.value)} handler must be callable, got {short(handler)}"
            )
        fn_name = self._new_name(handler.__name__ if name is None else name)
        is_async = inspect.iscoroutinefunction(handler)
        if kind is FunctionKind.ACTION and not is_async:
            raise InvalidType(f"action {short(fn_name)} must be an 'async def' function")
        if kind is not FunctionKind.ACTION and is_async:
            raise InvalidType(f"{kind.value} {short(fn_name)} must be a plain 'def' function")
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

    def declare(self, name: Any, duration_ms: Any, ending: Any) -> FunctionRef:
        """Register an action declared as data (see :class:`Declared`).

        Raises:
            InvalidType: the name is not a str, ``duration_ms`` is neither an int nor a
                callable, or ``ending`` is neither an :class:`Ending` nor a callable.
            InvalidArgument: the name is empty or already registered, or the duration is
                negative. Nothing is registered.
        """
        fn_name = self._new_name(name)
        if not callable(duration_ms):
            check_time(duration_ms, "duration_ms")
        if not (isinstance(ending, Ending) or callable(ending)):
            raise InvalidType(
                "ending must be an Ending (Ending.returns(...), Ending.throws(...), "
                f"Ending.hangs()) or a function of (args, attempt) giving one; got {short(ending)}"
            )
        if isinstance(ending, Ending):
            check_ending(ending, "ending")
        ref = FunctionRef(fn_name, FunctionKind.ACTION)
        declared = Declared(duration_ms=duration_ms, ending=ending)
        self._by_name[fn_name] = FunctionDef(ref=ref, handler=None, declared=declared)
        return ref

    def _new_name(self, name: Any) -> str:
        if type(name) is not str:
            raise InvalidType(f"function name must be a non-empty str, got {name!r}")
        if not name:
            raise InvalidArgument(f"function name must be a non-empty str, got {name!r}")
        if name in self._by_name:
            raise InvalidArgument(f"a function named {name!r} is already registered")
        return name

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


_ENDING_KINDS = ("returns", "throws", "hangs")


def check_ending(ending: Any, where: str) -> Ending:
    """Check that ``ending`` is a well-formed :class:`Ending` (what a declared action's
    ``ending`` gives for an attempt).

    Raises:
        InvalidType: it is not an Ending, or a ``throws`` message is not a str.
        InvalidArgument: an unknown kind.
    """
    if not isinstance(ending, Ending):
        raise InvalidType(f"{where} must be an Ending, got {short(ending)}")
    if ending.kind not in _ENDING_KINDS:
        raise InvalidArgument(
            f"{where}: kind must be one of {', '.join(_ENDING_KINDS)}, got {short(ending.kind)}"
        )
    if ending.kind == "throws" and type(ending.value) is not str:
        raise InvalidType(f"{where}: the message of a throws ending must be a str")
    return ending
