"""Parse one certificate transcription into a :class:`~kg.models.Certificate`.

One direction of flow: bytes → decoded text (encoding recorded) → normalised
lines that keep their original numbers → sections → models. Input that is
not a certificate at all raises :class:`~kg.errors.NotACertificateError`
(or a subclass); a damaged but recognisable certificate parses, with what
could not be read reported in ``Certificate.issues``. Limits (documented in
docs/json-format.md) bound time and memory on hostile input.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path

from kg import clauses as _clauses
from kg.errors import InputTooLargeError, MultipleCertificatesError, NotACertificateError
from kg.fields import DATE_RE, decode_number, default_coverage, issue, parse_date, parse_table
from kg.models import (
    Certificate,
    Company,
    DateValue,
    ExtractionIssue,
    NameVariant,
    Person,
    SourceDocument,
    Website,
)
from kg.sections import Item, Sections, split
from kg.text import MAX_BYTES, MAX_LINE_CHARS, Line, compact, decode, normalise, split_lines

__all__ = [
    "MAX_BYTES", "MAX_LINES", "MultipleCertificatesError", "NotACertificateError", "parse_bytes", "parse_file",
    "parse_text",
]

#: More lines than this is no certificate (real ones have 80-300); bounds the size of the result.
MAX_LINES = 30_000
#: Issues of one code beyond this are summarised in one issue, so noise cannot inflate the result.
MAX_ISSUES_PER_CODE = 200

_COMPANY = re.compile(r"^(?:公司|企业|单位)名称:?(?P<v>.*)$")
_REPRESENTATIVE = re.compile(r"^法定代表人(?:\(负责人\))?:?(?P<v>.*)$")
_OTHER_LABEL = re.compile(r"法定代表人|(?:公司|企业|单位)名称|业务种类|发证日期|有效期至|注册资本|注册地址")
_TABLE_START = re.compile(r"业务种类|覆盖范围")
_TABLE_END = re.compile(r"^发证机关|^发证日期|^有效期|^经营许可证编号")
_DATE_LABEL = re.compile(r"^(?P<which>发证日期|有效期至|有效期限至|有效期)(?:\(盖章\))?:?(?P<v>.*)$")
_HOLDER_PREAMBLE = re.compile(r"组成部分[,]?(?P<name>[^,。]{2,60}?)应当?按照")
_HOLDER_APPENDIX = re.compile(r"^(?P<name>.{2,60}?)获准经营")
_SITE_FIELD = re.compile(
    r"^(?P<label>网站名称|网站域名|域名|服务器放置地点?|服务器所在地|网站接入服务提供单位|接入服务提供单位|网站接入服务提供者)"
    r":?(?P<v>.*)$"
)
_SITE_KEYS = {"网站名称": "name", "网站域名": "domains", "域名": "domains", "服务器放置地": "server",
              "服务器放置地点": "server", "服务器所在地": "server"}
_DOMAIN = re.compile(r"^(?:[\w-]+\.)+[A-Za-z\u4e00-\u9fff]{2,}$")
_DOMAIN_CHARS = re.compile(r"[\w.\-;,()、/]+", re.ASCII)
_ADDRESS_END = "室号层楼座院区幢栋房)"
_ORG_END = ("公司", "局", "中心", "院", "所", "厂", "部", "站", "社", "会")


def parse_text(text: str, source: SourceDocument | None = None, *, file: str = "<text>") -> Certificate:
    """Parse already-decoded text (``source`` describes where it came from, when known)."""
    if len(text) > MAX_BYTES:
        raise _too_large(len(text), file)
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BYTES:
        raise _too_large(len(data), file)
    raw = split_lines(text)
    if source is None:
        source = SourceDocument(file=file, sha256=hashlib.sha256(data).hexdigest(), encoding="utf-8",
                                size_bytes=len(data), line_count=len(raw))
    return _parse(raw, source)


def parse_bytes(data: bytes, file: str = "<bytes>", path: str | None = None) -> Certificate:
    """Parse a file's bytes: the size is checked before decoding, the encoding detected and recorded."""
    if len(data) > MAX_BYTES:
        raise _too_large(len(data), file)
    text, encoding = decode(data, file)
    raw = split_lines(text)
    source = SourceDocument(file=file, path=path, sha256=hashlib.sha256(data).hexdigest(), encoding=encoding,
                            size_bytes=len(data), line_count=len(raw))
    return _parse(raw, source)


def parse_file(path: str | os.PathLike[str]) -> Certificate:
    """Parse a certificate file; at most MAX_BYTES + 1 bytes are ever read."""
    p = Path(path)
    with p.open("rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _too_large(None, p.name)
    return parse_bytes(data, file=p.name, path=str(path))


def _too_large(size: int | None, file: str) -> InputTooLargeError:
    what = f"{size} bytes" if size is not None else "more than that"
    return InputTooLargeError(f"input too large: {what}, the limit is {MAX_BYTES} bytes (2 MiB)", file=file,
                              hint="a certificate transcription is a few kilobytes; is this the right file?")


def _parse(raw: list[str], source: SourceDocument) -> Certificate:
    file = source.file
    if len(raw) > MAX_LINES:
        raise InputTooLargeError(f"input too large: {len(raw)} lines, the limit is {MAX_LINES}", file=file,
                                 hint="a certificate transcription has a few hundred lines")
    lines = [Line(i, normalise(r) if len(r) <= MAX_LINE_CHARS else r[: MAX_LINE_CHARS + 1])
             for i, r in enumerate(raw, 1)]
    sec = split(lines, file)
    issues: list[ExtractionIssue] = list(sec.issues)
    m, no = sec.numbers[0]
    number = decode_number(m, no, issues)
    header = [it.line for it in sec.header]
    company = _field(header, _COMPANY, "company name (公司名称)", issues)
    rep = _field(header, _REPRESENTATIVE, "legal representative (法定代表人)", issues)
    auths = parse_table(_table_lines(header), issues)
    if not auths:
        issues.append(issue("missing-field", "no business type found in 业务种类(服务项目)及覆盖范围",
                            header[0].no if header else None))
    default_coverage(auths, number, issues)
    issue_date, expiry_date = _dates(header, issues)
    websites, appendix_holder = _websites(sec.appendix, issues)
    preamble_lines, tree = _clauses.build(sec.provisions, issues)
    preamble = "".join(t for _, t in preamble_lines) or None
    holders: list[NameVariant] = []
    if preamble and (h := _HOLDER_PREAMBLE.search(preamble)):
        holders.append(NameVariant(name=h.group("name"), line=preamble_lines[0][0]))
    if appendix_holder is not None:
        holders.append(appendix_holder)
    company = _variants(company, holders, issues)
    cited = _cited(sec, preamble_lines, tree, issues)
    return Certificate(
        source=source, licence_number=number, company=company,
        legal_representative=Person(name=rep[0], line=rep[1]) if rep else None,
        issue_date=issue_date, expiry_date=expiry_date, authorisations=auths, websites=websites,
        preamble=preamble, clauses=tree, regulations_cited=cited, issues=_capped(issues),
    )


def _field(header: list[Line], rx: re.Pattern[str], what: str, issues: list[ExtractionIssue]) -> tuple[str, int] | None:
    """A labelled value: on the label's line, or alone on the next line."""
    for i, ln in enumerate(header):
        m = rx.match(ln.text)
        if m is None:
            continue
        value = _OTHER_LABEL.split(m.group("v"))[0].strip(" :,;。")
        if value:
            return value, ln.no
        nxt = header[i + 1] if i + 1 < len(header) else None
        if nxt is not None and not _OTHER_LABEL.search(nxt.text) and not DATE_RE.search(nxt.text):
            return nxt.text.strip(" :,;。"), nxt.no
        break
    issues.append(issue("missing-field", f"no {what} found", header[0].no if header else None))
    return None


def _table_lines(header: list[Line]) -> list[Line]:
    start = next((i for i, ln in enumerate(header) if _TABLE_START.search(ln.text)), None)
    if start is None:
        rep = next((i for i, ln in enumerate(header) if _REPRESENTATIVE.match(ln.text)), None)
        if rep is None:
            return []
        start = rep + 1
    out = []
    for ln in header[start:]:
        if _TABLE_END.match(ln.text) or (DATE_RE.search(ln.text) and len(compact(ln.text)) <= 16):
            break
        out.append(ln)
    return out


def _dates(header: list[Line], issues: list[ExtractionIssue]) -> tuple[DateValue, DateValue]:
    """Issue and expiry dates; OCR may print the two labels first and both values after them."""
    found: dict[str, DateValue] = {}
    pending: list[str] = []
    loose: list[Line] = []
    for ln in header:
        m = _DATE_LABEL.match(ln.text)
        if m:
            which = "issue" if m.group("which") == "发证日期" else "expiry"
            if which in found or which in pending:
                continue
            if DATE_RE.search(m.group("v")):
                found[which] = _date_value(m.group("v"), ln.no)
            else:
                pending.append(which)
        elif (d := DATE_RE.search(ln.text)) and len(compact(ln.text)) <= len(d.group(0)) + 2:
            if pending:
                found[pending.pop(0)] = _date_value(ln.text, ln.no)
            else:
                loose.append(ln)
    for which in pending:
        if loose:
            ln = loose.pop(0)
            found[which] = _date_value(ln.text, ln.no)
    out = []
    for which, name in (("issue", "issue date (发证日期)"), ("expiry", "expiry date (有效期至)")):
        dv = found.get(which)
        if dv is None:
            issues.append(issue("missing-field", f"no {name} found", header[0].no if header else None))
            dv = DateValue()
        elif dv.value is None:
            issues.append(issue("date-unreadable", f"{name} printed {dv.printed!r} cannot be read; left unknown",
                                dv.line, "error"))
        out.append(dv)
    if out[0].value and out[1].value and out[1].value <= out[0].value:
        issues.append(issue("date-order", "expiry date is not after the issue date", out[1].line))
    return out[0], out[1]


def _date_value(text: str, line: int) -> DateValue:
    m = DATE_RE.search(text)
    printed = m.group(0) if m else text.strip()
    return DateValue(value=parse_date(printed), printed=printed, line=line)


def _websites(items: list[Item], issues: list[ExtractionIssue]) -> tuple[list[Website], NameVariant | None]:
    """Appendix websites; a wrapped value (domain list, address) continues on the next lines."""
    sites: list[dict] = []
    holder: NameVariant | None = None
    heading: list[Line] = []
    key: str | None = None
    for it in items:
        ln = it.line
        m = _SITE_FIELD.match(ln.text)
        if m is None and not sites and (heading or _HOLDER_APPENDIX.match(ln.text)):
            if not heading or "相关信息" not in "".join(h.text for h in heading):
                heading.append(ln)
            continue
        if m is not None:
            key = _SITE_KEYS.get(m.group("label"), "provider")
            if not sites or key in sites[-1] or key == "name":
                sites.append({"line": ln.no})
            sites[-1][key] = m.group("v").strip(" :")
            continue
        if key is None or not sites:
            continue
        value = sites[-1].get(key, "")
        if _continues(key, value, ln.text):
            sep = ";" if key == "domains" and _finished(key, value) else ""
            sites[-1][key] = value + sep + ln.text
        else:
            issues.append(issue("noise-dropped", f"dropped {ln.text!r} after a finished {key}", ln.no, "info"))
    if heading and (h := _HOLDER_APPENDIX.match("".join(x.text for x in heading))):
        holder = NameVariant(name=h.group("name"), line=heading[0].no)
    out = []
    for s in sites:
        domains = list(dict.fromkeys(
            d.strip(".") for d in re.split(r"[;,、()\s]+", s.get("domains", "")) if _DOMAIN.match(d.strip("."))
        ))
        if s.get("domains") and not domains:
            issues.append(issue("domain-unreadable", f"no domain in {s['domains']!r}", s["line"]))
        out.append(Website(name=s.get("name") or None, domains=domains, server_location=re.sub(r"\s+", "", s.get("server", "")) or None,
                           access_provider=s.get("provider") or None, line=s["line"]))
    return out, holder


def _continues(key: str, value: str, text: str) -> bool:
    """Whether a line goes on with a wrapped value, or is junk left between the appendix fields."""
    if "?" in text:
        return False
    if key == "domains":
        return _DOMAIN_CHARS.fullmatch(text) is not None
    if not _finished(key, value):
        return True
    if key == "server":
        return any(ch.isdigit() for ch in text) or text[-1] in _ADDRESS_END
    if key == "provider":
        return text.endswith(_ORG_END)
    return False


def _finished(key: str, value: str) -> bool:
    if not value:
        return False
    if key == "domains":
        return value.count("(") <= value.count(")") and value[-1] not in ".;,、(-"
    if key == "server":
        return value[-1] in _ADDRESS_END
    if key == "provider":
        return value.endswith(_ORG_END)
    return True


def _variants(company: tuple[str, int] | None, holders: list[NameVariant],
              issues: list[ExtractionIssue]) -> Company | None:
    """The holder as 公司名称 prints it; other spellings in the same certificate are variants, not merged."""
    if company is None:
        if not holders:
            return None
        first = holders[0]
        issues.append(issue("company-from-text", f"holder read from the text as {first.name!r}", first.line))
        company = (first.name, first.line)
    variants: list[NameVariant] = []
    for h in holders:
        if compact(h.name) != compact(company[0]) and all(compact(v.name) != compact(h.name) for v in variants):
            variants.append(h)
            issues.append(issue("holder-name-variant", f"holder spelled {h.name!r}, 公司名称 says {company[0]!r}",
                                h.line))
    return Company(name=company[0], line=company[1], variants=variants)


def _cited(sec: Sections, preamble: list[tuple[int, str]], tree: list, issues: list[ExtractionIssue]) -> list[str]:
    """Distinct regulation titles in order of first citation, the header paragraph included."""
    titles: list[str] = []
    for block in ([(it.line.no, it.line.text) for it in sec.header], [(it.line.no, it.line.text) for it in sec.appendix],
                  preamble):
        if block:
            text = "".join(t for _, t in block)
            titles += [c.title for c in _clauses.citations(text, _clauses.line_index(block), issues)]
    for top in tree:
        for c in top.walk():
            titles += [x.title for x in c.citations]
    return list(dict.fromkeys(titles))


def _capped(issues: list[ExtractionIssue]) -> list[ExtractionIssue]:
    counts: Counter[str] = Counter()
    out: list[ExtractionIssue] = []
    for i in issues:
        counts[i.code] += 1
        if counts[i.code] <= MAX_ISSUES_PER_CODE:
            out.append(i)
    for code, n in counts.items():
        if n > MAX_ISSUES_PER_CODE:
            out.append(issue(code, f"{n - MAX_ISSUES_PER_CODE} more issues of this kind not listed", None, "info"))
    out.sort(key=lambda i: (i.line is None, i.line or 0))
    return out
