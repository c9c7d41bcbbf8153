"""Enqueueing: what an enqueue call must give, and when the work it makes becomes eligible
(rules ENQ-2 to ENQ-7).

Theory of operation. An enqueue is validated completely before anything changes (rule ERR-1):
:class:`Planner` turns one call into a :class:`Plan` (the function, the kind of work, the args
kept by value, the retry behaviour, the onComplete and its context, the requested start), so
that a batch is planned whole and applied all or nothing (rule ENQ-5). The pool applies a plan
at once, or, from a mutation, when it commits (rule ENQ-3).

When planned work becomes eligible is the profile's :class:`Eligibility`: at once, or at its
requested ``run_at`` / ``run_after`` (rule ENQ-4); the current profile also bounds the
requested time (rule ENQ-6). The same policy says when a retry becomes eligible after its
backoff (rule RTY-2); a profile that makes work eligible at the start of its 100 ms segment, as
the real component does, is an :class:`Eligibility` with other numbers.
"""

from __future__ import annotations

from typing import Any

import attrs

from refmodel.constants import RUN_AT_FALLBACK_MS, RUN_AT_TOO_FAR_MS, RUN_AT_TOO_OLD_MS
from refmodel.engine.clock import Clock
from refmodel.engine.functions import FunctionDef, FunctionKind, Registry
from refmodel.engine.runtime import ClientCtx, Ctx, check_ctx
from refmodel.errors import InvalidArgument
from refmodel.values import check_time, copy_json, short
from refmodel.workpool.items import FUNCTION_KIND, WorkKind, WorkSpec, pack_args
from refmodel.workpool.options import RetryBehavior, as_retry_behavior

TOO_OLD = "scheduled time is too old, defaulting to now"
TOO_FAR = "scheduled time is too far in the future, defaulting to 1 year from now"


@attrs.frozen(kw_only=True)
class Eligibility:
    """When work may start (rules ENQ-4, ENQ-6, RTY-2).

    Attributes:
        too_old_ms: a requested time more than this before now is warned about (``None``: a
            requested time in the past is quietly now).
        too_far_ms: a requested time more than this after now is replaced by now plus
            ``fallback_ms``, with a warning (``None``: no bound).
    """

    too_old_ms: int | None = None
    too_far_ms: int | None = None
    fallback_ms: int = 0

    def eligible_at(self, requested: int | None, now: int) -> tuple[int, str | None]:
        """When work enqueued at ``now`` asking to start at ``requested`` (``None``: at once)
        becomes eligible, and the warning the pool logs about it, if any."""
        if requested is None or requested <= now:
            old = self.too_old_ms
            if requested is not None and old is not None and requested < now - old:
                return now, TOO_OLD
            return now, None
        far = self.too_far_ms
        if far is not None and requested > now + far:
            return now + self.fallback_ms, TOO_FAR
        return requested, None

    def retry_eligible_at(self, decided_at: int, delay_ms: int) -> int:
        """When a retry decided at ``decided_at`` (its attempt's failure, unless the retry
        policy decides later) becomes eligible, after a backoff of ``delay_ms`` (its
        ``retryAt``)."""
        return decided_at + delay_ms


    @property
    def early_ms(self) -> int:
        """How long before its ``runAt`` or ``retryAt`` work may start: 0 here."""
        return 0


@attrs.frozen(kw_only=True)
class SegmentEligibility(Eligibility):
    """Eligibility in segments, as the current component's loop has it (reference F.1): work
    becomes eligible at the start of the ``segment_ms`` segment its time falls in (never before
    now), so run_at/run_after work and retries may start up to ``segment_ms - 1`` ms before
    their time, and items due within one segment start in enqueue order (rule ENQ-6).
    """

    segment_ms: int = 100

    def eligible_at(self, requested: int | None, now: int) -> tuple[int, str | None]:
        """The bounded time (as :class:`Eligibility`), then the start of its segment."""
        at, warning = super().eligible_at(requested, now)
        return max(now, at - at % self.segment_ms), warning

    def retry_eligible_at(self, decided_at: int, delay_ms: int) -> int:
        """The start of the segment of ``decided_at + delay_ms``, not before the decision."""
        due = decided_at + delay_ms
        return max(decided_at, due - due % self.segment_ms)

    @property
    def early_ms(self) -> int:
        """Up to one segment less a millisecond."""
        return self.segment_ms - 1


SEED_ELIGIBILITY = Eligibility()
"""The seed profile: a requested time is taken as given (a past one means now)."""
CURRENT_ELIGIBILITY = Eligibility(
    too_old_ms=RUN_AT_TOO_OLD_MS, too_far_ms=RUN_AT_TOO_FAR_MS, fallback_ms=RUN_AT_FALLBACK_MS
)
"""The current profile: a requested time is bounded to within a year back and four ahead."""


class Plan:
    """A validated enqueue, not yet applied (so that a batch is all or nothing)."""

    __slots__ = ("payload", "run_at", "spec")

    def __init__(self, spec: WorkSpec, payload: Any, run_at: int | None) -> None:
        self.spec = spec
        self.payload = payload
        self.run_at = run_at


class Planner:
    """Validates enqueue calls for one pool, changing nothing.

    Args:
        registry: the world's functions.
        clock: the world's clock (``run_after`` counts from now).
        default_retry: the retry behaviour of an action enqueued with ``retry`` unset
            (``None``: not retried), and ``pool_retry`` the pool's default behaviour
            (``retry=True``).
    """

    __slots__ = (
        "_clock",
        "_default_retry",
        "_last_fdef",
        "_last_fn",
        "_plain",
        "_pool_retry",
        "_registry",
    )

    def __init__(
        self,
        registry: Registry,
        clock: Clock,
        default_retry: RetryBehavior | None,
        pool_retry: RetryBehavior,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._default_retry = default_retry
        self._pool_retry = pool_retry
        # Specs of plain action enqueues (no options), by function, then by args keys: what
        # every such item of one function and one shape of args shares.
        self._plain: dict[FunctionDef, dict[tuple[str, ...], WorkSpec]] = {}
        self._last_fn: Any = None  # The function of the last plain enqueue, and its def.
        self._last_fdef: FunctionDef | None = None

    def plain_action(self, ctx: Ctx, fn: Any, args: Any) -> tuple[WorkSpec, Any]:
        """An action enqueue with no options, the common call, kept short: its spec and its
        packed args (rule ENQ-2)."""
        if type(ctx) is not ClientCtx:
            check_ctx(ctx, "enqueue")
        fdef = self._last_fdef
        if fn is not self._last_fn or fdef is None:
            fdef = self._registry.resolve(fn, FunctionKind.ACTION)
            self._last_fn = fn
            self._last_fdef = fdef
        keys, payload = pack_args({} if args is None else args)
        if keys is None:
            return WorkSpec(fdef, WorkKind.ACTION, self._default_retry, None, None, None), payload
        shapes = self._plain.get(fdef)
        if shapes is None:
            shapes = self._plain[fdef] = {}
        spec = shapes.get(keys)
        if spec is None:
            spec = shapes[keys] = WorkSpec(
                fdef, WorkKind.ACTION, self._default_retry, None, None, keys
            )
        return spec, payload

    def plan(
        self,
        ctx: Ctx,
        fn: Any,
        args: Any,
        kind: WorkKind,
        retry: Any,
        on_complete: Any,
        context: Any,
        run_at: Any,
        run_after: Any,
        where: str = "args",
    ) -> Plan:
        """Validate one enqueue completely (rules ENQ-2, ENQ-4, ENQ-6, ENQ-7, RTY-1, ONC-1).

        Raises:
            InvalidType, InvalidArgument, UnknownFunction: bad input; nothing changed.
        """
        check_ctx(ctx, "enqueue")
        fdef = self._registry.resolve(fn, FUNCTION_KIND[kind])
        keys, payload = pack_args({} if args is None else args, where)
        behavior: RetryBehavior | None
        if retry is None:
            behavior = self._default_retry if kind is WorkKind.ACTION else None
        elif kind is not WorkKind.ACTION:
            raise InvalidArgument(f"retry applies to actions only, not to {kind.value}s")
        elif retry is True:
            behavior = self._pool_retry
        elif retry is False:
            behavior = None
        else:
            behavior = as_retry_behavior(retry, "retry")
        callback = None
        if on_complete is not None:
            callback = self._registry.resolve(on_complete, FunctionKind.MUTATION)
        stored_context = None if context is None else copy_json(context, "context")
        if run_at is not None and run_after is not None:
            raise InvalidArgument(
                f"give run_at or run_after, not both (got run_at={short(run_at)}, "
                f"run_after={short(run_after)})"
            )
        requested = None
        if run_at is not None:
            requested = check_time(run_at, "run_at")
        elif run_after is not None:
            requested = self._clock.now + check_time(run_after, "run_after")
        spec = WorkSpec(fdef, kind, behavior, callback, stored_context, keys)
        return Plan(spec, payload, requested)
