"""The parser against the hand-made gold extractions: every key of every gold file (tests/gold/README.md).

The model is mapped onto the gold keys here; the model is not shaped after
the gold files.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from kg.models import Certificate, Clause, Deadline
from kg.parser import parse_file

ROOT = Path(__file__).resolve().parent.parent
GOLD = sorted((ROOT / "tests" / "gold").glob("*.json"))
CERTS = ROOT / "data" / "certificates"


def norm(s: str) -> str:
    """The README's comparison: NFKC, then no white space at all."""
    return "".join(unicodedata.normalize("NFKC", s).split())


def _auth(a: Any) -> dict:
    out = {
        "business_type": a.business_type,
        "limited_to": sorted(a.limited_to),
        "excludes": sorted(a.excludes),
        "coverage": [e.region for e in a.coverage],
        "coverage_printed": a.coverage_printed,
    }
    cities = [e.city for e in a.coverage if e.city]
    if cities:
        out["coverage_cities"] = cities
    if a.coverage_kind != "regions":
        out["coverage_kind"] = a.coverage_kind
    return out


def _gold_auth(a: dict) -> dict:
    out = {k: (sorted(a[k]) if k in ("limited_to", "excludes") else a[k])
           for k in ("business_type", "limited_to", "excludes", "coverage", "coverage_printed")}
    for k in ("coverage_cities", "coverage_kind"):
        if a.get(k):
            out[k] = a[k]
    return out


def _deadline(d: Deadline) -> tuple:
    if d.recurrence is not None:
        return ("window", d.recurrence, d.window)
    return ("period", d.amount, d.unit, "expiry" if d.relation == "before" and d.anchor == "expiry" else None)


def _gold_deadline(d: dict) -> tuple:
    if "recurrence" in d:
        return ("window", d["recurrence"], d["window"])
    return ("period", d["amount"], d["unit"], d.get("before"))


def _clause(cert: Certificate, cid: str) -> Clause:
    clause = cert.clause(cid)
    assert clause is not None, f"clause {cid} missing"
    return clause


#: Every gold key and the test that compares it ("file" names the input, "note" is prose).
COVERED = {
    "file": "case", "note": "-", "licence_number": "test_licence_number", "scope": "test_licence_number",
    "licence_class": "test_licence_number", "province": "test_licence_number", "issuer": "test_licence_number",
    "first_issued_year": "test_licence_number", "company": "test_holder_and_representative",
    "legal_representative": "test_holder_and_representative",
    "company_name_variants": "test_holder_and_representative", "issue_date": "test_dates",
    "expiry_date": "test_dates", "dates_unreadable": "test_dates", "authorisations": "test_authorisations",
    "websites": "test_websites", "top_level_clauses": "test_clause_tree", "child_clause_counts": "test_clause_tree",
    "clause_applies_to": "test_clause_tree", "clause_text_checks": "test_clause_texts",
    "noise_absent": "test_noise_absent", "deadlines": "test_deadlines", "regulations_cited": "test_regulations_cited",
}


def test_every_gold_key_is_compared() -> None:
    for path in GOLD:
        keys = set(json.loads(path.read_text(encoding="utf-8")))
        assert keys <= set(COVERED), f"{path.name}: uncompared keys {sorted(keys - set(COVERED))}"
    auth_keys = {k for path in GOLD for a in json.loads(path.read_text(encoding="utf-8"))["authorisations"] for k in a}
    assert auth_keys <= {"business_type", "limited_to", "excludes", "coverage", "coverage_cities", "coverage_kind",
                         "coverage_printed"}


@pytest.fixture(scope="module", params=GOLD, ids=lambda p: p.stem)
def case(request: pytest.FixtureRequest) -> tuple[Certificate, dict]:
    gold = json.loads(request.param.read_text(encoding="utf-8"))
    return parse_file(CERTS / gold["file"]), gold


def test_licence_number(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    num = cert.licence_number
    assert num.printed == gold["licence_number"]
    assert (num.scope, num.licence_class, num.province, num.issuer, num.first_issued_year) == (
        gold["scope"], gold["licence_class"], gold["province"], gold["issuer"], gold["first_issued_year"])


def test_holder_and_representative(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    assert cert.company is not None and cert.company.name == gold["company"]
    assert cert.legal_representative is not None and cert.legal_representative.name == gold["legal_representative"]
    assert [v.name for v in cert.company.variants] == gold["company_name_variants"]
    if gold["company_name_variants"]:
        assert any(i.code == "holder-name-variant" for i in cert.issues)


def test_dates(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    for key in ("issue_date", "expiry_date"):
        value = getattr(cert, key).value
        assert (value.isoformat() if value else None) == gold[key], key
    assert cert.dates_unreadable == gold["dates_unreadable"]
    if gold["dates_unreadable"]:
        assert any(i.code == "date-unreadable" for i in cert.issues)
        assert all(getattr(cert, k).printed for k in ("issue_date", "expiry_date"))  # the printed form is kept


def test_authorisations(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    assert [_auth(a) for a in cert.authorisations] == [_gold_auth(a) for a in gold["authorisations"]]


def test_websites(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    got = [{"name": w.name, "domains": w.domains, "server_location": w.server_location,
            "access_provider": w.access_provider} for w in cert.websites]
    assert got == gold["websites"]


def test_clause_tree(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    assert [c.id for c in cert.clauses] == gold["top_level_clauses"]
    counts = {c.id: sum(1 for ch in c.children if ch.number is not None) for c in cert.clauses if c.children}
    assert counts == gold["child_clause_counts"]
    got = {c.id: c.governs_business_type for c in cert.clauses}
    for cid, code in gold.get("clause_applies_to", {}).items():
        assert got.get(cid) == code, cid


def test_clause_texts(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    for check in gold["clause_text_checks"]:
        text = norm(_clause(cert, check["clause"]).text)
        for s in check.get("contains", []):
            assert norm(s) in text, f"{check['clause']} lacks {s!r}"
        for s in check.get("not_contains", []):
            assert norm(s) not in text, f"{check['clause']} has {s!r}"


def test_noise_absent(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    texts = [norm(c.text) for c in cert.all_clauses()]
    assert [n for n in gold["noise_absent"] if any(norm(n) in t for t in texts)] == []


def test_deadlines(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    for entry in gold["deadlines"]:
        got = set(map(_deadline, _clause(cert, entry["clause"]).deadlines))
        assert got == set(map(_gold_deadline, entry["deadlines"])), entry["clause"]


def test_regulations_cited(case: tuple[Certificate, dict]) -> None:
    cert, gold = case
    assert set(cert.regulations_cited) == set(gold["regulations_cited"])
    assert len(cert.regulations_cited) == len(set(cert.regulations_cited))


def test_unlabelled_paragraph_is_kept_apart() -> None:
    """000: the short-message paragraph after (十一) has no label; it is its own unnumbered child."""
    cert = parse_file(CERTS / "000_68d7b087b46960b3.txt")
    sms = [c for c in cert.all_clauses() if "发送短信业务" in c.text]
    assert len(sms) == 1 and sms[0].id == "15.11a" and sms[0].number is None
    assert "应用软件发布平台" in _clause(cert, "15.11").text and "短信" not in _clause(cert, "15.11").text
    assert _clause(cert, "15.12").label == "第二十二)" and _clause(cert, "15.12").label_repaired


def test_every_line_number_points_at_its_text() -> None:
    """Provenance: a clause's first line holds the start of its text in the original file."""
    for gold in GOLD:
        facts = json.loads(gold.read_text(encoding="utf-8"))
        path = CERTS / facts["file"]
        raw = path.read_text(encoding="utf-8-sig").splitlines()
        cert = parse_file(path)
        for c in cert.all_clauses():
            assert norm(c.text[:6]) in norm(raw[c.line - 1]), (facts["file"], c.id)
            assert c.line <= c.end_line
        assert norm(cert.licence_number.printed) in norm(raw[cert.licence_number.line - 1])
