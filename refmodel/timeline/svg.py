"""A trace as a self-contained SVG picture, for READMEs and CI artifacts.

Per pool: a lane per slot with each attempt as a bar coloured by how it ended (hover a bar
for its work id, function, attempt and times), then the pool's queue length over time as a
step line. Under the pools: a time axis in virtual ms and a legend. The file has no external
references (no fonts, images, scripts or links), so it renders the same anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape

from refmodel.timeline.lanes import OUTCOMES, layout
from refmodel.trace import TraceEvent

COLOURS = {
    "succeeded": "#3f8f29",
    "failed": "#c0392b",
    "retrying": "#e67e22",
    "timed_out": "#8e44ad",
    "canceled": "#7f8c8d",
    "running": "#2e86c1",
}
"""The fill of an attempt bar, by how it ended."""

LABEL_W = 190
PLOT_W = 720
LANE_H = 16
QUEUE_H = 36
HEADER_H = 22
GAP = 14
FONT = 'font-family="monospace" font-size="11"'


def _nice_step(span: int, ticks: int = 8) -> int:
    raw = max(1, span // ticks)
    magnitude = int(10 ** (len(str(raw)) - 1))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def to_svg(events: Iterable[TraceEvent], *, title: str = "refmodel timeline") -> str:
    """The SVG document of ``events`` (see the module doc)."""
    laid = layout(events)
    end = max(laid.end, 1)
    scale = PLOT_W / end

    def x(time: int) -> float:
        return round(LABEL_W + time * scale, 2)

    body: list[str] = []
    y = 30
    body.append(f'<text x="8" y="18" {FONT} font-weight="bold">{escape(title)}</text>')
    for name, (slots, limit) in laid.pools.items():
        shown = name if limit is None else f"{name} (max_parallelism {limit})"
        body.append(f'<g class="pool" data-pool="{escape(name)}">')
        body.append(f'<text x="8" y="{y + 15}" {FONT} font-weight="bold">{escape(shown)}</text>')
        y += HEADER_H
        for slot in range(slots):
            body.append(f'<text x="20" y="{y + 12}" {FONT}>slot {slot + 1}</text>')
            body.append(f'<rect class="lane" x="{LABEL_W}" y="{y}" width="{PLOT_W}" '
                        f'height="{LANE_H - 2}" fill="#f4f6f7"/>')
            for span in laid.spans:
                if span.pool != name or span.slot != slot:
                    continue
                width = max(round((span.end - span.start) * scale, 2), 1.0)
                tip = (f"{span.id} {span.fn} attempt {span.attempt}: {span.start} to "
                       f"{span.end} ms, {span.outcome}")
                body.append(
                    f'<rect class="attempt" data-id="{escape(span.id)}" '
                    f'data-outcome="{span.outcome}" x="{x(span.start)}" y="{y}" '
                    f'width="{width}" height="{LANE_H - 2}" fill="{COLOURS[span.outcome]}">'
                    f"<title>{escape(tip)}</title></rect>"
                )
            y += LANE_H
        series = laid.queues.get(name, ())
        peak = max((waiting for _, waiting in series), default=0)
        body.append(f'<text x="20" y="{y + 14}" {FONT}>queue (max {peak})</text>')
        body.append(f'<rect x="{LABEL_W}" y="{y}" width="{PLOT_W}" height="{QUEUE_H}" '
                    'fill="none" stroke="#d5d8dc"/>')
        if series and peak > 0:
            base = y + QUEUE_H

            def h(waiting: int, top: int = base, peak: int = peak) -> float:
                return round(top - waiting / peak * (QUEUE_H - 4), 2)

            points = [f"{x(series[0][0])},{base}"]
            level = 0
            for time, waiting in series:
                points.append(f"{x(time)},{h(level)}")
                points.append(f"{x(time)},{h(waiting)}")
                level = waiting
            points.append(f"{x(end)},{h(level)}")
            body.append(f'<polyline class="queue" data-pool="{escape(name)}" fill="none" '
                        f'stroke="#34495e" stroke-width="1.5" points="{" ".join(points)}"/>')
        y += QUEUE_H + GAP
        body.append("</g>")
    if not laid.pools:
        body.append(f'<text x="8" y="{y + 12}" {FONT}>(no work in this trace)</text>')
        y += LANE_H
    # The time axis.
    body.append(f'<line x1="{LABEL_W}" y1="{y}" x2="{LABEL_W + PLOT_W}" y2="{y}" '
                'stroke="#2c3e50"/>')
    step = _nice_step(end)
    for tick in range(0, end + 1, step):
        body.append(f'<line x1="{x(tick)}" y1="{y}" x2="{x(tick)}" y2="{y + 4}" '
                    'stroke="#2c3e50"/>')
        body.append(f'<text class="tick" x="{x(tick)}" y="{y + 16}" {FONT} '
                    f'text-anchor="middle">{tick:,}</text>')
    body.append(f'<text x="8" y="{y + 16}" {FONT}>virtual ms</text>')
    y += 30
    lx = 8
    for outcome in OUTCOMES:
        body.append(f'<rect x="{lx}" y="{y}" width="10" height="10" '
                    f'fill="{COLOURS[outcome]}"/>')
        body.append(f'<text x="{lx + 14}" y="{y + 9}" {FONT}>{outcome.replace("_", " ")}</text>')
        lx += 14 + 8 * len(outcome) + 16
    height = y + 20
    width = LABEL_W + PLOT_W + 20
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">\n'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )
