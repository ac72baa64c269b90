"""Unit tests of the parser's parts: numbers, dates, deadlines, labels, normalisation, table, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kg import clauses, deadlines, fields
from kg.errors import InputTooLargeError, MultipleCertificatesError, NotACertificateError
from kg.fields import IssueLog, decode_number, lookups, parse_table
from kg.models import LicenceNumber
from kg.parser import MAX_BYTES, parse_bytes, parse_date, parse_file, parse_text
from kg.text import Line, cn_number, cn_numeral, decode, normalise

CERTS = Path(__file__).resolve().parent.parent / "data" / "certificates"
SAMPLE_000 = (CERTS / "000_68d7b087b46960b3.txt").read_text(encoding="utf-8")
SAMPLE_003 = (CERTS / "003_536d42bffd6cec79.txt").read_text(encoding="utf-8")


def number(printed: str) -> LicenceNumber:
    m = lookups().number_re.search(printed)
    assert m is not None, printed
    return decode_number(m, 1, IssueLog())


# -- licence numbers -------------------------------------------------------------------


def test_cross_regional_number() -> None:
    n = number("B1-20195402")
    assert (n.form, n.licence_class, n.scope, n.issuer, n.issuer_code) == ("B1", "B1", "cross-regional", "工业和信息化部", "MIIT")
    assert (n.first_issued_year, n.serial, n.province, n.province_abbr) == (2019, "5402", None, None)


def test_provincial_number() -> None:
    n = number("京B2-20240286")
    assert (n.form, n.licence_class, n.scope, n.province, n.province_abbr) == ("B2", "B2", "provincial", "11", "京")
    assert (n.issuer, n.issuer_code, n.first_issued_year, n.serial) == ("北京市通信管理局", "11", 2024, "0286")


def test_old_icp_number() -> None:
    n = number("京ICP证020001号")
    assert (n.form, n.licence_class, n.scope, n.province, n.issuer) == ("ICP", "B2", "provincial", "11", "北京市通信管理局")
    assert (n.first_issued_year, n.serial, n.printed) == (None, "020001", "京ICP证020001号")


def test_other_provinces_come_from_the_reference() -> None:
    n = number("粤B2-20180001")
    assert (n.province, n.issuer) == ("44", "广东省通信管理局")


def test_number_without_a_plausible_year_is_reported() -> None:
    issues = IssueLog()
    m = lookups().number_re.search("B2-00000000")
    assert m is not None
    assert decode_number(m, 3, issues).first_issued_year is None
    assert [i.code for i in issues] == ["licence-number-unusual"]


def test_a_filing_number_is_no_licence_number() -> None:
    assert lookups().number_re.search("京ICP备12345678号") is None


# -- dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("2024年09月10日", dt.date(2024, 9, 10)),
        ("2024年9月1日", dt.date(2024, 9, 1)),
        ("二〇二一年十二月二十八日", dt.date(2021, 12, 28)),
        ("202年0月2月", None),  # unreadable scan: never guessed
        ("2024年02月30日", None),
        ("2024年13月01日", None),
        ("2024年09月", None),
        ("1024年09月10日", None),
    ],
)
def test_parse_date(printed: str, value: dt.date | None) -> None:
    assert parse_date(printed) == value


def test_unreadable_dates_keep_the_printed_form_and_report() -> None:
    cert = parse_text(SAMPLE_000)
    assert cert.issue_date.value is None and cert.issue_date.printed == "202年0月2月" and cert.issue_date.line == 25
    assert [i.severity for i in cert.issues if i.code == "date-unreadable"] == ["error", "error"]


def test_dates_printed_after_both_labels() -> None:
    text = "经营许可证编号: B2-20210247\n公司名称:甲公司\n发证日期:\n有效期至:\n\n2024年 09月 10日\n\n2029年 07月 25日\n"
    cert = parse_text(text)
    assert (cert.issue_date.value, cert.expiry_date.value) == (dt.date(2024, 9, 10), dt.date(2029, 7, 25))


# -- deadlines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("并在处置后的10个工作日内向电信主管部门上报。", (10, "working_day", "within", "illegal-information-handled")),
        ("应当自公司作出决定之日起30日内向我部提出申请", (30, "day", "within", "company-decision")),
        ("应当在变更后30日内向原发证机关报送有关信息", (30, "day", "within", "information-change")),
        ("应当在变更之日起30日内在系统中更新", (30, "day", "within", "information-change")),
        ("应当在取得我部颁发的许可证后30日内,向相关省", (30, "day", "within", "licence-granted")),
        ("并在安全评估完成 30 日内向电信主管部门提交", (30, "day", "within", "assessment-completed")),
        ("有效期届满需要继续经营的,应当提前90日向原发证机关提出续办申请", (90, "day", "before", "expiry")),
        ("应当在三十日内报告", (30, "day", "within", "other")),
    ],
)
def test_periods(text: str, expected: tuple) -> None:
    (found,) = deadlines.find("".join(text.split()))
    assert (found.amount, found.unit, found.relation, found.anchor) == expected


def test_annual_window() -> None:
    (found,) = deadlines.find("你公司应当在每年第一季度参加电信主管部门组织的经营许可证年报。")
    assert (found.recurrence, found.window, found.amount) == ("annual", "Q1", None)


def test_two_renewal_periods_in_one_sentence_both_count_from_expiry() -> None:
    text = "有效期届满需要继续经营的,应当提前90日向原发证机关提出申请;不再继续经营的,应当提前90日向原发证机关报告"
    assert [(f.amount, f.anchor) for f in deadlines.find(text)] == [(90, "expiry"), (90, "expiry")]


def test_numbers_that_are_no_deadline() -> None:
    assert deadlines.find("《互联网信息服务管理办法》第十五条所列内容,工业和信息化部令第11号") == []


# -- clause labels and their repair ---------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "kind", "reading"),
    [("七、", "top", 7), ("工七、", "top", 7), ("人、", "top", 8), ("基士四、", "top", 14), ("要十五、", "top", 15),
     ("(一)", "item", 1), ("《二)", "item", 2), ("第二十二)", "item", 12), ("(十三)", "item", 13)],
)
def test_read_label(printed: str, kind: str, reading: int) -> None:
    label = clauses.read_label(printed + "你公司应当。")
    assert label is not None and label.kind == kind and reading in label.readings
    assert label.rest == "你公司应当。"


def test_no_label() -> None:
    assert clauses.read_label("你公司应当。") is None
    assert clauses.read_label("(适用于信息社区平台服务)你公司") is None
    assert clauses.read_label("(含合作推广、试点、商用等)时") is None


def test_garbled_labels_are_repaired_from_the_sequence() -> None:
    cert = parse_text(SAMPLE_000)
    got = {c.id: (c.label, c.label_repaired) for c in cert.all_clauses()}
    assert got["7"] == ("工七、", True) and got["8"] == ("人、", True) and got["14"] == ("基士四、", True)
    assert got["15.2"] == ("《二)", True) and got["15.12"] == ("第二十二)", True)
    assert got["1"] == ("一、", False)
    assert sum(i.code == "label-repaired" for i in cert.issues) == 7


def test_a_lost_label_is_recovered_from_a_gap() -> None:
    cert = parse_text(SAMPLE_000)
    lost = cert.clause("15.11")
    assert lost is not None and lost.label == "作" and lost.label_repaired and lost.text.startswith("你公司提供应用软件")
    assert any(i.code == "label-lost" and i.line == lost.line for i in cert.issues)


def test_a_lost_clause_label_above_a_list_is_recovered() -> None:
    cert = parse_text(SAMPLE_003.replace("十五、你公司在经营互联网数据中心", "你公司在经营互联网数据中心"))
    assert [c.id for c in cert.clauses] == [str(n) for n in range(1, 18)]
    fifteen = cert.clause("15")
    assert fifteen is not None and fifteen.label is None and fifteen.governs_business_type == "B11"
    assert len(fifteen.children) == 9 and not cert.clause("14").children  # type: ignore[union-attr]


def test_a_misread_numeral_is_repaired_from_its_neighbours() -> None:
    cert = parse_text(SAMPLE_003.replace("\n\n十二、你公司遇有", "\n\n十九、你公司遇有"))  # 十一、 十九、 十三、
    assert [c.id for c in cert.clauses] == [str(n) for n in range(1, 18)]
    twelve = cert.clause("12")
    assert twelve is not None and (twelve.label, twelve.label_repaired) == ("十九、", True)


def test_a_clean_gap_is_reported_not_filled() -> None:
    start = SAMPLE_003.index("十二、你公司遇有")
    cert = parse_text(SAMPLE_003[:start] + SAMPLE_003[SAMPLE_003.index("十三、你公司如已"):])  # 十一、 十三、 十四、
    assert [c.id for c in cert.clauses][10:13] == ["11", "13", "14"]
    assert [i.message for i in cert.issues if i.code == "clause-sequence-gap"] == ["expected clause 12, found 13"]


def test_a_label_out_of_sequence_is_text() -> None:
    cert = parse_text(SAMPLE_003.replace("\n\n十三、你公司如已", "\n\n三、你公司另行规定。\n\n十三、你公司如已"))
    assert "三、你公司另行规定。" in cert.clause("12").text  # type: ignore[union-attr]
    assert any(i.code == "label-out-of-sequence" for i in cert.issues)


def test_cn_numerals_round_trip() -> None:
    assert all(cn_number(cn_numeral(n)) == n for n in range(1, 1000))
    assert [cn_number(s) for s in ("十", "二十二", "一二", "十十", "")] == [10, 22, None, None, None]


# -- normalisation and noise ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("## 特别规定事项", "特别规定事项"),
        ("- (十)（适用于信息发布平台及递送服务）你公司", "(十)(适用于信息发布平台及递送服务)你公司"),
        ("不得为 VoIP 网关提供 30 日内", "不得为VoIP网关提供30日内"),
        ("中华人民共和国增值电信业务经营许可证 (附 页)", "中华人民共和国增值电信业务经营许可证(附页)"),
        ("\ufeff经营许可证编号：B2-20210247\r", "经营许可证编号:B2-20210247"),
        ("“互联网+”", '"互联网+"'),
        ("www.a.com www.b.com", "www.a.com www.b.com"),
    ],
)
def test_normalise(raw: str, norm: str) -> None:
    assert normalise(raw) == norm


def test_noise_and_page_furniture_are_dropped_with_their_lines() -> None:
    cert = parse_text(SAMPLE_000)
    dropped = {i.line for i in cert.issues if i.code == "noise-dropped"}
    assert {5, 60, 62, 64, 91, 93, 95} <= dropped
    headers = {i.line for i in cert.issues if i.code == "page-header-dropped"}
    assert {29, 43, 66, 68, 97, 99, 113} <= headers
    assert all(i.severity == "info" for i in cert.issues if i.code in ("noise-dropped", "page-header-dropped"))


# -- business table, coverage, websites, holder --------------------------------------


def test_wrapped_table_value() -> None:
    lines = [Line(1, "业务种类(服务项目)及覆盖范围:"), Line(2, "信息服务业务(仅限互联网信息服务)不含信息搜索查询服务、信息即时"),
             Line(3, "交互服务。【依法须经批准的项目,经相关部门批"), Line(4, "准后方可开展相应经营活动】")]
    (auth,) = parse_table(lines, IssueLog())
    assert (auth.business_type, auth.limited_to, auth.excludes) == ("B25", ["B25-I"], ["B25-2", "B25-4"])


def test_machine_room_cities_and_duplicates() -> None:
    kind, entries, unknown = fields.parse_coverage("机房所在地为北京、呼和浩特、广州、深圳")
    assert kind == "machine-room locations" and unknown == []
    assert [(e.region, e.city) for e in entries] == [("11", "北京"), ("15", "呼和浩特"), ("44", "广州"), ("44", "深圳")]
    kind, entries, _ = fields.parse_coverage("北京、天津")
    assert kind == "regions" and [(e.region, e.city) for e in entries] == [("11", None), ("12", None)]


def test_unknown_place_and_business_type_are_reported() -> None:
    issues = IssueLog()
    parse_table([Line(1, "业务种类 火星通信业务"), Line(2, "(服务项目) 北京、亚特兰蒂斯")], issues)
    assert {i.code for i in issues} >= {"business-type-unknown"}
    issues = IssueLog()
    parse_table([Line(1, "业务种类 互联网接入服务业务"), Line(2, "(服务项目) 北京、亚特兰蒂斯")], issues)
    assert [i.code for i in issues] == ["region-unknown"]


def test_provincial_licence_without_coverage_covers_its_province() -> None:
    (auth,) = parse_text(SAMPLE_000).authorisations
    assert auth.coverage_printed is False and auth.coverage_text is None and [e.region for e in auth.coverage] == ["11"]


def test_holder_name_variant_is_reported_not_merged() -> None:
    cert = parse_text(SAMPLE_003)
    assert cert.company is not None and cert.company.name == "北京掌全通信息科技有限公司"
    assert [(v.name, v.line) for v in cert.company.variants] == [("北京掌全通信信息科技有限公司", 41)]
    assert [i.severity for i in cert.issues if i.code == "holder-name-variant"] == ["warning"]


def test_unknown_regulation_is_cited_and_reported() -> None:
    cert = parse_text(SAMPLE_003.replace("《电子签名法》", "《电子签名法》、《数据安全法》"))
    assert "数据安全法" in cert.regulations_cited
    assert any(i.code == "regulation-unknown" and "数据安全法" in i.message for i in cert.issues)


def test_look_alike_titles_are_not_regulations() -> None:
    cert = parse_file(CERTS / "004_fbfe7da2340bbcfd.txt")
    assert "电信业务市场综合管理信息系统" not in cert.regulations_cited
    assert "特别规定事项" not in cert.regulations_cited
    cite = next(c for c in cert.clause("6").citations)  # type: ignore[union-attr]
    assert (cite.title, cite.order_no) == ("通信网络安全防护管理办法", "工业和信息化部令第11号")
    cite = next(c for c in cert.clause("15.3").citations)  # type: ignore[union-attr]
    assert cite.article == "第十五条"


def test_two_column_header_and_dates_on_one_line() -> None:
    text = ("经营许可证编号: B2-20210247\n公司名称:甲科技有限公司 法定代表人:张三\n业务种类 信息服务业务(不含互联网信息服务)\n"
            "(服务项目) 全国\n发证日期:2021年12月28日 有效期至:2026年12月28日\n特别规定事项\n一，你公司应当。\n二、你公司不得。")
    cert = parse_text(text)
    assert cert.company is not None and cert.company.name == "甲科技有限公司"
    assert cert.legal_representative is not None and cert.legal_representative.name == "张三"
    assert (cert.issue_date.value, cert.expiry_date.value) == (dt.date(2021, 12, 28), dt.date(2026, 12, 28))
    assert [(c.id, c.label, c.label_repaired) for c in cert.clauses] == [("1", "一,", True), ("2", "二、", False)]


def test_appendix_printed_after_the_clauses() -> None:
    lines = (CERTS / "004_fbfe7da2340bbcfd.txt").read_text(encoding="utf-8").split("\n")
    cert = parse_text("\n".join(lines[:27] + lines[42:] + [""] + lines[27:42]))
    assert [w.domains[0] for w in cert.websites] == ["www.kongzhong.com"]
    assert cert.clause("15.14").text.endswith("提供公共电话业务。")  # type: ignore[union-attr]


# -- decoding and errors --------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_decode(encoding: str) -> None:
    assert decode("特别规定事项".encode(encoding), "f") == ("特别规定事项", encoding)
    assert decode(b"\xef\xbb\xbf" + b"x", "f") == ("x", "utf-8-sig")
    assert decode("一".encode("utf-16"), "f") == ("一", "utf-16")


def test_source_document() -> None:
    cert = parse_file(CERTS / "000_68d7b087b46960b3.txt")
    assert cert.source.file == "000_68d7b087b46960b3.txt" and cert.source.encoding == "utf-8"
    assert cert.source.line_count == len(SAMPLE_000.splitlines()) and len(cert.source.sha256) == 64
    assert cert.source.path is not None and cert.source.path.endswith("000_68d7b087b46960b3.txt")


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t\r\n \xe3\x80\x80\n", "empty"),
        (PNG, "binary"),
        (b"<!DOCTYPE html><html><head><title>x</title></head><body>B2-20210247</body></html>", "HTML"),
        ("公司名称:甲公司\n法定代表人:乙\n特别规定事项\n一、你公司应当。".encode(), "no licence number"),
        (b"B2-20210247\n", "too little of a certificate"),
        ("关于我们 | 联系我们\n经营许可证编号：京ICP证020001号\n".encode(), "too little of a certificate"),
    ],
    ids=["empty", "whitespace", "png", "html", "no-number", "bare-number", "site-footer"],
)
def test_not_a_certificate(data: bytes, reason: str) -> None:
    with pytest.raises(NotACertificateError) as err:
        parse_bytes(data, file="input.txt")
    assert err.value.file == "input.txt" and reason in err.value.reason
    assert str(err.value).startswith("input.txt: ")


def test_concatenated_certificates_are_rejected() -> None:
    other = (CERTS / "001_32a2f19ddba49f70.txt").read_text(encoding="utf-8")
    with pytest.raises(MultipleCertificatesError) as err:
        parse_text(SAMPLE_000 + "\n" + other, file="two.txt")
    assert err.value.file == "two.txt" and "京B2-20240286" in err.value.reason and "B2-20210247" in err.value.reason
    assert isinstance(err.value, NotACertificateError)
    with pytest.raises(MultipleCertificatesError):
        parse_text(SAMPLE_000 + "\n" + SAMPLE_000)


def test_a_one_character_slip_in_a_page_header_is_no_second_certificate() -> None:
    cert = parse_text(SAMPLE_003.replace("经营许可证编号：B1-20195402\n\n特别规定事项\n\n应急", "经营许可证编号：B1-20195408\n\n特别规定事项\n\n应急"))
    assert cert.licence_number.printed == "B1-20195402"
    assert [i.code for i in cert.issues if i.code == "licence-number-variant"] == ["licence-number-variant"]


def test_oversized_input_is_rejected_before_decoding(tmp_path: Path) -> None:
    big = b"\xff" * (MAX_BYTES + 1)  # not even decodable: the size check comes first
    with pytest.raises(InputTooLargeError) as err:
        parse_bytes(big, file="big.txt")
    assert err.value.file == "big.txt" and "too large" in err.value.reason
    with pytest.raises(InputTooLargeError):
        parse_text("一" * (MAX_BYTES // 3 + 1))
    path = tmp_path / "big.txt"
    path.write_bytes(big)
    with pytest.raises(InputTooLargeError) as err:
        parse_file(path)
    assert err.value.file == "big.txt"


def test_overlong_line_is_dropped_as_noise() -> None:
    cert = parse_text(SAMPLE_000.replace("... 4:00", "x" * 25_000))
    assert any(i.code == "noise-dropped" and i.line == 5 for i in cert.issues)
    assert len(cert.clauses) == 15


def test_issues_are_capped_per_code() -> None:
    cert = parse_text(SAMPLE_000 + "\n" + "\n作業\n" * 1000)
    noise = [i for i in cert.issues if i.code == "noise-dropped"]
    assert len(noise) == fields.MAX_ISSUES_PER_CODE + 1 and "more issues" in noise[-1].message


# -- the documented format ------------------------------------------------------------


def test_every_issue_code_and_key_is_documented() -> None:
    import re

    from kg import models
    from kg.namespaces import ANCHOR_EVENTS

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "json-format.md").read_text(encoding="utf-8")
    source = "".join((root / "kg" / f).read_text(encoding="utf-8")
                     for f in ("parser.py", "sections.py", "fields.py", "clauses.py", "deadlines.py"))
    codes = set(re.findall(r'\.add\(\s*"([a-z-]+)"', source)) | {"region-unknown"}
    assert codes and all(f"`{c}`" in doc for c in codes), sorted(c for c in codes if f"`{c}`" not in doc)
    for model in (models.Certificate, models.SourceDocument, models.LicenceNumber, models.Company,
                  models.DateValue, models.Authorisation, models.Website, models.Clause, models.Deadline,
                  models.Citation, models.ExtractionIssue, models.CoverageEntry):
        assert all(f"`{k}`" in doc or f"{k}," in doc or f", {k}" in doc for k in model.model_fields), model
    assert all(f"`{a}`" in doc for a in ANCHOR_EVENTS)
    cert = parse_text(SAMPLE_000)
    assert {d.anchor for c in cert.all_clauses() for d in c.deadlines} - {None} <= set(ANCHOR_EVENTS)
