"""Metamorphic tests: OCR-style changes that carry no information must not change the extraction.

Each transformation is applied to every sample certificate and the result is
compared with the parse of the untouched file, after removing what is
expected to differ: line numbers, the source description, and the info
issues that record dropped page headers and noise lines.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.parser import parse_bytes, parse_text

CERTS = sorted((Path(__file__).resolve().parent.parent / "data" / "certificates").glob("*.txt"))
_LINE_KEYS = {"line", "end_line", "coverage_line", "source"}
_FURNITURE = {"noise-dropped", "page-header-dropped"}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LABEL = re.compile(r"^(?:- )?(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])")
_FULL = dict(zip("，：；（）！？", ",:;()!?", strict=True))
_HALF = {v: k for k, v in _FULL.items()}
NOISE = ["作業が発売の", "F .", "... 4:00", "3/3", "ノ ー", "| .", "业业分", "着事? 出。", "事を", ".. 1:30"]
SETTINGS = settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _LINE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("code") in _FURNITURE)]
    return value


def extraction(text: str) -> Any:
    return _strip(parse_text(text).model_dump(mode="json"))


@pytest.fixture(scope="module", params=CERTS, ids=lambda p: p.stem[:3])
def sample(request: pytest.FixtureRequest) -> tuple[str, Any]:
    text = request.param.read_bytes().decode("utf-8-sig")
    return text, extraction(text)


def _provisions_start(lines: list[str]) -> int:
    return next(i for i, ln in enumerate(lines) if "特别规定事项》是" in ln or "特别规定事项》 是" in ln)


def _licence_line(text: str) -> str:
    return next(ln for ln in text.splitlines() if ln.startswith("经营许可证编号") and len(ln) > 8)


def _wrap(line: str, width: int) -> str:
    """Break a paragraph about every ``width`` characters, only between two ideographs (as OCR of Chinese does)."""
    out, start, i = [], 0, width
    while i < len(line):
        if _CJK.match(line[i - 1]) and _CJK.match(line[i]):
            out.append(line[start:i])
            start, i = i, i + width
        else:
            i += 1
    out.append(line[start:])
    return "\n".join(out)


@SETTINGS
@given(width=st.integers(min_value=12, max_value=80))
def test_rewrapping_paragraphs(sample: tuple[str, Any], width: int) -> None:
    text, expected = sample
    lines = text.split("\n")
    first = _provisions_start(lines)
    lines = lines[:first] + [_wrap(ln, width) if len(ln) > width else ln for ln in lines[first:]]
    assert extraction("\n".join(lines)) == expected


@pytest.mark.parametrize("table", [_FULL, _HALF], ids=["to-half", "to-full"])
def test_swapping_punctuation_width(sample: tuple[str, Any], table: dict[str, str]) -> None:
    text, expected = sample
    assert extraction(text.translate(str.maketrans(table))) == expected


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**16))
def test_spaces_inside_cjk_runs(sample: tuple[str, Any], seed: int) -> None:
    text, expected = sample
    rng = random.Random(seed)
    lines = text.split("\n")
    first = _provisions_start(lines)
    out = []
    for i, ln in enumerate(lines):
        if i > first and len(ln) > 20:
            ln = "".join(ch + (" " if _CJK.match(ch) and j + 1 < len(ln) and _CJK.match(ln[j + 1])
                               and rng.random() < 0.15 else "") for j, ch in enumerate(ln))
        out.append(ln)
    assert extraction("\n".join(out)) == expected


def test_crlf_line_endings(sample: tuple[str, Any]) -> None:
    text, expected = sample
    assert extraction(text.replace("\n", "\r\n")) == expected


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"), "utf-8-sig"),
        (lambda t: t.encode("gb18030"), "gb18030"),
        (lambda t: t.encode("utf-16"), "utf-16"),
    ],
    ids=["utf8-bom", "gb18030", "utf16-bom"],
)
def test_encodings(sample: tuple[str, Any], encode: Any, encoding: str) -> None:
    text, expected = sample
    cert = parse_bytes(encode(text), file="x.txt")
    assert cert.source.encoding == encoding
    assert _strip(cert.model_dump(mode="json")) == expected


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**16))
def test_extra_page_headers(sample: tuple[str, Any], seed: int) -> None:
    """Page breaks before a clause, or inside a sentence, with the header every page repeats."""
    text, expected = sample
    rng = random.Random(seed)
    header = ["", _licence_line(text), "", rng.choice(["特别规定事项", "## 特别规定事项"]), ""]
    lines = text.split("\n")
    first = _provisions_start(lines)
    out = lines[: first + 1]
    for ln in lines[first + 1:]:
        if _LABEL.match(ln) and rng.random() < 0.4:
            out += header
        if len(ln) > 30 and not _LABEL.match(ln[10:]) and rng.random() < 0.3:
            cut = next((i for i in range(len(ln) // 2, len(ln) - 1) if _CJK.match(ln[i - 1]) and _CJK.match(ln[i])),
                       None)
            if cut is not None:
                out += [ln[:cut], *header, ln[cut:]]
                continue
        out.append(ln)
    assert extraction("\n".join(out)) == expected


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**16))
def test_noise_lines_between_paragraphs(sample: tuple[str, Any], seed: int) -> None:
    text, expected = sample
    rng = random.Random(seed)
    lines = text.split("\n")
    first = _provisions_start(lines)
    out = lines[: first + 1]
    for ln in lines[first + 1:]:
        if _LABEL.match(ln) and rng.random() < 0.3:
            out += ["", rng.choice(NOISE), ""]
        out.append(ln)
    out.append(rng.choice(NOISE))
    assert extraction("\n".join(out)) == expected


def test_noise_lines_anywhere_globally_recognisable(sample: tuple[str, Any]) -> None:
    """Kana, clock times and stray glyphs are noise in every section, not just among the clauses."""
    text, expected = sample
    lines = text.split("\n")
    out: list[str] = []
    for i, ln in enumerate(lines):
        out.append(ln)
        if not ln.strip() and i % 3 == 0:
            out.append(NOISE[i % 3 * 2])  # 作業が発売の, ... 4:00, ノ ー
    assert extraction("\n".join(out)) == expected
