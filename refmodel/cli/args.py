"""What every command's arguments share: the parser class and the argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn, TypeAlias

from refmodel.values import MAX_INT, MAX_TIME_MS, MIN_INT


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``register(commands)`` of a command module adds its parsers to."""


def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds, got {_shown(text)}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


MAX_CLI_INT = MAX_TIME_MS
"""The largest integer any option takes (2^53 - 1, the largest time): options with a tighter
documented limit (``bench --jobs``) say so themselves."""


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _integer(text: str, minimum: int, wanted: str, maximum: int = MAX_CLI_INT) -> int:
    digits = text.strip().lstrip("+-")
    if not digits.isascii() or not digits.isdigit():
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {_shown(text)}")
    value = int(text) if len(digits) <= 20 else None  # Longer is out of range anyway.
    if value is None or value < minimum or value > maximum:
        raise argparse.ArgumentTypeError(
            f"expected {wanted} (at most {maximum:,}), got {_shown(text)}"
        )
    return value


def positive(text: str) -> int:
    """An integer >= 1."""
    return _integer(text, 1, "a positive integer")


def non_negative(text: str) -> int:
    """An integer >= 0."""
    return _integer(text, 0, "an integer >= 0")


def seed(text: str) -> int:
    """An RNG seed: an integer in the 64-bit range (DET-2)."""
    return _integer(text, MIN_INT, "an integer seed", MAX_INT)


def bounded(maximum: int) -> Callable[[str], int]:
    """An integer from 1 to ``maximum``: a size whose work or memory grows with it."""

    def parse(text: str) -> int:
        return _integer(text, 1, "a positive integer", maximum)

    parse.__name__ = "positive integer"
    return parse


def path(text: str) -> str:
    """A file or directory name: not empty."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"a path cannot hold a NUL character, got {_shown(text)}")
    return text


def pool_limit(text: str) -> tuple[str, int]:
    """``POOL=N``: a pool's name and an integer >= 0."""
    name, sep, number = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected POOL=N, got {_shown(text)}")
    return name, non_negative(number)
