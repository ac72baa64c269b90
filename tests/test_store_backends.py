"""The store contract: the same assertions on memory, embedded and a real Oxigraph server.

Test data is small hand-written N-Quads (no parser or ontology involved):
three licence graphs and a shared template graph, with the literal kinds that
differ between engines (explicit xsd:string, mixed-case language tags,
escapes, CJK, dates, numbers, booleans).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from pathlib import Path

import pandas as pd
import pyoxigraph as ox
import pytest
from rdflib import BNode, Literal, URIRef

from kg.errors import BindingError, QueryError, QueryTimeoutError, StoreError, StoreLockedError
from kg.store import open_store
from kg.store.base import Store, canonical_nquads, plain_nquads
from kg.store.embedded import JOURNAL_FILE, EmbeddedStore
from kg.store.memory import MemoryStore
from kg.store.terms import canonical_quads, from_json, inject_values, query_kind, sparql_term

EX = "http://example.org/"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
XSD_DATE, XSD_STRING = URIRef(XSD_NS + "date"), URIRef(XSD_NS + "string")
PREFIX = f"PREFIX ex: <{EX}>\n"
HOSTILE = '"} ; DROP ALL ; #'


def g(n: int | str) -> str:
    return f"{EX}graph/{n}"


def licence(n: int, company: str, expiry: str, *, version: str = "1") -> str:
    gr = f"<{g(n)}>"
    lic = f"<{EX}licence/{n}>"
    return "".join(f"{line} {gr} .\n" for line in [
        f"{lic} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}Licence>",
        f'{lic} <{EX}number> "B2-2024{n:04d}"^^<{XSD_NS}string>',
        f"{lic} <{EX}holder> <{EX}company/{company}>",
        f'<{EX}company/{company}> <{EX}name> "公司 {company}"@ZH-Hans',
        f'{lic} <{EX}validUntil> "{expiry}"^^<{XSD_NS}date>',
        f'{lic} <{EX}clauses> "{n * 10}"^^<{XSD_NS}integer>',
        f'{lic} <{EX}active> "true"^^<{XSD_NS}boolean>',
        f'{lic} <{EX}fee> "12.50"^^<{XSD_NS}decimal>',
        f'{lic} <{EX}note> "v{version}: he said \\"ok\\"\\nnext line \\\\ done"',
    ])


LICENCES = [(g(1), licence(1, "a", "2026-12-01")), (g(2), licence(2, "a", "2027-06-30")),
            (g(3), licence(3, "b", "2030-01-15"))]


@pytest.fixture
def loaded(store: Store) -> Store:
    store.replace_graphs(LICENCES)
    return store


def col(store: Store, sparql: str, bindings: dict | None = None) -> list:
    return [row[0] for row in store.query(PREFIX + sparql, bindings).rows]


# --- writes -------------------------------------------------------------------------


def test_replace_is_idempotent(loaded: Store) -> None:
    before = (loaded.quad_count(), loaded.graph_nquads(g(1)))
    loaded.replace_graph(g(1), licence(1, "a", "2026-12-01"))
    assert (loaded.quad_count(), loaded.graph_nquads(g(1))) == before
    assert loaded.quad_count() == 27


def test_replace_swaps_content(loaded: Store) -> None:
    other = loaded.graph_nquads(g(2))
    loaded.replace_graph(g(1), licence(1, "c", "2028-03-03", version="2"))
    assert loaded.quad_count() == 27
    assert col(loaded, "SELECT ?d WHERE { <http://example.org/licence/1> ex:validUntil ?d }") == [
        Literal("2028-03-03", datatype=XSD_DATE)]
    assert col(loaded, "SELECT ?c WHERE { <http://example.org/licence/1> ex:holder ?c }") == [URIRef(EX + "company/c")]
    assert "v1:" not in loaded.graph_nquads(g(1))
    assert loaded.graph_nquads(g(2)) == other


def test_replace_with_empty_content_drops_the_graph(loaded: Store) -> None:
    loaded.replace_graph(g(3), "")
    assert loaded.graph_names() == {g(1), g(2)}
    assert loaded.graph_nquads(g(3)) == ""


def test_graph_names_and_drop(loaded: Store) -> None:
    assert loaded.graph_names() == {g(1), g(2), g(3)}
    loaded.drop_graph(g(2))
    loaded.drop_graph(g(99))  # absent: not an error
    assert loaded.graph_names() == {g(1), g(3)}
    assert loaded.quad_count() == 18


def test_add_to_graph_has_set_semantics(store: Store) -> None:
    tpl = f"<{EX}template/1> <{EX}text> \"条款\" <{g('templates')}> .\n"
    store.add_to_graph(g("templates"), tpl)
    store.add_to_graph(g("templates"), tpl)
    store.add_to_graph(g("templates"), tpl.replace("template/1", "template/2"))
    assert store.quad_count() == 2


def test_triples_without_graph_go_into_the_graph_written(store: Store) -> None:
    store.replace_graph(g(7), f"<{EX}s> <{EX}p> <{EX}o> .\n")
    assert store.graph_nquads(g(7)) == f"<{EX}s> <{EX}p> <{EX}o> <{g(7)}> .\n"


def test_bad_input_changes_nothing(loaded: Store) -> None:
    before = loaded.graph_nquads(g(1))
    with pytest.raises(StoreError, match="malformed N-Quads"):
        loaded.replace_graph(g(1), f'<{EX}s> <{EX}p> "unterminated <{g(1)}> .\n')
    with pytest.raises(StoreError, match="not in the graph being written"):
        loaded.replace_graph(g(1), f"<{EX}s> <{EX}p> <{EX}o> <{g(2)}> .\n")
    with pytest.raises(StoreError, match="graph IRI"):
        loaded.replace_graph(f"{EX}g> {{ }} ; DROP ALL ; #", f"<{EX}s> <{EX}p> <{EX}o> .\n")
    assert loaded.graph_nquads(g(1)) == before
    assert loaded.quad_count() == 27


def test_blank_nodes_are_replaced_not_duplicated(store: Store) -> None:
    nq = f'_:x <{EX}p> "1" <{g(5)}> .\n_:x <{EX}q> _:y <{g(5)}> .\n_:y <{EX}r> "2" <{g(5)}> .\n'
    store.replace_graph(g(5), nq)
    first = store.graph_nquads(g(5))
    store.replace_graph(g(5), nq)
    assert store.quad_count() == 3
    assert store.graph_nquads(g(5)) == first
    assert "_:c14n" in first  # canonical blank node labels: equal graphs give equal text


def test_load_new_graphs_matches_replace(store: Store) -> None:
    store.replace_graph(g(1), licence(1, "z", "2020-01-01"))
    store.load_new_graphs([*LICENCES, (g(3), licence(3, "b", "2031-01-01"))])  # existing, new, repeated
    assert store.graph_names() == {g(1), g(2), g(3)}
    assert store.quad_count() == 27
    assert col(store, "SELECT ?c WHERE { <http://example.org/licence/1> ex:holder ?c }") == [URIRef(EX + "company/a")]
    assert col(store, "SELECT ?d WHERE { <http://example.org/licence/3> ex:validUntil ?d }") == [
        Literal("2031-01-01", datatype=XSD_DATE)]


def test_update_and_rejected_update(loaded: Store) -> None:
    loaded.update(f"INSERT DATA {{ GRAPH <{g(9)}> {{ <{EX}s> <{EX}p> 1 }} }}")
    assert g(9) in loaded.graph_names()
    with pytest.raises(QueryError):
        loaded.update("INSERT DATA { GRAPH <x> { oops")
    assert loaded.quad_count() == 28


# --- queries ------------------------------------------------------------------------


def test_union_default_graph(loaded: Store) -> None:
    numbers = col(loaded, "SELECT ?n WHERE { ?l a ex:Licence ; ex:number ?n } ORDER BY ?n")
    assert numbers == [Literal("B2-20240001"), Literal("B2-20240002"), Literal("B2-20240003")]


def test_distinct_across_graphs(loaded: Store) -> None:
    # company/a's name is in two graphs: pyoxigraph's union returns it once per graph, rdflib once; DISTINCT agrees
    names = col(loaded, "SELECT DISTINCT ?name WHERE { ?c ex:name ?name } ORDER BY ?name")
    assert names == [Literal("公司 a", lang="zh-hans"), Literal("公司 b", lang="zh-hans")]
    n = col(loaded, "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?l ex:holder ?c }")
    assert n == [Literal(2)]


def test_results_are_normalised(loaded: Store) -> None:
    rows = loaded.query(PREFIX + "SELECT DISTINCT ?n ?name WHERE { <http://example.org/licence/2> ex:number ?n ; ex:holder/ex:name ?name }").rows
    assert rows == [(Literal("B2-20240002"), Literal("公司 a", lang="zh-hans"))]
    assert rows[0][0].datatype is None  # the explicit xsd:string is gone on every back end
    note = col(loaded, "SELECT ?x WHERE { <http://example.org/licence/1> ex:note ?x }")
    assert note == [Literal('v1: he said "ok"\nnext line \\ done')]


def test_bindings_iri_literal_and_date(loaded: Store) -> None:
    holder = "SELECT ?l WHERE { ?l ex:holder ?c } ORDER BY ?l"
    assert col(loaded, holder, {"c": URIRef(EX + "company/b")}) == [URIRef(EX + "licence/3")]
    by_number = "SELECT ?l WHERE { ?l ex:number ?n }"
    assert col(loaded, by_number, {"n": Literal("B2-20240002")}) == [URIRef(EX + "licence/2")]
    assert col(loaded, by_number, {"n": Literal("B2-20240002", datatype=XSD_STRING)}) == [URIRef(EX + "licence/2")]
    expiring = "SELECT ?l WHERE { ?l ex:validUntil ?d FILTER(?d >= ?as_of && ?d <= ?until) } ORDER BY ?l"
    window = {"as_of": Literal(dt.date(2026, 11, 22)), "until": Literal(dt.date(2027, 11, 22))}
    assert col(loaded, expiring, window) == [URIRef(EX + "licence/1"), URIRef(EX + "licence/2")]
    projected = loaded.query(PREFIX + "SELECT ?c ?l WHERE { ?l ex:holder ?c } ORDER BY ?l",
                             {"?c": URIRef(EX + "company/a")}).rows
    assert projected == [(URIRef(EX + "company/a"), URIRef(EX + "licence/1")),
                         (URIRef(EX + "company/a"), URIRef(EX + "licence/2"))]


def test_bindings_reach_nested_groups(loaded: Store) -> None:
    q = """SELECT ?l ?late WHERE {
             ?l a ex:Licence .
             OPTIONAL { ?l ex:validUntil ?late FILTER(?late > ?cut) }
             FILTER EXISTS { ?l ex:holder ?c FILTER(?c != ?skip) }
             { SELECT ?l WHERE { ?l ex:clauses ?k FILTER(?k >= ?min) } }
           } ORDER BY ?l"""
    rows = loaded.query(PREFIX + q, {"cut": Literal(dt.date(2027, 1, 1)), "skip": URIRef(EX + "company/b"),
                                     "min": Literal(20)}).rows
    assert rows == [(URIRef(EX + "licence/2"), Literal("2027-06-30", datatype=XSD_DATE))]


def test_hostile_literal_is_just_a_literal(loaded: Store) -> None:
    before = (loaded.quad_count(), loaded.graph_nquads(g(1)))
    for q in ("SELECT ?l WHERE { ?l ex:number ?n }", "SELECT ?l WHERE { ?l ex:number ?x FILTER(?x = ?n) }",
              "ASK { ?l ex:number ?n }"):
        res = loaded.query(PREFIX + q, {"n": Literal(HOSTILE)})
        assert res.rows == [] and res.boolean in (None, False)
    assert (loaded.quad_count(), loaded.graph_nquads(g(1))) == before


def test_hostile_iris_and_blank_nodes_are_refused(loaded: Store) -> None:
    for bad in (URIRef(f"{EX}x> }} ; DROP ALL ; #"), URIRef("no scheme"), BNode(), "plain str",
                Literal("x", datatype=URIRef("http://x> ."))):
        with pytest.raises(BindingError):
            loaded.query(PREFIX + "SELECT ?l WHERE { ?l ex:holder ?c }", {"c": bad})
    with pytest.raises(BindingError):
        loaded.query("SELECT * WHERE { ?s ?p ?o }", {"o} DROP": Literal("x")})
    assert loaded.quad_count() == 27


def test_ask_and_construct(loaded: Store) -> None:
    assert loaded.query(PREFIX + "ASK { ?l ex:holder <http://example.org/company/b> }").boolean is True
    assert loaded.query(PREFIX + "ASK { ?l ex:holder ?c }", {"c": URIRef(EX + "company/z")}).boolean is False
    res = loaded.query(PREFIX + "CONSTRUCT { ?l ex:expires ?d } WHERE { ?l ex:validUntil ?d }")
    assert res.kind == "graph" and len(res.graph) == 3
    res = loaded.query(PREFIX + "CONSTRUCT WHERE { ?l ex:holder ?c }", {"c": URIRef(EX + "company/a")})
    assert len(res.graph) == 2
    assert res.to_dataframe().columns.tolist() == ["subject", "predicate", "object"]


def test_to_dataframe_types(loaded: Store) -> None:
    q = """SELECT DISTINCT ?l ?n ?name ?d ?k ?active ?fee ?missing WHERE {
             ?l ex:number ?n ; ex:holder/ex:name ?name ; ex:validUntil ?d ; ex:clauses ?k ;
                ex:active ?active ; ex:fee ?fee .
             OPTIONAL { ?l ex:nothing ?missing } } ORDER BY ?l"""
    df = loaded.query(PREFIX + q).to_dataframe()
    assert list(df.columns) == ["l", "n", "name", "d", "k", "active", "fee", "missing"]
    first = df.iloc[0]
    assert first["l"] == EX + "licence/1" and first["n"] == "B2-20240001" and first["name"] == "公司 a"
    assert first["d"] == dt.date(2026, 12, 1) and isinstance(first["d"], dt.date)
    assert df["k"].tolist() == [10, 20, 30] and df["k"].dtype == "int64"
    assert df["active"].dtype == bool and df["active"].all()
    assert df["fee"].dtype == "float64" and df["fee"].iloc[0] == 12.5
    assert df["missing"].tolist() == [None, None, None]
    assert loaded.query("ASK {}").to_dataframe().equals(pd.DataFrame({"boolean": [True]}))


def test_query_errors(loaded: Store) -> None:
    with pytest.raises(QueryError):
        loaded.query("SELECT ?x WHERE { ?x ?p }")


def test_export_reparses_to_the_same_quads(loaded: Store) -> None:
    expected = canonical_nquads(canonical_quads(list(ox.parse("".join(nq for _, nq in LICENCES), ox.RdfFormat.N_QUADS))))
    for fmt, rdf in (("trig", ox.RdfFormat.TRIG), ("nq", ox.RdfFormat.N_QUADS), ("jsonld", ox.RdfFormat.JSON_LD)):
        buf = io.BytesIO()
        loaded.export(buf, fmt)
        assert canonical_nquads(ox.parse(buf.getvalue(), rdf)) == expected, fmt
    buf = io.BytesIO()
    loaded.export(buf, "ttl")
    assert len(list(ox.parse(buf.getvalue(), ox.RdfFormat.TURTLE))) == 26  # union: company/a's name once
    with pytest.raises(StoreError, match="unknown export format"):
        loaded.export(io.BytesIO(), "xml")  # type: ignore[arg-type]


def test_readers_see_old_or_new_graph_never_half(store: Store) -> None:
    """A reader thread counts a graph's quads while a writer swaps two versions of it."""
    versions = [licence(4, "a", "2026-01-01", version="A"), licence(4, "b", "2029-01-01", version="B")]
    store.replace_graph(g(4), versions[0])
    done = threading.Event()
    counts: set[int] = set()

    def read() -> None:
        while not done.is_set():
            counts.add(int(store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g(4)}> {{ ?s ?p ?o }} }}").rows[0][0]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(40):
            store.replace_graph(g(4), versions[i % 2])
    finally:
        done.set()
        reader.join()
    assert counts == {9}


# the cancellation of an rdflib query is an exception raised in its thread; one that lands in a GC or weakref
# callback is printed and dropped ("Exception ignored"), which is why kg.store.base._cancel repeats it until
# the thread stops: pytest reports those drops as warnings, expected here
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_timeout(store: Store) -> None:
    store.replace_graph(g(8), "".join(f"<{EX}s{i}> <{EX}p> \"{i}\"^^<{XSD_NS}integer> <{g(8)}> .\n" for i in range(200)))
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z FILTER(?x + ?y + ?z > -1) }"
    with pytest.raises(QueryTimeoutError):
        store.query(slow, timeout=0.2)
    assert store.query("ASK { ?s ?p 199 }", timeout=30).boolean is True


# --- back-end specific ----------------------------------------------------------------------


def test_embedded_bulk_journal_recovery(tmp_path: Path) -> None:
    path = tmp_path / "kg-store"
    with EmbeddedStore(path) as s:
        s.load_new_graphs(LICENCES)
        assert not (path / JOURNAL_FILE).exists()
    (path / JOURNAL_FILE).write_text(f"{g(2)}\n{g(3)}\n")  # as if the process died during that bulk load
    with pytest.raises(StoreError, match="interrupted bulk load"):
        EmbeddedStore(path, read_only=True)
    with EmbeddedStore(path) as s:
        assert s.recovered_graphs == [g(2), g(3)]
        assert s.graph_names() == {g(1)}
    with EmbeddedStore(path, read_only=True) as r:
        assert r.quad_count() == 9


def _big_graph(n: int) -> str:
    gr = f"<{g('big')}>"
    return "".join(f'<{EX}finding/{i}> <{EX}message> "finding {i}" {gr} .\n' for i in range(n))


def test_large_graph_load_then_replace(store: Store) -> None:
    """Like a check's findings graph (417k quads at 10^4 licences; 20k here): loaded new with load_new_graphs
    (the embedded store's journalled bulk path), then replaced (its text diff). Same contents everywhere."""
    n = 20_000
    store.load_new_graphs([(g("big"), _big_graph(n))], validated=True)
    assert store.quad_count() == n and store.graph_names() == {g("big")}
    assert col(store, f"SELECT ?m WHERE {{ <{EX}finding/7> ex:message ?m }}") == [Literal("finding 7")]
    changed = _big_graph(n - 5) + f'<{EX}finding/new> <{EX}message> "added" <{g("big")}> .\n'
    store.replace_graph(g("big"), changed)
    assert store.graph_nquads(g("big")) == canonical_nquads(ox.parse(changed, ox.RdfFormat.N_QUADS))
    if isinstance(store, EmbeddedStore):
        assert not (store.path / JOURNAL_FILE).exists()


def test_embedded_replace_writes_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The text diff of replace_graph: an unchanged graph, or one written differently (explicit xsd:string,
    other line order), writes nothing; a changed graph writes only its changed quads. (Literals Oxigraph
    stores in canonical form, like "12.50"^^xsd:decimal, differ from the stored quad on either path.)"""
    def text(expiry: str) -> str:
        return "".join(line for line in licence(1, "a", expiry).splitlines(keepends=True)
                       if "decimal" not in line and "ZH-Hans" not in line)

    with EmbeddedStore(tmp_path / "s") as s:
        s.load_new_graphs([(g(1), text("2026-12-01"))])
        updates: list[str] = []
        real = s._run_update
        monkeypatch.setattr(s, "_run_update", lambda sparql: (updates.append(sparql), real(sparql)))
        s.replace_graph(g(1), text("2026-12-01"))
        s.replace_graph(g(1), "".join(reversed(text("2026-12-01").splitlines(keepends=True)))
                        .replace(f"^^<{XSD_NS}string>", ""))
        assert updates == []
        s.replace_graph(g(1), text("2027-12-01"))
        (update,) = updates
        assert update.count("2026-12-01") == 1 and update.count("2027-12-01") == 1 and "B2-2024" not in update
        assert col(s, f"SELECT ?d WHERE {{ GRAPH <{g(1)}> {{ ?l ex:validUntil ?d }} }}") == [Literal(
            dt.date(2027, 12, 1))]


def test_embedded_replace_of_a_stored_plain_graph_parses_only_changed_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The text diff: replacing a stored graph does not parse the whole new text into quads (that was
    ~2 s of 8.4 s for 417k quads); a line that does not parse still gets the quad path's error and line."""
    import kg.store.embedded as embedded

    with EmbeddedStore(tmp_path / "s") as s:
        s.load_new_graphs([(g("big"), _big_graph(1_000))])
        real = embedded.parse_graph_nquads
        monkeypatch.setattr(embedded, "parse_graph_nquads", lambda *a: pytest.fail("whole text parsed"))
        s.replace_graph(g("big"), _big_graph(999))
        assert s.quad_count() == 999
        monkeypatch.setattr(embedded, "parse_graph_nquads", real)
        with pytest.raises(StoreError, match="malformed N-Quads") as err:
            s.replace_graph(g("big"), _big_graph(999) + f'<{EX}x> <{EX}y> "unterminated <{g("big")}> .\n')
        assert err.value.line == 1000 and s.quad_count() == 999


def test_embedded_failed_bulk_load_is_rolled_back(tmp_path: Path) -> None:
    """A malformed line deep in a bulk-loaded graph: nothing of the batch stays, the journal is gone."""
    bad = _big_graph(20_000) + f'<{EX}x> <{EX}y> "unterminated <{g("big")}> .\n'
    with EmbeddedStore(tmp_path / "s") as s:
        s.load_new_graphs(LICENCES)
        with pytest.raises(StoreError, match="rolled back"):
            s.load_new_graphs([(g("big"), bad), (g(4), licence(4, "c", "2030-01-01"))], validated=True)
        assert s.graph_names() == {g(1), g(2), g(3)} and s.quad_count() == 27
        assert not (s.path / JOURNAL_FILE).exists()


def test_embedded_lock_in_one_process(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "s") as s:
        s.replace_graphs(LICENCES)
        with pytest.raises(StoreLockedError, match="store is locked by process"):
            EmbeddedStore(tmp_path / "s")
        with pytest.raises(StoreLockedError):
            EmbeddedStore(tmp_path / "s", read_only=True)
        s.close()
        with pytest.raises(StoreError, match="closed"):
            s.query("ASK {}")
    with open_store(str(tmp_path / "s"), read_only=True) as r1, open_store(str(tmp_path / "s"), read_only=True) as r2:
        assert r1.quad_count() == r2.quad_count() == 27
        with pytest.raises(StoreLockedError, match=r"\(reading\)"):
            EmbeddedStore(tmp_path / "s")
        with pytest.raises(Exception, match="read-only"):
            r1.replace_graph(g(1), "")
    with pytest.raises(StoreError, match="no store here"):
        EmbeddedStore(tmp_path / "absent", read_only=True)


def test_open_store_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KG_ENDPOINT", raising=False)
    monkeypatch.setenv("KG_STORE", str(tmp_path / "from-env"))
    with open_store() as s:
        assert s.name == "embedded" and Path(s.path) == tmp_path / "from-env"  # type: ignore[attr-defined]
    assert open_store(memory=True).name == "memory"
    monkeypatch.setenv("KG_ENDPOINT", "http://127.0.0.1:9/query")
    assert open_store().name == "remote"
    assert open_store(str(tmp_path / "explicit")).name == "embedded"


# --- SPARQL text helpers ---------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    'SELECT ?x WHERE { ?x <http://e/p> "{ not a group }" # { comment\n }',
    "PREFIX a: <http://e/#> SELECT ?x { ?x a:p ?y OPTIONAL { ?y a:q ?z } }",
    "CONSTRUCT { ?x <http://e/p> ?y } WHERE { ?x <http://e/q> ?y }",
    "CONSTRUCT WHERE { ?x <http://e/q> ?y }",
    "SELECT * { { SELECT ?x { ?x ?p ?y } } VALUES ?y { 1 2 } } VALUES ?x { <http://e/a> }",
    "ASK { ?x ?p '''multi\n{line}''' FILTER NOT EXISTS { ?x ?q ?x } }",
    "DESCRIBE ?x WHERE { GRAPH ?g { ?x ?p ?y } }",
])
def test_inject_values_keeps_queries_valid(query: str) -> None:
    text = inject_values(query, {"x": URIRef("http://e/a"), "y": Literal(HOSTILE)})
    ox.Store().query(text)  # parses: the VALUES rows landed in group patterns only
    assert "VALUES (?x" in text
    assert query_kind(query) in ("select", "construct", "ask", "describe")


def test_inject_values_only_where_the_variable_occurs() -> None:
    """Regression: a VALUES row in every OPTIONAL group made ``expiring`` 15× slower at 10^4 licences."""
    query = ("SELECT ?s ?label WHERE { ?s <http://e/d> ?d FILTER(?d < ?as_of) OPTIONAL { ?s <http://e/l> ?label } "
             "OPTIONAL { SELECT ?s (COUNT(?c) AS ?n) WHERE { ?s <http://e/c> ?c FILTER(?c != ?as_of) } GROUP BY ?s } "
             "} ORDER BY ?s")
    text = inject_values(query, {"as_of": Literal(3)})
    assert text.count("VALUES (?as_of)") == 2  # the outer group and the sub-select's group; not the OPTIONAL
    assert "OPTIONAL { ?s <http://e/l> ?label }" in text
    both = inject_values(query, {"as_of": Literal(3), "s": URIRef("http://e/a")})
    assert "OPTIONAL { VALUES (?s)" in both  # ?s occurs there: bound there too
    store = ox.Store()
    store.load(b"<http://e/a> <http://e/d> 1 . <http://e/a> <http://e/l> \"x\" . <http://e/b> <http://e/d> 2 . "
               b"<http://e/a> <http://e/c> 5 .", ox.RdfFormat.TURTLE)
    rows = [(str(r["s"].value), r["label"].value if r["label"] else None) for r in store.query(text)]
    assert rows == [("http://e/a", "x"), ("http://e/b", None)]
    rows = [(str(r["s"].value), r["label"].value if r["label"] else None) for r in store.query(both)]
    assert rows == [("http://e/a", "x")]




def test_inject_values_works_out_a_text_once() -> None:
    """The groups a text's rows go into are found once per text (a third of a point query's time); each call
    still binds its own values, and another set of names uses the same plan."""
    from kg.store import terms

    query = ("SELECT ?s ?n WHERE { ?s <http://e/d> ?d FILTER(?d < ?as_of) "
             "OPTIONAL { SELECT ?s (COUNT(?c) AS ?n) WHERE { ?s <http://e/c> ?c } GROUP BY ?s } }")
    terms._values_plan.cache_clear()
    first = inject_values(query, {"as_of": Literal("three")})
    second = inject_values(query, {"as_of": Literal("four")})
    both = inject_values(query, {"as_of": Literal("four"), "s": URIRef("http://e/a")})
    info = terms._values_plan.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    assert 'VALUES (?as_of) { ("three") }' in first and "four" in second and "three" not in second
    assert 'VALUES (?as_of ?s) { ("four" <http://e/a>) }' in both  # the outer group
    assert "VALUES (?s) { (<http://e/a>) }" in both  # the sub-select's group: ?as_of does not occur there
    assert inject_values(query, {"as_of": Literal("three")}) == first
    with pytest.raises(QueryError):  # an error is raised again, not remembered as a plan
        inject_values("INSERT DATA { <http://e/a> <http://e/b> 1 }", {"as_of": Literal("three")})
    with pytest.raises(QueryError):
        inject_values("INSERT DATA { <http://e/a> <http://e/b> 1 }", {"as_of": Literal("three")})
def test_sparql_term_escapes() -> None:
    assert sparql_term(Literal(HOSTILE)) == '"\\"} ; DROP ALL ; #"'
    assert sparql_term(Literal("a\nb\\", lang="ZH-Hans")) == '"a\\nb\\\\"@zh-hans'
    assert sparql_term(Literal(dt.date(2026, 1, 2))) == f'"2026-01-02"^^<{XSD_NS}date>'
    assert query_kind("# comment SELECT\nINSERT DATA { <a> <b> <c> }") == "update"


def test_plain_nquads_check() -> None:
    assert plain_nquads(g(1), licence(1, "a", "2026-12-01"))
    assert plain_nquads(g(1), f"<{EX}s> <{EX}p> <{g(1)}> .\n")  # a triple: caught after the bulk load
    assert not plain_nquads(g(1), f"<{EX}s> <{EX}p> <{EX}o> <{g(2)}> .\n")
    assert not plain_nquads(g(1), f"_:b <{EX}p> <{EX}o> <{g(1)}> .\n")


def test_bulk_load_refiles_a_triple_that_names_the_graph(tmp_path: Path) -> None:
    odd = f"<{EX}s> <{EX}p> <{g(6)}> .\n<{EX}s> <{EX}q> <{EX}o> <{g(6)}> .\n"
    with EmbeddedStore(tmp_path / "s") as s:
        s.load_new_graphs([(g(6), odd), *LICENCES])
        assert s.quad_count() == 29 and len(s.native) == 29  # nothing left in the default graph
        assert f"<{EX}s> <{EX}p> <{g(6)}> <{g(6)}> ." in s.graph_nquads(g(6))
        assert not (tmp_path / "s" / JOURNAL_FILE).exists()


def test_sparql_json_terms_are_normalised() -> None:
    assert from_json({"type": "typed-literal", "value": "2026-01-02", "datatype": XSD_NS + "date"}) == Literal(
        "2026-01-02", datatype=XSD_DATE)
    assert from_json({"type": "typed-literal", "value": "x", "datatype": XSD_NS + "string"}) == Literal("x")
    assert from_json({"type": "literal", "value": "x", "xml:lang": "ZH-Hans"}) == Literal("x", lang="zh-hans")
    assert from_json({"type": "uri", "value": EX}) == URIRef(EX)
    assert isinstance(from_json({"type": "bnode", "value": "b0"}), BNode)


def test_forgotten_close_releases_the_lock(tmp_path: Path) -> None:
    s = EmbeddedStore(tmp_path / "s")
    s.replace_graphs(LICENCES)
    del s
    with EmbeddedStore(tmp_path / "s", read_only=True) as r:
        assert r.quad_count() == 27


def test_large_bulk_ingest_compacts_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``COMPACT_AFTER`` new graphs the embedded store is compacted once, and answers the same."""
    from kg import ingest as ingest_mod
    from kg.ingest import ingest

    samples = Path(__file__).resolve().parent.parent / "data" / "certificates"
    with EmbeddedStore(tmp_path / "a") as plain:
        report = ingest([samples], plain)
        assert report.bulk_loaded == 5 and report.compacted_seconds is None
        before = {g: plain.graph_nquads(g) for g in plain.graph_names()}
    monkeypatch.setattr(ingest_mod, "COMPACT_AFTER", 5)
    with EmbeddedStore(tmp_path / "b") as compacted:
        report = ingest([samples], compacted)
        assert report.compacted_seconds is not None
        assert {g: compacted.graph_nquads(g) for g in compacted.graph_names()} == before
    with EmbeddedStore(tmp_path / "b", read_only=True) as ro, pytest.raises(StoreError, match="read-only"):
        ro.compact()
    memory = MemoryStore()
    assert ingest([samples], memory).compacted_seconds is None  # nothing to compact: not reported as done


def test_parse_workers_do_not_run_ahead_of_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: Pool.imap read ahead without limit, so at 10^4 certificates 1.5 GB of parsed results
    waited in the main process for the (slower) bulk load. At most workers × IN_FLIGHT tasks may be out."""
    import time

    from kg import ingest as ingest_mod

    files = []
    for i in range(600):
        (tmp_path / f"{i:04}.txt").write_text("")
        files.append(tmp_path / f"{i:04}.txt")
    log = tmp_path / "prepared.log"
    real = ingest_mod._prepare

    def logged(path: Path, base: str) -> object:
        with open(log, "a") as fh:  # the workers are forked after this patch: they log too
            fh.write(f"{path.name}\n")
        return real(path, base)

    monkeypatch.setattr(ingest_mod, "_prepare", logged)
    gen = ingest_mod._prepared(files, "http://example.org/", 2)
    first = next(gen)
    time.sleep(1.5)  # a consumer that is slow, like the bulk load
    ahead = len(log.read_text().splitlines())
    assert ahead <= 2 * ingest_mod.IN_FLIGHT * ingest_mod.CHUNK + ingest_mod.CHUNK, ahead
    rest = list(gen)
    assert [Path(r.result.path).name for r in [first, *rest]] == [f.name for f in files]  # in order, all
