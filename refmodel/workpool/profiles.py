"""Semantics profiles: everything that differs between versions of the Workpool (rule PRF-1).

Theory of operation. A world simulates one :class:`Profile`. A profile is data: its lifecycle
table (what a cancel of running work does, whether a failure that would be retried after a
cancel ends canceled, whether results are evicted), its pool options (bounds, defaults, which
options exist: timeouts, the ttl), its status view, when work becomes eligible, which failures
are retried and how long they wait, who may start when, and what onComplete is given. The pool
(:mod:`refmodel.workpool.pool`) asks the profile; it never asks which profile it is.

The built-in profiles are two instances, :data:`SEED` (the Workpool as its original README
describes it) and :data:`CURRENT` (the component as it is today). A profile of one's own is a
third instance, made without editing refmodel::

    from refmodel.workpool.profiles import CURRENT
    bucketed = CURRENT.evolve(name="bucketed", eligibility=MyEligibility())
    world = World(profile=bucketed)

Each part is a small object with a documented protocol, so a proposal (say, pools that lend
idle slots to each other, :mod:`refmodel.proposals.borrowing`) replaces one part and keeps the
rest. The tests' broken engines are such profiles too: a profile that breaks one rule.
"""

from __future__ import annotations

from typing import Any

import attrs

from refmodel.constants import (
    RUN_AT_FALLBACK_MS,
    RUN_AT_TOO_FAR_MS,
    RUN_AT_TOO_OLD_MS,
    SEGMENT_MS,
)
from refmodel.errors import InvalidArgument, InvalidType
from refmodel.values import short
from refmodel.workpool.completion import EVERY_RESULT, CompletionPolicy
from refmodel.workpool.enqueue import (
    CURRENT_ELIGIBILITY,
    SEED_ELIGIBILITY,
    Eligibility,
    SegmentEligibility,
)
from refmodel.workpool.lifecycle import Lifecycle
from refmodel.workpool.options import CURRENT_OPTIONS, PROFILES, SEED_OPTIONS, OptionRules
from refmodel.workpool.retries import STANDARD_RETRIES, RetryPolicy
from refmodel.workpool.slots import OWN_SLOTS, SlotPolicy
from refmodel.workpool.status import CURRENT_VIEW, SEED_VIEW, StatusView


@attrs.frozen(kw_only=True)
class Profile:
    """A version of the Workpool's semantics.

    Attributes:
        name: how traces and messages name it (``world_started``'s ``profile``).
        summary: one line saying what it is.
        lifecycle: its lifecycle table (:mod:`refmodel.workpool.lifecycle`; LIF-1, CAN-2,
            CAN-6, TMO-1, TTL-1).
        options: its pool options: bounds, defaults, timeouts, retention (CFG-1 to CFG-4).
        status: how ``pool.status(id)`` reads (STS-1 to STS-5).
        eligibility: when enqueued and retried work may start (ENQ-4, ENQ-6, RTY-2).
        retries: which failures are retried and the wait before a retry (RTY-1 to RTY-4).
        slots: who may start when (PAR-1, PAR-2).
        completion: what onComplete is given and when it is called (ONC-1 to ONC-3).
    """

    name: str
    summary: str = ""
    lifecycle: Lifecycle = attrs.field(repr=False, eq=False)
    options: OptionRules = attrs.field(repr=False)
    status: StatusView = attrs.field(repr=False)
    eligibility: Eligibility = attrs.field(default=SEED_ELIGIBILITY, repr=False)
    retries: RetryPolicy = attrs.field(default=STANDARD_RETRIES, repr=False)
    slots: SlotPolicy = attrs.field(default=OWN_SLOTS, repr=False)
    completion: CompletionPolicy = attrs.field(default=EVERY_RESULT, repr=False)
    cancel_stops_running: bool = attrs.field(default=True, repr=False)
    """Whether a cancel of running work ends it at once (CAN-2) rather than letting it finish
    (CAN-6); the lifecycle table's rows say the same, this says it to the conformance kit."""

    @property
    def cancel_rule(self) -> str:
        """The rule a cancel of running work is judged by: ``"CAN-2"`` or ``"CAN-6"``."""
        return "CAN-2" if self.cancel_stops_running else "CAN-6"

    def evolve(self, **changes: Any) -> Profile:
        """A copy with ``changes`` (a new ``name`` is expected: traces show it)."""
        return attrs.evolve(self, **changes)


SEED = Profile(
    name="seed",
    summary="the Workpool as its original README describes it",
    lifecycle=Lifecycle("seed"),
    options=SEED_OPTIONS,
    status=SEED_VIEW,
    eligibility=SEED_ELIGIBILITY,
)
"""FIFO, work-conserving, exact deadlines, per-kind timeouts, results kept ``ttl_ms``, cancel
stops running work."""

CURRENT = Profile(
    name="current",
    summary="the component as it is today",
    lifecycle=Lifecycle("current"),
    options=CURRENT_OPTIONS,
    status=CURRENT_VIEW,
    eligibility=CURRENT_ELIGIBILITY,
    cancel_stops_running=False,
)
"""``max_parallelism`` 0..200 (default 10, 0 pauses), no timeouts, no retained results, a
status of pending / running / finished, and a cancel that lets running work finish."""

CURRENT_BUCKETED = CURRENT.evolve(
    name="current-bucketed",
    summary="the current component with its 100 ms segments: eligible at a segment's start",
    eligibility=SegmentEligibility(
        too_old_ms=RUN_AT_TOO_OLD_MS, too_far_ms=RUN_AT_TOO_FAR_MS, fallback_ms=RUN_AT_FALLBACK_MS,
        segment_ms=SEGMENT_MS,
    ),
)
"""The current profile with the real component's bucketed eligibility (reference F.1, rule
ENQ-6): work due at 40 ms is eligible at 0 ms (or at once), a retry due at 258 ms at 200 ms.
Its traces start work up to 99 ms before ``runAt``/``retryAt``, which its checker admits."""

BUILT_IN: dict[str, Profile] = {SEED.name: SEED, CURRENT.name: CURRENT}
"""The built-in profiles by name (:data:`~refmodel.workpool.options.PROFILES` lists them)."""
assert tuple(BUILT_IN) == PROFILES

NAMED: dict[str, Profile] = {**BUILT_IN, CURRENT_BUCKETED.name: CURRENT_BUCKETED}
"""Every profile ``World(profile=...)`` and the checker know by name: the built-in ones (which
scenarios name) and the current profile's bucketed variant."""


def as_profile(value: Any) -> Profile:
    """The profile ``value`` names (``"seed"``, ``"current"``) or is (a :class:`Profile`).

    Raises:
        InvalidType: neither a str nor a Profile.
        InvalidArgument: an unknown name.
    """
    if isinstance(value, Profile):
        return value
    if type(value) is not str:
        raise InvalidType(
            f"profile must be a str, one of {list(PROFILES)}, or a Profile; got {short(value)}"
        )
    found = BUILT_IN.get(value) or NAMED.get(value)  # BUILT_IN first: tests patch it.
    if found is None:
        raise InvalidArgument(f"unknown profile {short(value)}: choose one of {list(NAMED)}")
    return found
