"""Debugging sessions: a world, the inputs that drive it, and replay for rewind, fork and
look-ahead.

Theory of operation. A run is determined by its seed and its inputs (rule DET-1), so a session
never copies a world (its running actions are live coroutines, which cannot be copied). It
keeps a :class:`Recipe` — how to build the world at move 0 (a scenario, or a zero-argument
function that builds a world) and the edits ``fork`` made — and a :class:`Player` that has
done some number of *moves*. A move is the smallest thing a debugger steps over: one world
event (:meth:`World.step`), one scenario step (a call made at its instant) or one edit.

Moves interleave as the conformance kit plays a scenario through an adapter
(``specs/adapter-protocol.md``): a scenario's calls run at their instant after every event up
to and including that instant, and an ``advance`` step only moves the instant that the next
calls run at. The calls go through :class:`~refmodel.adapter.ModelAdapter`, which realises
the scenario's declared functions; a step's ``ref`` becomes the id its enqueue returned, and
its args get the ``_ref`` entry the protocol prescribes. A rejected call is an observation,
as in the kit: the move says so and the run goes on.

Going back to move k builds a fresh world from the recipe and does k moves (rewinding costs
a replay: about as long as the run up to k took); forking is the same recipe with one more
edit; looking ahead (for "why is it waiting?") plays a replica on from the current move.
Every replay is checked against the run it repeats, so a build function that does not make
the same world each time is refused rather than trusted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from refmodel.adapter import ModelAdapter, pool_options_from_json
from refmodel.debugger.explain import explain, pool_of
from refmodel.errors import InvalidArgument, InvalidType, RefmodelError
from refmodel.scenario import Scenario, ScenarioError, load
from refmodel.trace import TraceEvent
from refmodel.values import JsonProblem, parse_json, short
from refmodel.workpool.options import make_options
from refmodel.world import World

MAX_MOVES = 1_000_000
"""The most moves one command (or a look-ahead) does before it gives up."""


class DebugError(InvalidArgument):
    """A debugger request that cannot be carried out: a bad argument, or nothing to do.
    Nothing changed."""


class RewindUnavailable(DebugError):
    """Going back, forking or looking ahead needs a session that can build its world again."""


class NotReplayable(DebugError):
    """Building the world again did not give the same run: the build function is not
    deterministic (it reads something outside the world, or a shared counter)."""


EDIT_OPS = ("cancel", "enqueue", "limit", "draw")


@attrs.frozen(kw_only=True)
class Edit:
    """One change a fork makes before move ``at``.

    ``op`` is ``"cancel"`` (``work_id``), ``"enqueue"`` (``fn`` into ``pool`` with ``args``),
    ``"limit"`` (set ``pool``'s ``max_parallelism`` to ``value``) or ``"draw"`` (the next
    recorded random draw returns ``value``; :meth:`World.set_next_draw`).
    """

    at: int
    op: str
    pool: str = ""
    work_id: str = ""
    fn: str = ""
    args: Mapping[str, Any] = attrs.field(factory=dict)
    value: float = 0

    def describe(self) -> str:
        """The edit as the debugger's ``fork`` command spells it."""
        if self.op == "cancel":
            return f"cancel {self.work_id}"
        if self.op == "enqueue":
            return f"enqueue {self.pool} {self.fn} {json.dumps(dict(self.args))}"
        if self.op == "limit":
            return f"limit {self.pool} {self.value:g}"
        return f"draw {short(self.value)}"

    def apply(self, world: World) -> None:
        """Make the change in ``world`` now.

        Raises:
            RefmodelError: the world rejects it (an unknown pool, id or function, a bad
                limit or draw); nothing changed.
        """
        if self.op == "cancel":
            pool_of(world, self.work_id).cancel(world.client, self.work_id)
        elif self.op == "enqueue":
            pool = _pool_named(world, self.pool)
            kind = world.registry.resolve(self.fn).ref.kind.value
            getattr(pool, f"enqueue_{kind}")(world.client, self.fn, dict(self.args))
        elif self.op == "limit":
            _pool_named(world, self.pool).update_config(max_parallelism=self.value)
        else:
            world.set_next_draw(self.value)


def _pool_named(world: World, name: str) -> Any:
    pool = world.pools.get(name)
    if pool is None:
        known = ", ".join(sorted(world.pools)) or "none"
        raise DebugError(f"no pool named {name!r} (pools: {known})")
    return pool


@attrs.frozen(kw_only=True)
class Recipe:
    """How to build a run: a scenario (with an optional seed override) or a build function,
    and the edits of forks, in order."""

    scenario: Scenario | None = None
    build: Callable[[], World] | None = None
    seed: int | None = None
    edits: tuple[Edit, ...] = ()

    def with_edit(self, edit: Edit) -> Recipe:
        """The same recipe with one more edit."""
        return attrs.evolve(self, edits=(*self.edits, edit))


@attrs.frozen(kw_only=True)
class Move:
    """One move done.

    Attributes:
        number: how many moves are done once this one is (1 for the first).
        time: the virtual time it happened at.
        what: ``"event"``, or the scenario step or edit it made, as text.
        events: the trace events it produced.
    """

    number: int
    time: int
    what: str
    events: tuple[TraceEvent, ...]


def check_scenario_pools(scenario: Scenario, where: str = "scenario") -> None:
    """Validate the values of a scenario's pool options, naming the pool's JSON path
    (:func:`refmodel.scenario.load` checks their names and types only).

    Raises:
        ScenarioError: a bad option value, with its path.
    """
    for name, options in scenario.data["pools"].items():
        try:
            make_options(scenario.profile, pool_options_from_json(options))
        except RefmodelError as error:
            raise ScenarioError(f"{where}.pools.{name}: {error}") from None


class Player:
    """A world and its inputs, moved one move at a time.

    Args:
        recipe: how to build the world (and the scenario steps and edits to make).
        world: instead, a world built elsewhere, stepped from where it is; such a player has
            no inputs of its own and cannot be built again.
    """

    def __init__(self, recipe: Recipe, world: World | None = None) -> None:
        self.recipe = recipe
        self._adapter: ModelAdapter | None = None
        self._steps: list[Mapping[str, Any]] = []
        if world is not None:
            pass
        elif recipe.scenario is not None:
            data = dict(recipe.scenario.data)
            if recipe.seed is not None:
                data["seed"] = recipe.seed
            self._adapter = ModelAdapter()
            self._adapter.reset(data)
            self._steps = list(data["steps"])
            world = self._adapter.world
        elif recipe.build is not None:
            world = recipe.build()
            if not isinstance(world, World):
                raise InvalidType(
                    f"the build function must return a World, it returned {short(world)}"
                )
        else:
            raise InvalidArgument("a player needs a recipe with a scenario or a build function, "
                                  "or a world")
        self.world = _traced(world)
        self.moves = 0
        self.history: list[int] = [len(self.world.trace)]
        """The trace's length after each move (index 0: before the first)."""
        self.rejected: list[str] = []
        """The scenario steps the world rejected, as ``steps[i]: Type: message``."""
        self._cursor = 0
        self._stage = self.world.now
        self._refs: dict[str, str] = {}
        self._edit = 0

    # What comes next ---------------------------------------------------------------------

    def _normalize(self) -> None:
        steps = self._steps
        while self._cursor < len(steps) and steps[self._cursor]["op"] == "advance":
            self._stage += int(steps[self._cursor]["ms"])
            self._cursor += 1

    def upcoming(self) -> tuple[int, str] | None:
        """When the next move happens and what it is (``"edit"``, ``"call"`` or
        ``"event"``), or ``None`` when nothing is left to do."""
        world = self.world
        edits = self.recipe.edits
        if self._edit < len(edits) and edits[self._edit].at <= self.moves:
            return world.now, "edit"
        self._normalize()
        following = world.next_step()
        if self._cursor < len(self._steps):
            if following is not None and following[0] <= self._stage:
                return following[0], "event"
            return max(self._stage, world.now), "call"
        if following is None:
            return None
        return following[0], "event"

    def upcoming_text(self) -> str:
        """What the next move is, as text."""
        upcoming = self.upcoming()
        if upcoming is None:
            return "nothing (the run is over)"
        time, kind = upcoming
        if kind == "edit":
            return f"fork: {self.recipe.edits[self._edit].describe()} at {time:,} ms"
        if kind == "call":
            return f"step {self._cursor}: {describe_step(self._steps[self._cursor])} at {time:,} ms"
        following = self.world.next_step()
        phase = "" if following is None else f" ({following[1].name.lower()} phase)"
        return f"an event at {time:,} ms{phase}"

    @property
    def script_done(self) -> bool:
        """Whether every scenario step and every edit has been made."""
        self._normalize()
        return self._cursor >= len(self._steps) and self._edit >= len(self.recipe.edits)

    @property
    def over(self) -> bool:
        """Whether the workload is over: its inputs are all made and no work is pending or
        running (evictions may still be queued)."""
        return self.script_done and self.world.idle

    # Moving ------------------------------------------------------------------------------

    def move(self) -> Move:
        """Do the next move.

        Raises:
            DebugError: nothing is left to do; nothing changed.
        """
        upcoming = self.upcoming()
        world = self.world
        if upcoming is None:
            raise DebugError(f"nothing left to run at {world.now:,} ms")
        time, kind = upcoming
        before = len(world.trace)
        if kind == "edit":
            edit = self.recipe.edits[self._edit]
            self._edit += 1
            edit.apply(world)
            what = f"fork: {edit.describe()}"
        elif kind == "call":
            if world.now < time:
                world.run_until(time)  # Nothing is queued before it: this only sets the clock.
            index = self._cursor
            step = self._steps[index]
            self._cursor += 1
            what = f"step {index}: {describe_step(step)}{self._call(index, step)}"
        else:
            world.step()
            what = "event"
        self.moves += 1
        self.history.append(len(world.trace))
        return Move(number=self.moves, time=time, what=what,
                    events=tuple(world.trace[before:]))

    def _call(self, index: int, step: Mapping[str, Any]) -> str:
        """Make one scenario step through the adapter; the result as text."""
        assert self._adapter is not None
        op = step["op"]
        sent = dict(step)
        if op == "enqueue":
            sent["args"] = {**dict(step.get("args") or {}), "_ref": step["ref"]}
        elif op == "enqueueBatch":
            sent["argsList"] = [{**dict(args or {}), "_ref": ref}
                                for args, ref in zip(step["argsList"], step["refs"], strict=True)]
        elif op in ("cancel", "status"):
            ref = step["ref"]
            if ref not in self._refs:
                return f" (skipped: ref {short(ref)} has no id, its enqueue was rejected)"
            sent = {key: value for key, value in step.items() if key != "ref"}
            sent["id"] = self._refs[ref]
        result = self._adapter.call(sent)
        if "error" in result:
            error = result["error"]
            self.rejected.append(f"steps[{index}]: {error['type']}: {error['message']}")
            return f" -> rejected: {error['type']}: {error['message']}"
        if "id" in result:
            self._refs[step["ref"]] = str(result["id"])
            return f" -> {result['id']}"
        if "ids" in result:
            ids = [str(work_id) for work_id in result["ids"]]
            self._refs.update(zip(step["refs"], ids, strict=True))
            if len(ids) > 4:
                return f" -> {ids[0]}, …, {ids[-1]} ({len(ids)} ids)"
            return " -> " + ", ".join(ids)
        if "status" in result:
            return " -> " + json.dumps(result["status"])
        return ""

    @property
    def refs(self) -> Mapping[str, str]:
        """The work id each scenario ref got."""
        return dict(self._refs)


def _traced(world: World) -> World:
    if world.memory is None:
        raise DebugError(
            "a debugger needs a world that keeps its trace in memory: World(trace=True)"
        )
    return world


def describe_step(step: Mapping[str, Any]) -> str:
    """A scenario step as one short line: ``enqueue emails send ref=e1``."""
    op = step["op"]
    if op == "advance":
        return f"advance {step['ms']} ms"
    words = [op, str(step.get("pool", ""))]
    if "fn" in step:
        words.append(str(step["fn"]))
    if "ref" in step:
        words.append(f"ref={step['ref']}")
    if "refs" in step:
        words.append("refs=" + ",".join(step["refs"]))
    for key in ("maxParallelism", "logLevel", "limit"):
        if key in step:
            words.append(f"{key}={json.dumps(step[key])}")
    if step.get("options"):
        words.append(json.dumps(step["options"], sort_keys=True))
    return " ".join(words)


class Session:
    """A debugging session: a player, and how to replay it.

    Args:
        recipe: how to build the run (rebuildable: rewind, fork and look-ahead work), or
        world: a world built elsewhere (stepping works; going back does not).
    """

    def __init__(self, recipe: Recipe | None = None, *, world: World | None = None) -> None:
        if (recipe is None) == (world is None):
            raise InvalidArgument("give a recipe or a world, not both or neither")
        self.recipe = recipe
        self.player = Player(recipe) if recipe is not None else Player(Recipe(), world)

    @classmethod
    def from_scenario(cls, scenario: Scenario, *, seed: int | None = None) -> Session:
        """A session that plays ``scenario`` (optionally with another seed).

        Raises:
            ScenarioError: a pool option has a bad value (named by its JSON path).
        """
        check_scenario_pools(scenario)
        return cls(Recipe(scenario=scenario, seed=seed))

    @property
    def world(self) -> World:
        """The world at the current move."""
        return self.player.world

    @property
    def position(self) -> int:
        """How many moves are done."""
        return self.player.moves

    @property
    def rebuildable(self) -> bool:
        """Whether the session can build its world again (rewind, fork, look-ahead)."""
        return self.recipe is not None

    def _require_recipe(self, what: str) -> Recipe:
        if self.recipe is None:
            raise RewindUnavailable(
                f"{what} is unavailable: this session steps a World object, which cannot be "
                "built again; debug a function that builds it, refmodel.debug(make_world), or "
                "a scenario"
            )
        return self.recipe

    def replay(self, moves: int, recipe: Recipe | None = None) -> Player:
        """A fresh player at move ``moves`` of this session's recipe (or of ``recipe``).

        Raises:
            RewindUnavailable: the session cannot build its world again.
            NotReplayable: the replay of this session's own recipe differs from the run.
        """
        own = recipe is None
        player = Player(recipe if recipe is not None else self._require_recipe("going back"))
        for _ in range(moves):
            if player.upcoming() is None:
                break
            player.move()
        if own:
            self._check_replay(player)
        return player

    def _check_replay(self, player: Player) -> None:
        k = player.moves
        original = self.player
        same = (
            k <= original.moves
            and player.history == original.history[: k + 1]
            and player.world.trace == original.world.trace[: player.history[-1]]
        )
        if not same:
            raise NotReplayable(
                f"building the world again gave another run by move {k}: rewinding needs a "
                "build function that makes the same world every time (same seed, same inputs)"
            )

    def step(self, n: int = 1) -> list[Move]:
        """Do ``n`` moves (fewer if the run ends first).

        Raises:
            DebugError: nothing is left to do (nothing changed).
        """
        moves = [self.player.move()]
        while len(moves) < n and self.player.upcoming() is not None:
            moves.append(self.player.move())
        return moves

    def back(self, n: int = 1) -> None:
        """Go back ``n`` moves by replaying to move ``position - n``.

        Raises:
            DebugError: ``n`` is more than the moves done. RewindUnavailable, NotReplayable.
        """
        if n > self.position:
            raise DebugError(f"cannot go back {n} move(s): {self.position} move(s) are done")
        self.player = self.replay(self.position - n)

    def fork(self, edit: Edit) -> Session:
        """Branch here with one thing changed (``edit``, made before the next move).

        Returns:
            The branch, just after its edit was made; this session is unchanged.

        Raises:
            RewindUnavailable; RefmodelError: the edit is rejected (nothing changed).
        """
        recipe = self._require_recipe("forking")
        edit = attrs.evolve(edit, at=self.position)
        branched = recipe.with_edit(edit)
        player = self.replay(self.position, branched)
        while (player.upcoming() or (0, ""))[1] == "edit":
            player.move()  # The edits due here, the new one last.
        fork = Session(branched)
        fork.player = player
        return fork

    def future(self, limit: int = MAX_MOVES) -> Iterator[TraceEvent]:
        """The events that follow from the current move if nothing changes, played lazily on
        a replica (this session is not moved).

        Raises:
            RewindUnavailable: the session cannot build its world again.
        """
        replica = self.replay(self.position)
        for _ in range(limit):
            if replica.upcoming() is None:
                return
            yield from replica.move().events

    def explain(self, work_id: str) -> str:
        """:func:`~refmodel.debugger.explain.explain` for ``work_id``, with look-ahead where
        the session can build its world again."""
        future = self.future if self.rebuildable else None
        return explain(self.world, work_id, future=future)

    def play(
        self,
        until: int | None = None,
        *,
        on_move: Callable[[Move], None] | None = None,
        limit: int = MAX_MOVES,
    ) -> None:
        """Move until the workload is over, or, with ``until``, through every move up to that
        virtual time (then the clock reads ``until``).

        Args:
            until: stop after the moves at this time instead (ms, not before now).
            on_move: called after each move (progress, logging).
            limit: give up after this many moves.

        Raises:
            DebugError: ``until`` is in the past, or ``limit`` moves did not get there.
        """
        player = self.player
        if until is not None and until < player.world.now:
            raise DebugError(f"cannot play until {until:,} ms: it is {player.world.now:,} ms")
        for _ in range(limit):
            upcoming = player.upcoming()
            if upcoming is None or (until is None and player.over):
                break
            if until is not None and upcoming[0] > until:
                break
            move = player.move()
            if on_move is not None:
                on_move(move)
        else:
            raise DebugError(f"the workload is not over after {limit:,} moves")
        if until is not None and player.world.now < until:
            player.world.run_until(until)  # Nothing is queued before it: sets the clock.

    def run_to_end(self, limit: int = MAX_MOVES) -> Player:
        """A replica played from here until its workload is over (see :attr:`Player.over`).

        Raises:
            DebugError: the workload is not over after ``limit`` moves.
        """
        replica = self.replay(self.position)
        for _ in range(limit):
            if replica.over or replica.upcoming() is None:
                return replica
            replica.move()
        raise DebugError(f"the workload is not over after {limit:,} moves")


def scenario_from_file(path: str) -> Scenario:
    """Read a scenario from a JSON file: a scenario, or a conformance fixture (its
    ``scenario``, so that a counterexample ``--explore`` wrote can be stepped through).

    Raises:
        ScenarioError: the file cannot be read, is not JSON, or the scenario is invalid; the
            message starts with the file name and names the JSON path of the bad field.
    """
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read()
    except OSError as error:
        raise ScenarioError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    try:
        data = parse_json(text)
    except JsonProblem as problem:
        raise ScenarioError(f"{path}: {problem}") from None
    where = "scenario"
    if isinstance(data, dict) and "scenario" in data and "expect" in data:
        data, where = data["scenario"], "fixture.scenario"
    try:
        scenario = load(data, where)
        check_scenario_pools(scenario, where)
    except ScenarioError as error:
        raise ScenarioError(f"{path}: {error}") from None
    return scenario
