"""The synthetic certificate generator (kg.synth): determinism, variety, damage, and the parser round trip."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from kg import reference, synth
from kg.synth import REFERENCE_DATE, certificate, generate, licence_number, write
from kg.synth_text import norm

GOLD = Path(__file__).parent / "gold"
SAMPLES = Path(__file__).parent.parent / "data" / "certificates"
ROUND_TRIP_COUNT = 1000
#: A lost item label (sample 000: 作你公司…) as the first line of a page: kg.parser reads it as the
#: continuation of the item before the page break (see test_lost_label_opening_a_page).
LOST_LABEL_OPENS_PAGE = re.compile(r"特别规定事项\n\n(?:- )?[工要基下作上丁]你公司")


@pytest.fixture(scope="module")
def register() -> list[synth.SynthCertificate]:
    return list(generate(300, seed=0))


# -- determinism ------------------------------------------------------------

def test_same_seed_gives_byte_identical_output() -> None:
    a = [(c.file_name, c.text, json.dumps(c.facts, ensure_ascii=False)) for c in generate(40, seed=7)]
    b = [(c.file_name, c.text, json.dumps(c.facts, ensure_ascii=False)) for c in generate(40, seed=7)]
    assert a == b


def test_certificate_i_does_not_depend_on_count() -> None:
    short = list(generate(5, seed=1))
    long = list(generate(30, seed=1))
    assert [c.text for c in short] == [c.text for c in long[:5]]
    assert certificate(17, seed=1).text == long[17].text


def test_same_output_in_another_process() -> None:
    """Nothing depends on str hashing (PYTHONHASHSEED), the clock or RDF parse order."""
    code = ("import hashlib,json,sys;from kg.synth import generate;h=hashlib.sha256()\n"
            "for c in generate(25, seed=11): h.update(c.text.encode()+json.dumps(c.facts).encode())\n"
            "sys.stdout.write(h.hexdigest())")
    here = hashlib.sha256()
    for c in generate(25, seed=11):
        here.update(c.text.encode() + json.dumps(c.facts).encode())
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout == here.hexdigest()


def test_seeds_differ() -> None:
    assert certificate(0, seed=0).text != certificate(0, seed=1).text


def test_generate_streams() -> None:
    stream = generate(10**12)
    assert inspect.isgenerator(stream)
    assert next(stream).file_name == "synth_000000.txt"


def test_licence_numbers_are_unique_across_serial_chains() -> None:
    # certificates i and i + 9999·k share a serial; their (form, province, class, year) must differ
    numbers = [licence_number(r + k * synth.SERIALS, seed=3)[4] for r in range(150) for k in range(25)]
    assert len(numbers) == len(set(numbers))


def test_write_is_identical_with_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "CHUNK", 4)  # several chunks, completed out of order by the pool
    assert write(23, tmp_path / "one", seed=5) == 23
    assert write(23, tmp_path / "two", seed=5, workers=2) == 23
    one = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert one == [synth.FACTS_FILE] + [f"synth_{i:06d}.txt" for i in range(23)]
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    lines = (tmp_path / "one" / synth.FACTS_FILE).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["file"] for line in lines] == [f"synth_{i:06d}.txt" for i in range(23)]
    assert (tmp_path / "one" / "synth_000004.txt").read_text(encoding="utf-8") == certificate(4, seed=5).text


def test_damage_is_a_probability() -> None:
    with pytest.raises(ValueError):
        certificate(0, damage=1.5)


def test_kg_synth_command(tmp_path: Path) -> None:
    """``kg synth --count N --out DIR --seed S`` (the issue's command) writes what the library writes."""
    from typer.testing import CliRunner

    from kg.cli import app

    out = tmp_path / "reg"
    args = ["synth", "--count", "3", "--out", str(out), "--seed", "2", "--damage", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 certificate(s)" in result.output
    assert sorted(p.name for p in out.iterdir()) == [synth.FACTS_FILE] + [f"synth_{i:06d}.txt" for i in range(3)]
    assert (out / "synth_000001.txt").read_text(encoding="utf-8") == certificate(1, seed=2, damage=0).text
    assert CliRunner().invoke(app, args).exit_code == 0  # the same register again, in place


@pytest.mark.parametrize("leftover", ["synth_000002.txt", "notes.txt"])
def test_kg_synth_refuses_a_directory_with_other_certificates(tmp_path: Path, leftover: str) -> None:
    """A smaller register written over a larger one would leave its tail to be ingested with it, and its facts
    would not describe the directory: refused (exit 2, one line), and nothing is written."""
    from typer.testing import CliRunner

    from kg.cli import app

    (tmp_path / leftover).write_text("an earlier file", encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", "--count", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert leftover in result.output and result.output.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == [leftover]


# -- facts ------------------------------------------------------------------

def test_facts_have_the_gold_keys(register: list[synth.SynthCertificate]) -> None:
    gold_keys = set()
    for path in GOLD.glob("*.json"):
        gold_keys |= set(json.loads(path.read_text(encoding="utf-8"))) - {"note"}
    for cert in register[:20]:
        assert gold_keys <= set(cert.facts), gold_keys - set(cert.facts)


def test_facts_are_consistent_with_the_text(register: list[synth.SynthCertificate]) -> None:
    ref = reference.load()
    for cert in register:
        f, text = cert.facts, cert.text
        assert f["licence_number"] in text and f["company"] in text and f["legal_representative"] in text
        assert f["top_level_clauses"] == [str(n) for n in range(1, 15 + len(f["authorisations"]))]
        assert list(f["child_clause_counts"]) == f["top_level_clauses"][14:]
        assert f["scope"] == ("cross-regional" if f["province"] is None else "provincial")
        if f["province"]:
            assert f["issuer"] == ref.provinces[f["province"]].authority
        if not f["dates_unreadable"]:
            issue, expiry = date.fromisoformat(f["issue_date"]), date.fromisoformat(f["expiry_date"])
            assert issue <= REFERENCE_DATE and issue < expiry <= issue.replace(day=28) + timedelta(days=5 * 366)
        else:
            assert f["issue_date"] is None and f["expiry_date"] is None
        for a in f["authorisations"]:
            assert a["business_type"] in ref.business_types
            assert all(c == "CN" or c in ref.provinces for c in a["coverage"])
        for check in f["clause_text_checks"]:
            assert all(norm(s) == s for s in check["contains"] + check["not_contains"])


# -- variety ----------------------------------------------------------------

def test_all_mainland_provinces_issue_licences(register: list[synth.SynthCertificate]) -> None:
    mainland = {p.code for p in reference.load().provinces.values() if p.authority}
    assert len(mainland) == 31
    assert {c.facts["province"] for c in register if c.facts["province"]} == mainland
    numbers = [c.facts["licence_number"] for c in register]
    assert any(re.fullmatch(r"B1-\d{8}", n) for n in numbers)
    assert any(re.fullmatch(r"B2-\d{8}", n) for n in numbers)
    assert any(re.fullmatch(r"\wB[12]-\d{8}", n) for n in numbers)
    assert any(re.fullmatch(r"\wICP证0\d{5}号", n) for n in numbers)


def test_all_catalogue_business_types_appear(register: list[synth.SynthCertificate]) -> None:
    types = {bt.code for bt in reference.load().business_types.values() if bt.level in ("type", "subtype")}
    seen = {a["business_type"] for c in register for a in c.facts["authorisations"]}
    assert types <= seen, types - seen
    auths = [a for c in register for a in c.facts["authorisations"]]
    assert any(a["limited_to"] == ["B25-I"] and a["excludes"] == ["B25-2", "B25-4"] for a in auths)
    assert any(a["excludes"] == ["B25-I"] for a in auths)
    assert any(a["coverage"] == ["CN"] for a in auths)
    assert any(a.get("coverage_kind") == "machine-room locations" for a in auths)
    assert any(len(a["coverage"]) > 1 and "coverage_cities" not in a for a in auths)
    assert any(not a["coverage_printed"] for a in auths)
    assert any(len(c.facts["authorisations"]) >= 3 for c in register)


def test_dates_cover_expired_expiring_valid_unreadable(register: list[synth.SynthCertificate]) -> None:
    status = Counter()
    for c in register:
        if c.facts["dates_unreadable"]:
            status["unreadable"] += 1
            continue
        expiry = date.fromisoformat(c.facts["expiry_date"])
        status["expired" if expiry < REFERENCE_DATE else
               "expiring" if expiry < REFERENCE_DATE + timedelta(days=90) else "valid"] += 1
    assert set(status) == {"expired", "expiring", "valid", "unreadable"}, status
    assert status["valid"] > status["expired"] > status["unreadable"] > 0


def test_websites_share_access_providers(register: list[synth.SynthCertificate]) -> None:
    companies = defaultdict(set)
    for c in register:
        for w in c.facts["websites"]:
            companies[w["access_provider"]].add(c.facts["company"])
            assert w["domains"] and w["server_location"] and w["name"]
    assert max(len(v) for v in companies.values()) >= 10
    wrapped = [w for c in register for w in c.facts["websites"] if not all(d in c.text for d in w["domains"])]
    assert wrapped, "some domain lists should wrap across lines"


def test_clause_wording_variants_of_the_samples(register: list[synth.SynthCertificate]) -> None:
    texts = [norm(c.text) for c in register]
    for phrase in ("提出续办申请", "提出延续经营许可证的申请", "应按照有关法律法规要求", "应按照国家法律法规要求",
                   "开展用户信息保护工作", "应当按照相关规定及预案立即进行应急处置", "你公司提供发送短信业务时",
                   "十七、你公司在经营", "(适用于信息搜索查询服务)"):
        assert any(phrase in t for t in texts), phrase
    assert any(c.facts["company_name_variants"] for c in register)


# -- damage -----------------------------------------------------------------

LABEL = re.compile(r"^(?:- )?([一二三四五六七八九十]+)、", re.M)


def test_no_damage_means_clean_text() -> None:
    for cert in generate(60, seed=2, damage=0.0):
        f = cert.facts
        assert not f["noise_absent"] and not f["dates_unreadable"] and not f["company_name_variants"]
        assert "#" not in cert.text and "\n- " not in cert.text
        labels = LABEL.findall(cert.text)
        assert len(labels) == len(f["top_level_clauses"])
        assert all("not_contains" in c and c["not_contains"][1] == "特别规定事项" for c in f["clause_text_checks"])


def test_damage_rate_scales_the_damage() -> None:
    def damaged(rate: float) -> int:
        return sum(len(c.facts["noise_absent"]) + len(c.facts["clause_text_checks"]) for c in generate(80, 4, rate))

    assert damaged(0.0) < damaged(0.05) < damaged(0.3)


def test_damage_kinds_of_the_samples_appear() -> None:
    text = "\n".join(c.text for c in generate(150, seed=9, damage=0.1))
    assert re.search(r"^\d{3}年 \d月 \d月$", text, re.M)  # unreadable date like 202年 0月 2月
    assert re.search(r"^(?:- )?[工要基下作上丁][一二三四五六七八九十]+、", text, re.M)  # 工七、
    assert re.search(r"^(?:- )?[《〈第{C]二?[一二三四五六七八九十]+[)）]", text, re.M)  # 《二)
    assert re.search(r"\d [个日]", text)  # 10 个工作日
    assert re.search(r"^# 中华人民共和国", text, re.M) and re.search(r"^## 特别规定事项", text, re.M)
    assert "发证 日期" in text


# -- round trip through the parser -------------------------------------------

#: Every fact key, compared on the round trip (``file`` names the certificate).
FACT_KEYS = [k for k in certificate(0).facts if k != "file"]


def _accuracy(pairs: list[tuple[object, dict]]) -> dict[str, float]:
    from synth_compare import compare

    hits: Counter = Counter()
    seen: Counter = Counter()
    for cert, facts in pairs:
        for key, problem in compare(cert, facts).items():
            seen[key] += 1
            hits[key] += problem is None
    return {key: hits[key] / seen[key] for key in seen}


@pytest.fixture(scope="module")
def round_trip() -> dict:
    from synth_compare import compare

    from kg import parser

    gold = []
    for path in sorted(GOLD.glob("*.json")):
        facts = json.loads(path.read_text(encoding="utf-8"))
        gold.append((parser.parse_file(SAMPLES / facts["file"]), facts))
    synthetic, failures, known = [], defaultdict(list), set()
    for c in generate(ROUND_TRIP_COUNT, seed=0):
        if LOST_LABEL_OPENS_PAGE.search(c.text):
            known.add(c.file_name)
        try:
            parsed = parser.parse_text(c.text, file=c.file_name)
        except Exception as exc:  # a crash is a miss on every key, reported with the file
            failures["crash"].append(f"{c.file_name}: {exc!r}")
            continue
        synthetic.append((parsed, c.facts))
        for key, problem in compare(parsed, c.facts).items():
            if problem:
                failures[key].append(f"{c.file_name}: {problem}")
    return {"gold": _accuracy(gold), "synthetic": _accuracy(synthetic), "failures": failures, "known": known}


@pytest.mark.slow
def test_round_trip_parses_every_certificate(round_trip: dict) -> None:
    assert not round_trip["failures"]["crash"], round_trip["failures"]["crash"][:5]


@pytest.mark.slow
@pytest.mark.parametrize("key", FACT_KEYS)
def test_round_trip_accuracy_matches_the_samples(round_trip: dict, key: str) -> None:
    """Each key is recovered from synthetic certificates at least as well as from the five samples."""
    gold = round_trip["gold"].get(key, 1.0)
    got = round_trip["synthetic"].get(key)
    assert got is not None, f"{key}: no synthetic certificate was compared on it"
    failures = round_trip["failures"][key]
    if got < gold and failures and all(f.split(":")[0] in round_trip["known"] for f in failures):
        pytest.xfail(f"{key}: {got:.4f} < gold {gold:.4f}, all {len(failures)} misses are a lost label opening a "
                     "page, which kg.parser joins to the previous item (test_lost_label_opening_a_page)")
    assert got >= gold, f"{key}: {got:.4f} < gold {gold:.4f}; e.g. {failures[:3]}"


def test_lost_label_opening_a_page() -> None:
    """Sample 002 with item (五) losing its label as sample 000's (十一) does (作你公司…), at the top of a page.

    Mid-page the parser recovers the number from the gap (四)→(六); at the top of a page it joins the item
    to (四) as if it continued across the page break, so 15.5 is lost and (四) gets (五)'s text.
    """
    from kg import parser
    text = (SAMPLES / "002_d6ab5e1b3366b49e.txt").read_text(encoding="utf-8")
    assert "## 特别规定事项\n\n(五) 你公司" in text
    mid_page = parser.parse_text(text.replace("(三) 你公司业务开展过程中", "要你公司业务开展过程中"))
    assert [c.id for c in mid_page.clause("15").children] == [f"15.{n}" for n in range(1, 8)]
    cert = parser.parse_text(text.replace("## 特别规定事项\n\n(五) 你公司", "## 特别规定事项\n\n要你公司"))
    assert [c.id for c in cert.clause("15").children] == [f"15.{n}" for n in range(1, 8)]
    assert "具备网络与信息安全管理技术保障措施" in norm(cert.clause("15.5").text)


@pytest.mark.parametrize(("printed", "field", "want"), [
    ("网站域名：www.kongzhong.com(www.kongzhong.net;www.kongzhong.com.cn;www.kongzhong.net.cn;www.kong.\nnet)",
     "domains", ["www.kongzhong.com", "www.kongzhong.net", "www.kongzhong.com.cn", "www.kongzhong.net.cn",
                 "www.kong.net"]),
    ("服务器放置地：北京市海淀区苏州街长远天地C座3号楼\n2层", "server_location", "北京市海淀区苏州街长远天地C座3号楼2层"),
    ("服务器放置地：北京市海淀区苏州街长远天地C座3号楼 2层", "server_location", "北京市海淀区苏州街长远天地C座3号楼2层"),
])
def test_appendix_wraps_found_by_the_round_trip(printed: str, field: str, want: object) -> None:
    """Sample 004 with its appendix wrapped at other places, as synthetic certificates wrap it."""
    from kg import parser
    text = (SAMPLES / "004_fbfe7da2340bbcfd.txt").read_text(encoding="utf-8")
    old = {"domains": "网站域名：www.kongzhong.com(www.kongzhong.net;www.\nkongzhong.com.cn;www.kongzhong.net.cn;www.kong.net)",
           "server_location": "服务器放置地：北京市海淀区苏州街长远天地C座3单元902\n室"}[field]
    assert old in text
    assert getattr(parser.parse_text(text.replace(old, printed)).websites[0], field) == want
