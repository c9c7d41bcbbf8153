"""The seed README's three examples, played in the model.

- ``emails``: verification emails and weather scrapes in separate pools, against the same load
  on the plain scheduler of a deployment that runs four scheduled functions at a time, where
  the emails wait behind the scrapes.
- ``counter``: an action that increments a singleton counter through a pool of one; with the
  pool no increment ever hits an OCC conflict, while the same load run directly does.
- ``ctx``: the whole ``pool.ctx(ctx)`` interface: ``run_action``, ``run_mutation``,
  ``run_query``, ``scheduler.run_after`` / ``run_at`` / ``cancel`` (which refuses ids it did not
  issue), and ``status`` / ``try_result`` / ``poll_result``.
- ``retries`` (current profile): the current README's ``sendEmailReliablyWithRetries`` with an
  ``emailSent`` onComplete, retried with jittered backoff.
- ``borrowing``: the ``emails`` load under the proposal of workpool#144
  (:mod:`refmodel.proposals.borrowing`), against the current profile.

Each function builds its worlds, runs them, and returns an :class:`Example` with the worlds (to
inspect or step through further), a summary and a timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from refmodel.engine.runtime import ActionCtx, MutationCtx, QueryCtx
from refmodel.errors import ForeignWorkId
from refmodel.proposals.borrowing import BORROWING
from refmodel.timeline import render
from refmodel.workpool.options import RetryBehavior
from refmodel.workpool.profiles import Profile
from refmodel.world import World

__refmodel_user_code__ = True  # The functions here are user code (rule EXE-4).

CITIES = [f"city{i:02d}" for i in range(12)]
USERS = ["ada", "grace", "alan"]
SIGN_UP_AT = 500


@attrs.frozen(kw_only=True)
class Example:
    """One example, played.

    Attributes:
        name: the example's name.
        worlds: the worlds it ran, by label.
        summary: what it shows, as lines of text.
        timelines: a timeline per world label.
    """

    name: str
    worlds: dict[str, World]
    summary: list[str]
    timelines: dict[str, str]

    def report(self) -> str:
        """The summary and the timelines as one text."""
        parts = [f"== example: {self.name} ==", *self.summary, ""]
        for label, picture in self.timelines.items():
            parts += [f"-- timeline: {label} --", picture]
        return "\n".join(parts)


def _email_world(
    use_pools: bool, seed: int, profile: str | Profile = "seed"
) -> tuple[World, list[str]]:
    world = World(seed=seed, scheduler_concurrency=None if use_pools else 4, profile=profile)
    email_pool = world.pool("emailWorkpool", max_parallelism=5)
    scrape_pool = world.pool("scrapeWorkpool", max_parallelism=1)

    @world.action("auth:sendEmailVerification")
    async def send_email_verification(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(300)
        return f"sent to {args['userId']}"

    @world.action("weather:scrape")
    async def scrape(ctx: ActionCtx, args: dict[str, Any]) -> dict[str, Any]:
        await ctx.sleep(1000)
        return {"city": args["city"], "tempC": 20}

    @world.mutation("users:signUp")
    def sign_up(ctx: MutationCtx, args: dict[str, Any]) -> str:
        user_id = ctx.db.insert("users", args)
        if use_pools:
            email_pool.enqueue_action(ctx, send_email_verification, {"userId": user_id})
        else:
            ctx.scheduler.run_after(0, send_email_verification, {"userId": user_id})
        return user_id

    @world.mutation("weather:downloadLatestWeather")
    def download_latest_weather(ctx: MutationCtx, args: dict[str, Any]) -> None:
        for city in CITIES:
            if use_pools:
                scrape_pool.enqueue_action(ctx, scrape, {"city": city})
            else:
                ctx.scheduler.run_after(0, scrape, {"city": city})

    def sign_up_everyone() -> None:
        for name in USERS:
            world.run_mutation(sign_up, {"name": name})

    world.run_mutation(download_latest_weather)
    world.call_at(SIGN_UP_AT, sign_up_everyone)
    world.run_until_idle()
    return world, [e.id for e in world.trace if e.kind in ("enqueued", "scheduled") and e.id]


def _email_latency(world: World) -> int:
    """When the last verification email was sent, counted from the sign-ups."""
    ends = [
        e.time
        for e in world.trace
        if e.kind in ("succeeded", "sched_succeeded") and "sent to" in str(e.data.get("result"))
    ]
    return max(ends) - SIGN_UP_AT


def emails(seed: int = 0) -> Example:
    """Separate pools keep emails fast while scrapes queue; the plain scheduler does not."""
    pooled, _ = _email_world(True, seed)
    plain, _ = _email_world(False, seed)
    summary = [
        f"{len(CITIES)} scrapes (1000 ms each) are enqueued at 0 ms; {len(USERS)} users sign up "
        f"at {SIGN_UP_AT} ms and each needs a verification email (300 ms).",
        f"with pools (emails 5, scrapes 1): the last email is sent "
        f"{_email_latency(pooled)} ms after sign-up; the scrapes finish at {pooled.now} ms.",
        f"plain scheduler, 4 at a time: the last email is sent {_email_latency(plain)} ms "
        f"after sign-up, stuck behind the scrapes.",
    ]
    return Example(
        name="emails",
        worlds={"pools": pooled, "plain scheduler": plain},
        summary=summary,
        timelines={
            "pools": render(pooled.trace, scale=250),
            "plain scheduler (4 at a time)": render(plain.trace, scale=250),
        },
    )


def _scrapes_done(world: World) -> int:
    """When the last scrape finished."""
    return max(
        e.time for e in world.trace if e.kind == "succeeded" and "city" in str(e.data["result"])
    )


def borrowing(seed: int = 0) -> Example:
    """The proposal of workpool#144: pools borrow idle pools' slots. The scrapes finish far
    sooner; the emails, whose slots were lent, wait for them to come back."""
    own, _ = _email_world(True, seed, "current")
    lent, _ = _email_world(True, seed, BORROWING)
    summary = [
        f"the emails example in profile current and in {BORROWING.name!r} "
        "(refmodel.proposals.borrowing: an idle pool lends its slots; they come back as the "
        "borrowed attempts end).",
        f"own slots only: the scrapes finish at {_scrapes_done(own)} ms; the last email is sent "
        f"{_email_latency(own)} ms after sign-up.",
        f"borrowed slots: the scrapes finish at {_scrapes_done(lent)} ms, borrowing the idle "
        f"email slots; the last email is sent {_email_latency(lent)} ms after sign-up, once "
        "its slots came back.",
    ]
    return Example(
        name="borrowing",
        worlds={"borrowing": lent, "own slots": own},
        summary=summary,
        timelines={
            "borrowed slots": render(lent.trace, scale=250),
            "own slots only": render(own.trace, scale=250),
        },
    )


def _counter_world(use_pool: bool, callers: int, seed: int) -> World:
    world = World(seed=seed)
    counter_pool = world.pool("counterWorkpool", max_parallelism=1)

    @world.mutation("counter:increment", duration_ms=20)
    def increment(ctx: MutationCtx, args: dict[str, Any]) -> int:
        rows = ctx.db.query("counters")
        if not rows:
            ctx.db.insert("counters", {"value": 1})
            return 1
        value = int(rows[0]["value"]) + 1
        ctx.db.patch(rows[0]["_id"], {"value": value})
        return value

    @world.mutation("counter:create")
    def create(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("counters", {"value": 0})

    @world.action("example:doSomethingAndCount")
    async def do_something_and_count(ctx: ActionCtx, args: dict[str, Any]) -> int:
        if use_pool:
            pool_ctx = counter_pool.ctx(ctx)
            new_value: int = await pool_ctx.run_mutation(increment)
            pool_ctx.scheduler.run_after(100, increment)
        else:
            new_value = await ctx.run_mutation(increment)
            ctx.scheduler.run_after(100, increment)
        return new_value

    world.run_mutation(create)
    for _ in range(callers):
        world.run_action(do_something_and_count)
    world.run_until_idle()
    return world


def _counter_value(world: World) -> int:
    return int(world.store.all("counters")[0]["value"])


def counter(seed: int = 0, callers: int = 10) -> Example:
    """A pool of one serialises the counter's mutations: no OCC conflicts."""
    pooled = _counter_world(True, callers, seed)
    plain = _counter_world(False, callers, seed)
    conflicts = {
        label: sum(1 for e in w.trace if e.kind == "conflict")
        for label, w in (("pool", pooled), ("plain", plain))
    }
    summary = [
        f"{callers} actions start at once; each increments the counter now and again 100 ms "
        "later (mutations take 20 ms).",
        f"through counterWorkpool (max_parallelism 1): {conflicts['pool']} OCC conflicts, "
        f"counter = {_counter_value(pooled)} (expected {2 * callers}).",
        f"run directly: {conflicts['plain']} OCC conflicts, counter = {_counter_value(plain)}.",
    ]
    return Example(
        name="counter",
        worlds={"pool": pooled, "plain": plain},
        summary=summary,
        timelines={"pool": render(pooled.trace, scale=20)},
    )


def ctx_interface(seed: int = 0) -> Example:
    """Every method of ``pool.ctx(ctx)`` and of the pool's result API, used once."""
    world = World(seed=seed)
    pool = world.pool("workpool", max_parallelism=2)
    notes: list[str] = []

    @world.action("work:fetch")
    async def fetch(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(int(args["ms"]))
        if args.get("fail"):
            raise RuntimeError(f"fetch {args['what']} failed")
        return f"fetched {args['what']}"

    @world.mutation("work:save", duration_ms=5)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("saved", args)

    @world.query("work:count")
    def count(ctx: QueryCtx, args: dict[str, Any]) -> int:
        return len(ctx.db.query("saved"))

    @world.action("work:main")
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> dict[str, Any]:
        pool_ctx = pool.ctx(ctx)
        fetched = await pool_ctx.run_action(fetch, {"what": "page", "ms": 100})
        saved_id = await pool_ctx.run_mutation(save, {"text": fetched})
        saved = await pool_ctx.run_query(count)
        later = pool_ctx.scheduler.run_after(1000, fetch, {"what": "later", "ms": 50})
        at = pool_ctx.scheduler.run_at(ctx.now + 2000, fetch, {"what": "at", "ms": 50})
        pool_ctx.scheduler.cancel(at)
        direct = pool.enqueue_action(ctx, fetch, {"what": "direct", "ms": 10})
        try:
            pool_ctx.scheduler.cancel(direct)
            refused = "not refused"
        except ForeignWorkId as error:
            refused = str(error)
        failing = pool.enqueue_action(ctx, fetch, {"what": "x", "ms": 10, "fail": True})
        try:
            await pool.poll_result(ctx, failing, 1000)
            failure = "no error"
        except Exception as error:
            failure = f"{type(error).__name__}: {error}"
        return {
            "fetched": fetched,
            "savedId": saved_id,
            "saved": saved,
            "later": later,
            "canceled": at,
            "refused": refused,
            "failure": failure,
        }

    handle = world.run_action(main)
    world.run_until_idle()
    result = handle.result()
    notes.append(f"main returned after {world.now} ms:")
    notes += [f"  {key}: {value}" for key, value in result.items()]
    for work_id in pool.work_ids():
        notes.append(f"  status({work_id}) = {pool.status(work_id).to_json()}")
    return Example(
        name="ctx",
        worlds={"world": world},
        summary=notes,
        timelines={"world": render(world.trace, scale=50)},
    )


def retries(seed: int = 0) -> Example:
    """The current README's ``sendEmailReliablyWithRetries`` / ``emailSent``, in the current
    profile: a flaky provider fails twice, the pool retries with jittered backoff, and
    ``emailSent`` runs once with the final result."""
    world = World(seed=seed, profile="current")
    pool = world.pool(
        "emailWorkpool",
        retry_actions_by_default=True,
        default_retry_behavior=RetryBehavior(max_attempts=3, initial_backoff_ms=1000, base=2),
    )

    @world.mutation("email:countAttempt")
    def count_attempt(ctx: MutationCtx, args: dict[str, Any]) -> int:
        rows = [row for row in ctx.db.query("attempts") if row["to"] == args["to"]]
        if not rows:
            ctx.db.insert("attempts", {"to": args["to"], "n": 1})
            return 1
        count = int(rows[0]["n"]) + 1
        ctx.db.patch(rows[0]["_id"], {"n": count})
        return count

    @world.action("email:send")
    async def send(ctx: ActionCtx, args: dict[str, Any]) -> dict[str, Any]:
        attempt: int = await ctx.run_mutation(count_attempt, {"to": args["to"]})
        await ctx.sleep(200)
        if attempt < 3:
            raise RuntimeError(f"email provider unavailable (attempt {attempt})")
        return {"messageId": f"msg-{attempt}"}

    @world.mutation("email:emailSent")
    def email_sent(ctx: MutationCtx, args: dict[str, Any]) -> None:
        result = args["result"]
        ctx.db.insert(
            "userEmailLog",
            {
                "userId": args["context"]["userId"],
                "emailType": args["context"]["emailType"],
                "result": result.get("return_value"),
                "error": result.get("error"),
            },
        )

    @world.mutation("email:sendEmailReliablyWithRetries")
    def send_email_reliably_with_retries(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return pool.enqueue_action(
            ctx,
            send,
            {"to": args["to"]},
            on_complete=email_sent,
            context={"emailType": "signup", "userId": args["userId"]},
        )

    handle = world.run_mutation(
        send_email_reliably_with_retries, {"to": "ada@example.com", "userId": "users:1"}
    )
    world.run_until_idle()
    work_id = handle.result()
    notes = [f"enqueued {work_id}; the provider fails attempts 1 and 2, attempt 3 succeeds."]
    for event in world.trace:
        if event.id == work_id or event.kind == "rng":
            notes.append(f"  {event}")
    log = world.store.all("userEmailLog")
    notes.append(f"userEmailLog: {[{k: v for k, v in row.items() if k[0] != '_'} for row in log]}")
    notes.append(f"status: {pool.status(work_id).to_json()}")
    return Example(
        name="retries",
        worlds={"world": world},
        summary=notes,
        timelines={"world": render(world.trace, scale=100)},
    )


EXAMPLES: dict[str, Callable[[int], Example]] = {
    "emails": emails,
    "counter": counter,
    "ctx": ctx_interface,
    "retries": retries,
    "borrowing": borrowing,
}
"""The examples by name."""
