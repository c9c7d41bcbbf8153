"""What every command's arguments share: the parser class and the argument types."""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias


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
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def _integer(text: str, minimum: int, wanted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
    return value


def positive(text: str) -> int:
    """An integer >= 1."""
    return _integer(text, 1, "a positive integer")


def non_negative(text: str) -> int:
    """An integer >= 0."""
    return _integer(text, 0, "an integer >= 0")


def pool_limit(text: str) -> tuple[str, int]:
    """``POOL=N``: a pool's name and an integer >= 0."""
    name, sep, number = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected POOL=N, got {text!r}")
    return name, non_negative(number)
