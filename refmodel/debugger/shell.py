"""The interactive debugger: pdb's manner, the standard ``cmd`` module, a session underneath.

Commands (``help COMMAND`` says more):

- moving: ``step [n]``, ``next`` (every move of the next instant), ``until T``, ``continue``
  (to a breakpoint, or until the workload is over), ``back [n]`` (rewind);
- breakpoints: ``break work ID | event KIND | pool NAME full | rule ID``, ``break`` (list),
  ``clear [N]``;
- looking: ``status ID``, ``why ID``, ``show ID`` (its whole history), ``pools`` (limit,
  running, the queue with positions), ``trace [n]``, ``timeline``, ``where``;
- what if: ``fork limit POOL N | cancel ID | enqueue POOL FN [ARGS] | draw VALUE``.

Commands come from a terminal (with line editing) or from a script, one a line (``#`` starts
a comment). From a script each command is echoed after the prompt, so the output reads as a
transcript and is the same byte for byte on every run. A command that cannot be carried out
prints one line starting with ``***`` and changes nothing.
"""

from __future__ import annotations

import cmd
import json
import shlex
from collections.abc import Callable, Iterable
from typing import IO, Any

import attrs

from refmodel.debugger.explain import ms, own_events, pool_of
from refmodel.debugger.session import MAX_MOVES, DebugError, Edit, Move, Session
from refmodel.divergence import compare, observations
from refmodel.errors import RefmodelError, WorkEvicted
from refmodel.timeline import render
from refmodel.trace import KINDS, TraceEvent
from refmodel.values import JsonProblem, parse_json, short
from refmodel.world import World

RULE_EVENTS: dict[str, tuple[str, ...]] = {
    "ENQ-1": ("enqueued",),
    "ENQ-3": ("enqueued",),
    "ENQ-4": ("enqueued",),
    "PAR-1": ("started",),
    "ORD-1": ("started",),
    "ORD-2": ("started",),
    "WC-1": ("started",),
    "EXE-1": ("succeeded", "failed"),
    "EXE-2": ("committed", "conflict"),
    "OCC-2": ("conflict",),
    "TMO-1": ("timed_out",),
    "TMO-2": ("timed_out",),
    "CAN-1": ("canceled",),
    "CAN-2": ("canceled",),
    "CAN-3": ("cancel_ignored",),
    "CAN-6": ("cancel_requested",),
    "CAN-7": ("canceled",),
    "TTL-1": ("evicted",),
    "RTY-1": ("retrying",),
    "RTY-2": ("retrying",),
    "RTY-3": ("retrying",),
    "RTY-4": ("failed",),
    "ONC-1": ("on_complete",),
    "ONC-2": ("on_complete",),
    "ONC-3": ("on_complete",),
    "CFG-5": ("config_updated",),
    "PAR-2": ("config_updated",),
    "DET-2": ("rng",),
    "SCH-1": ("scheduled", "sched_started", "sched_succeeded", "sched_failed"),
    "SCH-2": ("sched_canceled",),
}
"""``break rule ID`` stops at the next transition that rule governs: these trace kinds."""

QUEUE_SHOWN = 20
"""How many queued ids ``pools`` lists per pool."""


@attrs.define
class Breakpoint:
    """A condition checked around every move: ``prime(world)`` sees the world before the
    move, ``hit(move, world)`` says whether to stop after it."""

    number: int
    text: str
    hit: Callable[[Move, World], bool]
    prime: Callable[[World], None] = attrs.field(factory=lambda: _unprimed)


def format_event(event: TraceEvent) -> str:
    """One trace event as a debugger line: time, sequence number, kind, id and data."""
    details = " ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}"
        for key, value in event.data.items() if value is not None
    )
    who = event.id or event.pool or "-"
    return f"{event.time:>9,} ms #{event.seq:<4} {event.kind:<16} {who:<14} {details}".rstrip()


class Debugger(cmd.Cmd):
    """The debugger over one :class:`Session`.

    Args:
        session: what to debug.
        stdin, stdout: where commands come from and output goes.
        script: read commands as a script (echoed, no line editing) rather than from a
            terminal.
    """

    prompt = "(refmodel) "
    intro = None

    def __init__(
        self, session: Session, *, stdin: IO[str], stdout: IO[str], script: bool
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.session = session
        self.script = script
        self.use_rawinput = not script
        self.breakpoints: list[Breakpoint] = []
        self._numbered = 0
        self.rejected = 0
        """How many commands were rejected (a script with any exits with status 2)."""

    ALIASES = frozenset({"s", "n", "c", "cont", "b", "w", "q", "exit", "EOF"})
    """Short names of commands, left out of the ``help`` listing."""

    def get_names(self) -> list[str]:
        """The attribute names ``help`` lists: the commands without their aliases."""
        return [name for name in super().get_names()
                if name.removeprefix("do_") not in self.ALIASES]

    # The loop ----------------------------------------------------------------------------

    def run(self) -> int:
        """Read and carry out commands until ``quit`` or the end of input.

        Returns:
            0, or 2 when a scripted command was rejected.
        """
        self.say(f"refmodel debugger: {self._subject()}; 'help' lists the commands")
        self.say(self._where())
        if not self.script:
            self.cmdloop()
            return 0
        for raw in self.stdin:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            self.stdout.write(f"{self.prompt}{line}\n")
            if self.onecmd(line):
                break
        return 2 if self.rejected else 0

    def onecmd(self, line: str) -> bool:
        """Carry out one command; a refused one prints one line and changes nothing."""
        try:
            return bool(super().onecmd(line))
        except RefmodelError as error:
            self.fail(str(error))
        except (ValueError, json.JSONDecodeError) as error:
            self.fail(str(error))
        return False

    def emptyline(self) -> bool:
        """An empty line repeats the last command at a terminal, as in pdb."""
        return bool(self.lastcmd and not self.script and self.onecmd(self.lastcmd))

    def default(self, line: str) -> None:
        self.fail(f"unknown command {line.split()[0]!r}: 'help' lists the commands")

    def say(self, text: str) -> None:
        """Write one or more lines."""
        self.stdout.write(text + "\n")

    def fail(self, text: str) -> None:
        """Write a refusal: one line, nothing changed."""
        self.rejected += 1
        self.say(f"*** {text.splitlines()[0] if text else 'refused'}")

    def _subject(self) -> str:
        world = self.session.world
        recipe = self.session.recipe
        name = recipe.scenario.name if recipe is not None and recipe.scenario else "a world"
        rewind = "" if self.session.rebuildable else " (stepping only: it cannot be rebuilt)"
        return f"{name}, profile {world.profile.name}, seed {world.seed}{rewind}"

    def _where(self) -> str:
        player = self.session.player
        return (f"> move {player.moves} at {ms(player.world.now)}; next: "
                f"{player.upcoming_text()}")

    def _show_move(self, move: Move) -> None:
        head = "" if move.what == "event" else f" {move.what}"
        self.say(f"move {move.number} at {ms(move.time)}:{head}")
        if not move.events:
            self.say("          (nothing observable)")
        for event in move.events:
            self.say(format_event(event))

    # Moving --------------------------------------------------------------------------------

    def _go(self, keep_going: Callable[[], bool], limit: int = MAX_MOVES) -> Move | None:
        """Move while ``keep_going()``; stop at a breakpoint (returned), at the end, or after
        ``limit`` moves."""
        player = self.session.player
        for _ in range(limit):
            if player.upcoming() is None or not keep_going():
                return None
            for bp in self.breakpoints:
                bp.prime(player.world)
            move = player.move()
            hits = [bp for bp in self.breakpoints if bp.hit(move, player.world)]
            if hits:
                self._show_move(move)
                for bp in hits:
                    self.say(f"breakpoint {bp.number} ({bp.text}) at move {move.number}")
                return move
        raise DebugError(f"stopped after {limit:,} moves without reaching the goal")

    def _count(self, arg: str, what: str) -> int:
        text = arg.strip() or "1"
        try:
            n = int(text)
        except ValueError:
            raise DebugError(f"{what} takes a number of moves, got {short(text)}") from None
        if n < 1:
            raise DebugError(f"{what} takes a number of moves >= 1, got {n}")
        return n

    def do_step(self, arg: str) -> None:
        """step [n]: do the next n moves (default 1) and show what each did. A move is one
        world event, one scenario step or one fork edit."""
        n = self._count(arg, "step")
        for move in self.session.step(n):
            self._show_move(move)
        self.say(self._where())

    do_s = do_step

    def do_next(self, arg: str) -> None:
        """next: run every move of the next instant that has one (stops at breakpoints)."""
        if arg.strip():
            raise DebugError("next takes no argument")
        upcoming = self.session.player.upcoming()
        if upcoming is None:
            raise DebugError(f"nothing left to run at {ms(self.session.world.now)}")
        instant = upcoming[0]
        self._go(lambda: (self.session.player.upcoming() or (-1, ""))[0] == instant)
        self.say(self._where())

    do_n = do_next

    def do_until(self, arg: str) -> None:
        """until T: run every move up to and including virtual time T ms (stops at
        breakpoints)."""
        text = arg.strip().replace(",", "").removesuffix("ms").strip()
        try:
            target = int(text)
        except ValueError:
            raise DebugError(f"until takes a time in ms, got {arg.strip()!r}") from None
        now = self.session.world.now
        if target < now:
            raise DebugError(f"until {target:,} ms is in the past (now {ms(now)}): use back")
        self._go(lambda: (self.session.player.upcoming() or (target + 1, ""))[0] <= target)
        self.say(self._where())

    def do_continue(self, arg: str) -> None:
        """continue: run to the next breakpoint, or until the workload is over (its inputs
        made, no work pending or running); once over, until nothing is left (evictions)."""
        if arg.strip():
            raise DebugError("continue takes no argument")
        player = self.session.player
        if player.upcoming() is None:
            raise DebugError(f"nothing left to run at {ms(player.world.now)}")
        was_over = player.over
        hit = self._go(lambda: was_over or not player.over)
        if hit is None:
            if player.upcoming() is None:
                self.say(f"the run is over at {ms(player.world.now)}: nothing is left to run")
            else:
                self.say(f"the workload is over at {ms(player.world.now)}: no work is pending "
                         "or running ('continue' runs what is left, such as evictions)")
        self.say(self._where())

    do_c = do_cont = do_continue

    def do_back(self, arg: str) -> None:
        """back [n]: go back n moves (default 1), by replaying the run to that move."""
        n = self._count(arg, "back")
        self.session.back(n)
        self.say(self._where())

    do_b = do_back

    # Breakpoints ---------------------------------------------------------------------------

    def do_break(self, arg: str) -> None:
        """break work ID | event KIND | pool NAME full | rule ID: stop after the move that
        touches work ID, produces an event of KIND, makes pool NAME full (every slot taken),
        or makes a transition rule ID governs. 'break' alone lists the breakpoints."""
        words = arg.split()
        if not words:
            if not self.breakpoints:
                self.say("no breakpoints")
            for bp in self.breakpoints:
                self.say(f"{bp.number}: {bp.text}")
            return
        kind, rest = words[0], words[1:]
        world = self.session.world
        hit: Callable[[Move, World], bool]
        prime: Callable[[World], None] = _unprimed
        if kind == "work" and len(rest) == 1:
            work_id = rest[0]
            pool_of(world, work_id)  # Its pool must exist; the id may be issued later.
            number = work_id.partition("/")[2]
            if not (number.isdigit() and int(number) >= 1):
                raise DebugError(f"a work id is <pool>/<n> with n >= 1, got {short(work_id)}")
            hit = _touches(work_id)
        elif kind == "event" and len(rest) == 1:
            if rest[0] not in KINDS:
                raise DebugError(f"unknown event kind {short(rest[0])}: one of {', '.join(KINDS)}")
            hit = _produces({rest[0]})
        elif kind == "pool" and len(rest) == 2 and rest[1] == "full":
            if rest[0] not in world.pools:
                known = ", ".join(sorted(world.pools)) or "none"
                raise DebugError(f"no pool named {short(rest[0])} (pools: {known})")
            hit, prime = _becomes_full(rest[0])
        elif kind == "rule" and len(rest) == 1:
            if rest[0] not in RULE_EVENTS:
                raise DebugError(f"no transition to stop at for rule {short(rest[0])}: rules with "
                                 f"one are {', '.join(sorted(RULE_EVENTS))}")
            hit = _produces(set(RULE_EVENTS[rest[0]]))
        else:
            raise DebugError("break takes: work ID | event KIND | pool NAME full | rule ID")
        self._numbered += 1
        self.breakpoints.append(Breakpoint(self._numbered, " ".join(words), hit, prime))
        self.say(f"breakpoint {self._numbered}: {' '.join(words)}")

    def do_clear(self, arg: str) -> None:
        """clear [N]: delete breakpoint N, or all of them."""
        text = arg.strip()
        if not text:
            self.breakpoints.clear()
            self.say("deleted every breakpoint")
            return
        kept = [bp for bp in self.breakpoints if str(bp.number) != text]
        if len(kept) == len(self.breakpoints):
            raise DebugError(f"no breakpoint {short(text)}")
        self.breakpoints = kept
        self.say(f"deleted breakpoint {text}")

    # Looking -------------------------------------------------------------------------------

    def _one_id(self, arg: str, what: str) -> str:
        words = arg.split()
        if len(words) != 1:
            raise DebugError(f"{what} takes one work id, like pool/1")
        return words[0]

    def do_why(self, arg: str) -> None:
        """why ID: why work ID is where it is: what it waits for, its place in line, when the
        next slot frees and when it is expected to start (or end)."""
        work_id = self._one_id(arg, "why")
        self.say(f"{work_id} {self.session.explain(work_id)}")

    def do_status(self, arg: str) -> None:
        """status ID: the status the API returns for work ID, and its lifecycle state."""
        work_id = self._one_id(arg, "status")
        pool = pool_of(self.session.world, work_id)
        status = json.dumps(pool.status(work_id).to_json(), ensure_ascii=False)
        try:
            info = pool.info(work_id)
        except WorkEvicted:
            self.say(f"{work_id}: status {status}; no longer held by its pool")
            return
        self.say(f"{work_id}: status {status}; lifecycle state {info.state.value}, "
                 f"{info.attempts} attempt(s) ended, eligible at {ms(info.eligible_at)}")

    def do_show(self, arg: str) -> None:
        """show ID: the whole history of work ID: its trace events and the draws made for
        it."""
        work_id = self._one_id(arg, "show")
        world = self.session.world
        pool_of(world, work_id).kind_of(work_id)
        mine = own_events(world, work_id) or []
        self.say(f"{work_id}: {len(mine)} event(s)")
        for event in mine:
            self.say(format_event(event))

    def do_pools(self, arg: str) -> None:
        """pools: every pool's limit, what runs and the queue in start order."""
        if arg.strip():
            raise DebugError("pools takes no argument")
        for pool in self.session.world.pools.values():
            stats = pool.statistics()
            self.say(f"pool {pool.name}: max_parallelism {stats.max_parallelism}, "
                     f"{stats.running} running, {stats.pending} waiting")
            running = [f"{wid} (since {ms(pool.info(wid).started_at or 0)})"
                       for wid in pool.running_ids()]
            self.say(f"  running: {', '.join(running) or '(none)'}")
            line = pool.pending_ids()
            queue = [f"{i}. {wid}" for i, wid in enumerate(line[:QUEUE_SHOWN], start=1)]
            more = f" … and {len(line) - QUEUE_SHOWN} more" if len(line) > QUEUE_SHOWN else ""
            self.say(f"  queue: {'  '.join(queue) or '(empty)'}{more}")

    def do_trace(self, arg: str) -> None:
        """trace [n]: the last n trace events (default 10)."""
        n = self._count(arg or "10", "trace")
        for event in self.session.world.trace[-n:]:
            self.say(format_event(event))

    def do_timeline(self, arg: str) -> None:
        """timeline: the text timeline of the trace so far."""
        if arg.strip():
            raise DebugError("timeline takes no argument")
        world = self.session.world
        self.stdout.write(render(world.trace, end=world.now))

    def do_where(self, arg: str) -> None:
        """where: the current move and time, and what the next move is."""
        self.say(self._where())

    do_w = do_where

    # What if -------------------------------------------------------------------------------

    def do_fork(self, arg: str) -> None:
        """fork limit POOL N | cancel ID | enqueue POOL FN [ARGS-JSON] | draw VALUE: branch
        here with one change (a pool's max_parallelism, a cancel, an added enqueue, or the
        value of the next recorded random draw), run both to the end, show where they first
        differ, and go on in the fork."""
        edit = self._edit(arg)
        original = self.session
        fork = original.fork(edit)  # Raises, changing nothing, if the change is rejected.
        left = observations(original.run_to_end().world.trace)
        right = observations(fork.run_to_end().world.trace)
        self.say(f"forked at move {original.position} ({ms(original.world.now)}): "
                 f"{edit.describe()}")
        divergence = compare(left, right, ("original", "fork"))
        if divergence is None:
            self.say("the fork behaves exactly as the original")
        else:
            self.say(divergence.describe())
        self.session = fork
        self.say(f"now in the fork ('back' steps back within it)\n{self._where()}")

    def _edit(self, arg: str) -> Edit:
        try:
            words = shlex.split(arg)
        except ValueError as error:
            raise DebugError(f"fork: {error}") from None
        usage = "fork takes: limit POOL N | cancel ID | enqueue POOL FN [ARGS-JSON] | draw VALUE"
        if not words:
            raise DebugError(usage)
        op, rest = words[0], words[1:]
        if op == "limit" and len(rest) == 2:
            try:
                value = int(rest[1])
            except ValueError:
                raise DebugError(
                    f"fork limit takes an integer limit, got {short(rest[1])}"
                ) from None
            return Edit(at=0, op="limit", pool=rest[0], value=value)
        if op == "cancel" and len(rest) == 1:
            return Edit(at=0, op="cancel", work_id=rest[0])
        if op == "enqueue" and len(rest) in (2, 3):
            try:
                args: Any = parse_json(rest[2]) if len(rest) == 3 else {}
            except JsonProblem as problem:
                raise DebugError(f"fork enqueue takes a JSON object of args: {problem}") from None
            if not isinstance(args, dict):
                raise DebugError(f"fork enqueue takes a JSON object of args, got {rest[2]}")
            if self.session.recipe is not None and self.session.recipe.scenario is not None:
                args.setdefault("_ref", f"fork-{self.session.position}")
            return Edit(at=0, op="enqueue", pool=rest[0], fn=rest[1], args=args)
        if op == "draw" and len(rest) == 1:
            try:
                return Edit(at=0, op="draw", value=float(rest[0]))
            except ValueError:
                raise DebugError(
                    f"fork draw takes a number in [0, 1), got {short(rest[0])}"
                ) from None
        raise DebugError(usage)

    # Leaving -------------------------------------------------------------------------------

    def do_quit(self, arg: str) -> bool:
        """quit: leave the debugger (also q, exit, or the end of input). Short names: s step,
        n next, c continue, b back, w where."""
        return True

    do_q = do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:
        """End of input leaves the debugger."""
        self.say("")
        return True


def _unprimed(world: World) -> None:
    """A breakpoint that needs nothing from before a move."""


def _touches(work_id: str) -> Callable[[Move, World], bool]:
    return lambda move, world: any(event.id == work_id for event in move.events)


def _produces(kinds: Iterable[str]) -> Callable[[Move, World], bool]:
    wanted = frozenset(kinds)
    return lambda move, world: any(event.kind in wanted for event in move.events)


def _becomes_full(
    name: str,
) -> tuple[Callable[[Move, World], bool], Callable[[World], None]]:
    """A pool-full breakpoint: it hits when a move takes the last free slot."""

    def full(world: World) -> bool:
        stats = world.pools[name].statistics()
        return stats.running >= stats.max_parallelism

    before = {"full": False}

    def prime(world: World) -> None:
        before["full"] = full(world)

    def hit(move: Move, world: World) -> bool:
        return full(world) and not before["full"]

    return hit, prime
