"""A pool's work items: the ids it issued, and the records of the items it still holds.

Theory of operation. A pool issues ids ``"<pool>/<n>"``, n = 1, 2, 3, ... (rule ENQ-1), and
remembers, in one byte per id, every id it ever issued and the kind of work behind it, so that
it tells a forgotten id from one it never issued (rules STS-3, STS-4, CAN-5) while the records
themselves are dropped and memory stays bounded. An id enqueued by a mutation exists only once
that mutation commits (rule ENQ-3); until then it reads as unknown.

A held item is a :class:`WorkRecord`, kept small because a day of production load holds a
million of them at once: what every item of one kind of enqueue shares (the function, the
retry behaviour, the onComplete, the shape of the args) is one :class:`WorkSpec`, and the args
of the usual flat object of scalars are kept as their values alone (:func:`pack_args`).
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterator
from typing import Any, TypeAlias

from refmodel.engine.functions import FunctionDef, FunctionKind
from refmodel.engine.runtime import Run
from refmodel.errors import InvalidType, UnknownWorkId
from refmodel.values import check_args, parse_number, plain_entry, short
from refmodel.workpool.lifecycle import PENDING, TERMINAL, State
from refmodel.workpool.options import RetryBehavior

WorkId: TypeAlias = str
"""A work id, ``"<pool>/<n>"``."""


class WorkKind(enum.Enum):
    """How work entered the pool; in the seed profile it selects the timeout (rule CFG-2)."""

    ACTION = "action"
    MUTATION = "mutation"
    QUERY = "query"
    UNKNOWN = "unknown"
    """Enqueued through ``pool.ctx(ctx).scheduler`` (rule CTX-2)."""

    __hash__ = object.__hash__


FUNCTION_KIND: dict[WorkKind, FunctionKind | None] = {
    WorkKind.ACTION: FunctionKind.ACTION,
    WorkKind.MUTATION: FunctionKind.MUTATION,
    WorkKind.QUERY: FunctionKind.QUERY,
    WorkKind.UNKNOWN: None,
}
"""The kind of function each kind of work runs (``None``: an action or a mutation)."""


class WorkSpec:
    """What items enqueued alike share: the function, the kind of work, the retry behaviour,
    the onComplete and its context, and the keys of the args (``None``: the args are kept
    whole, see :func:`pack_args`)."""

    __slots__ = ("context", "fdef", "keys", "kind", "on_complete", "retry")

    def __init__(
        self,
        fdef: FunctionDef,
        kind: WorkKind,
        retry: RetryBehavior | None,
        on_complete: FunctionDef | None,
        context: Any,
        keys: tuple[str, ...] | None,
    ) -> None:
        self.fdef = fdef
        self.kind = kind
        self.retry = retry
        self.on_complete = on_complete
        self.context = context
        self.keys = keys


def pack_args(value: Any, where: str = "args") -> tuple[tuple[str, ...] | None, Any]:
    """Check an enqueue's args (a JSON-like object, rule ENQ-2) and keep a private copy of them
    as ``(keys, packed)``.

    A flat object of str keys and scalar values is kept as its values alone: the value itself
    when there is one key, a tuple of them otherwise, with ``keys`` naming them. Any other
    object is kept whole (a deep copy), with ``keys`` ``None``.

    Raises:
        InvalidType: the args are not a JSON-like object, naming the offending part.
    """
    if type(value) is dict:
        if len(value) == 1:
            for key, item in value.items():
                if plain_entry(key, item):
                    return (key,), item
        else:
            for key, item in value.items():
                if not plain_entry(key, item):
                    break
            else:
                return tuple(value), tuple(value.values())
    return None, check_args(value, where)


def unpack_args(keys: tuple[str, ...] | None, packed: Any) -> dict[str, Any]:
    """A fresh args object from :func:`pack_args`' ``(keys, packed)``, for one attempt."""
    if keys is None:
        fresh: dict[str, Any] = copy.deepcopy(packed)
        return fresh
    if len(keys) == 1:
        return {keys[0]: packed}
    return dict(zip(keys, packed, strict=True))


class WorkRecord:
    """One work item of a pool. Only the pool changes it.

    Attributes:
        n: its number (the id is ``"<pool>/<n>"``).
        spec: what it shares with items enqueued alike (function, retry, onComplete, ...).
        state: its lifecycle state.
        attempts: how many of its attempts ended.
        enqueued_at: when it became real; ``eligible_at``: when it may (re)start.
        started_at / finished_at: its last start and its end (-1: not yet).
        payload: its packed args while unfinished (:func:`pack_args`); once terminal, its
            outcome: the return value once SUCCEEDED, the error message once FAILED,
            CANCELED or TIMED_OUT.
        attempt: the running attempt while one runs, else ``None``.
    """

    __slots__ = (
        "attempt",
        "attempts",
        "eligible_at",
        "enqueued_at",
        "finished_at",
        "n",
        "payload",
        "spec",
        "started_at",
        "state",
    )

    def __init__(self, n: int, spec: WorkSpec, payload: Any, now: int, eligible_at: int) -> None:
        self.n = n
        self.spec = spec
        self.payload = payload
        self.state: State = PENDING
        self.attempts = 0
        self.enqueued_at = now
        self.eligible_at = eligible_at
        self.started_at = -1
        self.finished_at = -1
        self.attempt: Run | None = None

    @property
    def fdef(self) -> FunctionDef:
        """The function it runs."""
        return self.spec.fdef

    @property
    def kind(self) -> WorkKind:
        """How it entered the pool."""
        return self.spec.kind

    @property
    def retry(self) -> RetryBehavior | None:
        """Its retry behaviour, or ``None`` (never retried)."""
        return self.spec.retry

    @property
    def outcome(self) -> Any:
        """Its outcome once terminal (see the class doc), else ``None``."""
        return self.payload if self.state in TERMINAL else None

    def args(self) -> dict[str, Any]:
        """A fresh copy of its args (while it is unfinished)."""
        return unpack_args(self.spec.keys, self.payload)


# One byte per issued id: the kind's code, or a mark for ids that never became work.
_KIND_CODE = {WorkKind.ACTION: 1, WorkKind.MUTATION: 2, WorkKind.UNKNOWN: 3, WorkKind.QUERY: 4}
_CODE_KIND = {code: kind for kind, code in _KIND_CODE.items()}
_UNCOMMITTED = 8  # Or-ed in while the enqueuing mutation has not committed.
_ABORTED = 0  # The enqueuing mutation never committed.


class WorkItems:
    """The ids a pool issued and the records it holds, by number.

    Args:
        pool: the pool's name.
    """

    __slots__ = ("_codes", "_held", "_records", "name", "prefix")

    def __init__(self, pool: str) -> None:
        self.name = pool
        self.prefix = pool + "/"
        self._codes = bytearray()
        self._records: list[WorkRecord | None] = []
        self._held = 0

    # Ids -----------------------------------------------------------------------------------

    @property
    def issued(self) -> int:
        """How many ids were issued."""
        return len(self._codes)

    def issue(self, kind: WorkKind, committed: bool) -> int:
        """Issue the next number for work of ``kind``; ``committed=False`` while the mutation
        that enqueues it has not committed."""
        self._codes.append(_KIND_CODE[kind] if committed else _KIND_CODE[kind] | _UNCOMMITTED)
        self._records.append(None)
        return len(self._codes)

    def new(self, spec: WorkSpec, payload: Any, now: int, eligible_at: int) -> WorkRecord:
        """Issue the next number, for work that is real at once, and hold its record."""
        codes = self._codes
        codes.append(_KIND_CODE[spec.kind])
        n = len(codes)
        record = WorkRecord(n, spec, payload, now, eligible_at)
        self._records.append(record)
        self._held += 1
        return record

    def commit(self, n: int) -> None:
        """The mutation that enqueued ``n`` committed."""
        self._codes[n - 1] &= ~_UNCOMMITTED

    def abort(self, n: int) -> None:
        """The mutation that enqueued ``n`` never committed: ``n`` never became work."""
        self._codes[n - 1] = _ABORTED

    def id_of(self, n: int) -> WorkId:
        """The work id of number ``n``."""
        return self.prefix + str(n)

    def number(self, work_id: Any) -> int:
        """The number behind a work id this pool issued and that became work.

        Raises:
            InvalidType: not a str.
            UnknownWorkId: not this pool's, not issued, or its enqueuing mutation did not (or
                not yet) commit.
        """
        prefix = self.prefix
        if type(work_id) is not str:
            raise InvalidType(
                f"a work id is a str like {prefix}1, got {short(work_id)} "
                f"({type(work_id).__name__})"
            )
        n_or_none = parse_number(work_id[len(prefix):]) if work_id.startswith(prefix) else None
        if n_or_none is None:
            raise UnknownWorkId(f"{short(work_id)} was not issued by pool {self.name!r}")
        n = n_or_none
        issued = len(self._codes)
        if not 1 <= n <= issued:
            upto = f"up to {prefix}{issued}" if issued else "none yet"
            raise UnknownWorkId(
                f"unknown work id {short(work_id)}: pool {self.name!r} has issued ids {upto}"
            )
        code = self._codes[n - 1]
        if code == _ABORTED:
            raise UnknownWorkId(
                f"unknown work id {short(work_id)}: the mutation that enqueued it did not commit"
            )
        if code & _UNCOMMITTED:
            raise UnknownWorkId(
                f"unknown work id {short(work_id)}: the mutation that enqueues it has not "
                "committed yet"
            )
        return n

    def kind_of(self, n: int) -> WorkKind:
        """The kind of work behind number ``n`` (known even once the record is dropped)."""
        return _CODE_KIND[self._codes[n - 1] & ~_UNCOMMITTED]

    # Records -------------------------------------------------------------------------------

    @property
    def held(self) -> int:
        """How many records are held."""
        return self._held

    def put(self, record: WorkRecord) -> None:
        """Hold ``record`` (its number was issued)."""
        self._records[record.n - 1] = record
        self._held += 1

    def get(self, n: int) -> WorkRecord | None:
        """The record of number ``n``, or ``None`` once dropped (or never made)."""
        return self._records[n - 1]

    def drop(self, record: WorkRecord) -> None:
        """Stop holding ``record``."""
        self._records[record.n - 1] = None
        self._held -= 1

    def records(self) -> Iterator[WorkRecord]:
        """The held records in id order."""
        return (record for record in self._records if record is not None)

    def newest_first(self) -> Iterator[WorkRecord]:
        """The held records, newest id first; records dropped meanwhile are skipped."""
        records = self._records
        for i in range(len(records) - 1, -1, -1):
            record = records[i]
            if record is not None:
                yield record
