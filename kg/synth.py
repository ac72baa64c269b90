"""Synthetic certificate generator: a realistic national register of licences, as OCR'd TEXT.

China has ~10^5 value-added telecom licences; benchmarks and tests need a
register of that size in the shape and damage of the five samples, with the
facts each certificate was generated from, so that the parser's accuracy on
it can be measured the same way as on the gold files (tests/gold/README.md).

* :func:`certificate` builds certificate ``index`` of a register: its random
  stream is derived from ``(seed, index)`` only, so certificate i is the same
  whatever ``count`` is, and the same seed gives byte-identical output.
* :func:`generate` streams certificates (memory independent of ``count``).
* :func:`write` writes ``synth_000000.txt``… and one hidden ``.facts.jsonl``
  (:data:`FACTS_FILE`), so that ``kg ingest DIR`` reads the certificates only.

Licence numbers are unique within a register: the 4-digit serial is a
bijection of ``index mod 9999``, and certificates sharing a serial draw their
(form, province, class, year) without replacement along a per-serial chain.
Dates are relative to the fixed :data:`REFERENCE_DATE`, never today.
Content: kg.synth (facts) → kg.synth_clauses (wording) → kg.synth_text (layout, damage).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import multiprocessing
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from kg import reference
from kg.errors import SynthOutputError
from kg.synth_clauses import COMMON_DEADLINES as _DEADLINES
from kg.synth_clauses import PREAMBLE, AuthPrint, Para, Plan, SitePrint, build_clauses
from kg.synth_text import render

REFERENCE_DATE = date(2025, 6, 30)
SERIALS = 9999
CHUNK = 500  # certificates per work unit of write()
MIIT = "工业和信息化部"
_PHI = 0.6180339887498949
PROVINCE_WEIGHTS = {
    "44": 12, "11": 10, "31": 8, "33": 7, "32": 7, "37": 5, "35": 4, "51": 4, "42": 3, "43": 3, "41": 3,
    "34": 3, "50": 3, "61": 3, "12": 3, "13": 3, "21": 3, "36": 2, "45": 2, "53": 2, "52": 2, "14": 2,
    "22": 2, "23": 2, "15": 2, "46": 2, "62": 2, "64": 2, "65": 2, "63": 1.5, "54": 1.5,
}
B1_TYPES = {"B11": 4.0, "B12": 2.0, "B13": 1.5, "B14": 3.0}
B2_TYPES = {"B21": 2.5, "B22": 1.0, "B23": 1.0, "B24": 1.5, "B25": 6.0, "B26": 1.0}
VARIANTS = {"B24": ("B24", "B24-1", "B24-1", "B24-2"), "B26": ("B26", "B26-1")}
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤厉俞")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌宇浩凯鹏辉晨昊然欣怡涵梓轩博雅思源嘉琪"
         "佳琳雨萱俊峰海波晓东立新永健春梅丹宁翊骏盛权玲婷慧颖磊帆")
BRAND = "云数智联易通达创新星光睿博鑫汇瑞融蓝海宇峰鸿泰安恒盛聚优享乐酷趣讯微维众合美捷迅麦米果橙懂掌怡生居空信使"
SUFFIXES = ("科技", "信息技术", "网络科技", "网络技术", "信息科技", "数据科技", "通信技术", "信息服务", "网络", "互联网科技")
SYLLABLES = ("yun shu zhi lian yi tong da chuang xin hua xing guang rui bo hui tian yu feng hong tai an heng sheng ju "
             "you xiang le ku qu xun wei zhong he mei jie mai mi guo cheng kong che dong wang").split()
TLDS = (".com", ".cn", ".com.cn", ".net", ".net.cn", ".top", ".vip")
#: A small pool of access providers, weighted, so that many websites share one (a graph hub).
PROVIDERS = (("阿里云计算有限公司", 8), ("中联云港数据科技股份有限公司", 3), ("北京华夏雅库网络科技有限公司", 2),
             ("华为云计算技术有限公司", 4), ("天翼云科技有限公司", 4), ("北京百度网讯科技有限公司", 3),
             ("金山云网络技术有限公司", 2), ("优刻得科技股份有限公司", 2), ("京东科技信息技术有限公司", 1),
             ("华东云数据科技有限公司", 1), ("西部数码网络科技有限公司", 1), ("中国联合网络通信有限公司", 2))
DISTRICTS = ("高新区", "经济技术开发区", "城东区", "城西区", "城南区", "城北区", "新区", "开发区", "中心区")
ROADS = ("科技", "创新", "学院", "中山", "人民", "建设", "长江", "黄河", "文化", "软件园")
B25_EXCLUDES = ((["B25-2", "B25-4"], 0.5), (["B25-2"], 0.15), (["B25-4"], 0.1), ([], 0.25))


@dataclass(frozen=True)
class SynthCertificate:
    """One generated certificate: its file name, OCR-like text, and the facts it was generated from."""

    file_name: str
    text: str
    facts: dict


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _pick(rng: random.Random, weighted: dict | tuple) -> Any:
    items = list(weighted.items()) if isinstance(weighted, dict) else list(weighted)
    return rng.choices([k for k, _ in items], [w for _, w in items])[0]


@cache
def _tables() -> dict:
    """Reference lookups and the number-form segments, built once per process."""
    ref = reference.load()
    provs = {c: ref.provinces[c] for c in PROVINCE_WEIGHTS}
    segs: list[tuple[str, str | None]] = [("cross", None)]
    weights = [0.35 * sum(PROVINCE_WEIGHTS.values()) / 0.65]
    for code, w in PROVINCE_WEIGHTS.items():
        segs += [("prov", code), ("icp", code)]
        weights += [w * 0.85, w * 0.15]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    cities: dict[str, list[str]] = {}
    for c in sorted(ref.cities.values(), key=lambda c: c.name_zh):  # sorted: independent of RDF parse order
        cities.setdefault(c.province, []).append(c.name_zh)
    return {"ref": ref, "provs": provs, "segs": segs, "cum": cum, "total": total, "cities": cities,
            "city_prov": {c.name_zh: c.province for c in ref.cities.values()}, "non_regs": ref.non_regulation_titles}


def _bucket(seed: int, index: int) -> tuple[tuple[str, str | None, str, int], int]:
    """(form, province, class, year) and serial of certificate ``index``: unique numbers by construction."""
    t = _tables()
    r, k = index % SERIALS, index // SERIALS
    chain = random.Random(_h(seed, "chain", r))
    used: set = set()
    bucket = ("cross", None, "B2", 2020)
    for j in range(k + 1):
        first = j == 0
        while True:
            # the first draw of every chain follows a golden-ratio sequence: every province shows up early
            u = ((r + 1) * _PHI + _h(seed, "weyl") / 2**64) % 1.0 if first else chain.random()
            first = False
            form, prov = t["segs"][min(bisect.bisect(t["cum"], u * t["total"]), len(t["segs"]) - 1)]
            if form == "icp":
                cls, year = "B2", chain.randint(2000, 2012)
            else:
                cls = "B1" if chain.random() < (0.25 if form == "cross" else 0.2) else "B2"
                year = chain.choices(range(2005, 2026), range(1, 22))[0]
            bucket = (form, prov, cls, year)
            if bucket not in used:
                break
        used.add(bucket)
    return bucket, 1 + (r * 7919 + _h(seed, "serial")) % SERIALS


def licence_number(index: int, seed: int = 0) -> tuple[str, str | None, str, int, str]:
    """(form, province, class, year, printed number) of certificate ``index``, without building it.

    ``form`` is cross (B1-/B2-, 工业和信息化部), prov (京B2-…) or icp (京ICP证0xxxxx号).
    """
    (form, prov, cls, year), serial = _bucket(seed, index)
    if form == "cross":
        return form, prov, cls, year, f"{cls}-{year}{serial:04d}"
    abbr = _tables()["provs"][prov].abbr
    if form == "prov":
        return form, prov, cls, year, f"{abbr}{cls}-{year}{serial:04d}"
    return form, prov, cls, year, f"{abbr}ICP证{year % 100:02d}{serial:04d}号"


def _add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


def _between(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randrange((hi - lo).days + 1))


def _dates(rng: random.Random, year: int) -> tuple[date, date]:
    """Issue and expiry: 5-year terms from the first issue; expired, expiring within 90 days, or valid."""
    ref = REFERENCE_DATE
    first = _between(rng, date(year, 1, 1), min(date(year, 12, 31), ref))
    floor = _add_years(first, 5)
    ranges = {"expired": (max(floor, _add_years(ref, -6)), ref - timedelta(days=1)),
              "expiring": (max(floor, ref), ref + timedelta(days=89)),
              "valid": (max(floor, ref + timedelta(days=90)), _add_years(ref, 5))}
    feasible = [(c, w) for c, w in (("expired", 0.2), ("expiring", 0.1), ("valid", 0.7)) if
                ranges[c][0] <= ranges[c][1]]
    lo, hi = ranges[str(_pick(rng, tuple(feasible)))]
    anniversaries = [a for n in range(1, 6) if lo <= (a := _add_years(first, 5 * n)) <= hi]
    expiry = rng.choice(anniversaries) if anniversaries and rng.random() < 0.6 else _between(rng, lo, hi)
    start = _add_years(expiry, -5)
    issue = start if rng.random() < 0.55 else _between(rng, start, min(expiry - timedelta(days=1), ref))
    return issue, expiry


def _person(rng: random.Random) -> str:
    surname = rng.choice(("欧阳", "司马", "上官")) if rng.random() < 0.02 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.3 else 2))


def _company(rng: random.Random, prov: str) -> str:
    t = _tables()
    p = t["provs"][prov]
    prefix = p.short_zh
    if rng.random() < 0.5:
        prefix = rng.choice(t["cities"][prov])
        if prefix != p.short_zh and rng.random() < 0.3:
            prefix += "市"
    brand = "".join(rng.choice(BRAND) for _ in range(rng.choice((2, 2, 3, 3, 4))))
    form = "股份有限公司" if rng.random() < 0.08 else "有限公司"
    return prefix + brand + rng.choice(SUFFIXES) + form


def _variant(rng: random.Random, name: str, prefix_len: int) -> str:
    """Another spelling of the holder's name (sample 003: 掌全通信息 → 掌全通信信息): one character doubled."""
    pos = rng.randint(prefix_len + 1, len(name) - 4)
    return name[:pos] + name[pos - 1 if rng.random() < 0.5 else pos] + name[pos:]


def _coverage(rng: random.Random, code: str, form: str, prov: str | None) -> tuple[dict, list[str] | None]:
    """Coverage facts and printed lines for one authorisation."""
    t = _tables()
    if form != "cross":
        local = t["cities"][prov]
        if code == "B11" and rng.random() < 0.4:
            cities = rng.sample(local, min(len(local), rng.choice((1, 1, 2))))
            return ({"coverage": [prov] * len(cities), "coverage_cities": cities,
                     "coverage_kind": "machine-room locations", "coverage_printed": True}, ["机房所在地为" + "、".join(cities)])
        return {"coverage": [prov], "coverage_printed": False}, None
    r = rng.random()
    if code == "B11" and r < 0.7:
        cities = rng.sample(sorted(t["city_prov"]), rng.randint(1, 6))
        return ({"coverage": [t["city_prov"][c] for c in cities], "coverage_cities": cities,
                 "coverage_kind": "machine-room locations", "coverage_printed": True}, ["机房所在地为" + "、".join(cities)])
    if r < 0.55:
        return {"coverage": ["CN"], "coverage_printed": True}, ["全国"]
    codes = sorted(rng.sample(list(PROVINCE_WEIGHTS), rng.randint(2, 20)))
    names = [t["provs"][c].short_zh for c in codes]
    per = rng.randint(6, 12)
    lines = ["、".join(names[i:i + per]) + ("、" if i + per < len(names) else "") for i in range(0, len(names), per)]
    return {"coverage": codes, "coverage_printed": True}, lines


def _sites(rng: random.Random, company_prov: str) -> list[SitePrint]:
    t = _tables()
    out = []
    for _ in range(_pick(rng, ((1, 0.7), (2, 0.2), (3, 0.1)))):
        base = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        www = "www." if rng.random() < 0.5 else ""
        tlds = rng.sample(TLDS, _pick(rng, ((1, 0.6), (2, 0.2), (3, 0.1), (4, 0.1))))
        domains = [www + base + tld for tld in tlds]
        prov = company_prov if rng.random() < 0.7 else str(_pick(rng, PROVINCE_WEIGHTS))
        p = t["provs"][prov]
        city = rng.choice(t["cities"][prov])
        loc = p.name_zh + ("" if city == p.short_zh else city + "市") + rng.choice(DISTRICTS) + rng.choice(ROADS)
        loc += f"路{rng.randint(1, 300)}号"
        loc += rng.choice((f"{rng.randint(1, 20)}号楼{rng.randint(1, 12)}层",
                           f"{rng.choice('ABCDE')}座{rng.randint(1, 6)}单元{rng.randint(1, 30)}0{rng.randint(1, 9)}室",
                           f"{rng.choice(BRAND)}{rng.choice(BRAND)}产业园{rng.randint(1, 30)}号院{rng.randint(1, 15)}号楼"))
        name = "".join(rng.choice(BRAND) for _ in range(rng.randint(2, 4))) + rng.choice(("", "", "网", "在线", "云"))
        out.append(SitePrint(name, domains, loc, str(_pick(rng, PROVIDERS))))
    return out


@cache
def _titles(body: str) -> tuple[str, ...]:
    return tuple(re.findall(r"《([^》]+)》", body))


def certificate(index: int, seed: int = 0, damage: float = 0.05) -> SynthCertificate:
    """Certificate ``index`` of the register for ``seed``: text and facts (a gold-shaped dict)."""
    if not 0.0 <= damage <= 1.0:
        raise ValueError(f"damage is a probability, got {damage}")
    t = _tables()
    ref = t["ref"]
    rng = random.Random(_h(seed, index))
    form, prov, cls, year, number = licence_number(index, seed)
    issue, expiry = _dates(rng, year)
    unreadable = rng.random() < damage
    company_prov = prov or str(_pick(rng, PROVINCE_WEIGHTS))
    company = _company(rng, company_prov)
    variants = [_variant(rng, company, 2)] if rng.random() < damage else []
    if form == "icp":
        bases = ["B25"]
    else:
        pool = dict(B1_TYPES if cls == "B1" else B2_TYPES)
        if form == "prov" and cls == "B2":
            pool["B25"] = 14.0
        n = min(len(pool), int(_pick(rng, ((1, 0.6), (2, 0.28), (3, 0.12)))))
        bases = []
        while len(bases) < n:
            bases.append(str(_pick(rng, {k: w for k, w in pool.items() if k not in bases})))
        bases.sort()
    auths, prints, blocks, sites = [], [], [], []
    for base in bases:
        code = rng.choice(VARIANTS[base]) if base in VARIANTS else base
        name = ref.business_types[code].name_zh
        fact = {"business_type": code, "limited_to": [], "excludes": []}
        ap = AuthPrint(name)
        if base == "B25":
            internet = form == "icp" or rng.random() < (0.8 if form == "prov" else 0.5)
            if internet:
                fact["limited_to"] = ["B25-I"]
                fact["excludes"] = list(_pick(rng, B25_EXCLUDES))
                ap.qualifier = "(仅限互联网信息服务)" if rng.random() < 0.5 else "（仅限互联网信息服务）"
                if fact["excludes"]:
                    ap.exclusions = "不含" + "、".join(ref.business_types[c].name_zh for c in fact["excludes"]) + "。"
                ap.note = form != "cross" and rng.random() < 0.5
                sites = _sites(rng, company_prov)
            else:
                fact["excludes"] = ["B25-I"]
                ap.qualifier = "(不含互联网信息服务)" if rng.random() < 0.5 else "（不含互联网信息服务）"
        cov, ap.coverage = _coverage(rng, code, form, prov)
        fact.update(cov)
        auths.append(fact)
        prints.append(ap)
        blocks.append((code, name, fact["excludes"]))
    new_edition = issue.year >= 2021 and rng.random() < 0.5
    paras, counts, applies = build_clauses(rng, variants[0] if variants else company, blocks, new_edition)
    plan = Plan(number, form == "cross", company, _person(rng), issue, expiry, unreadable, prints, sites, paras)
    rendered = render(plan, rng, damage)
    file_name = f"synth_{index:06d}.txt"
    facts = {
        "file": file_name, "licence_number": number,
        "scope": "cross-regional" if form == "cross" else "provincial", "licence_class": cls,
        "province": prov, "issuer": MIIT if form == "cross" else t["provs"][prov].authority,
        "first_issued_year": year if form != "icp" else None,
        "company": company, "legal_representative": plan.representative,
        "issue_date": None if unreadable else issue.isoformat(),
        "expiry_date": None if unreadable else expiry.isoformat(),
        "dates_unreadable": unreadable, "authorisations": auths,
        "websites": [{"name": s.name, "domains": s.domains, "server_location": s.server_location,
                      "access_provider": s.access_provider} for s in sites],
        "top_level_clauses": [str(n) for n in range(1, 15 + len(blocks))],
        "child_clause_counts": counts, "clause_applies_to": applies,
        "clause_text_checks": rendered.checks, "noise_absent": rendered.noise,
        "deadlines": [{"clause": e["clause"], "deadlines": [dict(d) for d in e["deadlines"]]} for e in _DEADLINES],
        "regulations_cited": _regulations(paras), "company_name_variants": variants,
    }
    return SynthCertificate(file_name, rendered.text, facts)


def _regulations(paras: list[Para]) -> list[str]:
    non_regs = _tables()["non_regs"]
    seen: dict[str, None] = dict.fromkeys(_titles(PREAMBLE))
    for p in paras:
        seen.update(dict.fromkeys(_titles(p.body)))
    return [title for title in seen if title not in non_regs]


def generate(count: int, seed: int = 0, damage: float = 0.05) -> Iterator[SynthCertificate]:
    """Certificates 0…count-1 of the register for ``seed``, one at a time (memory independent of count)."""
    for index in range(count):
        yield certificate(index, seed, damage)


def _write_chunk(args: tuple[int, int, int, float, str]) -> str:
    start, stop, seed, damage, out_dir = args
    lines = []
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for index in range(start, stop):
        cert = certificate(index, seed, damage)
        fd = os.open(os.path.join(out_dir, cert.file_name), flags, 0o644)  # ~10x cheaper than Path.write_text
        try:
            os.write(fd, cert.text.encode("utf-8"))
        finally:
            os.close(fd)
        lines.append(json.dumps(cert.facts, ensure_ascii=False) + "\n")
    return "".join(lines)


#: The facts of a written register, beside its certificates. Hidden because the ingest skips hidden files
#: (kg.ingest.expand_paths): ``kg ingest DIR`` then reads the certificates only, where a visible
#: ``facts.jsonl`` was reported as "not a certificate" and failed the ingest (exit 3).
FACTS_FILE = ".facts.jsonl"


def write(count: int, out_dir: str | Path, seed: int = 0, damage: float = 0.05, workers: int = 1) -> int:
    """Write ``count`` certificates and :data:`FACTS_FILE` (one line per certificate, in order) to ``out_dir``.

    With ``workers`` > 1 chunks are generated in a process pool and their facts
    written in order as they complete: output is identical to ``workers=1``.
    Returns the number of certificates written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = sorted(p.name for p in out.glob("*.txt") if not _is_written_by(p.name, count))
    if stale:
        raise SynthOutputError(f"holds {len(stale)} other certificate file(s), e.g. {stale[0]}", file=str(out),
                               hint="use an empty directory, or the count of the register written there")
    _tables()  # load the reference once, before any fork
    jobs = ((a, min(a + CHUNK, count), seed, damage, str(out)) for a in range(0, count, CHUNK))
    with open(out / FACTS_FILE, "w", encoding="utf-8") as facts:
        if workers <= 1:
            for job in jobs:
                facts.write(_write_chunk(job))
        else:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for lines in pool.imap(_write_chunk, jobs):
                    facts.write(lines)
    return count


def _is_written_by(name: str, count: int) -> bool:
    """Whether ``name`` is one of the files ``write(count, …)`` writes (re-writing a register in place is fine)."""
    stem = name.removeprefix("synth_").removesuffix(".txt")
    return stem.isdigit() and int(stem) < count and name == f"synth_{int(stem):06d}.txt"
