"""The 特别规定事项 clause tree: labels, their repair from the sequence, and clause facts.

OCR garbles the numerals of clause labels (工七、 人、 基士四、 《二) 第二十二)) and
sometimes loses a label altogether. A label is therefore read as a set of
possible numbers, and the sequence it sits in picks one: the expected next
number if it is among the readings, else a reading that a lost label between
explains. Repairs are recorded (``label`` as printed, ``label_repaired``, an
issue), never silent.

Paragraphs: a line continues the current clause unless it starts a new one
(a label) or starts a fresh paragraph after a finished sentence. A fresh
unlabelled paragraph under an item list becomes an unnumbered child (id
``15.11a``); under a clause without items it is part of that clause. After a
page break such a paragraph is read as the continuation it almost always is.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from kg import deadlines
from kg.fields import IssueLog, lookups, names_in
from kg.models import Citation, Clause, Deadline
from kg.sections import Item
from kg.text import canonical_wording, cn_number, cn_numeral, ends_sentence

_NUMERALS = "一二三四五六七八九十百零〇0-9人入士干千大匕"
_CONFUSABLE = str.maketrans({"人": "八", "入": "八", "士": "十", "干": "十", "千": "十", "大": "六", "匕": "七"})
_TOP = re.compile(rf"^(?P<junk>[^\s、,。()]{{0,2}}?)(?P<num>[{_NUMERALS}]{{1,4}})[、,.]")
_ITEM = re.compile(
    rf"^(?P<junk>[^\s、,。()]{{0,2}}?)(?P<open>[(《〈<\[{{【C]?)(?P<num>[{_NUMERALS}]{{1,4}})(?P<close>[)》〉>\]}}】])"
)
_JUNK_BEFORE_SUBJECT = re.compile(r"^(?P<junk>[^\s你]{1,2}?)你公司")
_PLAUSIBLE_OPENERS = frozenset("如若对当凡请经由在向因与和及或但则且并使令")
_APPLIES = re.compile(r"^\((?:仅)?适用于(?P<what>[^()]{1,60})\)")
_GOVERNS = re.compile(r"你公司在经营(?P<what>.{2,30}?)时,?应当?遵守(?:下列|以下|如下)规定")
_TITLE = re.compile(r"《(?P<title>[^《》()。,;:\s]{2,60})》")
_ORDER = re.compile(r"^\((?P<order>[^()]{0,20}令第[0-9一二三四五六七八九十百零〇]+号)\)")
_ARTICLE = re.compile(r"^第(?P<art>[0-9一二三四五六七八九十百零〇]+)条")
_DUTY = re.compile(r"应当|(?<![相对响适供反效回顺])应(?![急用答])")


@dataclass
class Label:
    kind: str  # "top" or "item"
    printed: str
    readings: tuple[int, ...]  # possible numbers, the most complete reading first
    clean: bool  # printed exactly as its first reading's canonical label
    rest: str


@dataclass
class Seg:
    """One paragraph: a labelled clause, or a free paragraph, with its lines."""

    label: Label | None
    pieces: list[tuple[int, str]]
    page_break: bool
    junk: str = ""


@dataclass
class Node:
    seg: Seg
    number: int | None
    printed: str | None
    repaired: bool
    children: list[Node] = field(default_factory=list)
    frees: list[Seg] = field(default_factory=list)


def canonical(kind: str, n: int) -> str:
    return f"{cn_numeral(n)}、" if kind == "top" else f"({cn_numeral(n)})"


def read_label(text: str) -> Label | None:
    """The label at the start of a line, with every number its (possibly garbled) numeral can stand for."""
    for kind, rx in (("item", _ITEM), ("top", _TOP)):
        m = rx.match(text)
        if m is None:
            continue
        num = m.group("num").translate(_CONFUSABLE)
        readings = tuple(dict.fromkeys(r for k in range(len(num)) if (r := cn_number(num[k:])) is not None))
        if not readings or readings[0] > 999:
            continue
        printed = m.group(0)
        return Label(kind, printed, readings, printed == canonical(kind, readings[0]), text[m.end():].lstrip(" 、,.:"))
    return None


def segment(items: list[Item]) -> tuple[list[tuple[int, str]], list[Seg]]:
    """Preamble lines and the paragraphs after them."""
    preamble: list[tuple[int, str]] = []
    segs: list[Seg] = []
    prev = ""
    for it in items:
        t = it.line.text
        fresh = it.gap_before or ends_sentence(prev)
        label = read_label(t) if fresh else None
        if label is not None:
            segs.append(Seg(label, [(it.line.no, label.rest)], it.page_break))
        elif not segs:
            preamble.append((it.line.no, t))
        elif not it.gap_before or not ends_sentence(prev):
            segs[-1].pieces.append((it.line.no, t))
        else:
            # A fresh paragraph. After a page break it is kept apart only for now: unless the
            # sequence shows a lost label it is (almost always) the same paragraph going on.
            m = _JUNK_BEFORE_SUBJECT.match(t)
            junk = m.group("junk") if m and not set(m.group("junk")) & _PLAUSIBLE_OPENERS else ""
            segs.append(Seg(None, [(it.line.no, t)], it.page_break, junk))
        prev = t
    return preamble, segs


class _Tree:
    """Assigns numbers to labelled paragraphs from their sequence and files free paragraphs."""

    def __init__(self, issues: IssueLog) -> None:
        self.tops: list[Node] = []
        self.issues = issues
        self.orphans: list[Seg] = []
        self.following: tuple[int, ...] = ()

    def owner(self) -> Node | None:
        if not self.tops:
            return None
        top = self.tops[-1]
        return top.children[-1] if top.children else top

    def add(self, seg: Seg, following: tuple[int, ...] = ()) -> None:
        """File one paragraph; ``following`` are the readings of the next label of the same kind."""
        self.following = following
        if seg.label is None:
            self.free(seg)
        elif seg.label.kind == "top":
            self.top(seg, seg.label)
        else:
            self.item(seg, seg.label)

    def free(self, seg: Seg) -> None:
        owner = self.owner()
        if owner is None:
            self.orphans.append(seg)
        else:
            owner.frees.append(seg)

    def reject(self, seg: Seg, label: Label) -> None:
        """Not a label after all (out of sequence): the paragraph is text."""
        line = seg.pieces[0][0]
        self.issues.add("label-out-of-sequence", f"{label.printed!r} does not fit the sequence; kept as text",
                        line, "info")
        seg.pieces[0] = (line, label.printed + seg.pieces[0][1])
        seg.label = None
        self.free(seg)

    def pick(self, label: Label, expected: int, pending: int) -> int | None:
        if expected in label.readings:
            return expected
        fits = [r for r in label.readings if expected < r <= expected + pending]
        if fits:
            return min(fits)
        if expected + 1 in self.following:
            return expected  # the next label goes on from here: this numeral is misread
        if label.clean and label.readings[0] > expected:
            return label.readings[0]
        near = [r for r in label.readings if expected < r <= expected + 2]
        return min(near) if near else None

    def top(self, seg: Seg, label: Label) -> None:
        expected = (self.tops[-1].number or 0) + 1 if self.tops else 1
        owner = self.owner()
        pending = owner.frees if owner is not None else []
        r = self.pick(label, expected, len(pending))
        if r is None:
            return self.reject(seg, label)
        if r > expected and owner is not None:
            expected += self.fill(owner, min(r - expected, len(pending)), self.tops, expected)
        if r > expected:
            self.gap(seg, expected, r)
        self.tops.append(self.node(seg, label, r))

    def item(self, seg: Seg, label: Label) -> None:
        if not self.tops:
            return self.reject(seg, label)
        top = self.tops[-1]
        expected = (top.children[-1].number or 0) + 1 if top.children else 1
        owner = top.children[-1] if top.children else top
        restart = expected > 1 and expected not in label.readings
        first_list = not top.children and not top.seg.pieces[-1][1].endswith(":")
        if 1 in label.readings and (restart or first_list) and owner.frees \
                and owner.frees[-1].pieces[-1][1].endswith(":"):
            # A list (re)starts at (一) under a paragraph ending 规定: the clause label above it was lost.
            self.fill(owner, 1, self.tops, (top.number or 0) + 1, last=True)
            top, expected, owner = self.tops[-1], 1, self.tops[-1]
        r = self.pick(label, expected, len(owner.frees))
        if r is None:
            return self.reject(seg, label)
        if r > expected:
            expected += self.fill(owner, min(r - expected, len(owner.frees)), top.children, expected)
        if r > expected:
            self.gap(seg, expected, r)
        top.children.append(self.node(seg, label, r))

    def fill(self, owner: Node, k: int, siblings: list[Node], first: int, last: bool = False) -> int:
        """Promote ``k`` free paragraphs of ``owner`` to numbered siblings whose labels were lost."""
        if k <= 0:
            return 0
        frees = owner.frees
        if last:
            chosen = [len(frees) - 1]
        else:
            # A label's remnant (作你公司) is the best evidence, then a paragraph break within a page.
            order = sorted(range(len(frees)), key=lambda i: (not frees[i].junk, frees[i].page_break, i))
            chosen = sorted(order[:k])
        owner.frees = frees[:chosen[0]]
        for n, (ci, nxt) in enumerate(zip(chosen, [*chosen[1:], len(frees)], strict=True)):
            seg = frees[ci]
            line, text = seg.pieces[0]
            seg.pieces[0] = (line, text[len(seg.junk):])
            node = Node(seg, first + n, seg.junk or None, True, frees=frees[ci + 1:nxt])
            siblings.append(node)
            kind = "top" if siblings is self.tops else "item"
            self.issues.add("label-lost", f"paragraph read as clause {canonical(kind, first + n)} "
                            "whose label was lost", line)
        return len(chosen)

    def gap(self, seg: Seg, expected: int, got: int) -> None:
        self.issues.add("clause-sequence-gap", f"expected clause {expected}, found {got}", seg.pieces[0][0])

    def node(self, seg: Seg, label: Label, n: int) -> Node:
        repaired = label.printed != canonical(label.kind, n)
        if repaired:
            self.issues.add("label-repaired", f"label {label.printed!r} read as {canonical(label.kind, n)!r}",
                            seg.pieces[0][0], "info")
        return Node(seg, n, label.printed, repaired)


def _next_readings(segs: list[Seg], i: int) -> tuple[int, ...]:
    label = segs[i].label
    if label is None:
        return ()
    for seg in segs[i + 1:]:
        if seg.label is None:
            continue
        if seg.label.kind == label.kind:
            return seg.label.readings
        if label.kind == "item":
            return ()  # the list ends at the next clause
    return ()


def build(items: list[Item], issues: IssueLog) -> tuple[list[tuple[int, str]], list[Clause]]:
    """The preamble lines and the clause tree of the provisions section."""
    preamble, segs = segment(items)
    tree = _Tree(issues)
    for i, seg in enumerate(segs):
        tree.add(seg, _next_readings(segs, i))
    for seg in tree.orphans:
        preamble.extend(seg.pieces)
    clauses = [_clause(top, str(top.number), issues) for top in tree.tops]
    if not clauses:
        issues.add("missing-field", "no numbered clause of 特别规定事项 found", items[0].line.no if items else None)
    return preamble, clauses


def _clause(node: Node, cid: str, issues: IssueLog) -> Clause:
    pieces = list(node.seg.pieces)
    children: list[Clause] = []
    if not node.children:
        for seg in node.frees:
            pieces.extend(seg.pieces)
    else:
        for seg in node.frees:  # before the first item: the clause's own introduction
            pieces.extend(seg.pieces)
        for child in node.children:
            child_id = f"{cid}.{child.number}"
            units: list[list[tuple[int, str]]] = [list(child.seg.pieces)]
            for seg in child.frees:
                if seg.page_break:
                    units[-1].extend(seg.pieces)  # continues across the page break
                else:
                    units.append(list(seg.pieces))  # an unlabelled paragraph of its own
            child.seg.pieces = units[0]
            children.append(_clause(Node(child.seg, child.number, child.printed, child.repaired), child_id, issues))
            for i, unit in enumerate(units[1:]):
                children.append(_facts(unit, f"{child_id}{_letters(i)}", None, None, False, [], issues))
    return _facts(pieces, cid, node.number, node.printed, node.repaired, children, issues)


def line_index(pieces: list[tuple[int, str]]) -> Callable[[int], int]:
    """Offset in the joined text of ``pieces`` → the original line it came from."""
    offsets: list[int] = []
    pos = 0
    for _, t in pieces:
        offsets.append(pos)
        pos += len(t)

    def line_at(off: int) -> int:
        return pieces[max(bisect_right(offsets, off) - 1, 0)][0]

    return line_at


def _letters(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(97 + r) + out
    return out


def _facts(pieces: list[tuple[int, str]], cid: str, number: int | None, label: str | None, repaired: bool,
           children: list[Clause], issues: IssueLog) -> Clause:
    text = "".join(t for _, t in pieces)
    cut = 0
    applies_printed, applies = None, []
    m = _APPLIES.match(text)
    if m:
        applies_printed = m.group("what")
        applies, left = names_in(applies_printed, issues, pieces[0][0])
        for piece in left:
            issues.add("business-type-unknown", f"(适用于{piece}) is no catalogue service", pieces[0][0])
        cut = m.end()
        text = text[cut:]
    index = line_index(pieces)

    def line_at(off: int) -> int:
        return index(off + cut)

    governs = None
    g = _GOVERNS.search(text)
    if g:
        codes, _ = names_in(g.group("what"), IssueLog(), line_at(g.start()))
        name = g.group("what")
        governs = lookups().name_to_code.get(name) or lookups().name_to_code.get(name + "业务") or \
            (codes[0] if len(codes) == 1 else None)
        if governs is None:
            issues.add("business-type-unknown", f"clause governs unknown business {name!r}", line_at(g.start()))
    wording = canonical_wording(text)  # the template's text: its modality is the template's
    modality = [k for k, hit in (("duty", _DUTY.search(wording)), ("prohibition", "不得" in wording)) if hit]
    found = [
        Deadline(amount=f.amount, unit=f.unit, relation=f.relation, anchor=f.anchor,  # type: ignore[arg-type]
                 recurrence=f.recurrence, window=f.window, text=f.text, line=line_at(f.start))  # type: ignore[arg-type]
        for f in deadlines.find(text)
    ]
    end = max([ln for ln, _ in pieces] + [c.end_line for c in children])
    return Clause(
        id=cid, number=number, label=label, label_repaired=repaired, text=text,
        applies_to_printed=applies_printed, applies_to=applies, governs_business_type=governs,
        modality=modality, deadlines=found,  # type: ignore[arg-type]
        citations=citations(text, line_at, issues), line=pieces[0][0], end_line=end, children=children,
    )


def citations(text: str, line_at: Callable[[int], int], issues: IssueLog) -> list[Citation]:
    """Regulations cited in 《》; look-alikes (the section's own title, an information system) are not."""
    lk = lookups()
    out: list[Citation] = []
    for m in _TITLE.finditer(text):
        title = m.group("title")
        if title in lk.ref.non_regulation_titles:
            continue
        tail = text[m.end():]
        order = _ORDER.match(tail)
        article = _ARTICLE.match(tail)
        line = line_at(m.start())
        if lk.ref.regulation_by_title(title) is None:
            issues.add("regulation-unknown", f"《{title}》 is not in the regulations vocabulary", line, "info")
        out.append(Citation(title=title, order_no=order.group("order") if order else None,
                            article=article.group(0) if article else None, line=line))
    return out
