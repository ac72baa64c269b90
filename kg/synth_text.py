"""Layout and OCR damage of synthetic certificates: from a content plan to TEXT.

The layouts are those of the five samples in ``data/certificates`` (three ways
the business-type table comes out of OCR, three ways the dates do, page
headers in four spellings); the damage kinds are those seen in the samples,
each applied with probability ``damage`` per opportunity:

* clause labels with garbled numerals (工七、 人、 基士四、 《二) 第二十二)), one per label;
* noise lines (kana, ``F .``, ``业业分``, ``... 4:00``, ``3/3``), per slot before a page header and at the edges;
* spaces inside CJK text where OCR wrapped a line (one opportunity every ~40 characters);
* a space between a number and 日 / 个工作日 (per deadline phrase);
* punctuation of the other width (per paragraph);
* markdown residue: ``#`` title, ``##`` section headers (per certificate), ``- `` list items (per page);
* unreadable dates printed like ``202年 0月 2月`` (per certificate; decided by kg.synth).

Page breaks are layout, not damage: the special provisions run over pages of
~900-1,100 characters (as measured on the samples) and a break may split a paragraph, with the page header
(licence number + 特别规定事项) in between, exactly as in the samples.

No damage touches a fact the gold format expects to be recovered: company and
representative names, domains, providers and business-type names are never
spaced or garbled, a page split never falls inside a 《title》, a (parenthesis),
a deadline phrase, or right before something that reads like a label.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from kg.synth_clauses import PREAMBLE, TOP_JUNK, Plan, clause_label, lost_labels

_HALF = (("，", ","), ("：", ":"), ("；", ";"), ("（", "("), ("）", ")"), ("“", '"'), ("”", '"'))
NOTE = "【依法须经批准的项目，经相关部门批准后方可开展相应经营活动】"
WRAP = 40  # characters per printed line: where OCR inserts a space when it joins wrapped lines
NOISE = ["... 4:00", "F .", "业业分", "着事? 出。", "下 住房 復分す", "作業が発売の", "事を", "ノ ー", "| .",
         "ぃ", "ー ー", ".. 1:30", "す ト", "ミ ,", "〆"]
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキ"
_PROTECT = re.compile(r"《[^》]*》|[（(][^）)]*[）)]|[“\"][^”\"]*[”\"]|\d+个工作日内?|\d+日内?|第[一二三四五六七八九十\d]+[条号]|[A-Za-z]+ ?")
_BAD_START = set("（(《“第一二三四五六七八九十0123456789，。、；：,.;: ")
_DEADLINE = re.compile(r"(?<=[起后前成的])(\d+)(个工作日|日)")


@lru_cache(maxsize=16)
def _powers(d: float) -> tuple[tuple[float, ...], float]:
    """(1-d)^n for n < 64, and log(1-d): the no-hit probabilities of :meth:`_Renderer.wrap_spaces`."""
    return tuple((1.0 - d) ** n for n in range(64)), math.log(1.0 - d)


@lru_cache(maxsize=8192)
def to_half(text: str, spaced: bool = False) -> str:
    """Half-width punctuation, ``spaced``: a space after , and ; (sample 002); str.replace is ~20x faster than
    str.translate on CJK text."""
    if spaced:
        text = text.replace("，", ", ").replace("；", "; ")
    for full, half in _HALF:
        text = text.replace(full, half)
    return text


@lru_cache(maxsize=4096)
def norm(s: str) -> str:
    """The gold comparison form: NFKC, all white space removed."""
    return "".join(unicodedata.normalize("NFKC", s).split())


@dataclass
class Rendered:
    """The certificate text, and the clause checks and noise lines its damage calls for (facts)."""

    text: str
    checks: list[dict] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)


class _Renderer:
    """Lays out one plan as blocks of text (joined by blank lines), damaging as it goes."""

    def __init__(self, plan: Plan, rng: random.Random, damage: float) -> None:
        self.p, self.rng, self.d = plan, rng, damage
        self.blocks: list[str] = []
        self.checks: list[dict] = []
        self.noise: list[str] = []
        self.pages = 1
        self.colon = rng.choice((": ", ":", "：", "："))
        self.digit_space = rng.random() < 0.3
        self.md_section = rng.random() < damage
        self.hdr_style = rng.choice(("labelled", "labelled", "number", "mixed"))
        self.pows = _powers(damage) if 0 < damage < 1 else ((), 0.0)
        self.width = rng.uniform(26.0, 29.0)  # page width in CJK cells (sample 004 wraps at ~27)

    # -- damage primitives -------------------------------------------------
    def hit(self) -> bool:
        return self.rng.random() < self.d

    def noise_line(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            line = rng.choice(NOISE)
        elif r < 0.85:
            line = "".join(rng.choice(KANA) for _ in range(rng.randint(2, 6)))
        else:
            line = f"{rng.randint(1, 4)}/{rng.randint(4, 6)}"
        self.noise.append(line)
        return line

    def wrap_spaces(self, text: str, start: int = 6) -> str:
        """A space where OCR joined two wrapped lines: each wrap point (every ~40 characters) with p=damage.

        Hits are drawn as geometric gaps between wrap points (one draw per hit, not
        per point: this is the generator's hot path); P(first gap ≥ n) = (1-d)^n.
        """
        d, end = self.d, len(text) - 1
        pos = start + 5 + len(text) % (WRAP - 5)
        if d <= 0 or pos >= end:
            return text
        rng, cuts = self.rng, []
        if d >= 1:
            cuts = list(range(pos, end, WRAP))
        else:
            pows, log_q = self.pows
            u = rng.random()
            if u <= pows[min((end - 1 - pos) // WRAP + 1, 63)]:
                return text
            while True:
                pos += WRAP * int(math.log(max(u, 1e-300)) / log_q)
                if pos >= end:
                    break
                cuts.append(pos)
                pos += WRAP
                u = rng.random()
        spans = [m.span() for m in _PROTECT.finditer(text)]
        out, last = [], 0
        for pos in cuts:
            if any(a < pos < b for a, b in spans) or text[pos] in "，。、；：,.;: " or text[pos - 1] == " ":
                continue
            out.append(text[last:pos])
            last = pos
        out.append(text[last:])
        return " ".join(out)

    def deadline_spaces(self, text: str) -> str:
        if "日" not in text:
            return text
        if self.digit_space:
            return _DEADLINE.sub(r" \1 \2", text)
        if self.d > 0:
            return _DEADLINE.sub(lambda m: m.group(1) + (" " if self.hit() else "") + m.group(2), text)
        return text

    def punct(self, text: str, style: int) -> str:
        """Canonical text is full-width (style 0); a page may print half-width (1) or half-width with a space
        after commas (2), and a paragraph may flip between full and half width (damage)."""
        if self.hit():
            style = 0 if style else 1
        return to_half(text, style == 2) if style else text

    def style(self) -> int:
        return self.rng.choice((0, 1, 1, 2))

    # -- page furniture ----------------------------------------------------
    def header(self, section: str | None) -> None:
        """Page header: noise slots before it (end of the previous page), number, section title."""
        for _ in range(3):
            if self.hit():
                self.blocks.append(self.noise_line())
        self.pages += 1
        number, style = self.p.number, self.hdr_style
        if style == "mixed":
            style = self.rng.choice(("labelled", "number", "split", "glued"))
        if style == "number":
            self.blocks.append(number)
        elif style == "split":
            self.blocks.append(f"经营许可证编号{self.colon.strip()}\n{number}")
        elif style == "glued":
            self.blocks.append(f"经营许可证编号{number}")
        else:
            self.blocks.append(f"经营许可证编号{self.colon}{number}")
        if section:
            self.blocks.append(("## " if self.md_section else "") + section)

    # -- first page --------------------------------------------------------
    def first_page(self) -> None:
        p, rng = self.p, self.rng
        half = self.style()
        if rng.random() < 0.3:
            self.blocks.append("")
        title = rng.choice(("中华人民共和国 增值电信业务经营许可证", "中华人民共和国增值电信业务经营许可证"))
        self.blocks.append(("# " if self.hit() else "") + title)
        self.blocks.append(f"经营许可证编号{self.colon}{p.number}")
        if self.hit():
            self.blocks.append(self.noise_line())
        self.blocks.append(self.punct(PREAMBLE.format(cross="跨地区" if p.cross else ""), half))
        self.blocks.append(f"公司名称{self.colon}{p.company}")
        self.blocks.append(f"法定代表人{self.colon}{p.representative}")
        self.table()
        if rng.random() < 0.4:
            self.blocks.append(rng.choice(("发证机关(盖章):", "发证机关（盖章）：")))
        self.dates()

    def value_lines(self) -> list[str]:
        """Table values in reading order: per type its name line(s), then its coverage line(s)."""
        out: list[str] = []
        joined = self.layout == "heading"
        for a in self.p.auths:
            excl = a.exclusions
            if excl and self.hit():
                cut = self.rng.randint(2, len(excl) - 2)
                excl = excl[:cut] + " " + excl[cut:]
            note = NOTE if a.note else ""
            if joined:
                out.append(a.name + a.qualifier + (" " + excl + note if excl or note else ""))
            else:
                out += [a.name + a.qualifier] + [x for x in (excl, note) if x]
            if a.coverage:
                out.extend(a.coverage)
        return out

    def table(self) -> None:
        rng = self.rng
        self.layout = rng.choice(("heading", "interleaved", "stacked"))
        values = self.value_lines()
        colon = self.colon.strip()
        if self.layout == "heading":
            self.blocks.append(rng.choice(("业务种类(服务项目)及覆盖范围:", "业务种类（服务项目）及覆盖范围：")))
            self.blocks.extend(values)
        elif self.layout == "interleaved":
            labels = ["业务种类", "(服务项目)", f"及覆盖范围{colon}"]
            lines = [f"{lab} {val}" if val else lab for lab, val in
                     zip(labels, values[:3] + [""] * (3 - len(values[:3])), strict=True)] + values[3:]
            if rng.random() < 0.5:
                self.blocks.append("\n".join(lines))
            else:
                self.blocks.extend(lines)
        else:
            self.blocks.append("\n".join(["业务种类", "(服务项目)", f"及覆盖范围{colon}{values[0]}", *values[1:]]))

    def date_text(self, d: date) -> str:
        rng = self.rng
        if self.p.unreadable:
            return f"{d.year // 10}年 {d.month // 10}月 {d.day // 10}月"  # 2024-02-20 → 202年 0月 2月
        sp = " " if rng.random() < 0.6 else ""
        pad = rng.random() < 0.85
        m, dd = (f"{d.month:02d}", f"{d.day:02d}") if pad else (str(d.month), str(d.day))
        if self.hit():
            return f"{d.year} 年 {m} 月 {dd} 日"
        return f"{d.year}年{sp}{m}月{sp}{dd}日"

    def dates(self) -> None:
        rng, c = self.rng, self.colon
        issue_label = "发证 日期" if self.hit() else "发证日期"
        d1, d2 = self.date_text(self.p.issue), self.date_text(self.p.expiry)
        style = rng.choice(("columns", "stacked", "inline"))
        if style == "columns":
            self.blocks += [f"{issue_label}{c.strip()}", f"有效期至{c.strip()}", "", d1, d2]
        elif style == "stacked":
            self.blocks += [f"{issue_label}{c.strip()}", d1, f"有效期至{c.strip()}", d2]
        else:
            self.blocks += [f"{issue_label}{c}{d1}", f"有效期至{c}{d2}"]

    # -- appendix ----------------------------------------------------------
    def appendix(self) -> None:
        p, rng, c = self.p, self.rng, self.colon
        self.header(None)
        self.blocks.append(rng.choice(("中华人民共和国增值电信业务经营许可证 (附页)", "中华人民共和国增值电信业务经营许可证 (附 页)",
                                       "中华人民共和国增值电信业务经营许可证（附页）")))
        service = self.wrap_spaces(p.appendix_service, 2)
        heading = f"{p.company}获准经营{service}相关信息{c.strip() if rng.random() < 0.5 else ''}"
        self.blocks.append(self.wrap(heading, len(p.company) + 4))
        for s in p.sites:
            domains = s.domains[0]
            if len(s.domains) > 1:
                domains += "(" + ";".join(s.domains[1:]) + ")" if rng.random() < 0.7 else ";" + ";".join(s.domains[1:])
            self.blocks += [f"网站名称{c}{s.name}", self.wrap(f"网站域名{c}{domains}", 8, ".;("),
                            self.wrap(f"服务器放置地{c}{s.server_location}", 10),
                            f"网站接入服务提供单位{c}{s.access_provider}"]

    def wrap(self, line: str, keep: int, at: str = "") -> str:
        """Wrap a line at the page width (~27 CJK cells) as the scans do: a line break (004), a space where
        OCR re-joined the lines (000), or neither. No break in the first ``keep`` characters (a name);
        with ``at``, break only after one of those characters (an ASCII string wraps at its punctuation)."""
        r = self.rng.random()
        if r < 0.3:
            return line
        sep = "\n" if r < 0.7 or at else " "
        out: list[str] = []
        while True:
            cells, cut = 0.0, None
            for i, ch in enumerate(line):
                cells += 0.5 if ch < "\x80" else 1.0
                if cells > self.width:
                    cut = i
                    break
            if cut is not None and at:
                cut = max((j + 1 for j in range(keep, cut) if line[j] in at), default=None)
            while cut and sep == " " and line[cut - 1].isascii() and line[cut].isascii():
                cut -= 1  # "1 508室" would be ambiguous: a re-joined wrap never splits an ASCII run
            if cut is None or cut <= keep:
                break
            out.append(line[:cut])
            line, keep = line[cut:], 0
        out.append(line)
        return sep.join(out)

    # -- special provisions --------------------------------------------------
    def special(self) -> None:
        rng = self.rng
        self.header("特别规定事项")
        cap, used = rng.randint(900, 1120), 0
        half = self.style()
        dash = self.hit()
        licence = norm(self.p.number)
        lost, intact = lost_labels(rng, self.p.paras, self.d)
        for k, para in enumerate(self.p.paras):
            lead = _lead(para.body)
            body = para.body
            if k in lost:  # sample 000: "作你公司提供应用软件…", label and (适用于…) gone, one junk character left
                lab, garbled, body, lead = rng.choice(TOP_JUNK), None, body[lead:], 0
                self.checks.append({"clause": para.cid, "contains": [norm(body[:8])], "not_contains": []})
            else:
                lab, garbled = clause_label(rng, para, half, self.d if k not in intact else 0.0)
            if garbled and para.cid:
                g = norm(garbled.rstrip("、"))
                if g not in norm(para.body):
                    self.checks.append({"clause": para.cid, "contains": [norm(para.body[lead:lead + 8])],
                                        "not_contains": [g]})
            room = cap - used - len(lab)
            if len(body) > room:
                pos = self.split_point(body, room, lead + 8) if room > lead + 12 else None
                if pos is None:
                    self.new_page()
                    cap, used, half, dash = rng.randint(900, 1120), 0, self.style(), self.hit()
                else:
                    head, tail = body[:pos], body[pos:]
                    self.emit(lab, head, half, dash)
                    noise_at = len(self.noise)
                    self.new_page()
                    cap, used, half, dash = rng.randint(900, 1120), 0, self.style(), self.hit()
                    self.emit("", tail, half, False)
                    used = len(tail)
                    seam = norm(head[-4:] + tail[:4])
                    if para.kind in ("top", "child") and not re.search("[“”\"]", seam):
                        self.checks.append({"clause": para.cid, "contains": [seam],
                                            "not_contains": [licence, "特别规定事项",
                                                             *[norm(n) for n in self.noise[noise_at:]]]})
                    continue
            self.emit(lab, body, half, dash and para.kind != "pre")
            used += len(lab) + len(body)
        if self.hit():
            self.blocks.append(f"{self.pages}/{self.pages}")
            self.noise.append(self.blocks[-1])

    def new_page(self) -> None:
        self.header("特别规定事项")

    def emit(self, lab: str, body: str, half: int, dash: bool) -> None:
        text = self.wrap_spaces(self.deadline_spaces(self.punct(body, half)), 0 if not lab else 6)
        self.blocks.append(("- " if dash and lab and self.rng.random() < 0.9 else "") + lab + text)

    def split_point(self, body: str, room: int, low: int) -> int | None:
        """A position near ``room`` where a page may end inside this paragraph."""
        spans = [m.span() for m in _PROTECT.finditer(body)]
        for delta in range(0, 40):
            for pos in (room - delta, room + delta):
                if low <= pos <= len(body) - 4 and body[pos] not in _BAD_START and body[pos - 1] not in "（(" \
                        and not any(a < pos < b for a, b in spans):
                    return pos
        return None


def _lead(body: str) -> int:
    """Length of a leading (适用于…) qualifier, which a parser may keep apart from the clause text."""
    if body.startswith("（适用于"):
        return body.index("）") + 1
    return 0


def render(plan: Plan, rng: random.Random, damage: float) -> Rendered:
    """Lay out and damage one certificate; returns its text and the checks the damage calls for."""
    r = _Renderer(plan, rng, damage)
    r.first_page()
    if plan.sites:
        r.appendix()
    r.special()
    gap = "\n\n"
    text = gap.join(r.blocks)
    noise = list(dict.fromkeys(norm(n) for n in r.noise if norm(n)))
    return Rendered(text + "\n", r.checks, noise)
