"""Pool options and retry behaviours, validated by the rules of a profile (rules CFG-1 to CFG-6).

The profiles disagree on a pool's options, so a profile carries :class:`OptionRules`: which
options exist, their defaults and bounds. :func:`make_options` applies them:

- ``seed`` (:data:`SEED_OPTIONS`): ``max_parallelism`` is required, 1..300; per-kind timeouts
  and a result ``ttl_ms``; log levels DEBUG < INFO < WARN < ERROR, default WARN.
- ``current`` (:data:`CURRENT_OPTIONS`): ``max_parallelism`` defaults to 10, 0..200 (0 pauses
  starts, above 100 a warning); no timeouts and no result retention; log levels DEBUG < TRACE <
  INFO < REPORT < WARN < ERROR, default REPORT.

Both take ``retry_actions_by_default`` and ``default_retry_behavior`` (5 attempts, 250 ms, base
2; the numbers are in :mod:`refmodel.constants`), which the seed component did not have and
the model offers in both profiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from refmodel.constants import (
    CURRENT_DEFAULT_LOG_LEVEL,
    CURRENT_DEFAULT_PARALLELISM,
    CURRENT_LOG_LEVELS,
    CURRENT_MAX_PARALLELISM,
    CURRENT_MIN_PARALLELISM,
    CURRENT_WARN_PARALLELISM,
    DEFAULT_ACTION_TIMEOUT_MS,
    DEFAULT_BASE,
    DEFAULT_INITIAL_BACKOFF_MS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MUTATION_TIMEOUT_MS,
    DEFAULT_TTL_MS,
    DEFAULT_UNKNOWN_TIMEOUT_MS,
    SEED_DEFAULT_LOG_LEVEL,
    SEED_LOG_LEVELS,
    SEED_MAX_PARALLELISM,
    SEED_MIN_PARALLELISM,
    nominal_backoff_ms,
    retry_delay_ms,
)
from refmodel.errors import InvalidArgument, InvalidType
from refmodel.values import check_int, check_positive_ms, short

PROFILES = ("seed", "current")
"""The names of the built-in semantics profiles; ``seed`` is the default."""

LOG_LEVELS: dict[str, tuple[str, ...]] = {
    "seed": SEED_LOG_LEVELS,
    "current": CURRENT_LOG_LEVELS,
}
DEFAULT_LOG_LEVEL = {"seed": SEED_DEFAULT_LOG_LEVEL, "current": CURRENT_DEFAULT_LOG_LEVEL}

_TIMEOUTS = ("action_timeout_ms", "mutation_timeout_ms", "unknown_timeout_ms")
_TIMEOUT_DEFAULTS = (
    DEFAULT_ACTION_TIMEOUT_MS,
    DEFAULT_MUTATION_TIMEOUT_MS,
    DEFAULT_UNKNOWN_TIMEOUT_MS,
)
_RETENTION = ("ttl_ms",)
_COMMON = ("max_parallelism", "log_level", "retry_actions_by_default", "default_retry_behavior")


@attrs.frozen(kw_only=True)
class OptionRules:
    """Which pool options a profile has, with their defaults and bounds (rules CFG-1, CFG-2,
    CFG-4).

    Attributes:
        min_parallelism, max_parallelism: the bounds of ``max_parallelism``.
        default_parallelism: its default, or ``None`` when it is required.
        warn_parallelism_above: above this, the pool warns (``None``: never).
        log_levels: the allowed log levels, lowest first; ``default_log_level`` the default.
        timeouts: whether the per-kind timeouts exist (``*_timeout_ms``; rule TMO-1).
        keeps_results: whether finished results are kept ``ttl_ms`` (rule TTL-1); without
            it a finished item is forgotten at once.
        absent_reason: what a refusal of a timeout or ttl option says when the profile does
            not have it.
    """

    min_parallelism: int
    max_parallelism: int
    default_parallelism: int | None
    warn_parallelism_above: int | None
    log_levels: tuple[str, ...]
    default_log_level: str
    timeouts: bool
    keeps_results: bool
    absent_reason: str = "this profile does not have it"

    def names(self) -> tuple[str, ...]:
        """Every option a pool of the profile takes."""
        return (
            *_COMMON,
            *(_TIMEOUTS if self.timeouts else ()),
            *(_RETENTION if self.keeps_results else ()),
        )


SEED_OPTIONS = OptionRules(
    min_parallelism=SEED_MIN_PARALLELISM,
    max_parallelism=SEED_MAX_PARALLELISM,
    default_parallelism=None,
    warn_parallelism_above=None,
    log_levels=SEED_LOG_LEVELS,
    default_log_level=SEED_DEFAULT_LOG_LEVEL,
    timeouts=True,
    keeps_results=True,
)
CURRENT_OPTIONS = OptionRules(
    min_parallelism=CURRENT_MIN_PARALLELISM,
    max_parallelism=CURRENT_MAX_PARALLELISM,
    default_parallelism=CURRENT_DEFAULT_PARALLELISM,
    warn_parallelism_above=CURRENT_WARN_PARALLELISM,
    log_levels=CURRENT_LOG_LEVELS,
    default_log_level=CURRENT_DEFAULT_LOG_LEVEL,
    timeouts=False,
    keeps_results=False,
    absent_reason="the current profile has no timeouts and keeps no results",
)


@attrs.frozen(kw_only=True)
class RetryBehavior:
    """How an action is retried (rule RTY-1): at most ``max_attempts`` attempts in all; the
    wait before retry k (k = 1, 2, ...) is ``initial_backoff_ms * base**(k-1)`` times a
    jitter factor drawn uniformly from [0.5, 1.5).

    Raises:
        InvalidType, InvalidArgument: naming the field, the value and what is allowed.
    """

    max_attempts: int = attrs.field(default=DEFAULT_MAX_ATTEMPTS)
    initial_backoff_ms: int = attrs.field(default=DEFAULT_INITIAL_BACKOFF_MS)
    base: float = attrs.field(default=DEFAULT_BASE)

    @max_attempts.validator
    def _check_attempts(self, _: Any, value: Any) -> None:
        check_int(value, "max_attempts")
        if value < 1:
            raise InvalidArgument(
                "max_attempts must be >= 1 (attempts in all, the first included), got "
                f"{short(value)}"
            )

    @initial_backoff_ms.validator
    def _check_backoff(self, _: Any, value: Any) -> None:
        check_int(value, "initial_backoff_ms")
        if value < 0:
            raise InvalidArgument(f"initial_backoff_ms must be >= 0, got {short(value)}")

    @base.validator
    def _check_base(self, _: Any, value: Any) -> None:
        if type(value) not in (int, float):
            raise InvalidType(
                f"base must be a number (int or float), got {short(value)} ({type(value).__name__})"
            )
        if not math.isfinite(value) or value <= 0:
            raise InvalidArgument(f"base must be a finite number > 0, got {short(value)}")

    def backoff_ms(self, retry: int) -> float:
        """The nominal wait before retry number ``retry`` (1 for the first retry); ``inf``
        where it is beyond a float."""
        return nominal_backoff_ms(self.initial_backoff_ms, self.base, retry)

    def delay_ms(self, retry: int, jitter: float) -> int:
        """The wait before retry ``retry`` for a jitter factor in [0.5, 1.5): the nominal
        backoff times the factor, rounded down, and at most
        :data:`~refmodel.constants.MAX_RETRY_DELAY_MS`, one year (rule RTY-2)."""
        return retry_delay_ms(self.initial_backoff_ms, self.base, retry, jitter)

    def to_json(self) -> dict[str, Any]:
        """The behaviour in its Convex spelling."""
        return {
            "maxAttempts": self.max_attempts,
            "initialBackoffMs": self.initial_backoff_ms,
            "base": self.base,
        }


DEFAULT_RETRY_BEHAVIOR = RetryBehavior()
"""5 attempts, 250 ms, base 2 (rule CFG-6)."""


def as_retry_behavior(value: Any, where: str) -> RetryBehavior:
    """Accept a :class:`RetryBehavior` or a dict of its fields (snake_case)."""
    if isinstance(value, RetryBehavior):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"max_attempts", "initial_backoff_ms", "base"})
        if unknown:
            raise InvalidArgument(
                f"{where}: unknown field {short(unknown[0])}; allowed are max_attempts, "
                "initial_backoff_ms, base"
            )
        return RetryBehavior(**dict(value))
    raise InvalidType(
        f"{where} must be a RetryBehavior or a dict of its fields, got {short(value)} "
        f"({type(value).__name__})"
    )


_BUILT_IN = {"seed": SEED_OPTIONS, "current": CURRENT_OPTIONS}


@attrs.frozen(kw_only=True)
class PoolOptions:
    """A pool's validated options. Make them with :func:`make_options`.

    ``None`` for a timeout means the profile has no timeouts; ``None`` for ``ttl_ms`` means
    results are not retained once work finishes (the current profile). ``profile`` is the
    name of the world's profile, ``rules`` its option rules.
    """

    profile: str
    max_parallelism: int
    action_timeout_ms: int | None
    mutation_timeout_ms: int | None
    unknown_timeout_ms: int | None
    ttl_ms: int | float | None
    log_level: str
    retry_actions_by_default: bool
    default_retry_behavior: RetryBehavior
    rules: OptionRules = attrs.field(default=SEED_OPTIONS, repr=False)

    def timeout_for(self, kind: str) -> int | None:
        """The timeout for work of ``kind`` (``action``, ``mutation``, ``query``,
        ``unknown``), or ``None``."""
        if kind == "action":
            return self.action_timeout_ms
        if kind == "unknown":
            return self.unknown_timeout_ms
        return self.mutation_timeout_ms

    def to_json(self) -> dict[str, Any]:
        """The options in their Convex (JSON) spelling; an infinite ttl reads ``null``."""
        out: dict[str, Any] = {"maxParallelism": self.max_parallelism}
        if self.rules.timeouts:
            out["actionTimeoutMs"] = self.action_timeout_ms
            out["mutationTimeoutMs"] = self.mutation_timeout_ms
            out["unknownTimeoutMs"] = self.unknown_timeout_ms
        if self.rules.keeps_results:
            out["ttl"] = None if self.ttl_ms == math.inf else self.ttl_ms
        out["logLevel"] = self.log_level
        out["retryActionsByDefault"] = self.retry_actions_by_default
        out["defaultRetryBehavior"] = self.default_retry_behavior.to_json()
        return out


def _check_parallelism(rules: OptionRules, value: Any) -> tuple[int, list[str]]:
    number = check_int(value, "max_parallelism")
    low = rules.min_parallelism
    high = rules.max_parallelism
    if number < low:
        raise InvalidArgument(f"max_parallelism must be >= {low}, got {short(number)}")
    if number > high:
        raise InvalidArgument(f"max_parallelism must be <= {high}, got {short(number)}")
    warnings = []
    above = rules.warn_parallelism_above
    if above is not None and number > above:
        warnings.append(
            f"max_parallelism should be <= {above}, but is set to {number}. "
            "This will be an error in a future version."
        )
    return number, warnings


def _check_log_level(rules: OptionRules, profile: str, value: Any) -> str:
    levels = rules.log_levels
    if value not in levels or type(value) is not str:
        raise InvalidArgument(
            f"log_level must be one of {', '.join(levels)} in the {profile} profile, got "
            f"{short(value)}"
        )
    result: str = value
    return result


def make_options(
    profile: str, options: Mapping[str, Any], rules: OptionRules | None = None
) -> tuple[PoolOptions, list[str]]:
    """Validate a pool's options by the rules of ``profile`` and fill in its defaults.

    Args:
        profile: the profile's name.
        options: the keyword arguments of ``world.pool``.
        rules: the profile's option rules (by default those of the built-in profile named
            ``profile``).

    Returns:
        The options and the warnings they give (texts; the caller traces them).

    Raises:
        InvalidType, InvalidArgument: an unknown, missing or bad option; nothing is made.
    """
    if rules is None:
        rules = _BUILT_IN[profile]
    allowed = rules.names()
    for name in options:
        if name not in allowed:
            if name in _TIMEOUTS or name in _RETENTION:
                raise InvalidArgument(f"{name} is a seed-profile option: {rules.absent_reason}")
            raise InvalidArgument(f"unknown pool option {name!r}: allowed are {sorted(allowed)}")
    default = rules.default_parallelism
    if default is None and "max_parallelism" not in options:
        raise InvalidArgument(
            "max_parallelism is required (an int in "
            f"{rules.min_parallelism}..{rules.max_parallelism})"
        )
    parallelism, warnings = _check_parallelism(rules, options.get("max_parallelism", default))
    retry_default = options.get("retry_actions_by_default", False)
    if type(retry_default) is not bool:
        raise InvalidType(
            f"retry_actions_by_default must be a bool, got {short(retry_default)} "
            f"({type(retry_default).__name__})"
        )
    behavior = as_retry_behavior(
        options.get("default_retry_behavior", DEFAULT_RETRY_BEHAVIOR), "default_retry_behavior"
    )
    log_level = _check_log_level(
        rules, profile, options.get("log_level", rules.default_log_level)
    )
    action_t: int | None = None
    mutation_t: int | None = None
    unknown_t: int | None = None
    ttl: int | float | None = None
    if rules.timeouts:
        action_t, mutation_t, unknown_t = (
            int(check_positive_ms(options.get(name, default), name))
            for name, default in zip(_TIMEOUTS, _TIMEOUT_DEFAULTS, strict=True)
        )
    if rules.keeps_results:
        ttl = check_positive_ms(options.get("ttl_ms", DEFAULT_TTL_MS), "ttl_ms", allow_inf=True)
    made = PoolOptions(
        profile=profile,
        max_parallelism=parallelism,
        action_timeout_ms=action_t,
        mutation_timeout_ms=mutation_t,
        unknown_timeout_ms=unknown_t,
        ttl_ms=ttl,
        log_level=log_level,
        retry_actions_by_default=retry_default,
        default_retry_behavior=behavior,
        rules=rules,
    )
    return made, warnings


def update_options(
    options: PoolOptions, changes: Mapping[str, Any]
) -> tuple[PoolOptions, list[str]]:
    """Options after a runtime ``config.update`` (rule CFG-5): ``max_parallelism`` and
    ``log_level`` may change at any time.

    Raises:
        InvalidType, InvalidArgument: an unknown or bad field; the options are unchanged.
    """
    for name in changes:
        if name not in ("max_parallelism", "log_level"):
            raise InvalidArgument(
                f"update_config takes max_parallelism and log_level only, got {name!r}"
            )
    warnings: list[str] = []
    parallelism = options.max_parallelism
    if "max_parallelism" in changes:
        parallelism, warnings = _check_parallelism(options.rules, changes["max_parallelism"])
    log_level = options.log_level
    if "log_level" in changes:
        log_level = _check_log_level(options.rules, options.profile, changes["log_level"])
    return attrs.evolve(options, max_parallelism=parallelism, log_level=log_level), warnings
