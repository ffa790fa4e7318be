"""Small SVG charts drawn on the server: they work offline, need no chart library, and print well."""

from __future__ import annotations

import html
from collections.abc import Sequence

TOWARD_IMPACT, AWAY_FROM_IMPACT, NEUTRAL, OBSERVED = "#d9534f", "#5b9bd5", "#999", "#2b6cb0"
MUTED = "#666"
TIER_COLOURS = {"P1": "#b91c1c", "P2": "#ea580c", "P3": "#ca8a04", "P4": "#64748b"}  # as app.css
CHANGE = "#7c3aed"


def _text(
    x: float, y: float, body: str, size: int = 11, anchor: str = "start", colour: str = "#333"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{colour}">{html.escape(body)}</text>'
    )


def _tick(x: float, y1: float, y2: float, colour: str, width: int = 3) -> str:
    return (
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" '
        f'stroke="{colour}" stroke-width="{width}"/>'
    )


def waterfall(
    items: Sequence[tuple[str, float]], base: float, total: float, width: int = 640
) -> str:
    """Contributions to the raw score, from the model's base value to the alert's score (log-odds)."""
    row, left, label_w = 22, 8, 230
    height = row * (len(items) + 2) + 20
    running = [base]
    for _, value in items:
        running.append(running[-1] + value)
    lo, hi = min(*running, total), max(*running, total)
    plot_w = width - label_w - 70

    def x(v: float) -> float:
        return label_w + (v - lo) / ((hi - lo) or 1.0) * plot_w

    y = 20
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="contributions">',
        _text(left, y + 4, "base value"),
        _tick(x(base), y - 8, y + 8, NEUTRAL),
        _text(x(base) + 6, y + 4, f"{base:+.2f}", size=10, colour=MUTED),
    ]
    for (name, value), start in zip(items, running, strict=False):
        y += row
        end = start + value
        colour = TOWARD_IMPACT if value > 0 else AWAY_FROM_IMPACT
        parts += [
            _text(left, y + 4, name),
            f'<rect x="{min(x(start), x(end)):.1f}" y="{y - 7}" '
            f'width="{max(abs(x(end) - x(start)), 1):.1f}" height="14" fill="{colour}">'
            f"<title>{html.escape(name)}: {value:+.3f}</title></rect>",
            _text(max(x(start), x(end)) + 4, y + 4, f"{value:+.2f}", size=10, colour=MUTED),
        ]
    y += row
    parts += [
        _text(left, y + 4, "score (log-odds)"),
        _tick(x(total), y - 8, y + 8, "#222"),
        _text(x(total) + 6, y + 4, f"{total:.2f}", size=10),
        "</svg>",
    ]
    return "".join(parts)


def curve(
    points: Sequence[tuple[float, float | None, float | None]],
    marker: float,
    width: int = 640,
    height: int = 236,
    x_label: str = "minutes from fired_at",
    marker_label: str = "alert fired",
    events: Sequence[tuple[float, str, str]] = (),
) -> str:
    """Observed and normal completion per window (x in minutes), a vertical line at `marker` (where
    the alert fired), and `events` (x, label, colour) as ticks along the foot, each titled."""
    if not points:
        return '<p class="note">No journey outcomes around this alert in the live state.</p>'
    pad_l, pad_r, pad_b, pad_t = 44, 10, 46, 14
    xs = [p[0] for p in points] + [e[0] for e in events]
    ys = [v for p in points for v in p[1:] if v is not None]
    x_lo, x_hi = min(*xs, marker), max(*xs, marker)
    y_lo, y_hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    y_lo, y_hi = max(0.0, y_lo - 0.05), min(1.0, y_hi + 0.05)
    bottom = height - pad_b

    def px(v: float) -> float:
        return pad_l + (v - x_lo) / ((x_hi - x_lo) or 1) * (width - pad_l - pad_r)

    def py(v: float) -> float:
        return pad_t + (1 - (v - y_lo) / ((y_hi - y_lo) or 1)) * (bottom - pad_t)

    def line(index: int, colour: str, dash: str = "") -> str:
        coords = " ".join(
            f"{px(p[0]):.1f},{py(p[index]):.1f}" for p in points if p[index] is not None
        )
        style = f' stroke-dasharray="{dash}"' if dash else ""
        return (
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{style} points="{coords}"/>'
        )

    right_half = px(marker) > width / 2
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="completion rate">',
        f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{bottom}" y2="{bottom}" stroke="#ccc"/>',
        line(2, NEUTRAL, "5,4"),
        line(1, OBSERVED),
        _tick(px(marker), pad_t, bottom, TOWARD_IMPACT, width=2),
        _text(
            px(marker) + (-4 if right_half else 4),
            pad_t + 10,
            marker_label,
            size=10,
            anchor="end" if right_half else "start",
            colour=TOWARD_IMPACT,
        ),
    ]
    for x_at, label, colour in events:
        parts.append(
            f'<line class="event" x1="{px(x_at):.1f}" x2="{px(x_at):.1f}" y1="{bottom - 14:.1f}" '
            f'y2="{bottom:.1f}" stroke="{colour}" stroke-width="3">'
            f"<title>{html.escape(label)} ({x_at:+.0f} min)</title></line>"
        )
    for v in (y_lo, (y_lo + y_hi) / 2, y_hi):
        parts.append(_text(pad_l - 4, py(v) + 4, f"{v:.0%}", size=10, anchor="end", colour=MUTED))
    min_gap = 0.06 * (x_hi - x_lo)
    ticks = [x_lo, x_hi] + ([marker] if min(marker - x_lo, x_hi - marker) > min_gap else [])
    for v in ticks:
        parts.append(_text(px(v), bottom + 14, f"{v:+.0f}", size=10, anchor="middle", colour=MUTED))
    parts += [
        _text(width / 2, bottom + 28, x_label, size=10, anchor="middle", colour=MUTED),
        _text(pad_l, height - 2, "observed", size=10, colour=OBSERVED),
        _text(
            pad_l + 60, height - 2, "normal for the hour of week (dashed)", size=10, colour=MUTED
        ),
        "</svg>",
    ]
    return "".join(parts)


def funnel(stages: Sequence[dict], width: int = 560) -> str:
    """Per stage in funnel order: completion now (coloured, red when hurting) over normal (grey)."""
    row, label_w = 34, 170
    bar_w = width - label_w - 90
    height = row * len(stages) + 24
    parts = [
        f'<svg class="chart funnel" viewBox="0 0 {width} {height}" role="img" aria-label="funnel">'
    ]
    for i, s in enumerate(stages):
        y = 8 + i * row
        now, normal = s.get("completion_now"), s.get("completion_normal")
        colour = TOWARD_IMPACT if s.get("hurting") else OBSERVED
        parts.append(_text(4, y + 10, s["stage"]))
        parts.append(_text(4, y + 23, f"{s.get('sessions', 0):,} sessions", size=9, colour=MUTED))
        if normal is not None:
            parts.append(
                f'<rect x="{label_w}" y="{y + 2}" width="{bar_w * normal:.1f}" height="10" '
                f'fill="#ddd"><title>normal {normal:.1%}</title></rect>'
            )
        if now is None:
            parts.append(_text(label_w, y + 22, "no live data", size=10, colour=NEUTRAL))
            continue
        parts.append(
            f'<rect x="{label_w}" y="{y + 13}" width="{bar_w * now:.1f}" height="10" '
            f'fill="{colour}"><title>now {now:.1%}</title></rect>'
        )
        versus = f"{now:.0%} vs {normal:.0%}" if normal is not None else f"{now:.0%}"
        parts.append(_text(label_w + bar_w + 6, y + 22, versus, size=10, colour=colour))
    parts.append(_text(4, height - 4, "grey: normal · colour: now", size=9, colour=MUTED))
    parts.append("</svg>")
    return "".join(parts)
