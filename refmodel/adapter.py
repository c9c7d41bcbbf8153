"""Adapters: how the conformance kit drives an implementation (``specs/adapter-protocol.md``).

An adapter plays scenarios against one workpool implementation. In Python it is anything with
the methods of :class:`Adapter`; across languages it is a program that speaks the JSON Lines
protocol on stdin/stdout, which :class:`SubprocessAdapter` drives. The model itself is an
adapter both ways: :class:`ModelAdapter` in-process, and ``python -m refmodel.adapter`` as a
program (so the kit can be checked against itself through the pipe).

The protocol, in short (one JSON object per line each way; ``id`` echoes the request):

- ``{"id": 1, "method": "handshake"}`` -> ``{"protocol": 1, "name", "version", "features":
  [...], "latency": {"startLagMs": 0, ...}}``
- ``{"method": "reset", "params": {"scenario": {...}}}`` -> ``{}``: a fresh world at t=0 with
  the scenario's profile, seed, pools and declared functions (steps are not played).
- ``{"method": "call", "params": {"step": {...}}}`` -> ``{"id": "<work id>"}`` for enqueue,
  ``{"ids": [...]}`` for enqueueBatch, ``{"status": {...}}`` for status, ``{}`` otherwise.
- ``{"method": "advance", "params": {"ms": N}}`` -> ``{"now": T, "events": [...]}``: every
  trace event (``specs/trace.schema.json``) not reported yet — those of the calls made since
  the last advance, then those up to time T = now + N, events at T included; with
  ``"stalled": true`` when the clock is stuck at T < now + N (a livelock, rule CLK-5).
- ``{"method": "shutdown"}`` -> ``{}``, then the program exits.

Errors come back as ``{"id": n, "error": {"type": "...", "message": "..."}}``. A step that the
implementation rejects (bad input) is an error of type ``"InvalidArgument"`` or a subclass
name; the harness treats those as observations too.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import subprocess
import sys
import time  # wall-clock ok: per-call timeouts of an external program, not simulated time
from collections.abc import Mapping
from typing import Any, Protocol

from refmodel.constants import DEFAULT_BASE, DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_ATTEMPTS
from refmodel.engine.runtime import PENDING, ActionCtx, MutationCtx, QueryCtx, Request, Run, Runtime
from refmodel.errors import InvalidArgument, RefmodelError, StepLimitExceeded
from refmodel.scenario import FEATURES, ScenarioError, load
from refmodel.trace import MemoryTrace, TraceEvent
from refmodel.values import MAX_TIME_MS, short
from refmodel.workpool.options import RetryBehavior
from refmodel.workpool.profiles import Profile, as_profile
from refmodel.workpool.retries import DecidedAt
from refmodel.world import World

__refmodel_user_code__ = True  # The declared functions played here are user code (EXE-4).

PROTOCOL_VERSION = 2
"""The newest adapter protocol version refmodel speaks."""

PROTOCOL_VERSIONS = (1, 2)
"""The versions the harness offers in its handshake; an adapter answers with the one it
speaks (an adapter of version 1, which ignores the offer, answers 1)."""


class AdapterError(RefmodelError):
    """The adapter misbehaved: it crashed, hung past its timeout, or answered garbage."""


class AdapterTimeout(AdapterError):
    """The adapter did not answer a request within its per-call timeout (it was killed)."""

    def __init__(self, message: str, method: str) -> None:
        super().__init__(message)
        self.method = method


MAX_EVENTS_PER_ADVANCE = 20_000
"""The most trace events the model records in one ``advance``: past it, its clock is taken to
be stuck at one instant (a livelock), and it answers with ``stalled: true`` (rule CLK-5)."""


MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest protocol line either side reads (64 MiB): a longer request or answer is refused
instead of growing memory without bound (``specs/adapter-protocol.md`` section 1)."""


class _Stalled(BaseException):
    """Raised by the model adapter's trace sink past :data:`MAX_EVENTS_PER_ADVANCE` events in
    one advance; a BaseException, so that nothing on the way mistakes it for user code's."""


class Adapter(Protocol):
    """What the conformance kit needs of an implementation."""

    def handshake(self) -> dict[str, Any]:
        """Protocol version, name, version, features and latency bounds."""
        ...

    def reset(self, scenario: Mapping[str, Any]) -> None:
        """Start afresh at t=0 with the scenario's configuration."""
        ...

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        """Perform one non-advance step now; return its result (or ``{"error": ...}``)."""
        ...

    def advance(self, ms: int) -> dict[str, Any]:
        """Let ``ms`` pass; return ``{"now": T, "events": [...]}``."""
        ...

    def close(self) -> None:
        """Release the implementation."""
        ...


class _Forever(Request):
    """An await that never resumes: an attempt that hangs."""

    __slots__ = ()

    def handle(self, runtime: Runtime, run: Run) -> Any:
        return PENDING


_POOL_OPTION_NAMES = {
    "maxParallelism": "max_parallelism",
    "actionTimeoutMs": "action_timeout_ms",
    "mutationTimeoutMs": "mutation_timeout_ms",
    "unknownTimeoutMs": "unknown_timeout_ms",
    "ttl": "ttl_ms",
    "logLevel": "log_level",
    "retryActionsByDefault": "retry_actions_by_default",
    "defaultRetryBehavior": "default_retry_behavior",
}


def retry_from_json(value: Any) -> Any:
    """A scenario's retry option (``true``/``false``/``{maxAttempts, ...}``) in Python form."""
    if isinstance(value, Mapping):
        return RetryBehavior(
            max_attempts=value.get("maxAttempts", DEFAULT_MAX_ATTEMPTS),
            initial_backoff_ms=value.get("initialBackoffMs", DEFAULT_INITIAL_BACKOFF_MS),
            base=value.get("base", DEFAULT_BASE),
        )
    return value


def pool_options_from_json(options: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario pool's options as ``world.pool`` keyword arguments."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        name = _POOL_OPTION_NAMES[key]
        if key == "ttl" and value is None:
            value = float("inf")
        if key == "defaultRetryBehavior":
            value = retry_from_json(value)
        out[name] = value
    return out


class _CappedTrace(MemoryTrace):
    """The model adapter's world trace: kept in memory (``world.trace`` works), and a world
    stuck at one instant is stopped past :data:`MAX_EVENTS_PER_ADVANCE` unreported events."""

    def __init__(self, adapter: ModelAdapter) -> None:
        super().__init__()
        self._adapter = adapter

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)
        adapter = self._adapter
        if adapter._advancing and len(self.events) - adapter._reported > MAX_EVENTS_PER_ADVANCE:
            raise _Stalled


class ModelAdapter:
    """The model as an in-process adapter: plays scenario steps on a :class:`World`."""

    def __init__(
        self,
        profile: str | Profile = "",
        decisions: Mapping[str, Mapping[int, int]] | None = None,
        longer: Mapping[str, Mapping[int, int]] | None = None,
    ) -> None:
        """``profile``: a profile or a profile's name (``refmodel.workpool.profiles.NAMED``) to
        play every scenario under instead of its own, e.g. ``current-bucketed``; ``""``: the
        scenario's.
        ``decisions``: per ref (the ``_ref`` the harness adds to an enqueue's args), per
        failed attempt number, the instant its retry is decided when later than the failure
        (an implementation's recorded ``decidedAt``; spec section 8). ``longer``: per ref, per
        attempt number, how many ms longer than declared that attempt of an action runs (an
        implementation whose end of it lagged past a call; spec section 8).
        """
        self._profile = profile
        self._decisions = {ref: dict(by_attempt) for ref, by_attempt in (decisions or {}).items()}
        self._decided: DecidedAt | None = None
        self._longer = {ref: dict(by_attempt) for ref, by_attempt in (longer or {}).items()}
        self._world: World | None = None
        self._events: list[TraceEvent] = []
        self._reported = 0
        self._invocations: dict[str, int] = {}
        self._advancing = False
        """True during :meth:`advance`, the only call the stall cap applies to: a debugger
        stepping the adapter's world itself may play any number of events."""

    def handshake(self) -> dict[str, Any]:
        """The model implements every feature, with no latency."""
        from refmodel import __name__ as package

        return {
            "protocol": PROTOCOL_VERSION,
            "name": package,
            "version": _version(),
            "features": sorted(FEATURES),
            "latency": {},
            "deviations": [],
        }

    def reset(self, scenario: Mapping[str, Any]) -> None:
        """A fresh world with the scenario's pools and declared functions."""
        loaded = load(dict(scenario)).data
        self._events = []
        self._reported = 0
        self._invocations = {}
        profile = as_profile(self._profile or str(loaded.get("profile", "seed")))
        if self._decisions:  # The same profile, deciding retries at the given instants.
            self._decided = DecidedAt(base=profile.retries)
            profile = profile.evolve(retries=self._decided)
        world = World(seed=int(loaded.get("seed", 0)), profile=profile,
                      trace=_CappedTrace(self))
        self._events = world.trace  # The world's own in-memory trace, so world.trace works.
        for name, options in loaded["pools"].items():
            world.pool(name, **pool_options_from_json(options))
        for name, spec in loaded["functions"].items():
            self._declare(world, name, spec)
        self._world = world

    def _declare(self, world: World, name: str, spec: Mapping[str, Any]) -> None:
        kind = spec["kind"]
        invocations = self._invocations
        longer = self._longer
        if kind == "action":
            attempts = list(spec["attempts"])

            async def action(ctx: ActionCtx, args: dict[str, Any]) -> Any:
                key = str(args.get("_ref", ""))  # The harness adds it (see the module doc).
                invocations[key] = invocations.get(key, 0) + 1
                attempt = attempts[min(invocations[key], len(attempts)) - 1]
                duration = int(attempt.get("durationMs", 0))
                duration += longer.get(key, {}).get(invocations[key], 0)
                if duration:
                    await ctx.sleep(duration)
                if attempt.get("hangs"):
                    await _Forever()
                if "throws" in attempt:
                    raise RuntimeError(str(attempt["throws"]))
                if "throwsNonRetryable" in attempt:
                    from refmodel.errors import NonRetryableError

                    raise NonRetryableError(str(attempt["throwsNonRetryable"]))
                return attempt.get("returns")

            world.registry.register(_kind("action"), action, name, 0)
        elif kind == "mutation":
            reads = [str(doc) for doc in spec.get("reads", [])]
            writes = [str(doc) for doc in spec.get("writes", [])]

            def mutation(ctx: MutationCtx, args: dict[str, Any]) -> Any:
                for doc in reads:
                    ctx.db.query(doc)
                for doc in writes:
                    rows = ctx.db.query(doc)
                    if rows:
                        ctx.db.patch(rows[0]["_id"], {"value": int(rows[0]["value"]) + 1})
                    else:
                        ctx.db.insert(doc, {"value": 1})
                if "throws" in spec:
                    raise RuntimeError(str(spec["throws"]))
                return None if spec.get("recordsOnComplete") else spec.get("returns")

            duration = int(spec.get("durationMs", 0))
            world.registry.register(_kind("mutation"), mutation, name, duration)
        else:

            def query(ctx: QueryCtx, args: dict[str, Any]) -> Any:
                return spec.get("returns")

            world.registry.register(_kind("query"), query, name, 0)

    @property
    def world(self) -> World:
        """The world of the last :meth:`reset`, for reading and stepping it (a debugger plays
        a scenario through :meth:`call` and steps the world between calls).

        Raises:
            ScenarioError: no reset yet.
        """
        return self._require()

    def _require(self) -> World:
        if self._world is None:
            raise ScenarioError("call reset with a scenario first")
        return self._world

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        """Perform one step now. Rejected input comes back as ``{"error": ...}``."""
        world = self._require()
        try:
            return self._call(world, step)
        except RefmodelError as error:
            return {"error": {"type": type(error).__name__, "message": str(error)}}

    def _call(self, world: World, step: Mapping[str, Any]) -> dict[str, Any]:
        op = step.get("op")
        if op == "advance":
            raise ScenarioError("advance is its own method, not a call")
        pool = world.pools.get(str(step.get("pool")))
        if pool is None:
            raise ScenarioError(f"no pool named {step.get('pool')!r}")
        client = world.client
        if op in ("enqueue", "enqueueBatch"):
            fdef = world.registry.resolve(step["fn"])
            options = dict(step.get("options", {}))
            kwargs: dict[str, Any] = {}
            if "retry" in options:
                kwargs["retry"] = retry_from_json(options["retry"])
            for key, name in (("runAt", "run_at"), ("runAfter", "run_after"),
                              ("onComplete", "on_complete"), ("context", "context")):
                if key in options:
                    kwargs[name] = options[key]
            kind = fdef.ref.kind.value
            if "retry" in kwargs and kind != "action":
                raise InvalidArgument(f"retry applies to actions only, not to {kind}s")
            if op == "enqueue":
                method = getattr(pool, f"enqueue_{kind}")
                work_id = method(client, fdef.ref, step.get("args") or {}, **kwargs)
                self._decide(step.get("args"), work_id)
                return {"id": work_id}
            method = getattr(pool, f"enqueue_{kind}_batch")
            ids = method(client, fdef.ref, list(step["argsList"]), **kwargs)
            for args, work_id in zip(step["argsList"], ids, strict=True):
                self._decide(args, work_id)
            return {"ids": ids}
        if op == "cancel":
            work_id = str(step["id"])
            world.tracer.emit("cancel_called", pool.name, work_id, {})  # What was asked (CAN-1).
            pool.cancel(client, work_id)
            return {}
        if op == "cancelAll":
            pool.cancel_all(client, limit=step.get("limit"))
            return {}
        if op == "status":
            work_id = str(step["id"])
            try:
                status = pool.status(work_id).to_json()
            except RefmodelError as error:
                refused = {"error": type(error).__name__}
                world.tracer.emit("status_read", pool.name, work_id, refused)
                raise
            world.tracer.emit("status_read", pool.name, work_id, {"status": status})
            return {"status": status}
        if op == "configure":
            changes = {}
            if "maxParallelism" in step:
                changes["max_parallelism"] = step["maxParallelism"]
            if "logLevel" in step:
                changes["log_level"] = step["logLevel"]
            pool.update_config(**changes)
            return {}
        raise ScenarioError(f"unknown op {op!r}")

    def _decide(self, args: Any, work_id: str) -> None:
        """Give the retries of the item enqueued with ``args`` their decision instants."""
        decided = self._decided
        if decided is not None and isinstance(args, Mapping):
            by_attempt = self._decisions.get(str(args.get("_ref")))
            if by_attempt is not None:
                decided.instants[work_id] = by_attempt

    def advance(self, ms: int) -> dict[str, Any]:
        """Run ``ms`` of virtual time; return the window's events. A world that plays
        :data:`MAX_EVENTS_PER_ADVANCE` events without reaching the window's end is stuck
        (livelock): the answer then says ``stalled: true``, with the instant it is stuck at."""
        world = self._require()
        stalled = False
        self._advancing = True
        try:
            world.run_until(world.now + ms, max_steps=MAX_EVENTS_PER_ADVANCE)
        except (StepLimitExceeded, _Stalled):
            stalled = True
            self._world = None  # Stopped in the middle of an event: it cannot go on.
        finally:
            self._advancing = False
        fresh = self._events[self._reported:]
        self._reported = len(self._events)
        answer: dict[str, Any] = {"now": world.now, "events": [e.to_json() for e in fresh]}
        if stalled:
            answer["stalled"] = True
        return answer

    def close(self) -> None:
        """Drop the world."""
        self._world = None


def _kind(name: str) -> Any:
    from refmodel.engine.functions import FunctionKind

    return FunctionKind(name)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("refmodel")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "0"


# The JSON Lines protocol ------------------------------------------------------------------


def serve(adapter: Adapter, stdin: Any = None, stdout: Any = None) -> int:
    """Answer protocol requests from ``stdin`` on ``stdout`` until shutdown or end of input.

    Each request gets one answer; a bad request gets an error answer (section 3) and the
    program goes on serving. A line longer than :data:`MAX_LINE_BYTES` is refused unread.

    Returns:
        The exit status: 0 after a shutdown or end of input.
    """
    source = stdin or sys.stdin
    sink = stdout or sys.stdout
    number = 0
    while True:
        line = source.readline(MAX_LINE_BYTES + 1)
        if not line:
            return 0
        number += 1
        if len(line) > MAX_LINE_BYTES:
            while line and not line.endswith("\n"):  # Skip the rest of the long line.
                line = source.readline(MAX_LINE_BYTES + 1)
            response: dict[str, Any] | None = _protocol_error(
                None, f"line {number}: longer than {MAX_LINE_BYTES:,} bytes"
            )
            stop = False
        else:
            response, stop = answer(adapter, number, line)
        if response is not None:
            sink.write(json.dumps(response) + "\n")
            sink.flush()
        if stop:
            return 0


def _protocol_error(request_id: Any, message: str) -> dict[str, Any]:
    return {"id": request_id, "error": {"type": "ProtocolError", "message": message}}


def answer(adapter: Adapter, number: int, line: str) -> tuple[dict[str, Any] | None, bool]:
    """The answer to one request line (``None`` for a blank line), and whether to stop.

    Never raises for what the line holds: a line that is not a request of the protocol gets a
    ``ProtocolError`` answer, a refused step or scenario the error refmodel raised.
    """
    if not line.strip():
        return None, False
    try:
        request = json.loads(line)
    except json.JSONDecodeError as error:
        return _protocol_error(None, f"line {number}: invalid JSON: {error.msg}"), False
    except (ValueError, RecursionError) as error:
        why = "nested too deeply" if isinstance(error, RecursionError) else (
            "a number too long to read")
        return _protocol_error(None, f"line {number}: invalid JSON: {why}"), False
    if not isinstance(request, dict):
        return _protocol_error(None, f"line {number}: a request must be a JSON object"), False
    request_id = request.get("id")
    if request_id is not None and type(request_id) not in (int, str):
        return _protocol_error(None, f"line {number}: id must be an integer or a string"), False
    method = request.get("method")
    params = request.get("params", {})
    if params is None:
        params = {}
    if type(params) is not dict:
        return _protocol_error(request_id, f"line {number}: params must be an object"), False
    try:
        if method == "handshake":
            result: Any = adapter.handshake()
            offered = params.get("protocols")
            if isinstance(offered, list) and result.get("protocol") not in offered:
                if 1 not in offered:  # Nothing both sides speak.
                    return _protocol_error(request_id, f"line {number}: this adapter speaks "
                                           f"protocols {list(PROTOCOL_VERSIONS)}, not "
                                           f"{short(offered)}"), False
                result = {key: value for key, value in result.items()
                          if key not in ("featureVariants",)} | {"protocol": 1}
        elif method == "reset":
            scenario = params.get("scenario")
            if type(scenario) is not dict:
                return _protocol_error(
                    request_id, f"line {number}: reset needs params.scenario, an object"
                ), False
            adapter.reset(scenario)
            result = {}
        elif method == "call":
            step = params.get("step")
            if type(step) is not dict:
                return _protocol_error(
                    request_id, f"line {number}: call needs params.step, an object"
                ), False
            result = adapter.call(step)
            if isinstance(result, dict) and "error" in result:
                return {"id": request_id, "error": result["error"]}, False
        elif method == "advance":
            ms = params.get("ms")
            if type(ms) is not int or not 0 <= ms <= MAX_TIME_MS:
                return _protocol_error(
                    request_id, f"line {number}: advance needs params.ms, an integer from 0 "
                    f"to {MAX_TIME_MS}, got {short(ms)}"
                ), False
            result = adapter.advance(ms)
        elif method == "shutdown":
            return {"id": request_id, "result": {}}, True
        else:
            return _protocol_error(
                request_id, f"line {number}: unknown method {short(method)}: one of "
                "handshake, reset, call, advance, shutdown"
            ), False
    except RefmodelError as error:
        return {"id": request_id, "error": {"type": type(error).__name__,
                                            "message": str(error)}}, False
    return {"id": request_id, "result": result}, False


class SubprocessAdapter:
    """Drive a program that speaks the protocol, with a timeout on every call.

    Args:
        command: the program and its arguments, as one shell-like string.
        timeout_s: how long one call may take on the wall clock.

    Raises:
        AdapterError: the program cannot start, exits, hangs past the timeout, or answers
            something that is not a response to the request.
    """

    def __init__(self, command: str, *, timeout_s: float = 10.0) -> None:
        self.command = command
        self.timeout_s = timeout_s
        try:
            argv = shlex.split(command)
        except ValueError as error:  # "No closing quotation", "No escaped character"
            raise AdapterError(
                f"cannot read the adapter command {short(command)}: {error} (it is split as a "
                "shell splits words)"
            ) from None
        if not argv:
            raise AdapterError('the adapter command is empty: give a program, or "model"')
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except (OSError, ValueError) as error:  # ValueError: a NUL in the command.
            raise AdapterError(f"adapter {command!r} could not start: {error}") from None
        self._next_id = 0
        self._buffer = b""
        self._broken = False  # After a crash, hang or garbage: no more polite requests.

    def _request(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": dict(params or {})}
        proc = self._proc
        assert proc.stdin is not None
        try:
            proc.stdin.write((json.dumps(request) + "\n").encode())
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise AdapterError(self._died(f"while sending {method}")) from None
        line = self._read_line(method)
        try:
            response = json.loads(line)
        except (ValueError, RecursionError) as bad:  # Not JSON, too deep, a huge number.
            self._broken = True
            why = "JSON nested too deeply" if isinstance(bad, RecursionError) else (
                "something that is not JSON" if isinstance(bad, json.JSONDecodeError)
                else "a number too long to read")
            raise AdapterError(
                f"adapter {self.command!r} answered {method} with {why}: {line[:120]!r}"
            ) from None
        if not isinstance(response, dict) or response.get("id") != self._next_id:
            self._broken = True
            raise AdapterError(
                f"adapter {self.command!r} answered {method} with {line[:120]!r}, not a "
                f"response to request {self._next_id}"
            )
        if "error" in response:
            error = response["error"]
            if method == "call":
                return {"error": error}
            raise AdapterError(f"adapter {self.command!r} failed {method}: {error}")
        return response.get("result")

    def _read_line(self, method: str) -> str:
        proc = self._proc
        assert proc.stdout is not None
        deadline = time.monotonic() + self.timeout_s  # wall-clock ok
        fd = proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()  # wall-clock ok
            if left <= 0:
                self._broken = True
                self.kill()
                raise AdapterTimeout(
                    f"adapter {self.command!r} did not answer {method} within "
                    f"{self.timeout_s:g} s", method
                )
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AdapterError(self._died(f"while answering {method}"))
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE_BYTES:
                self._broken = True
                self.kill()
                raise AdapterError(
                    f"adapter {self.command!r} answered {method} with a line longer than "
                    f"{MAX_LINE_BYTES:,} bytes"
                )
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    def _died(self, when: str) -> str:
        self._broken = True
        try:
            code: int | None = self._proc.wait(timeout=1)  # Reap it, to report its status.
        except subprocess.TimeoutExpired:
            code = None
        err = b""
        if self._proc.stderr is not None and code is not None:
            err = self._proc.stderr.read() or b""
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"adapter {self.command!r} exited (status {code}) {when}: {tail[0]}".rstrip(": ")

    def handshake(self) -> dict[str, Any]:
        """Ask the program who it is."""
        result = self._request("handshake", {"protocols": list(PROTOCOL_VERSIONS)})
        if not isinstance(result, dict) or result.get("protocol") not in PROTOCOL_VERSIONS:
            shown = result.get("protocol") if isinstance(result, dict) else result
            raise AdapterError(
                f"adapter {self.command!r} speaks protocol {short(shown)}; refmodel speaks "
                f"{' and '.join(map(str, PROTOCOL_VERSIONS))}"
            )
        return result

    def reset(self, scenario: Mapping[str, Any]) -> None:
        """Send the scenario's configuration."""
        self._request("reset", {"scenario": dict(scenario)})

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        """Send one step."""
        result = self._request("call", {"step": dict(step)})
        return result if isinstance(result, dict) else {"error": {"type": "ProtocolError",
                                                                   "message": repr(result)}}

    def advance(self, ms: int) -> dict[str, Any]:
        """Let time pass in the program."""
        result = self._request("advance", {"ms": ms})
        if not isinstance(result, dict) or not isinstance(result.get("events"), list):
            raise AdapterError(f"adapter {self.command!r} answered advance with {result!r}")
        return result

    def close(self) -> None:
        """Ask the program to shut down; kill it if it does not (or if it misbehaved)."""
        if self._proc.poll() is None and not self._broken:
            with contextlib.suppress(AdapterError):
                self._request("shutdown")
        self.kill()

    def kill(self) -> None:
        """Stop the program now."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


def main() -> int:
    """``python -m refmodel.adapter``: the model as a protocol-speaking program."""
    return serve(ModelAdapter())


if __name__ == "__main__":
    sys.exit(main())
