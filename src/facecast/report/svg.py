"""Small inline SVG charts: quantile curves drawn as distribution functions, and horizontal bars.

No plotting library: the report must stay one self-contained file and the
pipeline adds no dependency for it. Every chart is a ``<svg>`` element with a
title, labelled axes with units, and a legend, returned as :class:`~markupsafe.Markup`
for the page's templates: each text it holds is escaped here, as it is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

# Tableau 10: distinguishable, and readable by most colour-blind readers in this order.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, sans-serif'"
CHAR_PX = 7.0  # width of an average character at the charts' 12 px, to make room for labels


@dataclass(frozen=True)
class Series:
    name: str
    xs: Sequence[float]
    ys: Sequence[float]


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"ticks need finite bounds, got {lo}, {hi}")
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks, t = [], start
    while t <= hi + step * 1e-6:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt_tick(v: float) -> str:
    return f"{v:g}"


def _frame(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(title, quote=True)}' {FONT} font-size='12'>"
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _legend(names: list[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        yy = y + i * 18
        out.append(f"<rect x='{x}' y='{yy - 9}' width='14' height='10' fill='{colour(i)}'/>")
        out.append(f"<text x='{x + 20}' y='{yy}'>{escape(name)}</text>")
    return out


def distribution_chart(
    series: list[Series],
    title: str,
    x_label: str,
    y_label: str,
    marks: Sequence[tuple[float, str]] = (),
    width: int = 980,
    height: int = 380,
) -> Markup:
    """Lines through each series' finite (x, y) points; a series with none is listed as having no data.

    ``marks`` are vertical reference lines (a threshold) with their label.
    """
    legend_w = 28 + CHAR_PX * max([len(s.name) + 10 for s in series] + [10])
    left, right, top, bottom = 56, legend_w + 16, 30, 46
    pw, ph = width - left - right, height - top - bottom
    finite = [[(x, y) for x, y in zip(s.xs, s.ys) if _finite(x) and _finite(y)] for s in series]
    xs = [x for pts in finite for x, _ in pts] + [m for m, _ in marks]
    ys = [y for pts in finite for _, y in pts]
    body = [f"<text x='{left}' y='18' font-size='14' font-weight='600'>{escape(title)}</text>"]
    if not ys:
        body.append(f"<text x='{left + pw / 2}' y='{top + ph / 2}' text-anchor='middle' fill='#666'>no data</text>")
        return _frame(width, height, title, body)
    xt = nice_ticks(min(xs), max(xs))
    yt = nice_ticks(min(0.0, min(ys)), max(ys))
    sx = _scale(xt[0], xt[-1], left, left + pw)
    sy = _scale(yt[0], yt[-1], top + ph, top)
    body += _axes(xt, yt, sx, sy, left, top, pw, ph, x_label, y_label)
    for m, label in marks:
        body.append(
            f"<line x1='{sx(m):.1f}' x2='{sx(m):.1f}' y1='{top}' y2='{top + ph}' stroke='#333' stroke-dasharray='4 3'/>"
            f"<text x='{sx(m) + 4:.1f}' y='{top + 12}' fill='#333'>{escape(label)}</text>"
        )
    names = []
    for i, (s, pts) in enumerate(zip(series, finite)):
        names.append(s.name if pts else f"{s.name} (no data)")
        if pts:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            body.append(f"<polyline points='{path}' fill='none' stroke='{colour(i)}' stroke-width='2'/>")
    body += _legend(names, left + pw + 20, top + 10)
    return _frame(width, height, title, body)


def bar_chart(
    groups: list[str],
    series: list[tuple[str, Sequence[float | None]]],
    title: str,
    x_label: str,
    fmt: Callable[[float], str],
    x_max: float | None = None,
    width: int = 980,
) -> Markup:
    """Horizontal bars: one band per group, one bar per series inside it, each labelled with its value.

    A missing value (None) is written as "n/a" instead of a bar.
    """
    bar_h, gap = 16, 14
    label_w = max([len(g) for g in groups] + [8]) * CHAR_PX + 16
    legend = _bar_legend([name for name, _ in series], label_w, width - 20) if len(series) > 1 else []
    legend_h = 18 * (1 + max([row for row, _, _ in legend] + [-1]))
    left, right, top, bottom = label_w, 70, 34 + legend_h, 40
    band = bar_h * len(series) + gap
    height = top + band * max(len(groups), 1) + bottom
    pw = width - left - right
    values = [v for _, vs in series for v in vs if v is not None and _finite(v)]
    top_value = x_max if x_max is not None else max(values + [1.0])
    xt = nice_ticks(0.0, top_value)
    sx = _scale(0.0, xt[-1], left, left + pw)
    body = [f"<text x='8' y='18' font-size='14' font-weight='600'>{escape(title)}</text>"]
    for i, (row, x, name) in enumerate(legend):
        ly = 30 + 18 * row
        body.append(f"<rect x='{x:.0f}' y='{ly}' width='14' height='10' fill='{colour(i)}'/>")
        body.append(f"<text x='{x + 20:.0f}' y='{ly + 9}'>{escape(name)}</text>")
    ph = band * len(groups)
    for t in xt:
        body.append(f"<line x1='{sx(t):.1f}' x2='{sx(t):.1f}' y1='{top}' y2='{top + ph}' stroke='#e3e3e3'/>")
        body.append(
            f"<text x='{sx(t):.1f}' y='{top + ph + 16}' text-anchor='middle' fill='#555'>{escape(fmt(t))}</text>"
        )
    body.append(f"<text x='{left + pw / 2}' y='{top + ph + 34}' text-anchor='middle'>{escape(x_label)}</text>")
    for g, group in enumerate(groups):
        y0 = top + g * band + gap / 2
        body.append(
            f"<text x='{left - 8}' y='{y0 + bar_h * len(series) / 2 + 4:.1f}' text-anchor='end'>{escape(group)}</text>"
        )
        for i, (_, vs) in enumerate(series):
            v, y = vs[g], y0 + i * bar_h
            if v is None or not _finite(v):
                body.append(f"<text x='{left + 4}' y='{y + 12}' fill='#888'>n/a</text>")
                continue
            body.append(
                f"<rect x='{left}' y='{y + 1}' width='{max(sx(v) - left, 1):.1f}' height='{bar_h - 2}' fill='{colour(i)}'/>"
            )
            body.append(f"<text x='{sx(v) + 4:.1f}' y='{y + 12}' fill='#333'>{escape(fmt(v))}</text>")
    body.append(f"<line x1='{left}' x2='{left}' y1='{top}' y2='{top + ph}' stroke='#333'/>")
    return _frame(width, height, title, body)


def _bar_legend(names: list[str], x0: float, x1: float) -> list[tuple[int, float, str]]:
    """(row, x, name) of each legend entry, wrapped onto a new row where the next would pass ``x1``."""
    out, row, x = [], 0, x0
    for name in names:
        w = 34 + CHAR_PX * len(name)
        if x + w > x1 and x > x0:
            row, x = row + 1, x0
        out.append((row, x, name))
        x += w
    return out


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _scale(d0: float, d1: float, r0: float, r1: float) -> Callable[[float], float]:
    span = (d1 - d0) or 1.0
    return lambda v: r0 + (float(v) - d0) / span * (r1 - r0)


def _axes(xt, yt, sx, sy, left, top, pw, ph, x_label: str, y_label: str) -> list[str]:
    out = []
    for t in yt:
        out.append(f"<line x1='{left}' x2='{left + pw}' y1='{sy(t):.1f}' y2='{sy(t):.1f}' stroke='#e3e3e3'/>")
        out.append(f"<text x='{left - 6}' y='{sy(t) + 4:.1f}' text-anchor='end' fill='#555'>{_fmt_tick(t)}</text>")
    for t in xt:
        out.append(f"<line x1='{sx(t):.1f}' x2='{sx(t):.1f}' y1='{top + ph}' y2='{top + ph + 4}' stroke='#333'/>")
        out.append(f"<text x='{sx(t):.1f}' y='{top + ph + 17}' text-anchor='middle' fill='#555'>{_fmt_tick(t)}</text>")
    out.append(f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#333'/>")
    out.append(f"<text x='{left + pw / 2}' y='{top + ph + 36}' text-anchor='middle'>{escape(x_label)}</text>")
    out.append(
        f"<text transform='translate(14 {top + ph / 2}) rotate(-90)' text-anchor='middle'>{escape(y_label)}</text>"
    )
    return out
