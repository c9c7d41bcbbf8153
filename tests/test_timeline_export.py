"""Pictures outside the terminal: Chrome trace-event JSON (Perfetto) and SVG
(:mod:`refmodel.timeline`), checked against the formats' documented fields and by parsing.

Pictures are not rules of the spec: these tests cite no rule.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from refmodel import ActionCtx, MutationCtx, RetryBehavior, World
from refmodel.timeline import TraceFileError, perfetto_json, read_trace, to_perfetto, to_svg
from refmodel.timeline.lanes import layout
from refmodel.trace import TraceEvent
from tests.spec import checks

SVG = "{http://www.w3.org/2000/svg}"


def busy_world() -> World:
    """Two pools: a pool of 2 with retries, an onComplete and a cancel of waiting work, and a
    pool of 1 whose second item is still running when the trace ends."""
    world = World(seed=4, profile="current")
    mail = world.pool("mail", max_parallelism=2,
                      default_retry_behavior=RetryBehavior(max_attempts=3, initial_backoff_ms=100))
    slow = world.pool("slow", max_parallelism=1)
    tries: dict[str, int] = {}

    @world.action("send")
    async def send(ctx: ActionCtx, args: dict[str, Any]) -> str:
        tries[args["to"]] = tries.get(args["to"], 0) + 1
        await ctx.sleep(50)
        if args["to"] == "flaky" and tries["flaky"] < 3:
            raise RuntimeError("provider down")
        return "sent"

    @world.action("crawl")
    async def crawl(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(args["ms"])

    @world.mutation("done")
    def done(ctx: MutationCtx, args: dict[str, Any]) -> None:
        return None

    mail.enqueue_action(world.client, send, {"to": "flaky"}, retry=True, on_complete=done)
    mail.enqueue_action(world.client, send, {"to": "a"})
    mail.enqueue_action(world.client, send, {"to": "b"})
    doomed = mail.enqueue_action(world.client, send, {"to": "c"})
    slow.enqueue_action(world.client, crawl, {"ms": 100})
    slow.enqueue_action(world.client, crawl, {"ms": 10_000})
    world.run_until(10)
    mail.cancel(world.client, doomed)
    world.run_until(600)
    return world


def _kinds(world: World, *kinds: str) -> list[TraceEvent]:
    return [e for e in world.trace if e.kind in kinds]


@checks()
def test_perfetto_export_has_the_trace_event_formats_fields() -> None:
    world = busy_world()
    obj = json.loads(perfetto_json(world.trace))

    assert obj == to_perfetto(world.trace)
    assert set(obj) == {"traceEvents", "displayTimeUnit", "otherData"}
    assert obj["displayTimeUnit"] == "ms"
    for event in obj["traceEvents"]:
        assert event["ph"] in {"X", "i", "M", "C"}
        assert isinstance(event["name"], str) and event["name"]
        assert type(event["pid"]) is int and type(event["tid"]) is int
        assert isinstance(event.get("args", {}), dict)
        if event["ph"] == "X":
            assert type(event["ts"]) is int and type(event["dur"]) is int and event["dur"] >= 0
        if event["ph"] == "i":
            assert event["s"] in {"t", "p", "g"}
        if event["ph"] == "M":
            assert event["name"] in {"process_name", "thread_name", "process_sort_index",
                                     "thread_sort_index"}


@checks()
def test_perfetto_export_puts_each_attempt_on_a_slot_lane_in_microseconds() -> None:
    world = busy_world()
    events = to_perfetto(world.trace)["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}

    assert processes == {1: "mail (max_parallelism 2)", 2: "slow (max_parallelism 1)"}
    assert names == {(1, 1): "slot 1", (1, 2): "slot 2", (2, 1): "slot 1"}
    assert len(spans) == len(_kinds(world, "started"))
    for lane in {(e["pid"], e["tid"]) for e in spans}:
        mine = sorted((e["ts"], e["ts"] + e["dur"]) for e in spans if (e["pid"], e["tid"]) == lane)
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(mine))
    flaky = [e for e in spans if e["args"]["id"] == "mail/1"]
    starts = [e.time * 1000 for e in _kinds(world, "started") if e.id == "mail/1"]
    assert [e["ts"] for e in flaky] == starts
    assert [e["args"]["outcome"] for e in flaky] == ["retrying", "retrying", "succeeded"]
    assert flaky[0]["args"]["error"] == "provider down"
    running = [e for e in spans if e["args"]["outcome"] == "running"]
    assert [(e["args"]["id"], e["ts"], e["ts"] + e["dur"]) for e in running] == [
        ("slow/2", 100_000, 343_000)  # The trace ends at 343 ms.
    ]
    instants = [(e["name"], e["s"]) for e in events if e["ph"] == "i"]
    assert instants.count(("retry mail/1", "t")) == 2
    assert ("canceled mail/4", "p") in instants
    assert ("onComplete mail/1", "p") in instants


@checks()
def test_perfetto_queue_counter_follows_waiting_items() -> None:
    laid = layout(busy_world().trace)
    assert laid.queues["slow"] == ((0, 1), (100, 0))  # Two enqueued at 0, one started at 0.
    assert laid.queues["mail"][0] == (0, 2)
    assert laid.pools == {"mail": (2, 2), "slow": (1, 1)}


@checks()
def test_svg_export_is_self_contained_and_draws_every_attempt() -> None:
    world = busy_world()
    root = ET.fromstring(to_svg(world.trace, title="busy <world>"))

    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        for name, value in element.attrib.items():
            assert "href" not in name and "url(" not in value
        assert element.tag.replace(SVG, "") not in {"image", "script", "foreignObject", "use"}
    bars = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "attempt"]
    assert len(bars) == len(_kinds(world, "started"))
    assert {bar.get("data-outcome") for bar in bars} == {"retrying", "succeeded", "running"}
    tips = [bar.findtext(f"{SVG}title") for bar in bars]
    assert "mail/1 send attempt 3: 293 to 343 ms, succeeded" in tips
    queues = [e.get("data-pool") for e in root.iter(f"{SVG}polyline")]
    assert queues == ["mail", "slow"]
    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert "busy <world>" in texts and "mail (max_parallelism 2)" in texts
    assert "0" in texts and "300" in texts


@checks()
def test_svg_of_a_trace_without_work_says_so() -> None:
    root = ET.fromstring(to_svg([]))
    assert "(no work in this trace)" in [e.text for e in root.iter(f"{SVG}text")]


@checks()
def test_read_trace_round_trips_and_names_the_bad_line(tmp_path: Path) -> None:
    world = busy_world()
    path = tmp_path / "trace.jsonl"
    path.write_text(world.trace_jsonl(), encoding="utf-8")
    assert read_trace(str(path)) == world.trace

    path.write_text(world.trace[0].to_line() + "\n\n{\"t\": 1}\n", encoding="utf-8")
    with pytest.raises(TraceFileError, match=r"trace.jsonl line 3: not a trace event"):
        read_trace(str(path))
    path.write_text("{", encoding="utf-8")
    with pytest.raises(TraceFileError, match=r"line 1: invalid JSON"):
        read_trace(str(path))
    with pytest.raises(TraceFileError, match=r"cannot read .*missing.jsonl"):
        read_trace(str(tmp_path / "missing.jsonl"))


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        found = shutil.which(name)
        if found:
            return found
    return None


@checks()
def test_svg_renders_in_a_headless_browser(tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium) to render the SVG")
    svg = tmp_path / "timeline.svg"
    svg.write_text(to_svg(busy_world().trace), encoding="utf-8")
    png = tmp_path / "timeline.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", "--window-size=930,400", svg.as_uri()],
        capture_output=True, timeout=60, check=False,
    )
    assert png.exists(), done.stderr.decode(errors="replace")[-500:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank page compresses to almost nothing; the bars and text make it much larger.
    assert len(data) > 5000
