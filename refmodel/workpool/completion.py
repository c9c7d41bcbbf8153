"""Completion callbacks: an item's ``on_complete`` mutation is called once, at its terminal
instant, with its result (rules ONC-1 to ONC-3).

Theory of operation. When an item reaches a terminal state and has an ``on_complete``, the pool
schedules the call in the RESUME phase of that instant, after the terminal event: the mutation
receives ``{"work_id", "context", "result"}``, where ``result`` is the component's ``vResult``
(``{"kind": "success", "returnValue"}``, ``{"kind": "failed", "error"}`` or
``{"kind": "canceled"}``; in Python spelling ``return_value``) (rules ONC-2, ONC-3). The call
is traced as an ``on_complete`` event and runs like any driver call; the world is not idle until
it has ended.

What the callback is given, and whether it is called for a kind of result, is the profile's
:class:`CompletionPolicy`: every terminal result, in the built-in profiles.
"""

from __future__ import annotations

from typing import Any

import attrs

from refmodel.engine.clock import Clock, Phase
from refmodel.engine.functions import FunctionDef
from refmodel.engine.runtime import Run, Runtime
from refmodel.engine.tracer import Tracer
from refmodel.values import fresh
from refmodel.workpool.lifecycle import CANCELED, SUCCEEDED, State

_RESUME = int(Phase.RESUME)


@attrs.frozen
class CompletionPolicy:
    """What onComplete is given and when it is called (ONC-1, ONC-2).

    Subclass it and override a method to try other callback semantics (for example, calls
    filtered by the kind of result).
    """

    def result(self, state: State, outcome: Any) -> dict[str, Any]:
        """The terminal result as the component's ``vResult`` JSON (rule ONC-2)."""
        if state is SUCCEEDED:
            return {"kind": "success", "returnValue": fresh(outcome)}
        if state is CANCELED:
            return {"kind": "canceled"}
        return {"kind": "failed", "error": outcome}

    def calls(self, result: dict[str, Any]) -> bool:
        """Whether the onComplete is called for ``result`` (every result: rule ONC-1)."""
        return True


EVERY_RESULT = CompletionPolicy()
"""The onComplete of both built-in profiles."""


class OnCompleteCalls:
    """Calls one pool's onComplete mutations.

    Args:
        clock, tracer, runtime: the world's.
        pool: the pool's name (for the trace).
    """

    __slots__ = ("_clock", "_pool", "_runtime", "_tracer")

    def __init__(self, clock: Clock, tracer: Tracer, runtime: Runtime, pool: str) -> None:
        self._clock = clock
        self._tracer = tracer
        self._runtime = runtime
        self._pool = pool

    def schedule(
        self, fdef: FunctionDef, work_id: str, context: Any, result: dict[str, Any]
    ) -> None:
        """Call ``fdef`` for the item ``work_id`` that just ended with ``result`` (ONC-1)."""
        clock = self._clock
        clock.busy += 1  # Idle only once the callback has run.
        clock.schedule(clock.now, _RESUME, self.call, (fdef, work_id, context, result))

    def call(self, payload: tuple[FunctionDef, str, Any, dict[str, Any]]) -> None:
        """an onComplete handler is called

        Runs the callback now (the RESUME-phase event that :meth:`schedule` queued)."""
        fdef, work_id, context, result = payload
        tracer = self._tracer
        if tracer.tracing:
            data = {"fn": fdef.ref.name, "context": fresh(context), "result": fresh(result)}
            tracer.emit("on_complete", self._pool, work_id, data)
        python_result = {"kind": result["kind"]}
        if result["kind"] == "success":
            python_result["return_value"] = result["returnValue"]
        elif result["kind"] == "failed":
            python_result["error"] = result["error"]
        args = {"work_id": work_id, "context": context, "result": python_result}
        self._runtime.launch_call(fdef, args, self._done, None)

    def _done(self, run: Run) -> None:
        self._clock.busy -= 1
