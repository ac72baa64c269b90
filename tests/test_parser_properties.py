"""Properties: arbitrary input never raises anything but NotACertificateError, and results stay consistent.

Examples are bounded (and derandomised) so the suite stays fast; the
regression tests at the end pin inputs that once crashed or misparsed.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.errors import NotACertificateError
from kg.models import Certificate
from kg.parser import parse_bytes, parse_text

CERTS = sorted((Path(__file__).resolve().parent.parent / "data" / "certificates").glob("*.txt"))
SAMPLES = [p.read_text(encoding="utf-8-sig") for p in CERTS]
FAST = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# Pieces of certificate text, so that random input reaches the parser's deeper stages.
TOKENS = [
    "经营许可证编号: B2-20210247", "经营许可证编号:", "京ICP证020001号", "粤B1-20231234", "B2-20192648",
    "中华人民共和国增值电信业务经营许可证", "(附页)", "特别规定事项", "## ", "- ", "公司名称:", "法定代表人:",
    "北京某某科技有限公司", "业务种类", "(服务项目)", "及覆盖范围:", "信息服务业务", "(仅限互联网信息服务)",
    "不含信息搜索查询服务、信息即时交互服务。", "互联网数据中心业务", "机房所在地为北京、天津、呼和浩特", "全国",
    "北京、", "【依法须经批准的项目", "】", "发证日期:", "有效期至:", "2024年 09月 10日", "202年 0月 2月",
    "二〇二一年十二月二十八日", "获准经营", "相关信息", "网站名称:", "网站域名:", "www.example.com(www.",
    "服务器放置地:", "902", "室", "网站接入服务提供单位:", "《特别规定事项》是经营许可证重要组成部分,",
    "应当按照", "一、", "二、", "工七、", "人、", "基士四、", "十五、", "十六、", "(一)", "《二)", "第二十二)",
    "(十三)", "作", "你公司", "(适用于信息发布平台及递送服务)", "你公司在经营互联网数据中心业务时应当遵守下列规定:",
    "《中华人民共和国电信条例》", "(工业和信息化部令第11号)", "《未知办法》", "第十五条", "10个工作日内",
    "自公司作出决定之日起30日内", "提前90日", "每年第一季度", "。", ",", ";", ":", "(", ")", "《", "》", "、",
    "作業が発売の", "F .", "... 4:00", "3/3", "业业分", "?", " ", "\n", "\n\n", "\r\n", "\ufeff", "\x00", "\u3000",
]


def _check(make: object) -> None:
    try:
        cert = make()  # type: ignore[operator]
    except NotACertificateError as err:
        assert err.reason and str(err)
        return
    assert isinstance(cert, Certificate)
    Certificate.model_validate_json(cert.model_dump_json())  # the JSON form round-trips
    ids = [c.id for c in cert.all_clauses()]
    assert len(ids) == len(set(ids)), "clause ids must be unique"
    for clause in cert.all_clauses():
        assert clause.line <= clause.end_line <= cert.source.line_count


@FAST
@given(st.text(max_size=3000))
def test_arbitrary_text(text: str) -> None:
    _check(lambda: parse_text(text))


@FAST
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data: bytes) -> None:
    _check(lambda: parse_bytes(data))


@FAST
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)), max_size=120))
def test_certificate_shaped_text(parts: list[str]) -> None:
    _check(lambda: parse_text("".join(parts)))


@FAST
@given(st.integers(0, len(SAMPLES) - 1), st.integers(0, 2**32 - 1))
def test_mutated_certificates(which: int, seed: int) -> None:
    """Delete, duplicate, shuffle, cut and splice lines of real certificates."""
    rng = random.Random(seed)
    lines = SAMPLES[which].split("\n")
    for _ in range(rng.randint(1, 12)):
        op = rng.randrange(6)
        i = rng.randrange(len(lines))
        if op == 0 and len(lines) > 1:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3 and lines[i]:
            k = rng.randrange(len(lines[i]))
            lines[i:i + 1] = [lines[i][:k], lines[i][k:]]
        elif op == 4:
            lines.insert(i, rng.choice(TOKENS) + rng.choice(TOKENS))
        elif lines[i]:
            k = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:k] + rng.choice(TOKENS) + lines[i][k + 1:]
    _check(lambda: parse_text("\n".join(lines)))


@FAST
@given(st.integers(0, len(SAMPLES) - 1), st.integers(0, 2**32 - 1))
def test_truncated_certificates_parse_or_refuse(which: int, seed: int) -> None:
    text = SAMPLES[which]
    cut = random.Random(seed).randrange(len(text))
    _check(lambda: parse_text(text[:cut]))
    _check(lambda: parse_bytes(text.encode("utf-8")[:cut]))


# -- regressions: inputs that once crashed or misparsed ---------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "经营许可证编号: B2-20210247\n十、",  # a label with no text after it
        "经营许可证编号: B2-20210247\n(一)你公司",  # an item before any clause
        "经营许可证编号: B2-20210247\n一、a。\n\n你公司:\n\n(一)x。\n\n(二)y。\n\n作你公司\n\n(一)z。",
        "经营许可证编号: B2-20210247\n业务种类\n不含信息搜索查询服务\n全国",  # a qualifier before any type
        "经营许可证编号: B2-20210247\n发证日期:\n有效期至:\n2024年99月99日",
        "经营许可证编号: B2-00000000\n公司名称:",
        "经营许可证编号: B2-20210247\n" + "一、你公司应当。\n" * 3,
        "经营许可证编号: B2-20210247\n网站域名:www.\n网站名称:",
    ],
)
def test_regressions(text: str) -> None:
    _check(lambda: parse_text(text))
