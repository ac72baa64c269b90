"""Charts for reports and notebooks, as self-contained SVG with Chinese labels that render.

matplotlib's default font (DejaVu Sans) has no CJK glyphs: Chinese labels
come out as empty boxes. :func:`cjk_font` finds an installed font that has
the glyphs (the set-up installs WenQuanYi Micro Hei; Noto CJK and others are
accepted), and every chart uses it. Text is converted to paths in the SVG, so
the report needs no font on the reader's machine and makes no request.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import lru_cache
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure

if TYPE_CHECKING:
    import pandas as pd

CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC",
                "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC")
SAMPLE = "增值电信业务经营许可证广东北京全国"
SEVERITY_COLOURS = {"error": "#c0392b", "warning": "#e67e22", "info": "#2980b9"}
STATUS_COLOURS = {"expired": "#c0392b", "unknown": "#7f8c8d", "expiring": "#e67e22", "valid": "#27ae60"}


class FontMissingError(RuntimeError):
    """No installed font has CJK glyphs: charts would show empty boxes."""


def has_glyphs(font_path: str, text: str = SAMPLE) -> bool:
    """True when the font file maps every character of ``text`` to a glyph."""
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_path)
    charmap = font.get_charmap()
    return all(ord(ch) in charmap for ch in text if not ch.isspace())


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """The family name of an installed font with CJK glyphs (raises FontMissingError)."""
    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        if has_glyphs(path):
            return family
    for entry in font_manager.fontManager.ttflist:
        if has_glyphs(entry.fname):
            return entry.name
    raise FontMissingError(
        "no installed font has CJK glyphs; install one (Debian: apt-get install fonts-wqy-microhei) "
        "or run 'bash scripts/system-deps.sh font'"
    )


def _figure(width: float, height: float) -> tuple[Figure, plt.Axes]:
    family = cjk_font()
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["svg.fonttype"] = "path"
    plt.rcParams["svg.hashsalt"] = "licence-kg"  # deterministic ids in the SVG
    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.subplots()


def to_svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def status_bar(counts: dict[str, int]) -> Figure:
    """Licences by status (valid, expiring, expired, unknown)."""
    fig, ax = _figure(5, 2.6)
    labels = [s for s in ("valid", "expiring", "expired", "unknown") if s in counts] or list(counts)
    zh = {"valid": "有效", "expiring": "即将到期", "expired": "已过期", "unknown": "日期不明"}
    ax.barh([f"{zh.get(s, s)} {s}" for s in labels], [counts[s] for s in labels],
            color=[STATUS_COLOURS.get(s, "#95a5a6") for s in labels])
    ax.set_xlabel("许可证数量 licences")
    ax.invert_yaxis()
    ax.set_title("许可证状态 Licence status")
    return fig


def severity_bar(counts: dict[str, int]) -> Figure:
    """Findings by severity."""
    fig, ax = _figure(5, 2.2)
    labels = [s for s in ("error", "warning", "info") if s in counts]
    zh = {"error": "错误", "warning": "警告", "info": "提示"}
    ax.barh([f"{zh[s]} {s}" for s in labels], [counts[s] for s in labels],
            color=[SEVERITY_COLOURS[s] for s in labels])
    ax.invert_yaxis()
    ax.set_xlabel("发现数量 findings")
    ax.set_title("检查发现 Findings by severity")
    return fig


def coverage_matrix(matrix: pd.DataFrame) -> Figure:
    """Province × business type: 1 where a licence authorises the type there (全国 counts everywhere)."""
    rows, cols = matrix.shape
    fig, ax = _figure(max(4.0, 0.9 * cols + 2.5), max(3.0, 0.28 * rows + 1.2))
    ax.imshow(matrix.to_numpy(dtype=float), aspect="auto", cmap="Greens", vmin=0, vmax=max(1, matrix.values.max()))
    ax.set_xticks(range(cols), [str(c) for c in matrix.columns], rotation=0)
    ax.set_yticks(range(rows), [str(r) for r in matrix.index])
    for i in range(rows):
        for j in range(cols):
            v = int(matrix.iat[i, j])
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    ax.set_title("覆盖范围 Coverage: licences per province × business type")
    return fig


def timeline(rows: list[dict], as_of: dt.date) -> Figure:
    """Validity bars from issue to expiry, the renewal application date, and the as-of line.

    ``rows``: dicts with ``number``, ``issue_date``, ``expiry_date``, ``renewal_due`` (dates or None).
    Licences with unreadable dates are listed with a note instead of a bar.
    """
    fig, ax = _figure(8, max(2.0, 0.45 * len(rows) + 1.2))
    for i, r in enumerate(rows):
        start, end = r.get("issue_date"), r.get("expiry_date")
        if start and end:
            colour = STATUS_COLOURS["expired"] if end < as_of else STATUS_COLOURS["valid"]
            ax.barh(i, (end - start).days, left=start, color=colour, alpha=0.7)
            if r.get("renewal_due"):
                ax.plot([r["renewal_due"]], [i], marker="v", color="black")
        else:
            ax.text(as_of, i, "  日期不明 dates unreadable", va="center", fontsize=8, color="#7f8c8d")
    ax.axvline(as_of, color="#2c3e50", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(rows)), [r["number"] for r in rows])
    ax.invert_yaxis()
    ax.set_title(f"有效期与续期申请 Validity and renewal application (▼), as of {as_of.isoformat()}")
    fig.autofmt_xdate()
    return fig


def expiry_histogram(rows: list[dict], as_of: dt.date) -> Figure:
    """Expiry dates per quarter, split into expired (before ``as_of``) and still valid, with the as-of line.

    The register-sized form of :func:`timeline`: a bar per licence stops being readable after a few dozen,
    and at 10^4 licences it was a 19 MB drawing. ``rows`` as for :func:`timeline`; licences with unreadable
    dates are counted in the title.
    """
    quarters: dict[dt.date, list[int]] = {}
    unreadable = 0
    for r in rows:
        end = r.get("expiry_date")
        if not end or not r.get("issue_date"):
            unreadable += 1
            continue
        start = dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
        quarters.setdefault(start, [0, 0])[0 if end < as_of else 1] += 1
    fig, ax = _figure(8, 3.4)
    keys = sorted(quarters)
    expired = [quarters[k][0] for k in keys]
    valid = [quarters[k][1] for k in keys]
    ax.bar(keys, expired, width=80, align="edge", color=STATUS_COLOURS["expired"], alpha=0.8,
           label="已过期 expired")
    ax.bar(keys, valid, width=80, align="edge", bottom=expired, color=STATUS_COLOURS["valid"], alpha=0.8,
           label="有效 valid")
    ax.axvline(as_of, color="#2c3e50", linestyle="--", linewidth=1)
    ax.set_ylabel("许可证数量 licences")
    ax.legend(loc="upper left", fontsize=8)
    note = f"; 日期不明 {unreadable} with unreadable dates" if unreadable else ""
    ax.set_title(f"到期季度 Expiry by quarter, as of {as_of.isoformat()}{note}")
    fig.autofmt_xdate()
    return fig


def chart_fonts(fig: Figure) -> set[str]:
    """Font files used by every text element of a figure (for the glyph test)."""
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    paths = set()
    for text in fig.findobj(matplotlib.text.Text):
        if text.get_text():
            paths.add(font_manager.findfont(text.get_fontproperties()))
    return paths
