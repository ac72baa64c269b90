"""Bytes to normalised lines: the character-level layer of the parser.

OCR transcriptions of the certificates mix full- and half-width punctuation,
put spaces inside CJK runs where the scanner wrapped a line, and carry
markdown residue. Everything downstream matches on one canonical form, so
the damage is undone here once; each line keeps the 1-based number it had in
the decoded text, because provenance must point back to the scan.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from kg.errors import NotACertificateError

#: Inputs above this many bytes are rejected before decoding (bounded time and memory).
MAX_BYTES = 2 * 1024 * 1024
#: A line longer than this cannot be part of a certificate; it is dropped as noise.
MAX_LINE_CHARS = 20_000

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK = re.compile(f"[{_CJK_CLASS}]")
# Characters after which / before which a space is an OCR artefact, never a word break.
_TIGHT = f"{_CJK_CLASS}\u3000-\u303f\uff00-\uffef\u2018-\u201f\u2026\u00b7()\\[\\],;:!?"
_SPACE_NEAR_CJK = re.compile(f"(?<=[{_TIGHT}]) +| +(?=[{_TIGHT}])")
_SPACES = re.compile(r"[^\S\n]+")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u1100-\u11ff\uac00-\ud7af\u3130-\u318f]")
_MARKDOWN = re.compile(r"^(?:#{1,6}\s*|[-*+•]\s+|>\s*)+")
_BINARY = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ue000-\uf8ff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKDOWN_START = frozenset("#-*+•>")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TERMINAL = frozenset("。；;:：!！?？")

# Punctuation NFKC leaves alone but OCR prints in several widths or shapes.
_PUNCT = str.maketrans(
    {
        "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "-", "\u2013": "-",
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-", "\u2015": "-", "\u3000": " ",
        "\ufeff": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\u00ad": None,
        "\u3014": "(", "\u3015": ")", "\uff5f": "(", "\uff60": ")", "\u2474": "(", "\u2475": ")",
    }
)


_PUNCT_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _PUNCT) + "]")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the decoded text: its original 1-based number and its normalised text."""

    no: int
    text: str


def decode(data: bytes, file: str) -> tuple[str, str]:
    """Bytes to text and the name of the encoding that read them (see :func:`decode_cut`)."""
    text, name, _ = decode_cut(data, file)
    return text, name


def decode_cut(data: bytes, file: str) -> tuple[str, str, int]:
    """Bytes to text, the name of the encoding that read them, and the bytes of a cut last character.

    A BOM decides; otherwise UTF-16 is tried first when NUL bytes sit on one
    side of the byte pairs (UTF-16 without a BOM: the ASCII digits, letters and
    line breaks of a certificate), then UTF-8 before GB18030 because valid
    UTF-8 is almost never accidental, whereas GB18030 accepts most byte soup.
    A file cut in the middle of a multi-byte character (1-3 bytes of it left at
    the end) decodes without them; their number is returned so that the parser
    can report the truncation.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", data[3:], "utf-8")]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", data, "utf-16")]
    else:
        candidates = [("utf-8", data, "utf-8"), ("gb18030", data, "gb18030")]
        guess = _utf16_without_bom(data)
        if guess is not None:
            candidates.insert(0, (guess, data, guess))
    for name, payload, codec in candidates:
        decoder = codecs.getincrementaldecoder(codec)("strict")
        try:
            text = decoder.decode(payload, final=False)  # an incomplete last character stays buffered
        except UnicodeDecodeError:
            continue
        cut = len(decoder.getstate()[0])
        _reject_binary(text, file)
        return text, name, cut
    raise NotACertificateError(
        "not text: the bytes are neither UTF-8, GB18030 nor UTF-16",
        file=file,
        hint="give the OCR transcription as a text file",
    )


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le`` / ``utf-16-be`` when at least 2 % of the 16-bit units have a NUL on one side, 3x as many as on the other."""
    sample = data[:65536]
    units = len(sample) // 2
    if units < 2 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= max(2, units // 50) and even * 3 <= odd:
        return "utf-16-le"
    if even >= max(2, units // 50) and odd * 3 <= even:
        return "utf-16-be"
    return None


def _reject_binary(text: str, file: str) -> None:
    """Binary files decode by accident (GB18030 takes almost anything): control and private-use characters tell."""
    sample = text[:65536]
    if not sample:
        return
    bad = len(_BINARY.findall(sample))
    if "\x00" in sample or bad > max(2, len(sample) // 200):
        raise NotACertificateError(
            "binary data, not a text transcription", file=file,
            hint="give the OCR transcription as a text file (UTF-8, GB18030, or UTF-16 with a BOM)"
        )


def split_lines(text: str) -> list[str]:
    """Split on CR, LF and CRLF only, so line numbers match what an editor shows."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def normalise(raw: str) -> str:
    """The canonical form of one line: NFKC, one punctuation width, no OCR spaces, no markdown."""
    if _SURROGATE.search(raw):
        raw = _SURROGATE.sub("\ufffd", raw)
    s = unicodedata.normalize("NFKC", raw)
    if _PUNCT_RE.search(s):  # str.translate is slow on CJK text; most lines need nothing
        s = s.translate(_PUNCT)
    s = _SPACES.sub(" ", s).strip()
    if s.startswith("|") and s.endswith("|") and s.count("|") >= 3:  # a markdown table row
        cells = [c.strip() for c in s.strip("|").split("|")]
        s = " ".join(c for c in cells if c and not set(c) <= set("-: "))
    if s[:1] in _MARKDOWN_START:
        s = _MARKDOWN.sub("", s)
    if "**" in s or "__" in s:
        s = s.replace("**", "").replace("__", "")
    return _SPACE_NEAR_CJK.sub("", s).strip() if " " in s else s


def has_cjk(s: str) -> bool:
    return _CJK.search(s) is not None


def cjk_count(s: str) -> int:
    return len(_CJK.findall(s))


def has_kana(s: str) -> bool:
    """Kana or hangul: a Chinese certificate prints none, so a line with them is OCR noise."""
    return _KANA.search(s) is not None


def ends_sentence(s: str) -> bool:
    """True when a paragraph may end here (a page break after it does not cut a sentence)."""
    s = s.rstrip(" )\"'”】")
    return bool(s) and s[-1] in _TERMINAL


def compact(s: str) -> str:
    """NFKC without any white space: the form gold checks and text comparisons use."""
    return "".join(unicodedata.normalize("NFKC", s).split())


_LATIN_GAP = re.compile(r"(?<=[A-Za-z0-9])\s+(?=[A-Za-z])|(?<=[A-Za-z])\s+(?=[A-Za-z0-9])")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=8192)
def canonical_wording(text: str) -> str:
    """The stored form of a clause wording: NFKC, white space removed except between Latin words.

    OCR spacing varies between scans of the same wording ('VoIP 网关' / 'VoIP网关',
    '30 日' / '30日'); the canonical form makes one template per wording, with one text,
    and what is read off a wording (its modality) is read off this form, so that it
    is the same for every clause that shares the template.
    """
    norm = _LATIN_GAP.sub("\u0001", unicodedata.normalize("NFKC", text))
    return _SPACE.sub("", norm).replace("\u0001", " ")


_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cn_number(s: str) -> int | None:
    """Chinese numerals up to 九百九十九 (一, 十五, 二十二, 一百零三), or ASCII digits; None if not a number."""
    if not s:
        return None
    if s.isascii() and s.isdigit():
        return int(s)
    total, current, seen_unit = 0, None, False
    for ch in s:
        if ch in "零〇" and seen_unit:
            continue
        if ch in _CN_DIGITS:
            if current is not None:
                return None  # two digits in a row (一二) are no number
            current = _CN_DIGITS[ch]
        elif ch == "十":
            if seen_unit and total % 100 >= 10:
                return None
            total += (1 if current is None else current) * 10
            current, seen_unit = None, True
        elif ch == "百":
            if current is None or total:
                return None
            total += current * 100
            current, seen_unit = None, True
        else:
            return None
    total += current or 0
    if current == 0 and not seen_unit:
        return None
    return total if total > 0 else None


_CN_UNITS = "一二三四五六七八九"


def cn_numeral(n: int) -> str:
    """The printed numeral of 1..999 as clause labels print it (十五, 二十二, 一百零三)."""
    if n < 10:
        return _CN_UNITS[n - 1]
    if n < 20:
        return "十" + (_CN_UNITS[n - 11] if n % 10 else "")
    if n < 100:
        return _CN_UNITS[n // 10 - 1] + "十" + (_CN_UNITS[n % 10 - 1] if n % 10 else "")
    rest = n % 100
    head = _CN_UNITS[n // 100 - 1] + "百"
    if not rest:
        return head
    return head + ("零" + cn_numeral(rest) if rest < 10 else ("一" + cn_numeral(rest) if rest < 20 else cn_numeral(rest)))
