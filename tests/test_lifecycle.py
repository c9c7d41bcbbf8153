"""The lifecycle table (:mod:`refmodel.workpool.lifecycle`): the one definition of a work
item's states."""

from __future__ import annotations

import itertools

import pytest

from refmodel.errors import RefmodelError
from refmodel.workpool.lifecycle import (
    ACTIVE,
    BOTH,
    TERMINAL,
    TRANSITIONS,
    WAITING,
    IllegalTransition,
    Lifecycle,
    State,
    Transition,
    Trigger,
    markdown,
    mermaid,
)
from refmodel.workpool.options import PROFILES
from tests.spec import checks

S = State
T = Trigger

SEED_TABLE = {
    (S.PENDING, T.START): S.RUNNING,
    (S.PENDING, T.CANCEL): S.CANCELED,
    (S.RETRYING, T.START): S.RUNNING,
    (S.RETRYING, T.CANCEL): S.CANCELED,
    (S.RUNNING, T.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, T.FAIL): S.FAILED,
    (S.RUNNING, T.RETRY): S.RETRYING,
    (S.RUNNING, T.CANCEL): S.CANCELED,
    (S.RUNNING, T.TIMEOUT): S.TIMED_OUT,
    (S.SUCCEEDED, T.EVICT): S.EVICTED,
    (S.FAILED, T.EVICT): S.EVICTED,
    (S.CANCELED, T.EVICT): S.EVICTED,
    (S.TIMED_OUT, T.EVICT): S.EVICTED,
}
"""Profile seed: LIF-1's table, with the retry rows used only beyond the seed API."""

CURRENT_TABLE = {
    (S.PENDING, T.START): S.RUNNING,
    (S.PENDING, T.CANCEL): S.CANCELED,
    (S.RETRYING, T.START): S.RUNNING,
    (S.RETRYING, T.CANCEL): S.CANCELED,
    (S.RUNNING, T.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, T.FAIL): S.FAILED,
    (S.RUNNING, T.RETRY): S.RETRYING,
    (S.RUNNING, T.CANCEL): S.CANCELING,
    (S.CANCELING, T.SUCCEED): S.SUCCEEDED,
    (S.CANCELING, T.FAIL): S.FAILED,
    (S.CANCELING, T.RETRY): S.CANCELED,
}

TABLES = {"seed": SEED_TABLE, "current": CURRENT_TABLE}
ALL_PAIRS = list(itertools.product(State, Trigger))


def profile_table(profile: str) -> dict[tuple[State, Trigger], State]:
    return {
        (row.source, row.trigger): row.target for row in TRANSITIONS if profile in row.profiles
    }


@checks("LIF-1")
def test_the_profiles_are_seed_and_current() -> None:
    assert PROFILES == BOTH == ("seed", "current")


@checks("LIF-1")
@pytest.mark.parametrize("profile", ["seed", "current"])
def test_the_table_of_each_profile_is_exactly_its_lifecycle(profile: str) -> None:
    assert profile_table(profile) == TABLES[profile]


@checks("LIF-1")
def test_no_profile_has_two_rows_for_one_state_and_trigger() -> None:
    for profile in BOTH:
        pairs = [(row.source, row.trigger) for row in TRANSITIONS if profile in row.profiles]
        assert len(pairs) == len(set(pairs))


@checks("LIF-1")
def test_every_row_names_known_profiles() -> None:
    assert all(isinstance(row, Transition) for row in TRANSITIONS)
    assert all(row.profiles and set(row.profiles) <= set(BOTH) for row in TRANSITIONS)


@checks("LIF-1")
def test_state_and_trigger_values() -> None:
    assert [s.value for s in State] == [
        "pending",
        "running",
        "retrying",
        "canceling",
        "succeeded",
        "failed",
        "canceled",
        "timed_out",
        "evicted",
    ]
    assert [t.value for t in Trigger] == [
        "start",
        "succeed",
        "fail",
        "retry",
        "cancel",
        "timeout",
        "evict",
    ]


@checks("LIF-1")
@pytest.mark.parametrize(
    ("profile", "source", "trigger"),
    [(profile, *pair) for profile, table in TABLES.items() for pair in table],
)
def test_advance_follows_the_table(profile: str, source: State, trigger: Trigger) -> None:
    lifecycle = Lifecycle(profile)
    assert lifecycle.advance(source, trigger) is TABLES[profile][(source, trigger)]
    assert lifecycle.allowed(source, trigger) is True


@checks("LIF-1", "EXE-4")
@pytest.mark.parametrize(
    ("profile", "source", "trigger"),
    [
        (profile, *pair)
        for profile, table in TABLES.items()
        for pair in ALL_PAIRS
        if pair not in table
    ],
)
def test_every_pair_not_in_the_table_is_an_illegal_transition(
    profile: str, source: State, trigger: Trigger
) -> None:
    lifecycle = Lifecycle(profile)
    assert lifecycle.allowed(source, trigger) is False
    with pytest.raises(IllegalTransition) as raised:
        lifecycle.advance(source, trigger)
    assert str(raised.value) == (
        f"no transition from {source.value} on {trigger.value} in the {profile} profile"
    )


@checks("LIF-1")
def test_the_illegal_pairs_are_all_the_others() -> None:
    assert len(ALL_PAIRS) == 9 * 7
    for profile, table in TABLES.items():
        illegal = [pair for pair in ALL_PAIRS if not Lifecycle(profile).allowed(*pair)]
        assert len(illegal) == 63 - len(table)


@checks("EXE-4")
def test_illegal_transition_is_a_model_bug_error() -> None:
    assert issubclass(IllegalTransition, RefmodelError)
    assert issubclass(IllegalTransition, AssertionError)


@checks("LIF-1")
def test_terminal_active_and_waiting_states() -> None:
    assert frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED, S.TIMED_OUT}) == TERMINAL
    assert frozenset({S.RUNNING, S.CANCELING}) == ACTIVE
    assert frozenset({S.PENDING, S.RETRYING}) == WAITING


@checks("LIF-1", "TTL-1")
def test_in_the_seed_profile_terminal_states_lead_only_to_eviction() -> None:
    seed = Lifecycle("seed")
    for state in TERMINAL:
        assert [t for t in Trigger if seed.allowed(state, t)] == [T.EVICT]
    assert [t for t in Trigger if seed.allowed(S.EVICTED, t)] == []
    assert [t for t in Trigger if seed.allowed(S.CANCELING, t)] == []


@checks("LIF-1")
def test_in_the_current_profile_terminal_states_lead_nowhere() -> None:
    current = Lifecycle("current")
    for state in [*TERMINAL, S.EVICTED]:
        assert [t for t in Trigger if current.allowed(state, t)] == []


@checks("LIF-1")
def test_mermaid_diagram_of_the_seed_profile() -> None:
    assert mermaid("seed") == "\n".join(
        [
            "stateDiagram-v2",
            "    [*] --> pending: enqueue",
            "    pending --> running: start",
            "    pending --> canceled: cancel",
            "    retrying --> running: start",
            "    retrying --> canceled: cancel",
            "    running --> succeeded: succeed",
            "    running --> failed: fail",
            "    running --> retrying: retry",
            "    running --> canceled: cancel",
            "    running --> timed_out: timeout",
            "    succeeded --> evicted: evict",
            "    failed --> evicted: evict",
            "    canceled --> evicted: evict",
            "    timed_out --> evicted: evict",
        ]
    )


@checks("LIF-1")
def test_mermaid_diagram_of_each_profile_lists_its_rows() -> None:
    for profile in BOTH:
        lines = mermaid(profile).splitlines()
        assert lines[:2] == ["stateDiagram-v2", "    [*] --> pending: enqueue"]
        assert len(lines) == 2 + len(TABLES[profile])


@checks("LIF-1")
def test_markdown_has_the_table_the_terminal_states_and_a_diagram_per_profile() -> None:
    text = markdown()
    assert text.startswith("# Work item lifecycle\n")
    assert "| from | trigger | to | event | effect | profiles |\n" in text
    assert "| `running` | `timeout` | `timed_out` | `timed_out` | abandon | seed |\n" in text
    assert "| `pending` | `start` | `running` | `started` | launch | seed, current |\n" in text
    assert "| `running` | `cancel` | `canceling` | `cancel_requested` | note | current |\n" in text
    assert "Terminal states: `succeeded`, `failed`, `canceled`, `timed_out`." in text
    for profile in BOTH:
        assert f"## Profile `{profile}`\n\n```mermaid\n{mermaid(profile)}\n```\n" in text
    assert text.endswith("```\n")
