from hypothesis import given

from refmodel.strategies import play, workloads

POOLS = {"emails": {"maxParallelism": 5}, "scrapes": {"maxParallelism": 1}}
FUNCTIONS = {
    "email": {"kind": "action", "attempts": [{"durationMs": 300, "returns": "sent"}]},
    "scrape": {"kind": "action", "attempts": [{"durationMs": 1000, "returns": None}]},
}
WORK = [("emails", "email"), ("scrapes", "scrape")]


def email_waits(workload):
    """How long each email waited for a slot, in the order they were enqueued."""
    world = play(workload)
    emails = [e.id for e in world.trace if e.kind == "enqueued" and e.data["fn"] == "email"]
    waited = {e.id: e.data["lagMs"] for e in world.trace if e.kind == "started"}
    return [waited[work_id] for work_id in emails]


def behind_the_scrapes(workload):
    """How much longer each email waits than it would if no scrape were ever enqueued."""
    alone = {**workload, "steps": [s for s in workload["steps"] if s.get("fn") != "scrape"]}
    return [w - a for w, a in zip(email_waits(workload), email_waits(alone), strict=True)]


@given(workloads(POOLS, FUNCTIONS, work=WORK))
def test_my_email_pool_never_waits_more_than_1s_behind_the_scrapes(workload):
    assert all(extra <= 1000 for extra in behind_the_scrapes(workload))
