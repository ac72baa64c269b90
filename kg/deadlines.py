"""Time limits in clause text: periods (30日内, 提前90日) and recurring windows (每年第一季度).

A period is only useful to compliance checks together with the event it is
counted from, so the anchor is read from the cue nearest before the number
in the same sentence (作出决定之日起, 变更后, 处置后, 评估完成, …); with no cue the
anchor is ``other`` rather than a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kg.text import cn_number

_PERIOD = re.compile(
    r"(?P<pre>提前)?(?P<n>\d{1,4}|[一二三四五六七八九十百两]{1,4})"
    r"(?P<unit>个工作日|个自然日|个日历日|日|天)(?P<post>以内|之内|内|之前|以前|前|之后|以后|后)?"
)
_WINDOW = re.compile(r"每年(?:的)?第?(?P<q>[一二三四1-4])季度")
_QUARTERS = {"一": "Q1", "二": "Q2", "三": "Q3", "四": "Q4", "1": "Q1", "2": "Q2", "3": "Q3", "4": "Q4"}

# Cues of the event a period counts from; the one nearest before the number wins.
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("company-decision", re.compile(r"作出(?:\S{0,6})?决定|决定之日")),
    ("information-change", re.compile(r"变更|发生变化|变化")),
    ("licence-granted", re.compile(r"(?:颁发|取得|获得)的?(?:\S{0,8})?许可证(?:之日起|后)")),
    ("assessment-completed", re.compile(r"评估完成|完成(?:\S{0,6})?评估")),
    ("illegal-information-handled", re.compile(r"处置后|处置之日")),
    ("expiry", re.compile(r"有效期(?:届满|满)|期满|届满|到期")),
)
_PHRASE_REACH = 14  # characters of cue kept in Deadline.text before the number


@dataclass(frozen=True, slots=True)
class Found:
    """A deadline found in text: the Deadline fields plus where its phrase starts."""

    amount: int | None
    unit: str | None
    relation: str | None
    anchor: str | None
    recurrence: str | None
    window: str | None
    text: str
    start: int


def find(text: str) -> list[Found]:
    """Every deadline of a clause text, in text order."""
    out: list[Found] = []
    for m in _PERIOD.finditer(text):
        pre, post = m.group("pre"), m.group("post")
        if not pre and not post:
            continue  # a bare "3日" is a date or a count, not a time limit
        amount = int(m.group("n")) if m.group("n").isdigit() else cn_number(m.group("n"))
        if amount is None:
            continue
        relation = "before" if pre or post in ("之前", "以前", "前") else "after" if post in ("之后", "以后", "后") \
            else "within"
        sentence_start = max(text.rfind("。", 0, m.start()) + 1, 0)
        anchor, cue_start = _anchor(text, sentence_start, m.start(), relation)
        start = cue_start if cue_start is not None and m.start() - cue_start <= _PHRASE_REACH else m.start()
        unit = "working_day" if m.group("unit") == "个工作日" else "day"
        out.append(Found(amount, unit, relation, anchor, None, None, text[start:m.end()], start))
    for m in _WINDOW.finditer(text):
        out.append(Found(None, None, None, None, "annual", _QUARTERS[m.group("q")], m.group(0), m.start()))
    out.sort(key=lambda f: f.start)
    return out


def _anchor(text: str, lo: int, hi: int, relation: str) -> tuple[str, int | None]:
    """The cue nearest before ``hi`` in ``text[lo:hi]``; a period before an unnamed event counts back from expiry."""
    best: tuple[int, str, int] | None = None
    ctx = text[lo:hi]
    for key, rx in _CUES:
        for m in rx.finditer(ctx):
            if best is None or m.end() > best[0]:
                best = (m.end(), key, lo + m.start())
    if relation == "before":
        expiry = _CUES[-1][1].search(ctx)
        if expiry is not None:
            return "expiry", lo + expiry.start()
    if best is None:
        return "other", None
    return best[1], best[2]
