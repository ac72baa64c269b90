"""Parse one certificate transcription into a :class:`~kg.models.Certificate`.

One direction of flow: bytes → decoded text (encoding recorded) → normalised
lines that keep their original numbers → sections → models. Input that is
not a certificate at all raises :class:`~kg.errors.NotACertificateError`
(or a subclass); a damaged but recognisable certificate parses, with what
could not be read reported in ``Certificate.issues``. Limits (documented in
docs/json-format.md) bound time and memory on hostile input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
from pathlib import Path

from kg import clauses as _clauses
from kg.errors import InputTooLargeError, MultipleCertificatesError, NotACertificateError
from kg.fields import IssueLog, decode_number, default_coverage, parse_table
from kg.models import (
    Certificate,
    Company,
    DateValue,
    NameVariant,
    Person,
    SourceDocument,
    Website,
)
from kg.sections import Item, Sections, split
from kg.text import (
    MAX_BYTES,
    MAX_LINE_CHARS,
    Line,
    cn_number,
    compact,
    decode_cut,
    ends_sentence,
    normalise,
    split_lines,
)

__all__ = [
    "MAX_BYTES", "MAX_LINES", "MultipleCertificatesError", "NotACertificateError", "parse_bytes", "parse_file",
    "parse_text",
]

#: More lines than this is no certificate (real ones have 80-300); bounds the size of the result.
MAX_LINES = 30_000

_CN_NUM = "〇零一二三四五六七八九十"
DATE_RE = re.compile(rf"([0-9{_CN_NUM}]{{1,4}})年([0-9{_CN_NUM}]{{0,3}})月(?:([0-9{_CN_NUM}]{{0,3}})([日月号]))?")
_CN_YEAR = str.maketrans("〇零一二三四五六七八九", "00123456789")
_COMPANY = re.compile(r"(?<!你)(?:公司|企业|单位)名称:?(?P<v>.*)$")
_REPRESENTATIVE = re.compile(r"法定代表人(?:\(负责人\))?:?(?P<v>.*)$")
_OTHER_LABEL = re.compile(r"法定代表人|(?:公司|企业|单位)名称|业务种类|发证日期|有效期至|注册资本|注册地址")
_TABLE_START = re.compile(r"业务种类|覆盖范围")
_TABLE_END = re.compile(r"^发证机关|^发证日期|^有效期|^经营许可证编号")
_DATE_LABEL = re.compile(r"(?P<which>发证日期|有效期至|有效期限至|有效期)(?:\(盖章\))?:?")
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
    text, encoding, cut = decode_cut(data, file)
    raw = split_lines(text)
    source = SourceDocument(file=file, path=path, sha256=hashlib.sha256(data).hexdigest(), encoding=encoding,
                            size_bytes=len(data), line_count=len(raw))
    return _parse(raw, source, cut_bytes=cut)


def parse_file(path: str | os.PathLike[str]) -> Certificate:
    """Parse a certificate file; at most MAX_BYTES + 1 bytes are ever read.

    Only regular files are read: a FIFO, a device or a directory is refused at
    once (opening is non-blocking, so a FIFO without a writer cannot hang).
    A file name that is not valid UTF-8 is kept with its bytes escaped.
    """
    p = Path(path)
    name = printable(p.name)
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotACertificateError(f"not a regular file but {_file_kind(mode)}", file=name,
                                       hint="give the certificate's text file")
        size = os.fstat(fd).st_size
        if size > MAX_BYTES:
            raise _too_large(size, name)
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _too_large(None, name)
    return parse_bytes(data, file=name, path=printable(os.fspath(path)))


def printable(name: str) -> str:
    """A file name as text that encodes to UTF-8: undecodable bytes (``os.fsdecode``'s surrogates) as ``\\xNN``."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        try:
            return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _too_large(size: int | None, file: str) -> InputTooLargeError:
    what = f"{size} bytes" if size is not None else "more than that"
    return InputTooLargeError(f"input too large: {what}, the limit is {MAX_BYTES} bytes (2 MiB)", file=file,
                              hint="a certificate transcription is a few kilobytes; is this the right file?")


def _parse(raw: list[str], source: SourceDocument, *, cut_bytes: int = 0) -> Certificate:
    file = source.file
    if len(raw) > MAX_LINES:
        raise InputTooLargeError(f"input too large: {len(raw)} lines, the limit is {MAX_LINES}", file=file,
                                 hint="a certificate transcription has a few hundred lines")
    lines = [Line(i, normalise(r) if len(r) <= MAX_LINE_CHARS else r[: MAX_LINE_CHARS + 1])
             for i, r in enumerate(raw, 1)]
    sec = split(lines, file)
    issues = sec.issues
    m, no = sec.numbers[0]
    number = decode_number(m, no, issues)
    header = [it.line for it in sec.header]
    company = _field(header, _COMPANY, "company name (公司名称)", issues)
    rep = _field(header, _REPRESENTATIVE, "legal representative (法定代表人)", issues)
    auths = parse_table(_table_lines(header), issues)
    if not auths:
        issues.add("missing-field", "no business type found in 业务种类(服务项目)及覆盖范围",
                   header[0].no if header else None)
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
    _truncation(tree, bool(sec.appendix), cut_bytes, issues)
    return Certificate(
        source=source, licence_number=number, company=company,
        legal_representative=Person(name=rep[0], line=rep[1]) if rep else None,
        issue_date=issue_date, expiry_date=expiry_date, authorisations=auths, websites=websites,
        preamble=preamble, clauses=tree, regulations_cited=cited, issues=issues.final(),
    )


def _truncation(tree: list, appendix: bool, cut_bytes: int, issues: IssueLog) -> None:
    """Signs that the transcription was cut short: a last character cut in half, a last clause cut mid-sentence.

    Complete certificates end their last clause with a full stop (checked on the
    samples and 3,000 synthetic certificates); an appendix after the clauses is
    not checked.
    """
    if cut_bytes:
        issues.add("input-truncated", f"the input ends inside a character ({cut_bytes} byte(s) of it dropped): "
                   "the file was cut short")
    if tree and not appendix:
        last = max((c for top in tree for c in top.walk()), key=lambda c: c.line)
        if not ends_sentence(last.text):
            issues.add("input-truncated", f"the text ends mid-sentence in clause {last.id}: "
                       "the transcription may be cut short", last.end_line)


def _field(header: list[Line], rx: re.Pattern[str], what: str, issues: IssueLog) -> tuple[str, int] | None:
    """A labelled value: after its label (which two-column OCR may put mid-line), or alone on the next line."""
    for i, ln in enumerate(header):
        m = rx.search(ln.text)
        if m is None:
            continue
        value = _OTHER_LABEL.split(m.group("v"))[0].strip(" :,;。")
        if value:
            return value, ln.no
        nxt = header[i + 1] if i + 1 < len(header) else None
        if nxt is not None and not _OTHER_LABEL.search(nxt.text) and not DATE_RE.search(nxt.text):
            return nxt.text.strip(" :,;。"), nxt.no
        break
    issues.add("missing-field", f"no {what} found", header[0].no if header else None)
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


def _dates(header: list[Line], issues: IssueLog) -> tuple[DateValue, DateValue]:
    """Issue and expiry dates; OCR may print the two labels first and both values after them."""
    found: dict[str, DateValue] = {}
    pending: list[str] = []
    loose: list[Line] = []
    for ln in header:
        labels = list(_DATE_LABEL.finditer(ln.text))
        for k, m in enumerate(labels):  # two-column OCR may print both labels (and values) on one line
            which = "issue" if m.group("which") == "发证日期" else "expiry"
            if which in found or which in pending:
                continue
            value = ln.text[m.end():labels[k + 1].start() if k + 1 < len(labels) else len(ln.text)]
            if DATE_RE.search(value):
                found[which] = _date_value(value, ln.no)
            else:
                pending.append(which)
        if labels:
            continue
        if (d := DATE_RE.search(ln.text)) and len(compact(ln.text)) <= len(d.group(0)) + 2:
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
            issues.add("missing-field", f"no {name} found", header[0].no if header else None)
            dv = DateValue()
        elif dv.value is None:
            issues.add("date-unreadable", f"{name} printed {dv.printed!r} cannot be read; left unknown",
                       dv.line, "error")
        out.append(dv)
    if out[0].value and out[1].value and out[1].value <= out[0].value:
        issues.add("date-order", "expiry date is not after the issue date", out[1].line)
    return out[0], out[1]


def _date_part(s: str) -> int | None:
    return int(s) if s.isdigit() else cn_number(s)


def parse_date(printed: str) -> dt.date | None:
    """A printed date, or None when any part is unreadable (never a guess: 202年0月2月 stays unknown)."""
    m = DATE_RE.search(printed)
    if m is None or m.group(4) not in ("日", "号"):
        return None
    ys = m.group(1).translate(_CN_YEAR)
    if len(ys) != 4 or not ys.isdigit():
        return None
    month, day = _date_part(m.group(2)), _date_part(m.group(3) or "")
    if month is None or day is None:
        return None
    try:
        value = dt.date(int(ys), month, day)
    except ValueError:
        return None
    return value if 1980 <= value.year <= 2100 else None


def _date_value(text: str, line: int) -> DateValue:
    m = DATE_RE.search(text)
    printed = m.group(0) if m else text.strip()
    return DateValue(value=parse_date(printed), printed=printed, line=line)


class _Site:
    """One appendix website while its (possibly wrapped) fields are read."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.parts: dict[str, list[str]] = {}
        self.open_brackets = 0  # of the domain list, kept as it grows (no rescans)

    def add(self, key: str, text: str) -> None:
        self.parts.setdefault(key, []).append(text)
        if key == "domains":
            self.open_brackets += text.count("(") - text.count(")")

    def finished(self, key: str) -> bool:
        parts = self.parts.get(key)
        if not parts or not parts[-1]:
            return False
        last = parts[-1][-1]
        if key == "domains":
            return self.open_brackets <= 0 and last not in ".;,、(-"
        if key == "server":
            return last in _ADDRESS_END
        if key == "provider":
            return parts[-1].endswith(_ORG_END)
        return True

    def continues(self, key: str, text: str) -> bool:
        """Whether a line goes on with a wrapped value, or is junk left between the appendix fields."""
        if "?" in text:
            return False
        if key == "domains":
            return _DOMAIN_CHARS.fullmatch(text) is not None
        if not self.finished(key):
            return True
        if key == "server":
            return any(ch.isdigit() for ch in text) or text[-1] in _ADDRESS_END
        if key == "provider":
            return text.endswith(_ORG_END)
        return False

    def value(self, key: str) -> str:
        return "".join(self.parts.get(key, []))

    def website(self, issues: IssueLog) -> Website:
        raw = self.value("domains")
        domains = list(dict.fromkeys(
            d.strip(".") for d in re.split(r"[;,、()\s]+", raw) if _DOMAIN.match(d.strip("."))
        ))
        if raw and not domains:
            issues.add("domain-unreadable", f"no domain in {raw[:80]!r}", self.line)
        return Website(name=self.value("name") or None, domains=domains,
                       server_location=re.sub(r"\s+", "", self.value("server")) or None,  # addresses have no spaces
                       access_provider=self.value("provider") or None, line=self.line)


def _websites(items: list[Item], issues: IssueLog) -> tuple[list[Website], NameVariant | None]:
    """Appendix websites; a wrapped value (domain list, address) continues on the next lines."""
    sites: list[_Site] = []
    heading: list[Line] = []
    key: str | None = None
    for it in items:
        ln = it.line
        m = _SITE_FIELD.match(ln.text)
        if m is None and not sites and (heading or _HOLDER_APPENDIX.match(ln.text)):
            if len(heading) < 3 and not any("相关信息" in h.text for h in heading):
                heading.append(ln)
            continue
        if m is not None:
            key = _SITE_KEYS.get(m.group("label"), "provider")
            if not sites or key in sites[-1].parts or key == "name":
                sites.append(_Site(ln.no))
            sites[-1].add(key, m.group("v").strip(" :"))
            continue
        if key is None or not sites:
            continue
        site = sites[-1]
        if site.continues(key, ln.text):
            if key == "domains" and site.finished(key):
                site.add(key, ";")
            site.add(key, ln.text)
        else:
            issues.add("noise-dropped", f"dropped {ln.text[:40]!r} after a finished {key}", ln.no, "info")
    holder = None
    if heading and (h := _HOLDER_APPENDIX.match("".join(x.text for x in heading))):
        holder = NameVariant(name=h.group("name"), line=heading[0].no)
    return [s.website(issues) for s in sites], holder


def _variants(company: tuple[str, int] | None, holders: list[NameVariant],
              issues: IssueLog) -> Company | None:
    """The holder as 公司名称 prints it; other spellings in the same certificate are variants, not merged."""
    if company is None:
        if not holders:
            return None
        first = holders[0]
        issues.add("company-from-text", f"holder read from the text as {first.name!r}", first.line)
        company = (first.name, first.line)
    variants: list[NameVariant] = []
    for h in holders:
        if compact(h.name) != compact(company[0]) and all(compact(v.name) != compact(h.name) for v in variants):
            variants.append(h)
            issues.add("holder-name-variant", f"holder spelled {h.name!r}, 公司名称 says {company[0]!r}",
                       h.line)
    return Company(name=company[0], line=company[1], variants=variants)


def _cited(sec: Sections, preamble: list[tuple[int, str]], tree: list, issues: IssueLog) -> list[str]:
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
