"""Field readers: licence number, dates, names, and the business-type / coverage table.

Every name is resolved through :mod:`kg.reference` (the ontology's
vocabularies), never through tables of our own, so a catalogue or region
change is one edit of the vocabulary. What cannot be resolved is reported as
an :class:`~kg.models.ExtractionIssue` and left out, not guessed.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

from kg import reference
from kg.models import Authorisation, CoverageEntry, ExtractionIssue, LicenceNumber
from kg.text import Line

MIIT_NAME = "工业和信息化部"  # the issuer of every cross-regional licence (the clauses' "我部")
MIIT_CODE = "MIIT"
_AUTHORISABLE_LEVELS = ("type", "subtype")
_NATIONWIDE = ("全国", "全国范围", "全国各省(自治区、直辖市)")


@dataclass(frozen=True)
class Lookups:
    """Reference data in the shapes the parser's hot path needs, built once per process."""

    ref: reference.Reference
    abbrs: dict[str, reference.Province]
    type_names: tuple[tuple[str, str], ...]  # (printed name, code), longest first: authorisable types
    all_names: tuple[tuple[str, str], ...]  # every catalogue name and alt label, longest first
    name_to_code: dict[str, str]
    type_re: re.Pattern[str]
    provinces: dict[str, str]  # full or short name → GB/T code
    cities: dict[str, str]  # city → GB/T code of its province
    number_re: re.Pattern[str]
    words_re: re.Pattern[str]  # every name a table value is made of, to tell a wrapped word from two values


@cache
def lookups() -> Lookups:
    ref = reference.load()
    abbrs = {p.abbr: p for p in ref.provinces.values() if p.abbr and p.authority}
    names: dict[str, str] = {}
    types: dict[str, str] = {}
    for bt in ref.business_types.values():
        for name in (bt.name_zh, *bt.alt_labels):
            names.setdefault(name, bt.code)
            if bt.level in _AUTHORISABLE_LEVELS:
                types.setdefault(name, bt.code)
    by_len = lambda kv: (-len(kv[0]), kv[0])  # noqa: E731
    type_names = tuple(sorted(types.items(), key=by_len))
    provinces: dict[str, str] = {}
    for p in ref.provinces.values():
        for name in (p.name_zh, p.short_zh):
            if name:
                provinces[name] = p.code
    letters = "".join(sorted(abbrs))
    number_re = re.compile(
        rf"(?:(?P<abbr>[{letters}])?\s*(?P<cls>B\s*[12])\s*-?\s*(?P<digits>\d{{6,10}})(?!\d)"
        rf"|(?P<iabbr>[{letters}])\s*ICP\s*证\s*(?P<icp>\d{{4,8}})(?!\d)\s*号?)"
    )
    return Lookups(
        ref=ref,
        abbrs=abbrs,
        type_names=type_names,
        all_names=tuple(sorted(names.items(), key=by_len)),
        name_to_code=names,
        type_re=re.compile("|".join(re.escape(n) for n, _ in type_names)),
        provinces=provinces,
        cities={c.name_zh: c.province for c in ref.cities.values()},
        number_re=number_re,
        words_re=re.compile("|".join(re.escape(w) for w in sorted(
            {*names, *provinces, *(c.name_zh for c in ref.cities.values()), *_NATIONWIDE, "机房所在地为", "仅限", "不含"},
            key=lambda w: (-len(w), w)) if len(w) > 1)),
    )


#: Issues of one code beyond this are summarised in one issue, so noise cannot inflate the result.
MAX_ISSUES_PER_CODE = 200


class IssueLog(list[ExtractionIssue]):
    """The issues of one parse, in order of discovery, at most MAX_ISSUES_PER_CODE of each code."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def add(self, code: str, message: str, line: int | None = None, severity: str = "warning") -> None:
        self.counts[code] += 1
        if self.counts[code] <= MAX_ISSUES_PER_CODE:
            self.append(ExtractionIssue(code=code, message=message, line=line, severity=severity))  # type: ignore[arg-type]

    def final(self) -> IssueLog:
        """Sorted by line (file-level issues last), with one summary per code that overflowed."""
        out = sorted(self, key=lambda i: (i.line is None, i.line or 0))
        for code, n in self.counts.items():
            if n > MAX_ISSUES_PER_CODE:
                out.append(ExtractionIssue(code=code, severity="info",
                                           message=f"{n - MAX_ISSUES_PER_CODE} more issues of this kind not listed"))
        return out


# -- licence number ------------------------------------------------------------


def number_key(m: re.Match[str]) -> tuple[str, str, str]:
    """What identifies a licence regardless of how the number was spaced or punctuated."""
    if m.group("icp"):
        return (m.group("iabbr"), "ICP", m.group("icp"))
    return (m.group("abbr") or "", m.group("cls").replace(" ", ""), m.group("digits"))


def decode_number(m: re.Match[str], line: int, issues: IssueLog) -> LicenceNumber:
    """The facts a licence number encodes (scope, class, issuer, year): no certificate prints them."""
    lk = lookups()
    printed = re.sub(r"\s+", "", m.group(0))
    if m.group("icp"):
        prov = lk.abbrs[m.group("iabbr")]
        return LicenceNumber(
            printed=printed, form="ICP", licence_class="B2", province_abbr=prov.abbr, province=prov.code,
            first_issued_year=None, serial=m.group("icp"), scope="provincial", issuer=prov.authority or "",
            issuer_code=prov.code, line=line,
        )
    cls = m.group("cls").replace(" ", "")
    digits = m.group("digits")
    year: int | None = int(digits[:4])
    if not 1990 <= year <= 2099 or len(digits) < 7:  # type: ignore[operator]
        issues.add("licence-number-unusual", f"no plausible year in licence number {printed}", line)
        year = None
    serial = digits[4:] if year is not None else digits
    abbr = m.group("abbr")
    if abbr:
        prov = lk.abbrs[abbr]
        return LicenceNumber(
            printed=printed, form=cls, licence_class=cls, province_abbr=abbr, province=prov.code,  # type: ignore[arg-type]
            first_issued_year=year, serial=serial, scope="provincial", issuer=prov.authority or "",
            issuer_code=prov.code, line=line,
        )
    return LicenceNumber(
        printed=printed, form=cls, licence_class=cls, first_issued_year=year, serial=serial,  # type: ignore[arg-type]
        scope="cross-regional", issuer=MIIT_NAME, issuer_code=MIIT_CODE, line=line,
    )


# -- business types and coverage -------------------------------------------------

_SEPARATORS = "、,，;；和及与/ "
_BOILERPLATE = re.compile(r"【[^】]*】?|依法须经批准的项目[^】]*】?")
_QUALIFIER = re.compile(r"\(([^()]*)\)|(仅限|不含|不包括|不包含)([^()]*)")
_MACHINE_ROOM = re.compile(r"^(?:IDC)?机房(?:所在地|所在城市|位置|地点)?(?:为|是|:|在)?")
_TABLE_LABELS = re.compile(r"业务种类|\(?服务项目\)?|(?:业务)?及?覆盖范围:?")


def names_in(text: str, issues: IssueLog, line: int) -> tuple[list[str], list[str]]:
    """Catalogue codes of the names in a 、-list, longest match first; and the pieces that resolved to none."""
    lk = lookups()
    codes: list[str] = []
    left: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in _SEPARATORS:
            i += 1
            continue
        hit = next(((name, code) for name, code in lk.all_names if text.startswith(name, i)), None)
        if hit is not None:
            codes.append(hit[1])
            i += len(hit[0])
            continue
        j = i
        while j < n and text[j] not in "、,，;；":
            j += 1
        piece = text[i:j].strip("。.等")
        if piece:
            close = difflib.get_close_matches(piece, [nm for nm, _ in lk.all_names], n=1, cutoff=0.85)
            if close and len(piece) >= 4:
                codes.append(lk.name_to_code[close[0]])
                issues.add("business-type-fuzzy", f"read {piece!r} as {close[0]!r}", line, "info")
            else:
                left.append(piece)
        i = j
    return codes, left


def parse_coverage(text: str) -> tuple[str, list[CoverageEntry], list[str]]:
    """Coverage kind, resolved places in printed order (duplicates kept), and unresolved pieces."""
    lk = lookups()
    m = _MACHINE_ROOM.match(text)
    kind = "machine-room locations" if m and m.group(0) else "regions"
    body = text[m.end():] if m else text
    entries: list[CoverageEntry] = []
    unknown: list[str] = []
    city_first = kind == "machine-room locations"
    for piece in re.split(r"[、,，;；/\s]+", body):
        piece = piece.strip("。.等()")
        if not piece:
            continue
        entry = _place(piece, city_first, lk)
        if entry is not None:
            entries.append(entry)
            continue
        parts = [p for p in re.split("[和及]", piece) if p]  # 北京和上海, but not 呼和浩特
        found = [_place(p, city_first, lk) for p in parts]
        if len(parts) > 1 and all(found):
            entries.extend(e for e in found if e is not None)
        else:
            unknown.append(piece)
    return kind, entries, unknown


def _place(piece: str, city_first: bool, lk: Lookups) -> CoverageEntry | None:
    if piece in _NATIONWIDE:
        return CoverageEntry(printed=piece, region="CN")
    for name in (piece, piece.removesuffix("市"), piece.removesuffix("省")):
        city = lk.cities.get(name)
        province = lk.provinces.get(name)
        if city_first and city is not None:
            return CoverageEntry(printed=piece, region=city, city=name)
        if province is not None:
            return CoverageEntry(printed=piece, region=province)
        if city is not None:
            return CoverageEntry(printed=piece, region=city, city=name)
    return None


@dataclass
class _Auth:
    code: str
    printed: str
    line: int
    limited_to: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    coverage_text: str | None = None
    coverage: list[CoverageEntry] = field(default_factory=list)
    kind: str = "regions"
    coverage_line: int | None = None


def table_fragments(lines: list[Line]) -> list[tuple[str, int]]:
    """The values of the business table, its form labels and boilerplate stripped, in reading order."""
    out: list[tuple[str, int]] = []
    in_note = False
    rows: list[tuple[list[str], int]] = []
    balance = 0  # open brackets of the current row, kept as it grows (no rescans)
    for ln in lines:
        text = ln.text.replace(" ", "")
        if in_note:
            end = text.find("】")
            if end < 0:
                continue
            text, in_note = text[end + 1:], False
        start = text.find("【")
        if start >= 0 and "】" not in text[start:]:
            text, in_note = text[:start], True
        text = _BOILERPLATE.sub("", text)
        text = _TABLE_LABELS.sub(" ", text).strip(" :")
        if not text:
            continue
        if rows and (balance > 0 or _wraps(rows[-1][0][-1], text)):
            rows[-1][0].append(text)
        else:
            rows.append(([text], ln.no))
            balance = 0
        balance += text.count("(") - text.count(")")
    for parts, no in rows:
        for frag in re.split(r"[。;；]|\s+", "".join(parts)):
            frag = frag.strip(" :,，、")
            if frag:
                out.append((frag, no))
    return out


def _wraps(prev: str, nxt: str) -> bool:
    """A narrow table column wraps inside a value: an open bracket, a list that goes on, or a word cut in two."""
    prev, nxt = prev.rstrip(), nxt.lstrip()
    if not prev or not nxt:
        return False
    if prev[-1] in "、,，和及与":
        return True
    tail, head = prev[-16:], nxt[:16]
    window = tail + head
    words = lookups().words_re
    return any((m := words.match(window, i)) is not None and m.end() > len(tail) for i in range(len(tail)))


def parse_table(lines: list[Line], issues: IssueLog) -> list[Authorisation]:
    """One authorisation per business type, with the qualifiers and coverage printed after it.

    OCR reads the two-column table row by row, so the form labels and the
    values interleave (业务种类 互联网数据中心业务 / (服务项目) 机房所在地为…); once
    the labels are removed the values alternate type, coverage, type, ….
    """
    lk = lookups()
    auths: list[_Auth] = []
    group: list[_Auth] = []
    last = ""
    for frag, line in table_fragments(lines):
        pos = 0
        for m in lk.type_re.finditer(frag):
            before = frag[pos:m.start()]
            if before:
                last = _rest(before, line, group, issues, leading=not group or last == "type")
            code = lk.name_to_code[m.group(0)]
            a = next((x for x in auths if x.code == code), None)
            if a is None:
                a = _Auth(code=code, printed=m.group(0), line=line)
                auths.append(a)
            else:
                issues.add("business-type-repeated", f"{m.group(0)} is printed twice; merged", line, "info")
            group = [*group, a] if last == "type" else [a]
            last, pos = "type", m.end()
        rest = frag[pos:]
        if rest:
            last = _rest(rest, line, group, issues, leading=False)
    return [_finish(a) for a in auths]


def _rest(text: str, line: int, group: list[_Auth], issues: IssueLog, *, leading: bool) -> str:
    """Qualifiers and coverage after a business type; returns what the text was ('qual', 'cover', '')."""
    what = ""
    leftover: list[str] = []
    pos = 0
    for m in _QUALIFIER.finditer(text):
        leftover.append(text[pos:m.start()])
        pos = m.end()
        inner = m.group(1) if m.group(1) is not None else m.group(2) + m.group(3)
        verb = re.match(r"(仅限|不含|不包括|不包含)", inner)
        body = inner[verb.end():] if verb else inner
        codes, left = names_in(body, IssueLog(), line)
        if not codes and verb is None:
            leftover.append(inner)  # a parenthesised place list, not a qualifier
            continue
        codes, left = names_in(body, issues, line)
        if not group:
            issues.add("table-unparsed", f"qualifier {inner!r} before any business type", line)
            continue
        target = group[-1].excludes if verb and verb.group(1) != "仅限" else group[-1].limited_to
        target.extend(c for c in codes if c not in target)
        what = "qual"
        for piece in left:
            leftover.append(piece)
    leftover.append(text[pos:])
    rest = "".join(leftover).strip(" ,，、:")
    if not rest:
        return what
    kind, entries, unknown = parse_coverage(rest)
    if not entries:
        if leading and "增值电信业务" in rest:
            return what  # a class heading such as 第二类增值电信业务中的
        code = "business-type-unknown" if "业务" in rest or "服务" in rest else "region-unknown"
        issues.add(code, f"cannot resolve {rest!r} in the business table", line)
        return what
    for piece in unknown:
        issues.add("region-unknown", f"unknown place {piece!r} in coverage", line)
    if not group:
        issues.add("table-unparsed", f"coverage {rest!r} before any business type", line)
        return "cover"
    for a in group:
        a.coverage.extend(entries)
        a.coverage_text = rest if a.coverage_text is None else a.coverage_text + "、" + rest
        a.coverage_line = a.coverage_line or line
        if kind != "regions":
            a.kind = kind
    return "cover"


def _finish(a: _Auth) -> Authorisation:
    return Authorisation(
        business_type=a.code, business_type_printed=a.printed, limited_to=a.limited_to, excludes=a.excludes,
        coverage_text=a.coverage_text, coverage=a.coverage, coverage_kind=a.kind,  # type: ignore[arg-type]
        coverage_printed=a.coverage_text is not None, line=a.line, coverage_line=a.coverage_line,
    )


def default_coverage(auths: list[Authorisation], number: LicenceNumber, issues: IssueLog) -> None:
    """No coverage printed: a provincial licence covers its own province; a cross-regional one is left open."""
    lk = lookups()
    for a in auths:
        if a.coverage_printed:
            continue
        if number.scope == "provincial" and number.province:
            prov = lk.ref.provinces[number.province]
            a.coverage = [CoverageEntry(printed=prov.name_zh, region=prov.code)]
        else:
            issues.add("coverage-missing", f"no coverage printed for {a.business_type_printed}", a.line)
