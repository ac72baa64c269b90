"""The named queries on the five sample certificates, with the same answers on every back end.

The ``store`` fixture (tests/conftest.py) yields a fresh memory, embedded and
real Oxigraph-server store in turn; every assertion below runs on all three.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rdflib import RDF

from kg import api, compliance, queries
from kg.errors import KgError
from kg.ingest import ingest
from kg.namespaces import LIC, SCHEMA
from kg.rules import natural_key

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"
AS_OF = "2026-11-22"


def rows(store, name, **params):
    return api.run_query(name, store, params).to_dataframe()


def test_licences_lists_all_five(loaded):
    df = rows(loaded, "licences")
    assert sorted(df["number"]) == sorted(
        ["京B2-20240286", "B2-20210247", "B2-20192648", "B1-20195402", "京ICP证020001号"]
    )
    b1 = df[df["number"] == "B1-20195402"].iloc[0]
    assert b1["holder"] == "北京掌全通信息科技有限公司"
    assert b1["class"] == "B1"
    assert b1["scope"] == "cross-regional"
    assert b1["issuer"] == "工业和信息化部"
    assert b1["issue_date"] == dt.date(2024, 9, 10)
    assert b1["expiry_date"] == dt.date(2029, 7, 25)
    unreadable = df[df["number"] == "京B2-20240286"].iloc[0]
    assert unreadable["issuer"] == "北京市通信管理局"
    assert unreadable["scope"] == "provincial"
    assert unreadable["expiry_date"] is None


def test_licence_record(loaded):
    df = rows(loaded, "licence", number="B1-20195402")
    assert len(df) == 1
    rec = df.iloc[0]
    assert rec["legal_representative"] == "蔡盛权"
    assert rec["business_types"].split(", ") == sorted(["B11", "B13", "B14"]) or set(
        rec["business_types"].split(", ")
    ) == {"B11", "B13", "B14"}
    assert rec["renewal_due"] == dt.date(2029, 4, 26)
    assert rec["file"] == "003_536d42bffd6cec79.txt"
    assert rec["clauses"] > 40


def test_expired(loaded):
    df = rows(loaded, "expired", as_of=AS_OF)
    assert sorted(df["number"]) == ["B2-20192648", "B2-20210247"]


def test_expiring_within_90_days(loaded):
    df = rows(loaded, "expiring", as_of=AS_OF, days=90)
    assert list(df["number"]) == ["京ICP证020001号"]
    assert rows(loaded, "expiring", as_of=AS_OF, days=10).empty


def test_renewal_due(loaded):
    df = rows(loaded, "renewal-due", as_of=AS_OF)
    assert list(df["number"]) == ["京ICP证020001号"]
    assert df.iloc[0]["renewal_due"] == dt.date(2026, 9, 29)


@pytest.mark.parametrize("region", ["广东", "44", "CN-GD", "广东省"])
def test_authorised_idc_in_guangdong(loaded, region):
    df = rows(loaded, "authorised", business_type="B11", region=region)
    assert set(df["holder"]) == {"北京掌全通信息科技有限公司"}


def test_authorised_nationwide_covers_every_province(loaded):
    # B13 is printed 全国 on B1-20195402: any province matches.
    assert set(rows(loaded, "authorised", business_type="B13", region="新疆")["number"]) == {"B1-20195402"}
    # B14 lists 12 provinces, not Xinjiang.
    assert rows(loaded, "authorised", business_type="互联网接入服务业务", region="新疆").empty
    # Multi-party communication (B22) is 全国 on B2-20192648; B2 is its parent class.
    assert "B2-20192648" in set(rows(loaded, "authorised", business_type="B2", region="CN-SC")["number"])


def test_authorisation_without_coverage_is_authorised_nowhere(loaded):
    # Regression: with the coverage read by an OPTIONAL, an authorisation whose coverage is unreadable joined
    # every region of the walk (an unbound variable is compatible with any value).
    lic = "https://w3id.org/licence-kg/id/licence/BJ-B2-20240286"
    auth = "https://w3id.org/licence-kg/id/authorisation/BJ-B2-20240286_B11"
    graph = "https://w3id.org/licence-kg/id/graph/BJ-B2-20240286"
    loaded.add_to_graph(graph, (
        f"<{lic}> <https://w3id.org/licence-kg/def#authorisation> <{auth}> <{graph}> .\n"
        f"<{auth}> <https://w3id.org/licence-kg/def#businessType> "
        f"<https://w3id.org/licence-kg/vocab/business-type/B11> <{graph}> .\n"
    ))
    assert set(rows(loaded, "authorised", business_type="B11", region="广东")["number"]) == {"B1-20195402"}
    for region in ("全国", "北京", "新疆"):
        assert "京B2-20240286" not in set(rows(loaded, "authorised", business_type="B11", region=region)["number"])


def test_obligations_marks_excluded_services(loaded):
    df = rows(loaded, "obligations", number="京ICP证020001号")
    by_id = {r["clause_id"]: r for r in df.to_dict(orient="records")}
    assert {"1", "12", "15", "15.12", "15.14"} <= set(by_id)
    not_applicable = {cid for cid, r in by_id.items() if not r["applicable"]}
    assert not_applicable == {"15.12", "15.14"}
    assert "信息搜索查询服务" in by_id["15.12"]["reason"]
    assert "90" in by_id["12"]["deadlines"]
    assert "外商投资电信企业管理规定" in by_id["11"]["regulations"]


def test_deadlines(loaded):
    df = rows(loaded, "deadlines")
    icp = df[df["number"] == "京ICP证020001号"]
    renewal = icp[(icp["clause_id"] == "12") & (icp["relation"] == "before")]
    assert set(renewal["due_date"]) == {dt.date(2026, 9, 29)}
    keys = [(n, natural_key(c), t) for n, c, t in zip(df["number"], df["clause_id"], df["text"], strict=True)]
    assert keys == sorted(keys)
    annual = df[df["recurrence"] == "annual"]
    assert set(annual["window"]) == {"Q1"} and len(annual) == 5
    working = df[df["unit"] == "working_day"]
    assert set(working["amount"]) == {10}


def test_clause_ids_are_listed_in_printed_order(loaded):
    """Regression: clause ids were ordered as strings ("11" before "9", "17.9" before "9")."""
    deadlines = rows(loaded, "deadlines")
    b1 = list(dict.fromkeys(deadlines[deadlines["number"] == "B1-20195402"]["clause_id"]))
    assert b1 == ["9", "11", "12", "13", "14", "15.7", "16.8", "17.9"]
    positions = list(dict.fromkeys(rows(loaded, "clause-variants")["clause_id"]))
    assert positions == sorted(positions, key=natural_key) and positions != sorted(positions)


def test_every_query_sorting_clause_ids_uses_the_same_printed_order_key():
    """SPARQL has no functions: the key is written out in each query, and must not drift between them."""
    key = ('COALESCE(xsd:integer(REPLACE(?clause_id, "^([0-9]+).*$", "$1")), -1) * 1000 + '
           'COALESCE(xsd:integer(REPLACE(STRAFTER(?clause_id, "."), "^([0-9]+).*$", "$1")), -1)')
    checked = set()
    for path in sorted((ROOT / "queries").glob("*.rq")):
        text = " ".join(line.split("#")[0] for line in path.read_text(encoding="utf-8").splitlines())
        order_by = " ".join(text.split("ORDER BY")[-1].split()) if "ORDER BY" in text else ""
        # obligations orders by line first; wording-licences lists one clause position
        if "?clause_id" in order_by and path.stem not in ("obligations", "wording-licences"):
            assert key in " ".join(text.split()).replace("( ", "(").replace(" )", ")"), path.name
            checked.add(path.stem)
    assert checked == {"clause-variants", "deadlines", "findings", "licence-findings"}


def test_findings_come_in_the_order_kg_check_lists_them(loaded):
    """The stored findings read back by `findings` in kg check's order (severity, licence, rule, clause, message)."""
    result = compliance.check(loaded, dt.date.fromisoformat(AS_OF))
    df = rows(loaded, "findings", as_of=AS_OF, severity_floor="info")
    listed = [(n, r, c if isinstance(c, str) else None, m)
              for n, r, c, m in zip(df["number"], df["rule_id"], df["clause_id"], df["message"], strict=True)]
    assert listed == [(f.number, f.rule_id, f.clause_id, f.message) for f in result.findings]


def test_licence_findings_are_that_licences_rows_of_findings(loaded):
    """The drill-down gives, for each licence, exactly its rows of `findings` (every severity), in the same order."""
    compliance.check(loaded, dt.date.fromisoformat(AS_OF))
    everything = rows(loaded, "findings", as_of=AS_OF, severity_floor="info")
    assert len(everything) > 0
    columns = [c for c in everything.columns if c != "number"]
    for number in sorted(set(everything["number"])):
        own = rows(loaded, "licence-findings", number=number, as_of=AS_OF)
        assert list(own.columns) == columns
        expected = everything[everything["number"] == number][columns]
        # evidence lines are a GROUP_CONCAT, whose order SPARQL leaves to the engine
        tidy = lambda df: [tuple(sorted(v.split(", ")) if k == "evidence_lines" and isinstance(v, str) else v  # noqa: E731
                                 for k, v in zip(columns, row, strict=True)) for row in df.itertuples(index=False)]
        assert tidy(own) == tidy(expected), number
    assert rows(loaded, "licence-findings", number="B1-20195402", as_of="2026-11-21").empty  # no check for that date


def test_deadlines_of_a_clause_come_by_text_not_by_iri(store):
    """The order does not decode each deadline's IRI (costly at 10^5); here IRI order and text order differ."""
    g = "<urn:ex:graph>"
    store.replace_graph("urn:ex:graph", "".join(f"{s} <{p}> {o} {g} .\n" for s, p, o in [
        ("<urn:ex:l>", RDF.type, f"<{LIC.Licence}>"),
        ("<urn:ex:l>", SCHEMA.identifier, '"B1-20990001"'),
        ("<urn:ex:l>", LIC.clause, "<urn:ex:c>"),
        ("<urn:ex:c>", LIC.clauseId, '"12"'),
        ("<urn:ex:c>", LIC.deadline, "<urn:ex:d1>"),
        ("<urn:ex:c>", LIC.deadline, "<urn:ex:d2>"),
        ("<urn:ex:d1>", LIC.deadlineText, '"提前90日"@zh'),
        ("<urn:ex:d2>", LIC.deadlineText, '"变更后30日内"@zh'),
    ]))
    assert list(rows(store, "deadlines")["text"]) == ["变更后30日内", "提前90日"]


def test_regulations(loaded):
    df = rows(loaded, "regulations")
    counts = dict(zip(df["title"], df["licences"], strict=True))
    assert counts["中华人民共和国电信条例"] == 5
    assert counts["商用密码管理条例"] == 1
    assert "特别规定事项" not in counts and "电信业务市场综合管理信息系统" not in counts
    order = df[df["title"] == "通信网络安全防护管理办法"].iloc[0]["order_no"]
    assert order == "工业和信息化部令第11号"


def test_clause_variants(loaded):
    df = rows(loaded, "clause-variants")
    # 004's newer wording of clauses 11 and 12 differs from the other four.
    for cid in ("11", "12"):
        variants = df[df["clause_id"] == cid].sort_values("licences")
        assert list(variants["licences"]) == [1, 4], cid
        odd = rows(loaded, "wording-licences", template=variants.iloc[0]["template"])
        assert list(odd["number"]) == ["京ICP证020001号"]
        assert list(odd["clause_id"]) == [cid]
        common = rows(loaded, "wording-licences", template=variants.iloc[1]["template"])
        assert len(common) == 4 and "京ICP证020001号" not in set(common["number"])
    # clause 1 is worded the same on all five certificates
    assert "1" not in set(df["clause_id"])


def test_wording_licences_give_each_clauses_lines(loaded):
    """The first and last line of each clause printing a wording, as the parser read them; a clause printed on
    one line stores no lic:endLine, and its end line is its first line."""
    from kg.parser import parse_file

    lines = {(cert.licence_number.printed, c.id): (c.line, c.end_line)
             for cert in (parse_file(p) for p in sorted(SAMPLES.glob("*.txt"))) for c in cert.all_clauses()}
    templates = [str(row[0]) for row in loaded.query(
        "SELECT DISTINCT ?t WHERE { ?c <https://w3id.org/licence-kg/def#template> ?t }").rows]
    got = {}
    for template in templates:
        df = rows(loaded, "wording-licences", template=template)
        for number, cid, line, end in zip(df["number"], df["clause_id"], df["line"], df["end_line"], strict=True):
            got[(number, cid)] = (int(line), int(end))
    assert got == lines
    assert sum(1 for line, end in lines.values() if line == end) > 50
    assert sum(1 for line, end in lines.values() if line < end) > 10


def test_clause_variants_ignore_wordings_no_licence_prints_any_more(loaded):
    # a template left in the shared graph by a replaced certificate is not a variant of its position
    stale = "https://w3id.org/licence-kg/id/template/1/00000000000000000000"
    loaded.add_to_graph(
        "https://w3id.org/licence-kg/id/graph/templates",
        f'<{stale}> <https://w3id.org/licence-kg/def#clausePosition> "1" <https://w3id.org/licence-kg/id/graph/templates> .\n',
    )
    assert "1" not in set(rows(loaded, "clause-variants")["clause_id"])


def test_websites(loaded):
    df = rows(loaded, "websites")
    assert set(df["website"]) == {"懂车聚光", "空中信使"}
    kz = df[df["website"] == "空中信使"].iloc[0]
    assert set(kz["domains"].split()) == {
        "www.kongzhong.com", "www.kongzhong.net", "www.kongzhong.com.cn", "www.kongzhong.net.cn", "www.kong.net"
    }
    assert kz["access_provider"] == "北京华夏雅库网络科技有限公司"


HOSTILE = ['"} ; DROP ALL ; #', "B1-20195402\" } } DROP ALL { {", "'; CLEAR DEFAULT; '", "<x> } ; DELETE WHERE { ?s ?p ?o } #"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_parameter_is_a_literal(loaded, value):
    before = loaded.quad_count()
    assert rows(loaded, "obligations", number=value).empty
    assert rows(loaded, "licence", number=value).empty
    assert loaded.quad_count() == before


def test_reingest_is_idempotent(loaded):
    before = loaded.quad_count()
    graphs = loaded.graph_names()
    ingest([SAMPLES], loaded)
    ingest([SAMPLES], loaded)
    assert loaded.quad_count() == before
    assert loaded.graph_names() == graphs


def test_bad_files_beside_good_ones(store, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    for f in SAMPLES.glob("*.txt"):
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (folder / "empty.txt").write_bytes(b"")
    before = store.quad_count()
    report = ingest([folder], store)
    assert len(report.ingested) == 5
    assert sorted(Path(r.path).name for r in report.failed) == ["empty.txt", "scan.png"]
    assert all(r.reason and Path(r.path).name in r.reason for r in report.failed)
    assert not report.ok
    # the bad files changed nothing: a store with only the five gives the same count
    assert store.quad_count() > before


def test_every_query_file_has_a_header_and_runs(loaded):
    specs = queries.list_queries()
    assert len(specs) >= 11
    samples = {"number": "B1-20195402", "business_type": "B11", "region": "北京", "as_of": AS_OF,
               "template": rows(loaded, "clause-variants")["template"].iloc[0]}
    for spec in specs:
        assert spec.title and spec.description, spec.name
        params = {p.name: samples[p.name] for p in spec.params if p.default is None}
        rows(loaded, spec.name, **params)


def test_an_optional_parameter_is_unbound_unless_given(tmp_path):
    path = tmp_path / "one-or-all.rq"
    path.write_text("# title: t\n# param: number licence? | one licence, or all\n"
                    "SELECT ?number WHERE { ?l <https://schema.org/identifier> ?number }\n", encoding="utf-8")
    spec = queries.load_spec(path)
    assert spec.params == (queries.Param("number", "licence", None, "one licence, or all", optional=True),)
    assert queries.bindings_for(spec, {}) == {}
    assert queries.bindings_for(spec, {"number": None}) == {}
    assert str(queries.bindings_for(spec, {"number": "B1-20195402"})["number"]) == "B1-20195402"


def test_an_optional_parameter_with_a_default_is_refused(tmp_path):
    path = tmp_path / "both.rq"
    path.write_text("# param: number licence? = B1 | x\nSELECT * WHERE { ?s ?p ?o }\n", encoding="utf-8")
    with pytest.raises(KgError, match="optional and has a default"):
        queries.load_spec(path)


def test_running_a_query_again_does_not_tokenise_it_again(loaded, monkeypatch):
    """The update guard tokenised the whole text on every call, ~0.5 ms of a 3 ms point query; it is
    cached by text (as the ORDER BY split is), so a notebook running `obligations` for each licence pays
    it once. A changed text is read afresh."""
    from kg.store import sparql_text

    seen: list[str] = []
    real = sparql_text.tokens
    monkeypatch.setattr(sparql_text, "tokens", lambda text: seen.append(text) or real(text))
    queries.is_update.cache_clear()
    for _ in range(3):
        rows(loaded, "obligations", number="B1-20195402")
    assert len(seen) == 1
    assert queries.is_update("# changed\n" + queries.get("obligations").text) is False
    assert queries.is_update(queries.get("obligations").text + " ; DROP ALL") is True
    assert len(seen) == 3


def _optionals_run_per_row(node: object) -> list[str]:
    """The OPTIONALs of an algebra tree that Oxigraph would evaluate over the whole store (see below)."""
    from rdflib.plugins.sparql.parserutils import CompValue

    def loopable(p: object) -> bool:
        if not isinstance(p, CompValue):
            return False
        if p.name == "BGP":
            return len(p.triples) == 1
        if p.name == "Filter":
            return loopable(p.p)
        if p.name == "LeftJoin":
            return loopable(p.p1) and loopable(p.p2)
        return p.name == "ToMultiSet"  # a sub-select: its own scope, anchored on the parameter by its text

    bad: list[str] = []
    if isinstance(node, CompValue):
        if node.name == "LeftJoin" and not loopable(node.p2):
            bad.append(str(node.p2.name if isinstance(node.p2, CompValue) else node.p2))
        for key in ("p", "p1", "p2"):
            if key in node:
                bad += _optionals_run_per_row(node[key])
    return bad


POINT_QUERIES = [s for s in queries.list_queries() if any(p.type == "licence" for p in s.params)]


@pytest.mark.parametrize("spec", POINT_QUERIES, ids=lambda s: s.name)
def test_a_point_querys_optionals_are_lookups(spec):
    """Regression: ``authorisations`` took 2.2 s per licence at 10^4 (~3 ms once fixed).

    Oxigraph turns an OPTIONAL into a lookup per row only when its right side is one triple pattern, such
    patterns nested in OPTIONALs, or either with a FILTER (docs/stores.md); any other right side, e.g. three
    patterns in one group, is evaluated over the whole register and hash-joined, so a query for one
    licence costs as much as a listing. Sub-selects are allowed: they name the licence themselves.
    """
    from rdflib.plugins.sparql import prepareQuery

    assert _optionals_run_per_row(prepareQuery(spec.text).algebra) == [], spec.name


def test_the_point_query_lint_catches_an_optional_of_several_patterns():
    from rdflib.plugins.sparql import prepareQuery

    assert {s.name for s in POINT_QUERIES} >= {"licence", "authorisations", "obligations", "licence-findings"}
    text = """PREFIX : <urn:x:> SELECT * WHERE { ?l :id ?n OPTIONAL { ?l :a ?r . ?r :b ?c } }"""
    assert _optionals_run_per_row(prepareQuery(text).algebra) == ["BGP"]
    ok = """PREFIX : <urn:x:> SELECT * WHERE { ?l :id ?n OPTIONAL { ?l :a ?r OPTIONAL { ?r :b ?c FILTER(?c) } } }"""
    assert _optionals_run_per_row(prepareQuery(ok).algebra) == []
