"""Normalised lines to the certificate's sections, with page furniture and OCR noise removed.

A certificate reads: title, licence number, header paragraph, 公司名称,
法定代表人, the business table, dates; optionally an appendix (附页) listing
websites; then 特别规定事项, its preamble and the clause tree. Every page
repeats the licence number and the section title, and the scans leave stamps
and signatures as junk lines at page ends; those are dropped here (each with
an info issue naming its line) so that a paragraph cut by a page break reads
on as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from kg.errors import MultipleCertificatesError, NotACertificateError
from kg.fields import IssueLog, lookups, number_key
from kg.text import MAX_LINE_CHARS, Line, cjk_count, ends_sentence, has_cjk, has_kana

_TITLE = re.compile(r"^(?:中华人民共和国)?(?:跨地区)?增值电信业务经营许可证(?P<appendix>\(?附[页件]\)?)?$")
_SECTION = re.compile(r"^《?特别规定事项》?:?$")
_NUMBER_LABEL = re.compile(r"^(?:经营)?许可证(?:编)?号:?$")
_PAGE_NUMBER = re.compile(
    r"^(?:\d{1,3}\s*/\s*\d{1,3}|-?\s*\d{1,3}\s*-?|第\s*\d{1,3}\s*页(?:\s*[,/]?\s*共\s*\d{1,3}\s*页)?"
    r"|\d{1,3}\s*of\s*\d{1,3}|page\s*\d{1,3})$",
    re.I,
)
_LATIN_WORD = re.compile(r"[A-Za-z0-9]{2,}")
_CLOCK = re.compile(r"\d{1,2}:\d{2}")
_PREAMBLE = re.compile(r"^《?特别规定事项》?是")
_APPENDIX_START = re.compile(r"获准经营|^网站名称")
_FIRST_CLAUSE = re.compile(r"^一[、,.]你公司")
_LABELISH = re.compile(r"^.{0,3}?[一二三四五六七八九十人入士干大匕]{1,4}[、)]")
_COMPANY_FIELD = re.compile(r"^(?:公司|企业|单位)名称")
_MARKERS = (
    ("title", re.compile(r"增值电信业务经营许可证")),
    ("company", re.compile(r"^(?:公司|企业|单位)名称")),
    ("representative", re.compile(r"法定代表人")),
    ("table", re.compile(r"业务种类|覆盖范围")),
    ("dates", re.compile(r"发证日期|有效期至")),
    ("provisions", re.compile(r"特别规定事项")),
    ("appendix", re.compile(r"获准经营|^网站名称|^网站域名")),
    ("clause", re.compile(r"^.{0,3}一[、,.]你公司")),
)
_HTML = re.compile(r"<\s*(?:!doctype\s+html|html|head|body)\b", re.I)
_SHORT_JUNK_CJK = 6


@cache
def _number_line() -> re.Pattern[str]:
    return re.compile(rf"^(?:(?:经营)?许可证(?:编)?号:?)?\s*(?:{lookups().number_re.pattern})\s*$")


@dataclass(frozen=True, slots=True)
class Item:
    """A content line and what separates it from the previous content line."""

    line: Line
    gap_before: bool  # a blank or dropped line lies between (a possible paragraph break)
    page_break: bool  # a page header lies between (the paragraph may simply go on)


@dataclass
class Sections:
    numbers: list[tuple[re.Match[str], int]]
    header: list[Item] = field(default_factory=list)
    appendix: list[Item] = field(default_factory=list)
    provisions: list[Item] = field(default_factory=list)
    issues: IssueLog = field(default_factory=IssueLog)


def _kind(text: str) -> str:
    """blank, number, header (page furniture), noise or content: decided on the line alone."""
    if not text:
        return "blank"
    if len(text) > MAX_LINE_CHARS:
        return "overlong"
    if _number_line().match(text):
        return "number"
    if _NUMBER_LABEL.match(text) or _TITLE.match(text) or _SECTION.match(text) or _PAGE_NUMBER.match(text):
        return "header"
    if has_kana(text):
        kana = sum(1 for ch in text if "\u3040" <= ch <= "\u30ff")
        if len(text) <= 30 or kana * 3 >= len(text):
            return "noise"
    if not has_cjk(text) and (_CLOCK.search(text) or not _LATIN_WORD.search(text)):
        return "noise"  # stray glyphs and scanner timestamps; a wrapped domain (com.cn;www.) stays
    return "content"


def split(lines: list[Line], file: str) -> Sections:
    """Classify every line and cut the content into header, appendix and provisions."""
    if not any(ln.text for ln in lines):
        raise NotACertificateError("empty input: no text at all", file=file, hint="is this the right file?")
    head = "\n".join(ln.text for ln in lines[:200])
    if _HTML.search(head):
        raise NotACertificateError("an HTML page, not a certificate transcription", file=file,
                                   hint="save the certificate's text, not the web page")
    kinds = [_kind(ln.text) for ln in lines]
    numbers = [(m, ln.no) for ln, k in zip(lines, kinds, strict=True) if k == "number"
               and (m := lookups().number_re.search(ln.text)) is not None]
    if not numbers:
        raise NotACertificateError("no licence number (经营许可证编号) found", file=file,
                                   hint="a certificate prints its number, e.g. B2-20210247 or 京ICP证020001号")
    texts = [ln.text for ln in lines]
    found = 0
    for _, rx in _MARKERS:  # stops at the second marker found: this ran ~900 regex searches a certificate
        found += any(rx.search(t) for t in texts)
        if found >= 2:
            break
    if found < 2:  # a web page footer prints 经营许可证编号：京ICP证…号 too
        raise NotACertificateError("a licence number but too little of a certificate around it", file=file,
                                   hint="expected at least two of: the title, 公司名称, 法定代表人, 业务种类, "
                                   "发证日期/有效期至, 特别规定事项, the appendix, clause 一、")
    sec = Sections(numbers=numbers)
    _check_single(sec, texts, file)
    _furniture_issues(lines, kinds, sec)
    content = [i for i, k in enumerate(kinds) if k == "content"]
    prov = next((i for i in content if _PREAMBLE.match(texts[i])), None)
    if prov is None:  # no preamble: the clauses start after the section title, or at 一、
        section = next((i for i, k in enumerate(kinds) if k == "header" and _SECTION.match(texts[i])), None)
        if section is not None:
            prov = next((i for i in content if i > section), len(lines))
        else:
            prov = next((i for i in content if _FIRST_CLAUSE.match(texts[i])), len(lines))
    appendix_titles = [i for i, k in enumerate(kinds) if k == "header" and (m := _TITLE.match(texts[i]))
                       and m.group("appendix") and i < prov]
    app = next((i for i in content if i < prov and _APPENDIX_START.search(texts[i])), None)
    if appendix_titles:
        app = min(appendix_titles[0], app if app is not None else prov)
    head_end = app if app is not None else prov
    # An appendix printed after the clauses (scan order varies) ends them.
    tail = next((i for i in range(prov + 1, len(lines)) if (kinds[i] == "header" and (m := _TITLE.match(texts[i]))
                 and m.group("appendix")) or (kinds[i] == "content" and _APPENDIX_START.search(texts[i]))), len(lines))
    for i in range(prov, tail):
        # Junk stands alone between blank lines; a short line right under text is a wrapped paragraph's tail.
        fresh = i == prov or kinds[i - 1] != "content" or ends_sentence(texts[i - 1])
        if kinds[i] == "content" and fresh and _provision_noise(texts[i]):
            kinds[i] = "noise"
            sec.issues.add("noise-dropped", f"dropped OCR noise {texts[i][:40]!r}", lines[i].no, "info")
    sec.header = _items(lines, kinds, 0, head_end)
    sec.appendix = _items(lines, kinds, head_end, prov) + _items(lines, kinds, tail, len(lines))
    sec.provisions = _items(lines, kinds, prov, tail)
    return sec


def _furniture_issues(lines: list[Line], kinds: list[str], sec: Sections) -> None:
    first_number = sec.numbers[0][1]
    titled = sectioned = False
    for ln, k in zip(lines, kinds, strict=True):
        if k == "noise":
            sec.issues.add("noise-dropped", f"dropped OCR noise {ln.text[:40]!r}", ln.no, "info")
        elif k == "overlong":
            sec.issues.add("noise-dropped", f"dropped a line of {len(ln.text)} characters", ln.no, "info")
        elif k == "number" and ln.no != first_number:
            sec.issues.add("page-header-dropped", "repeated licence number", ln.no, "info")
        elif k == "header":
            if not titled and _TITLE.match(ln.text) and not _TITLE.match(ln.text).group("appendix"):  # type: ignore[union-attr]
                titled = True
                continue
            if _NUMBER_LABEL.match(ln.text) and ln.no < first_number:
                continue  # the label of the number printed on the next line
            if not sectioned and _SECTION.match(ln.text):
                sectioned = True
                continue
            sec.issues.add("page-header-dropped", f"page furniture {ln.text[:40]!r}", ln.no, "info")


def _provision_noise(text: str) -> bool:
    """Junk the scans leave among the clauses: stamps, signatures, stray glyphs at a page end."""
    if not has_cjk(text):
        return True
    if len(text) > 40:
        return False
    n = cjk_count(text)
    if ("?" in text or "|" in text) and n <= 10:
        return True
    if n <= _SHORT_JUNK_CJK and len(text) <= 8 and not _LABELISH.match(text):
        return text[-1] not in "。;:,、)"
    return False


def _items(lines: list[Line], kinds: list[str], start: int, end: int) -> list[Item]:
    out: list[Item] = []
    gap = page = False
    for i in range(start, end):
        k = kinds[i]
        if k == "content":
            out.append(Item(lines[i], gap or not out, page))
            gap = page = False
        else:
            gap = True
            page = page or k in ("header", "number")
    return out


def _check_single(sec: Sections, texts: list[str], file: str) -> None:
    """Two different numbers on number lines mean two certificates, unless one is a one-character OCR slip."""
    keys: dict[tuple[str, str, str], tuple[str, int]] = {}
    for m, no in sec.numbers:
        keys.setdefault(number_key(m), (re.sub(r"\s+", "", m.group(0)), no))
    if len(keys) < 2:
        if sum(1 for t in texts if _PREAMBLE.match(t)) > 1:
            raise MultipleCertificatesError("the certificate text appears twice", file=file,
                                            hint="give one certificate per file")
        return
    (first, (p1, l1)), *others = keys.items()
    twice = (sum(1 for t in texts if _COMPANY_FIELD.match(t)) > 1
             or sum(1 for t in texts if _PREAMBLE.match(t)) > 1)
    for _key, (p2, l2) in others:
        if twice or _distance(p1, p2) > 1:
            raise MultipleCertificatesError(
                f"two different licence numbers: {p1} (line {l1}) and {p2} (line {l2})",
                file=file, line=l2, hint="give one certificate per file",
            )
        sec.issues.add("licence-number-variant", f"page header prints {p2}, the certificate {p1}", l2)
    sec.numbers = [(m, no) for m, no in sec.numbers if number_key(m) == first]


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, capped at 2 (only 'at most one slip' matters)."""
    if abs(len(a) - len(b)) > 1:
        return 2
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return min(prev[-1], 2)
