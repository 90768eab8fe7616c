"""Each key indicator's chart: its recent periods drawn by matplotlib as SVG, the same bytes every time.

Deterministic: the SVG's ids come from a fixed salt (``svg.hashsalt``), it carries no date
(``metadata={"Date": None}``), and text stays text (``svg.fonttype = "none"``) in DejaVu Sans, which
has every Vietnamese letter, so the PDF engine sets it with the page's own fonts. Numbers and periods
on the axes are written by ``wording`` in the briefing's language.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from typing import Any

from storage import Observation
from wording import Lang, number, period

SALT = "opscentre-briefing"
STYLE: dict[str, Any] = {
    "svg.hashsalt": SALT,
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
}
LINE, MARK = "#1f4e79", "#c0392b"
# pyplot's figures and rc_context are process-wide state: one chart at a time, whichever thread draws it
# (briefing.make draws off the event loop, so a serving process's feed is not held up meanwhile).
_DRAWING = threading.Lock()


def chart(series: Sequence[Observation], lang: Lang, decimals: int, prefix: str) -> str:
    """An SVG line chart of ``series`` (oldest first), its last figure marked; empty text for no figures.
    ``prefix``: put before each of its ids, so that the charts of one page keep theirs apart."""
    if not series:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter

    with _DRAWING, plt.rc_context(STYLE):  # type: ignore[arg-type]
        fig, ax = plt.subplots(figsize=(3.3, 1.45))
        try:
            xs = list(range(len(series)))
            ys = [o.value for o in series]
            ax.plot(xs, ys, color=LINE, linewidth=1.2)
            ax.plot([xs[-1]], [ys[-1]], marker="o", markersize=3.5, color=MARK)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number(float(v), lang, decimals)))
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            ticks = sorted({0, len(xs) - 1, *range(0, len(xs), max(1, len(xs) // 3))})
            if len(ticks) > 1 and ticks[-1] - ticks[-2] < max(1, len(xs) // 6):
                ticks.pop(-2)  # the last two would overlap
            ax.set_xticks(ticks, [_short(series[i].period, lang) for i in ticks])
            ax.grid(axis="y", linewidth=0.3, color="#cccccc")
            ax.margins(x=0.03)
            fig.tight_layout(pad=0.3)
            out = io.StringIO()
            fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    text = out.getvalue()
    text = text[text.index("<svg") :]  # the element alone, to inline in the page
    return re.sub(r'(id="|href="#|url\(#)', lambda m: m.group(1) + prefix + "-", text)


def _short(text: str, lang: Lang) -> str:
    """An axis label: ``tháng 10/2026`` → ``10/2026``; ``quý III/2026`` stays."""
    words = period(text, lang)
    return words.removeprefix("tháng ").removeprefix("ngày ")
