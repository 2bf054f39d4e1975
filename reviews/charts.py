"""Server-rendered SVG charts for the agreement dashboard. Framework-free: plain strings.

Every value a chart shows by length or colour is also written as text beside it (readable
without colour, and by screen readers through ``<title>`` and the ``aria-label``). All text is
escaped here, so callers may mark the result safe. Presentation attributes only (no ``style``
attributes), so the page's Content-Security-Policy needs no ``unsafe-inline``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def interval_bars(
    bars: Sequence[Bar], *, title: str, width: int = 720, row: int = 26, label_width: int = 210
) -> str:
    """Horizontal bars, lowest value first (undefined values last), each with its interval as
    a whisker and ``value [low, high] note`` written after it. The axis runs from
    min(0, lowest bound) to 1."""
    ordered = sorted(bars, key=lambda b: (b.value is None, b.value if b.value is not None else 0))
    lows = [x for b in ordered for x in (b.value, b.low) if x is not None]
    start = min([0.0, *lows])
    text_width = 230
    plot = width - label_width - text_width
    height = row * max(len(ordered), 1) + 24

    def x(value: float) -> float:
        return label_width + (value - start) / (1.0 - start) * plot if start < 1 else label_width

    parts = [
        f'<svg class="agreement-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
        f'{height}" role="img" aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in sorted({start, 0.0, 0.5, 1.0}):
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="0" y2="{height - 18}" '
            f'stroke="#ccc" stroke-width="1"/>'
            f'<text x="{x(tick):.1f}" y="{height - 4}" font-size="11" text-anchor="middle">'
            f"{tick:g}</text>"
        )
    for i, bar in enumerate(ordered):
        y = i * row
        parts.append(f'<g transform="translate(0 {y})">')
        parts.append(
            f'<text x="0" y="{row / 2 + 4:.0f}" font-size="12">{escape(bar.label[:32])}</text>'
        )
        described = f"{bar.label}: {_fmt(bar.value)}"
        if bar.value is not None:
            left, right = sorted((x(0.0), x(bar.value)))
            fill = "#b45309" if bar.value < 0.667 else "#2563eb"
            parts.append(
                f'<rect x="{left:.1f}" y="5" width="{max(right - left, 1):.1f}" '
                f'height="{row - 10}" fill="{fill}"><title>{escape(described)}</title></rect>'
            )
        if bar.low is not None and bar.high is not None:
            lo, hi, mid = x(bar.low), x(bar.high), row / 2
            parts.append(
                f'<path d="M{lo:.1f} {mid} H{hi:.1f} M{lo:.1f} {mid - 5} V{mid + 5} '
                f'M{hi:.1f} {mid - 5} V{mid + 5}" stroke="#111" stroke-width="1.5" fill="none"/>'
            )
        text = _fmt(bar.value)
        if bar.low is not None and bar.high is not None:
            text += f" [{_fmt(bar.low)}, {_fmt(bar.high)}]"
        if bar.note:
            text += f" {bar.note}"
        parts.append(
            f'<text x="{width - text_width + 8}" y="{row / 2 + 4:.0f}" font-size="12">'
            f"{escape(text)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def heat_map(
    names: Sequence[str],
    values: Sequence[Sequence[float | None]],
    notes: Sequence[Sequence[str]] | None = None,
    *,
    title: str,
    cell: int = 64,
    label_width: int = 190,
) -> str:
    """A square matrix (e.g. reviewer × reviewer kappa) as coloured cells, each with its value
    as text (and ``notes``, e.g. the number of items, in its tooltip); empty cells show "—".
    Columns are numbered; row labels carry the same numbers."""
    n = len(names)
    top = 24
    width = label_width + cell * max(n, 1) + 4
    height = top + cell * max(n, 1) + 4
    parts = [
        f'<svg class="agreement-heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
        f'{height}" role="img" aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for j in range(n):
        parts.append(
            f'<text x="{label_width + j * cell + cell / 2:.0f}" y="16" font-size="12" '
            f'text-anchor="middle">{j + 1}</text>'
        )
    for i, name in enumerate(names):
        y = top + i * cell
        parts.append(
            f'<text x="0" y="{y + cell / 2 + 4:.0f}" font-size="12">{i + 1}. '
            f"{escape(name[:24])}</text>"
        )
        for j in range(n):
            value = values[i][j]
            x = label_width + j * cell
            note = notes[i][j] if notes else ""
            tip = f"{names[i]} × {names[j]}: {_fmt(value)}" + (f" ({note})" if note else "")
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{_colour(value)}" stroke="#999" stroke-width="0.5">'
                f"<title>{escape(tip)}</title></rect>"
            )
            ink = "#fff" if value is not None and value > 0.6 else "#111"
            parts.append(
                f'<text x="{x + cell / 2 - 1:.0f}" y="{y + cell / 2 + 4:.0f}" font-size="13" '
                f'text-anchor="middle" fill="{ink}">{_fmt(value)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _colour(value: float | None) -> str:
    """White (≤ 0) to dark blue (1); grey when undefined."""
    if value is None:
        return "#eee"
    share = max(0.0, min(1.0, value))
    start, end = (255, 255, 255), (30, 64, 175)
    r, g, b = (round(s + (e - s) * share) for s, e in zip(start, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


#: Verdict colours in the order a chart's verdicts come (commonest first); they repeat past eight,
#: which is why every segment's verdict and count is also written as text.
SPLIT_COLOURS = (
    "#2563eb", "#b45309", "#059669", "#7c3aed", "#dc2626", "#0891b2", "#a16207", "#475569",
)  # fmt: skip


@dataclass(frozen=True)
class SplitRow:
    label: str
    counts: dict[str, int]


def split_bars(
    rows: Sequence[SplitRow],
    verdicts: Sequence[str],
    *,
    title: str,
    width: int = 720,
    row: int = 22,
    label_width: int = 210,
) -> str:
    """One horizontal bar per row, split into each verdict's share of the row's labels (in the
    order of ``verdicts``), with ``verdict n`` for each written after the bar. A row without
    labels shows "no labels". Rows keep the order given (e.g. a clause's two jobs together)."""
    text_width = 250
    plot = width - label_width - text_width
    height = row * max(len(rows), 1) + 4
    parts = [
        f'<svg class="agreement-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
        f'{height}" role="img" aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for i, item in enumerate(rows):
        total = sum(item.counts.get(v, 0) for v in verdicts)
        parts.append(f'<g transform="translate(0 {i * row})">')
        parts.append(
            f'<text x="0" y="{row / 2 + 4:.0f}" font-size="12">{escape(item.label[:32])}</text>'
        )
        left = float(label_width)
        shown = []
        for index, verdict in enumerate(verdicts):
            n = item.counts.get(verdict, 0)
            if not n:
                continue
            share = n / total
            fill = SPLIT_COLOURS[index % len(SPLIT_COLOURS)]
            parts.append(
                f'<rect x="{left:.1f}" y="4" width="{max(share * plot, 1):.1f}" '
                f'height="{row - 8}" fill="{fill}"><title>{escape(verdict)}: {n} of {total}'
                f"</title></rect>"
            )
            left += share * plot
            shown.append(f"{verdict} {n}")
        text = " · ".join(shown) if shown else "no labels"
        parts.append(
            f'<text x="{width - text_width + 8}" y="{row / 2 + 4:.0f}" font-size="12">'
            f"{escape(text)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
