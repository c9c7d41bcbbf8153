"""The one error hierarchy of refmodel.

Every error the model raises is a :class:`RefmodelError`. Errors about a caller's input also
subclass the matching built-in (``ValueError``, ``TypeError``, ``LookupError``) so that code
written against plain Python keeps working. A call that raises one of the input errors has left
the world exactly as it was (spec rule ERR-1).

The second group, :class:`WorkFailed`, :class:`PollTimeout`, :class:`WorkEvicted` and
:class:`ConflictError`, are the errors that *simulated* code sees: they are raised inside
actions and mutations, and when user code does not catch them they become the error message of
the function that raised them, exactly as a thrown ``Error`` would in Convex.
"""

from __future__ import annotations


class RefmodelError(Exception):
    """Base class of every error raised by refmodel."""


class InvalidArgument(RefmodelError, ValueError):
    """A value has the right type but is outside what is allowed (a range, a format, a state).

    Raised before any state changes: the world is left as it was.
    """


class InvalidType(RefmodelError, TypeError):
    """A value has the wrong type (for example a float where an integer number of ms is needed,
    or an argument that is not a JSON-like value).

    Raised before any state changes: the world is left as it was.
    """


class UnknownFunction(RefmodelError, LookupError):
    """A function reference names no function registered with the world."""


class UnknownWorkId(RefmodelError, LookupError):
    """A work id was not issued by the pool it was given to (rules STS-4, CAN-5)."""


class ForeignWorkId(RefmodelError, ValueError):
    """``pool.ctx(ctx).scheduler.cancel`` got an id its scheduler did not issue (rule CAN-4)."""


class UnknownScheduledId(RefmodelError, LookupError):
    """A scheduled-function id was not issued by the world's plain scheduler."""


class EmptySchedule(RefmodelError, IndexError):
    """``step()`` was called with no event left to process (rule CLK-4)."""


class NotInAction(RefmodelError, RuntimeError):
    """An operation that needs an action's context (awaiting time) was used elsewhere."""


class ReentrantCall(RefmodelError, RuntimeError):
    """The world was driven from inside itself (rule CLK-6): a handler (an action, mutation,
    query or onComplete), or any event's code, called ``step``, ``run_until``,
    ``run_until_idle``, ``run``, ``run_until_event`` or a driver call (``world.run_action``,
    ``run_mutation``, ``run_query``). Nothing changed; inside a handler, use its ``ctx``.
    """


class StepLimitExceeded(RefmodelError, RuntimeError):
    """A run processed ``max_steps`` events without reaching its goal.

    The world is left consistent at the last processed event and can be run further.
    """


class WorkFailed(RefmodelError):
    """Raised inside simulated code by ``try_result``/``poll_result`` for work that ended in
    an error; the message is the stored error string (``"Canceled"``, ``"Timeout"`` or the
    message the function threw)."""


class PollTimeout(RefmodelError):
    """Raised inside simulated code when ``poll_result`` gives up (rule RES-3)."""


class WorkEvicted(RefmodelError, LookupError):
    """Raised by ``try_result``/``poll_result`` for work whose result was evicted (rule TTL-2)."""


class ConflictError(RefmodelError):
    """A mutation's commit conflicted with a commit made during its run (rule OCC-2)."""


class NonRetryableError(RefmodelError):
    """Raise this in an action (or a function it calls) to end the work as failed on this
    attempt, with no retry (rule RTY-4). The message is the work's error. It keeps its meaning
    across nested calls: an action whose ``ctx.run_mutation`` raised it sees it again."""
