"""Compliance checks (kg/compliance.py, kg/rules.py, kg/events.py, queries/rules/*.rq) as of 2026-11-22.

The headline answers on the five sample certificates run on the in-memory store
and again on the embedded store. Every rule then has a crafted case that
triggers it and one that does not: certificates are parsed from the samples,
edited as pydantic models (a changed date, a removed name variant, an extra
business type …), mapped with kg.mapping.map_certificate and loaded next to
the ontology and vocabularies.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from rdflib import Literal
from typer.testing import CliRunner

from kg import api
from kg.cli import app
from kg.compliance import check, findings_graph_iri, list_rules
from kg.errors import StoreError
from kg.events import EVENTS, obligations_for_event
from kg.ingest import ingest
from kg.models import Certificate, CoverageEntry
from kg.parser import parse_file
from kg.queries import ParameterError
from kg.rules import Finding, get_rule, load_rule
from kg.store import open_store
from kg.store.memory import MemoryStore
from tests.conftest import make_store, store_with

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"
AS_OF = dt.date(2026, 11, 22)
D = dt.date

FILES = {
    "京B2-20240286": "000_68d7b087b46960b3.txt",
    "B2-20210247": "001_32a2f19ddba49f70.txt",
    "B2-20192648": "002_d6ab5e1b3366b49e.txt",
    "B1-20195402": "003_536d42bffd6cec79.txt",
    "京ICP证020001号": "004_fbfe7da2340bbcfd.txt",
}


# --- fixtures and helpers ----------------------------------------------------------------------------------


@cache
def _parsed(number: str) -> Certificate:
    return parse_file(SAMPLES / FILES[number])


def sample(number: str) -> Certificate:
    """A fresh, editable copy of a parsed sample certificate."""
    return _parsed(number).model_copy(deep=True)


def fired(rule_id: str, *certs: Certificate, as_of: dt.date = AS_OF, days: int = 90) -> list[Finding]:
    """Findings of one rule on a store holding only ``certs`` (nothing written)."""
    return check(store_with(*certs), as_of, expiring_days=days, write=False, rules=[get_rule(rule_id)]).findings


def _finding(findings: list[Finding], rule: str, number: str, clause: str | None = None) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule and f.number == number and (clause is None or f.clause_id == clause)]


@pytest.fixture(scope="module")
def samples_store():
    store = open_store(memory=True)
    report = ingest([SAMPLES], store)
    assert report.ok and len(report.ingested) == 5
    return store


@pytest.fixture(scope="module")
def result(samples_store):
    return check(samples_store, AS_OF)


# --- the rule catalogue --------------------------------------------------------------------------------------


def test_catalogue_loads_with_complete_headers():
    rules = list_rules()
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)) >= 18
    for r in rules:
        assert r.severity in ("error", "warning", "info")
        assert r.title_zh and r.title_en and r.rests_on and r.description, r.id
        assert r.kind == "event" or "{" in r.message or r.message, r.id
    assert {r.id for r in list_rules(kind="event")} == {"event-obligations"}


def test_docs_list_every_rule():
    text = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    for r in list_rules():
        assert f"| `{r.id}` | {r.severity}" in text, r.id


def test_malformed_rule_header_is_an_error(tmp_path):
    from kg.rules import RuleError

    bad = tmp_path / "bad-rule.rq"
    bad.write_text("# id: bad-rule\n# title_zh: 坏\n# title_en: Bad\n# severity: fatal\n# rests_on: x\n"
                   "# message: m\nSELECT ?licence WHERE { ?licence ?p ?o }\n", encoding="utf-8")
    with pytest.raises(RuleError, match="severity"):
        load_rule(bad)
    bad.write_text("# id: other-name\n# title_zh: 坏\n# title_en: Bad\n# severity: info\n# rests_on: x\n"
                   "# message: m\nSELECT ?licence WHERE { ?licence ?p ?o }\n", encoding="utf-8")
    with pytest.raises(RuleError, match="file name"):
        load_rule(bad)


# --- headline answers on the five samples -----------------------------------------------------------------------


def _status(result, number: str) -> set[str]:
    status_rules = {"licence-valid", "licence-expiring", "licence-expired", "licence-status-unknown"}
    return {f.status for f in result.for_licence(number) if f.rule_id in status_rules}


def assert_headline(result) -> None:
    # one status finding per licence
    assert _status(result, "B2-20210247") == {"expired"}
    assert _status(result, "B2-20192648") == {"expired"}
    assert _status(result, "B1-20195402") == {"valid"}
    assert _status(result, "京ICP证020001号") == {"expiring"}
    assert _status(result, "京B2-20240286") == {"unknown"}
    unknown = _finding(result.findings, "licence-status-unknown", "京B2-20240286")[0]
    assert "unreadable" in unknown.message

    (b1_renewal,) = _finding(result.findings, "renewal-due", "B1-20195402")
    assert b1_renewal.due_date == D(2029, 4, 26) and b1_renewal.severity == "info"
    (overdue,) = _finding(result.findings, "renewal-overdue", "京ICP证020001号")
    assert overdue.severity == "error" and overdue.due_date == D(2026, 9, 29)
    assert "overdue since 2026-09-29" in overdue.message
    assert not _finding(result.findings, "renewal-overdue", "B2-20210247")  # expired: no longer a renewal
    assert result.has_errors


def test_headline_in_memory(result):
    assert_headline(result)


def test_headline_on_embedded_store(tmp_path):
    store = open_store(store_dir=str(tmp_path / "kg-store"))
    try:
        assert ingest([SAMPLES], store).ok
        res = check(store, AS_OF)
        assert_headline(res)
        assert len(store.query((ROOT / "queries" / "findings.rq").read_text(encoding="utf-8"),
                               {"as_of": _date_term(AS_OF), "severity_floor": Literal("info")}).rows) == len(res.findings)
    finally:
        store.close()


def test_headline_and_findings_graph_on_every_backend(store):
    """memory, embedded and a real Oxigraph server (the ``store`` fixture of tests/conftest.py)."""
    assert ingest([SAMPLES], store).ok
    res = check(store, AS_OF)
    assert_headline(res)
    check(store, AS_OF)  # replaced, not added
    df = api.run_query("findings", store, {"as_of": AS_OF, "severity_floor": "info"}).to_dataframe()
    assert len(df) == len(res.findings)
    assert list(df["severity"])[:3] == ["error"] * 3
    # by default the listing stops at warnings; an unknown floor is refused, not read as "info"
    by_severity = res.to_dataframe()["severity"].value_counts().to_dict()
    default = api.run_query("findings", store, {"as_of": AS_OF}).to_dataframe()
    assert set(default["severity"]) == {"error", "warning"}
    assert len(default) == by_severity["error"] + by_severity["warning"]
    errors = api.run_query("findings", store, {"as_of": AS_OF, "severity_floor": "ERROR"}).to_dataframe()
    assert set(errors["severity"]) == {"error"} and len(errors) == by_severity["error"]
    with pytest.raises(ParameterError, match="severity_floor"):
        api.run_query("findings", store, {"as_of": AS_OF, "severity_floor": "fatal"})


def _date_term(day: dt.date):
    from rdflib import Literal
    from rdflib.namespace import XSD

    return Literal(day.isoformat(), datatype=XSD.date)


def test_holder_name_discrepancy_quotes_both_spellings_and_lines(result):
    (f,) = _finding(result.findings, "holder-name-discrepancy", "B1-20195402")
    assert f.quotes == ("北京掌全通信息科技有限公司", "北京掌全通信信息科技有限公司")
    assert f.lines == (9, 41)
    assert "「北京掌全通信息科技有限公司」 (line 9)" in f.message
    assert "「北京掌全通信信息科技有限公司」 (line 41)" in f.message
    assert len(f.evidence) == 2


def test_icp_clauses_for_excluded_services_do_not_apply(result):
    found = {f.clause_id: f for f in _finding(result.findings, "clause-not-applicable", "京ICP证020001号")}
    assert set(found) == {"15.12", "15.14"}
    assert "信息搜索查询服务" in found["15.12"].message and "excludes" in found["15.12"].message
    assert "信息即时交互服务" in found["15.14"].message
    assert found["15.12"].status == "not-applicable"
    assert 111 in found["15.12"].lines  # the clause's line on the certificate


def test_b1_clause_16_applies_to_b13_only(result):
    (f,) = _finding(result.findings, "clause-scoped-to-business-type", "B1-20195402", "16")
    assert "B13" in f.message and "only" in f.message
    assert "16.1, 16.2, 16.3, 16.4, 16.5, 16.6, 16.7, 16.8" in f.message
    blocks = {g.clause_id for g in _finding(result.findings, "clause-scoped-to-business-type", "B1-20195402")}
    assert blocks == {"15", "16", "17"}


def test_annual_report_next_window_for_valid_licences(result):
    (b1,) = _finding(result.findings, "annual-report", "B1-20195402")
    assert b1.due_date == D(2027, 3, 31) and b1.status == "upcoming"
    (icp,) = _finding(result.findings, "annual-report", "京ICP证020001号")
    assert "only if the licence is renewed" in icp.message  # it expires before the window opens
    assert not _finding(result.findings, "annual-report", "B2-20210247")


def test_findings_sorted_by_severity(result):
    order = {"error": 0, "warning": 1, "info": 2}
    ranks = [order[f.severity] for f in result.findings]
    assert ranks == sorted(ranks)
    df = result.to_dataframe()
    assert list(df.columns[:4]) == ["number", "rule", "severity", "status"] and len(df) == len(result.findings)


# --- every rule: a case that triggers it and one that does not -------------------------------------------------

Case = Callable[[], tuple[tuple[Certificate, ...], dict]]


def _edit(number: str, fn: Callable[[Certificate], None]) -> Certificate:
    cert = sample(number)
    fn(cert)
    return cert


def _set_issue(day: dt.date) -> Callable[[Certificate], None]:
    def f(c: Certificate) -> None:
        c.issue_date.value = day
    return f


def _clear_issue(c: Certificate) -> None:
    c.issue_date.value = None


def _no_variants(c: Certificate) -> None:
    assert c.company is not None
    c.company.variants = []


def _add_b2_type(c: Certificate) -> None:
    auth = c.authorisations[0].model_copy(deep=True)
    auth.business_type, auth.business_type_printed = "B21", "在线数据处理与交易处理业务"
    c.authorisations.append(auth)


def _unknown_type(c: Certificate) -> None:
    c.authorisations[0].business_type = "B19"


def _nationwide(c: Certificate) -> None:
    c.authorisations[0].coverage = [CoverageEntry(printed="全国", region="CN")]


def _number_year(year: int) -> Callable[[Certificate], None]:
    def f(c: Certificate) -> None:
        c.licence_number.first_issued_year = year
    return f


def _clear_exclusions(c: Certificate) -> None:
    for a in c.authorisations:
        a.excludes = []


def _type_b21(c: Certificate) -> None:
    c.authorisations[0].business_type = "B21"


def _same_holder_as_icp(c: Certificate) -> None:
    icp = _parsed("京ICP证020001号")
    assert c.company is not None and icp.company is not None
    c.company.name = icp.company.name
    c.company.variants = []


CASES: dict[str, tuple[Case, Case]] = {
    "licence-valid": (
        lambda: ((sample("B1-20195402"),), {}),
        lambda: ((sample("B1-20195402"),), {"as_of": D(2029, 6, 1)}),  # within 90 days of expiry
    ),
    "licence-expiring": (
        lambda: ((sample("京ICP证020001号"),), {}),
        lambda: ((sample("京ICP证020001号"),), {"days": 10}),
    ),
    "licence-expired": (
        lambda: ((sample("B2-20210247"),), {}),
        lambda: ((sample("B2-20210247"),), {"as_of": D(2025, 12, 31)}),
    ),
    "licence-status-unknown": (
        lambda: ((sample("京B2-20240286"),), {}),
        lambda: ((sample("B1-20195402"),), {}),
    ),
    "renewal-overdue": (
        lambda: ((sample("京ICP证020001号"),), {}),
        lambda: ((sample("京ICP证020001号"),), {"as_of": D(2026, 9, 29)}),  # the last day itself is on time
    ),
    "renewal-due": (
        lambda: ((sample("B1-20195402"),), {}),
        lambda: ((sample("京ICP证020001号"),), {}),
    ),
    "annual-report": (
        lambda: ((sample("B1-20195402"),), {}),
        lambda: ((sample("B2-20192648"),), {}),  # expired
    ),
    "clause-not-applicable": (
        lambda: ((sample("京ICP证020001号"),), {}),
        lambda: ((_edit("京ICP证020001号", _clear_exclusions),), {}),
    ),
    "clause-scoped-to-business-type": (
        lambda: ((sample("B1-20195402"),), {}),
        lambda: ((sample("B2-20192648"),), {}),  # one business type only
    ),
    "clause-block-type-not-authorised": (
        lambda: ((_edit("B2-20192648", _type_b21),), {}),  # clause 15 governs B22, licence now says B21
        lambda: ((sample("B2-20192648"),), {}),
    ),
    "dates-unreadable": (
        lambda: ((_edit("B1-20195402", _clear_issue),), {}),
        lambda: ((sample("B1-20195402"),), {}),
    ),
    "holder-name-discrepancy": (
        lambda: ((sample("B1-20195402"),), {}),
        lambda: ((_edit("B1-20195402", _no_variants),), {}),
    ),
    "licence-class-mismatch": (
        lambda: ((_edit("B1-20195402", _add_b2_type),), {}),
        lambda: ((sample("B1-20195402"),), {}),
    ),
    "provincial-coverage-outside-province": (
        lambda: ((_edit("京B2-20240286", _nationwide),), {}),
        lambda: ((sample("京B2-20240286"),), {}),
    ),
    "issue-after-expiry": (
        lambda: ((_edit("B1-20195402", _set_issue(D(2030, 1, 1))),), {}),
        lambda: ((sample("B1-20195402"),), {}),
    ),
    "number-year-after-issue": (
        lambda: ((_edit("B1-20195402", _number_year(2025)),), {}),  # issued 2024-09-10
        lambda: ((sample("B1-20195402"),), {}),  # 2019 number re-issued in 2024: fine
    ),
    "business-type-not-in-catalogue": (
        lambda: ((_edit("B1-20195402", _unknown_type),), {}),
        lambda: ((sample("B1-20195402"),), {}),
    ),
    "provincial-licence-covered": (
        # the ICP holder also holds a nationwide cross-regional B25 licence issued later (2023-05-31)
        lambda: ((sample("京ICP证020001号"), _edit("B2-20210247", _same_holder_as_icp)), {}),
        lambda: ((sample("京ICP证020001号"), sample("B2-20210247")), {}),  # different holders
    ),
}


def test_every_as_of_rule_has_cases():
    assert set(CASES) == {r.id for r in list_rules(kind="as-of")}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_triggers_on_crafted_case(rule_id):
    certs, kw = CASES[rule_id][0]()
    findings = fired(rule_id, *certs, **kw)
    assert findings, f"{rule_id} did not fire"
    rule = get_rule(rule_id)
    for f in findings:
        assert f.severity == rule.severity and f.message and "?" not in f.message, f.message
        assert f.licence.startswith("https://w3id.org/licence-kg/id/licence/")


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_silent_on_control_case(rule_id):
    certs, kw = CASES[rule_id][1]()
    assert fired(rule_id, *certs, **kw) == []


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def oxigraph_store(request, tmp_path_factory):
    s = make_store(request.param, tmp_path_factory.mktemp("o"), request)
    yield s
    s.close()


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_crafted_cases_give_the_same_findings_on_oxigraph(rule_id, oxigraph_store):
    """Each rule's crafted and control case on the embedded store and the Oxigraph server, against rdflib's
    answer: the same findings, down to their keys and messages. The rules are written in forms the engines
    evaluate differently (docs/stores.md); the crafted cases are the only data where every rule fires (seven
    never do on the synthetic register of tests/test_query_engines.py)."""
    def seen(findings):
        return sorted(findings, key=lambda f: f.key)

    for make in CASES[rule_id]:
        certs, kw = make()
        oxigraph_store.update("DROP ALL")
        store_with(*certs, store=oxigraph_store)
        got = check(oxigraph_store, kw.get("as_of", AS_OF), expiring_days=kw.get("days", 90), write=False,
                    rules=[get_rule(rule_id)]).findings
        assert seen(got) == seen(fired(rule_id, *certs, **kw))


def test_crafted_details():
    (mismatch,) = fired("licence-class-mismatch", _edit("B1-20195402", _add_b2_type))
    assert "B1 licence authorises B21" in mismatch.message and "class B2" in mismatch.message
    (outside,) = fired("provincial-coverage-outside-province", _edit("京B2-20240286", _nationwide))
    assert "全国" in outside.message and "北京市" in outside.message
    (unknown,) = fired("business-type-not-in-catalogue", _edit("B1-20195402", _unknown_type))
    assert "B19" in unknown.message and "authorised" in unknown.message
    (year,) = fired("number-year-after-issue", _edit("B1-20195402", _number_year(2025)))
    assert "2025" in year.message and "2024-09-10" in year.message
    (after,) = fired("issue-after-expiry", _edit("B1-20195402", _set_issue(D(2030, 1, 1))))
    assert after.lines == (31, 35)
    (covered,) = fired("provincial-licence-covered", sample("京ICP证020001号"),
                       _edit("B2-20210247", _same_holder_as_icp))
    assert covered.number == "京ICP证020001号" and covered.due_date == D(2023, 6, 30)
    assert covered.status == "overdue" and "B2-20210247" in covered.message
    dates = fired("dates-unreadable", sample("京B2-20240286"))
    assert {f.quotes for f in dates} == {("202年0月2月",)} and len(dates) == 2


def _unknown_type_every_way(c: Certificate) -> None:
    """An unknown code in each of the five places a licence refers to a business type."""
    c.authorisations[0].business_type = "B19"
    c.authorisations[0].limited_to = ["B18"]
    c.authorisations[0].excludes = ["B17"]
    first, second = c.all_clauses()[:2]
    first.applies_to = ["B16"]
    second.governs_business_type = "B15"


def test_unknown_business_type_found_in_every_place_it_can_be_referred_to():
    """Regression for the rewrite of business-type-not-in-catalogue (the distinct types of each property tested
    against the catalogue first, then their items): each of its five branches still finds its item, with its role
    and, for a clause, the clause's id. Also the regression for findings merged by their key: the three on the
    authorisation share licence, line and status and differ only in their message."""
    found = fired("business-type-not-in-catalogue", _edit("B1-20195402", _unknown_type_every_way))
    roles = {m.group(1): m.group(2) for m in (re.search(r"business type (B1\d) \((.+?)\)", f.message) for f in found) if m}
    assert roles == {"B19": "authorised", "B18": "仅限, limited to", "B17": "不含, excluded",
                     "B16": "适用于, clause applies to", "B15": "clause block governs"}
    clauses = {f.clause_id for f in found if f.clause_id}
    assert len(found) == 5 and len(clauses) == 2


def _coverage(region: str, printed: str) -> Callable[[Certificate], None]:
    def f(c: Certificate) -> None:
        for a in c.authorisations:
            a.coverage = [CoverageEntry(printed=printed, region=region)]
    return f


@pytest.mark.parametrize("case", ["other-province", "type-not-covered", "provincial-expired"])
def test_provincial_licence_not_covered(case):
    """Regression for the rewrite of provincial-licence-covered (counts of covered types instead of nested
    NOT EXISTS): a provincial licence is covered only if every one of its types is authorised in its
    province by the cross-regional licence, and only while it is in force."""
    icp, cross = sample("京ICP证020001号"), _edit("B2-20210247", _same_holder_as_icp)
    as_of = AS_OF
    if case == "other-province":
        _coverage("31", "上海市")(cross)
    elif case == "type-not-covered":
        _add_b2_type(icp)  # B21 besides B25; the cross-regional licence authorises B25 only
    else:
        as_of = icp.expiry_date.value + dt.timedelta(days=1)
    assert fired("provincial-licence-covered", icp, cross, as_of=as_of) == []  # unchanged, the pair is covered (CASES)


def test_provincial_licence_covered_by_a_province_list():
    """Coverage by the province itself (not 全国) counts, through skos:broader* on the region."""
    cross = _edit("B2-20210247", _same_holder_as_icp)
    _coverage("11", "北京市")(cross)
    (covered,) = fired("provincial-licence-covered", sample("京ICP证020001号"), cross)
    assert covered.number == "京ICP证020001号"


def test_check_pauses_the_cyclic_gc_and_restores_it(monkeypatch):
    """kg.rdfterms.gc_paused around the rules and the findings graph (at 10^5, the GC's full passes cost more
    than building the findings' N-Quads); collection is back on afterwards, also after an error."""
    import gc

    import kg.compliance as compliance

    seen = []
    real = compliance.run_rows
    monkeypatch.setattr(compliance, "run_rows", lambda *a, **k: (seen.append(gc.isenabled()), real(*a, **k))[1])
    assert fired("licence-valid", sample("B1-20195402")) and seen == [False] and gc.isenabled()
    monkeypatch.setattr(compliance, "run_rows", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        fired("licence-valid", sample("B1-20195402"))
    assert gc.isenabled()


def test_rules_run_side_by_side_with_the_same_findings(monkeypatch, tmp_path):
    """On the embedded store the rules run on several threads (pyoxigraph evaluates with the GIL released);
    the findings and their order are those of one thread."""
    import threading

    import kg.compliance as compliance

    store = store_with(*(sample(n) for n in FILES), store=make_store("embedded", tmp_path, None))
    try:
        assert store.parallel_reads >= 1 and MemoryStore.parallel_reads == 1
        alone = check(store, AS_OF, write=False, workers=1).findings
        together = threading.Barrier(2, timeout=10)  # broken (an error) unless two rules are evaluated at once
        real = compliance.run_rows

        def meet(rule, *a, **k):
            if rule.id in ("licence-valid", "annual-report"):
                together.wait()
            return real(rule, *a, **k)

        monkeypatch.setattr(compliance, "run_rows", meet)
        both = check(store, AS_OF, write=False, workers=2).findings
        assert both == alone and len(alone) > 10
    finally:
        store.close()


def test_a_failing_rule_stops_the_check_and_writes_nothing(monkeypatch, tmp_path):
    import kg.compliance as compliance

    store = store_with(sample("B1-20195402"), store=make_store("embedded", tmp_path, None))
    started = []
    real = compliance.run_rows

    def fail(rule, *a, **k):
        started.append(rule.id)
        if rule.id == "annual-report":  # the first rule
            raise StoreError("disk gone")
        time.sleep(0.2)  # the others take a while, as at scale: the error arrives while they run
        return real(rule, *a, **k)

    monkeypatch.setattr(compliance, "run_rows", fail)
    try:
        with pytest.raises(StoreError, match="disk gone"):
            check(store, AS_OF, workers=2)
        assert findings_graph_iri(AS_OF) not in store.graph_names()
        assert len(started) < len(list_rules(kind="as-of"))  # the rules not started by then were not run
    finally:
        store.close()


def test_annual_report_window_open_in_first_quarter():
    (f,) = fired("annual-report", sample("B1-20195402"), as_of=D(2027, 2, 10))
    assert f.status == "open" and f.due_date == D(2027, 3, 31) and "open now" in f.message
    (f,) = fired("annual-report", sample("B1-20195402"), as_of=D(2027, 3, 31))
    assert f.status == "open"
    (f,) = fired("annual-report", sample("B1-20195402"), as_of=D(2027, 4, 1))
    assert f.status == "upcoming" and f.due_date == D(2028, 3, 31)


# --- findings graph ---------------------------------------------------------------------------------------------


def test_findings_graph_is_queryable_and_replaced_not_duplicated():
    store = store_with(*(sample(n) for n in FILES))
    first = check(store, AS_OF)
    graph = findings_graph_iri(AS_OF)
    assert first.graph == graph and graph in store.graph_names()
    before = store.graph_nquads(graph)
    df = api.run_query("findings", store, {"as_of": AS_OF, "severity_floor": "info"}).to_dataframe()
    assert len(df) == len(first.findings)
    assert list(df["severity"]) == sorted(df["severity"], key={"error": 0, "warning": 1, "info": 2}.get)
    overdue = df[(df["rule_id"] == "renewal-overdue")].iloc[0]
    assert overdue["number"] == "京ICP证020001号" and overdue["due_date"] == D(2026, 9, 29)
    assert overdue["evidence_lines"] == "75"

    again = check(store, AS_OF)
    assert store.graph_nquads(graph) == before  # replaced, identical
    assert len(api.run_query("findings", store, {"as_of": AS_OF, "severity_floor": "info"}).to_dataframe()) == len(again.findings)

    check(store, D(2027, 1, 15))  # another date: its own graph, the first one kept
    assert {graph, findings_graph_iri(D(2027, 1, 15))} <= store.graph_names()
    later = api.run_query("findings", store, {"as_of": "2027-01-15", "severity_floor": "info"}).to_dataframe()
    assert "京ICP证020001号" in set(later[later["rule_id"] == "licence-expired"]["number"])
    assert len(api.run_query("findings", store, {"as_of": AS_OF, "severity_floor": "info"}).to_dataframe()) == len(first.findings)


def test_findings_graph_describes_rules_and_evidence():
    store = store_with(sample("B1-20195402"))
    check(store, AS_OF)
    nq = store.graph_nquads(findings_graph_iri(AS_OF))
    assert "<https://w3id.org/licence-kg/id/rule/holder-name-discrepancy>" in nq
    assert '"公司名称前后不一致"@zh' in nq and '"Holder name spelled differently"@en' in nq
    assert "evidence/B1-20195402_company-variant-1" in nq
    assert '"北京掌全通信信息科技有限公司"@zh' in nq


def test_check_without_write_leaves_store_untouched():
    store = store_with(sample("B1-20195402"))
    names = store.graph_names()
    res = check(store, AS_OF, write=False)
    assert res.graph is None and store.graph_names() == names and res.findings


# --- event-triggered obligations ----------------------------------------------------------------------------------


def test_shareholder_change_obligations(samples_store):
    df = obligations_for_event(samples_store, "shareholder-change", AS_OF)
    # the two expired licences no longer bind; the unreadable one is kept
    assert set(df["number"]) == {"B1-20195402", "京B2-20240286", "京ICP证020001号"}
    assert set(df["clause"]) == {"11"} and set(df["due_date"]) == {D(2026, 12, 22)}
    one = obligations_for_event(samples_store, "shareholder-change", AS_OF, number="B1-20195402")
    assert list(one["number"]) == ["B1-20195402"]


@pytest.mark.parametrize("backend", ["memory", "embedded"])
@pytest.mark.parametrize("event", sorted(EVENTS))
def test_one_licences_event_obligations_are_its_rows_of_every_licences(samples_store, samples_store_dir, event,
                                                                       backend):
    """``number`` binds the rule's ?number (an optional parameter), so that the query starts from that licence;
    the rows must be those the whole register gives for it, in the same order."""
    store = samples_store if backend == "memory" else open_store(samples_store_dir, read_only=True)
    every = obligations_for_event(store, event, D(2025, 9, 30))
    assert not every.empty
    for number in sorted(set(every["number"])):
        one = obligations_for_event(store, event, D(2025, 9, 30), number=number)
        expected = every[every["number"] == number].reset_index(drop=True)
        assert one.reset_index(drop=True).equals(expected), (event, number)
    assert obligations_for_event(store, event, D(2025, 9, 30), number="no such licence").empty
    if backend == "embedded":
        store.close()


def test_security_assessment_lists_each_business_type_block(samples_store):
    df = obligations_for_event(samples_store, "security-assessment", AS_OF, number="B1-20195402")
    assert dict(zip(df["clause"], df["applies_to"], strict=True)) == {"15.7": "B11", "16.8": "B13", "17.9": "B14"}


def test_illegal_information_counts_working_days_over_national_day(samples_store):
    df = obligations_for_event(samples_store, "illegal-information", D(2025, 9, 30))
    assert set(df["due_date"]) == {D(2025, 10, 21)} and set(df["unit"]) == {"working_day"}
    assert df["calendar_note"].isna().all()
    assert "B2-20210247" in set(df["number"])  # still valid in 2025
    late = obligations_for_event(samples_store, "illegal-information", D(2099, 1, 2), number="B1-20195402")
    assert late.empty  # expired by then
    uncovered = obligations_for_event(samples_store, "illegal-information", D(2029, 1, 2), number="B1-20195402")
    assert uncovered.iloc[0]["calendar_note"] and "2029" in uncovered.iloc[0]["calendar_note"]


def test_cross_regional_event_only_for_cross_regional_licences(samples_store):
    df = obligations_for_event(samples_store, "cross-regional-licence", AS_OF)
    assert list(df["number"]) == ["B1-20195402"] and list(df["clause"]) == ["13"]


def test_office_change_and_unknown_event(samples_store):
    df = obligations_for_event(samples_store, "office-change", AS_OF)
    assert set(df["clause"]) == {"12"} and len(df) == 3
    assert set(EVENTS) == {"shareholder-change", "office-change", "cross-regional-licence",
                           "security-assessment", "illegal-information"}
    with pytest.raises(ParameterError, match="unknown event"):
        obligations_for_event(samples_store, "birthday", AS_OF)


# --- CLI --------------------------------------------------------------------------------------------------------


def _embedded(tmp_path: Path, *files: str) -> str:
    directory = str(tmp_path / "kg-store")
    store = open_store(store_dir=directory)
    try:
        assert ingest([SAMPLES / f for f in files], store).ok
    finally:
        store.close()
    return directory


def test_cli_check_exit_code_1_with_errors(tmp_path):
    directory = _embedded(tmp_path, *FILES.values())
    out = CliRunner().invoke(app, ["check", "--as-of", "2026-11-22", "--store", directory, "--format", "csv"])
    assert out.exit_code == 1, out.output
    assert "renewal-overdue" in out.stdout and "京ICP证020001号" in out.stdout


def test_cli_check_exit_code_0_without_errors(tmp_path):
    directory = _embedded(tmp_path, FILES["B1-20195402"])
    out = CliRunner().invoke(app, ["check", "--as-of", "2026-11-22", "--store", directory, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert "holder-name-discrepancy" in out.stdout


def test_cli_rules_obligations_and_bad_date(tmp_path):
    runner = CliRunner()
    rules = runner.invoke(app, ["rules", "--format", "csv"])
    assert rules.exit_code == 0 and "renewal-overdue,error" in rules.stdout
    directory = _embedded(tmp_path, FILES["B1-20195402"])
    ob = runner.invoke(app, ["obligations", "--event", "illegal-information", "--date", "2025-09-30",
                             "--store", directory, "--format", "csv"])
    assert ob.exit_code == 0, ob.output
    assert "2025-10-21" in ob.stdout
    bad = runner.invoke(app, ["check", "--as-of", "22/11/2026", "--store", directory])
    assert bad.exit_code == 5
    unknown = runner.invoke(app, ["obligations", "--event", "party", "--date", "2025-09-30", "--store", directory])
    assert unknown.exit_code == 5
