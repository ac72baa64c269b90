"""The ontology is complete, consistent with the code, and its generated artefacts are up to date.

* the closed ``LIC`` namespace (kg/namespaces.py) lists exactly the lic: terms the ontology modules declare;
* every declared term has zh and en labels and a comment;
* no code, query, Turtle file or doc uses a lic: term the ontology does not declare;
* the SKOS vocabularies and the generated docs are not stale;
* every Turtle file parses and every concept has one zh and one en prefLabel;
* the worked SPARQL examples of docs/ontology.md run and give the expected answers.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, Dataset, Graph, Literal, URIRef
from rdflib.namespace import OWL, SKOS

from kg.namespaces import ANCHOR_EVENTS, LIC

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology"
LIC_NS = "https://w3id.org/licence-kg/def#"
# rdflib's own union-graph code warns about its deprecated default_context when the examples run
pytestmark = pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning")

DECLARATION_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
                     OWL.NamedIndividual, RDFS.Datatype)


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def module_files() -> list[Path]:
    """Ontology modules: ontology/*.ttl except the SKOS vocabularies and the shapes."""
    return sorted(p for p in ONTOLOGY.glob("*.ttl") if not p.name.startswith("vocab-") and p.name != "shapes.ttl")


def declared_terms(graph: Graph) -> set[str]:
    """Local names of the lic: terms a graph declares (typed as a class, property, individual or datatype)."""
    return {str(s)[len(LIC_NS):] for t in DECLARATION_TYPES for s in graph.subjects(RDF.type, t)
            if isinstance(s, URIRef) and str(s).startswith(LIC_NS)}


@pytest.fixture(scope="module")
def modules() -> dict[str, Graph]:
    return {p.name: Graph().parse(p, format="turtle") for p in module_files()}


@pytest.fixture(scope="module")
def ontology(modules) -> Graph:
    g = Graph()
    for m in modules.values():
        g += m
    return g


@pytest.fixture(scope="module")
def declared(ontology) -> set[str]:
    return declared_terms(ontology)


def namespace_terms() -> set[str]:
    return {name for name in LIC.__annotations__ if not name.startswith("_")}


# --- (a) the closed namespace equals the ontology ------------------------------------------------------------


def test_core_module_exists():
    assert (ONTOLOGY / "core.ttl") in module_files()


def test_namespace_equals_declared_terms(declared):
    in_code = namespace_terms()
    missing = sorted(in_code - declared)
    extra = sorted(declared - in_code)
    assert not missing, f"in kg/namespaces.py but not declared in {[p.name for p in module_files()]}: {missing}"
    assert not extra, f"declared in the ontology but missing from kg/namespaces.py (class LIC): {extra}"


def test_each_term_declared_in_one_module(modules):
    seen: dict[str, str] = {}
    for name, g in modules.items():
        for term in declared_terms(g):
            assert term not in seen, f"lic:{term} declared in both {seen[term]} and {name}"
            seen[term] = name


def test_closed_namespace_rejects_unknown_terms():
    with pytest.raises(AttributeError):
        LIC.notATerm  # noqa: B018


# --- (b) labels and comments ---------------------------------------------------------------------------------


def test_every_term_has_zh_and_en_labels_and_a_comment(ontology, declared):
    problems = []
    for name in sorted(declared):
        term = URIRef(LIC_NS + name)
        langs = [o.language for o in ontology.objects(term, RDFS.label) if isinstance(o, Literal)]
        if sorted(langs) != ["en", "zh"]:
            problems.append(f"lic:{name}: rdfs:label languages {sorted(map(str, langs))}, want exactly en and zh")
        comments = [o for o in ontology.objects(term, RDFS.comment) if isinstance(o, Literal) and o.language == "en"]
        if len(comments) != 1 or len(str(comments[0])) < 20:
            problems.append(f"lic:{name}: needs one English rdfs:comment of a sentence or more")
    assert not problems, "\n".join(problems)


def test_each_term_has_exactly_one_kind(ontology, declared):
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDFS.Datatype)
    for name in declared:
        term = URIRef(LIC_NS + name)
        found = [k for k in kinds if (term, RDF.type, k) in ontology]
        individual = (term, RDF.type, OWL.NamedIndividual) in ontology
        assert len(found) + individual == 1, f"lic:{name} is {found} individual={individual}"


def test_properties_have_domain_and_range(ontology):
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty):
        for p in ontology.subjects(RDF.type, kind):
            if str(p).startswith(LIC_NS):
                assert ontology.value(p, RDFS.domain) is not None, f"{p} has no rdfs:domain"
                assert ontology.value(p, RDFS.range) is not None, f"{p} has no rdfs:range"


def test_ontology_header(modules):
    core = modules["core.ttl"]
    onto = URIRef("https://w3id.org/licence-kg/def")
    assert (onto, RDF.type, OWL.Ontology) in core
    for pred in ("title", "description", "creator", "license"):
        assert core.value(onto, URIRef("http://purl.org/dc/terms/" + pred)) is not None, pred
    assert core.value(onto, OWL.versionInfo) is not None


def test_individuals_are_concepts_of_small_schemes(ontology):
    for i in ontology.subjects(RDF.type, OWL.NamedIndividual):
        if not str(i).startswith(LIC_NS):
            continue
        assert (i, RDF.type, SKOS.Concept) in ontology, i
        schemes = list(ontology.objects(i, SKOS.inScheme))
        assert len(schemes) == 1 and (schemes[0], RDF.type, SKOS.ConceptScheme) in ontology, i
        assert ontology.value(i, SKOS.notation) is not None, i


def test_notations_the_queries_rely_on(ontology):
    def notation(term: URIRef) -> str:
        return str(ontology.value(term, SKOS.notation))

    assert {notation(LIC.CrossRegional), notation(LIC.Provincial)} == {"cross-regional", "provincial"}
    assert [notation(t) for t in (LIC.Within, LIC.Before, LIC.After)] == ["within", "before", "after"]
    assert [notation(t) for t in (LIC.Duty, LIC.Prohibition)] == ["duty", "prohibition"]
    assert notation(LIC.WorkingDay) == "working_day"
    for key, event in ANCHOR_EVENTS.items():
        assert notation(event) == key
    events = set(ontology.subjects(RDF.type, LIC.AnchorEvent))
    assert events == set(ANCHOR_EVENTS.values())


# --- (c) no undeclared lic: term anywhere --------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*"
_CURIE = re.compile(r"(?<![\w:#.-])lic:(" + _NAME + ")")
_ATTR = re.compile(r"\bLIC\.([A-Za-z][A-Za-z0-9_]*)")
_ITEM = re.compile(r"\bLIC\[\s*[\"']([A-Za-z][A-Za-z0-9_]*)[\"']\s*\]")
_FULL = re.compile(re.escape(LIC_NS) + "(" + _NAME + ")")
_PREFIX_DECL = re.compile(r"(?:@prefix|\bPREFIX)\s+lic:\s*<([^>]*)>", re.IGNORECASE)


def lic_terms_in(text: str, suffix: str) -> dict[str, int]:
    """The lic: terms a file's text uses, with the first line of each.

    Finds prefixed names ``lic:xxx`` (in Turtle and SPARQL only when the file binds ``lic:`` to the
    licence-kg namespace or binds nothing), ``LIC.xxx`` and ``LIC["xxx"]`` in Python, and full IRIs
    ``https://w3id.org/licence-kg/def#xxx`` everywhere.
    """
    patterns = [_FULL]
    bindings = set(_PREFIX_DECL.findall(text))
    if suffix == ".py" or not bindings or bindings == {LIC_NS}:
        patterns.append(_CURIE)
    if suffix == ".py":
        patterns += [_ATTR, _ITEM]
    found: dict[str, int] = {}
    for pattern in patterns:
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found[m.group(1)] = min(line, found.get(m.group(1), line))
    return found


def scanned_files() -> list[Path]:
    files = [*ROOT.glob("kg/**/*.py"), *ROOT.glob("tools/**/*.py"), *ROOT.glob("queries/**/*.rq"),
             *ONTOLOGY.glob("*.ttl"), ROOT / "docs" / "ontology.md"]
    return sorted(f for f in files if f.is_file())


def undeclared_uses(files: list[Path], declared: set[str]) -> list[str]:
    out = []
    for f in files:
        for term, line in sorted(lic_terms_in(f.read_text(encoding="utf-8"), f.suffix).items()):
            if term not in declared:
                out.append(f"{f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}:{line}: lic:{term}")
    return out


def test_no_undeclared_lic_terms_in_code_queries_and_turtle(declared):
    files = scanned_files()
    assert any(f.suffix == ".rq" for f in files) and any(f.suffix == ".py" for f in files)
    problems = undeclared_uses(files, declared)
    assert not problems, "lic: terms used but not declared in the ontology:\n" + "\n".join(problems)


def test_scanner_finds_every_form(tmp_path):
    rq = tmp_path / "q.rq"
    rq.write_text("PREFIX lic: <https://w3id.org/licence-kg/def#>\nSELECT * { ?l lic:holder ?h ;\n"
                  "  lic:madeUpTerm ?x . ?x lic:clause/lic:anotherFake ?y }\n", encoding="utf-8")
    py = tmp_path / "m.py"
    py.write_text('from kg.namespaces import LIC\nx = LIC.holder\ny = LIC.fakeAttr\nz = LIC["fakeItem"]\n'
                  'q = "SELECT * { ?s lic:fakeInString ?o }"\nw = "https://w3id.org/licence-kg/def#FakeIri"\n'
                  "def f(lic: str, public:int=0): return LIC._NS\n", encoding="utf-8")
    ttl = tmp_path / "x.ttl"
    ttl.write_text("@prefix lic: <https://w3id.org/licence-kg/def#> .\nlic:Licence a lic:FakeClass .\n",
                   encoding="utf-8")
    other = tmp_path / "other.ttl"
    other.write_text("@prefix lic: <http://example.org/lic#> .\nlic:Whatever a lic:Thing .\n", encoding="utf-8")
    assert lic_terms_in(rq.read_text(encoding="utf-8"), ".rq") == {
        "holder": 2, "madeUpTerm": 3, "clause": 3, "anotherFake": 3}
    assert undeclared_uses([rq, py, ttl, other], {"holder", "clause", "Licence"}) == [
        f"{rq}:3: lic:anotherFake",
        f"{rq}:3: lic:madeUpTerm",
        f"{py}:6: lic:FakeIri",
        f"{py}:3: lic:fakeAttr",
        f"{py}:5: lic:fakeInString",
        f"{py}:4: lic:fakeItem",
        f"{ttl}:2: lic:FakeClass",
    ]


# --- (d), (e) generated files are fresh ----------------------------------------------------------------------


def test_vocabularies_not_stale(capsys):
    build_vocab = _load_tool("build_vocab")
    assert build_vocab.main(["--check"]) == 0, capsys.readouterr().out


def test_docs_not_stale():
    gen_docs = _load_tool("gen_docs")
    assert gen_docs.stale() == [], "run python tools/gen_docs.py (make docs)"


def test_docs_tables_cover_every_term(declared):
    text = (ROOT / "docs" / "ontology.md").read_text(encoding="utf-8")
    for name in declared:
        assert f"`lic:{name}`" in text, name


def test_diagram_has_every_class(ontology):
    dot = (ROOT / "docs" / "ontology.dot").read_text(encoding="utf-8")
    for c in ontology.subjects(RDF.type, OWL.Class):
        if str(c).startswith(LIC_NS):
            assert f"lic_{str(c)[len(LIC_NS):]} [" in dot, c


# --- (f) every Turtle file parses, every concept is labelled in zh and en --------------------------------------


@pytest.mark.parametrize("path", sorted(ONTOLOGY.glob("*.ttl")), ids=lambda p: p.name)
def test_turtle_parses(path):
    assert len(Graph().parse(path, format="turtle")) > 0


@pytest.mark.parametrize("path", sorted(ONTOLOGY.glob("*.ttl")), ids=lambda p: p.name)
def test_concepts_have_one_zh_and_one_en_preflabel(path):
    g = Graph().parse(path, format="turtle")
    problems = []
    for kind in (SKOS.Concept, SKOS.ConceptScheme):
        for c in set(g.subjects(RDF.type, kind)):
            langs = sorted(str(o.language) for o in g.objects(c, SKOS.prefLabel) if isinstance(o, Literal))
            if langs != ["en", "zh"]:
                problems.append(f"{c}: prefLabel languages {langs}")
    assert not problems, "\n".join(problems)


def test_vocab_concepts_are_in_a_scheme():
    for path in sorted(ONTOLOGY.glob("vocab-*.ttl")):
        g = Graph().parse(path, format="turtle")
        for c in set(g.subjects(RDF.type, SKOS.Concept)):
            assert g.value(c, SKOS.inScheme) is not None, c


# --- the worked examples of docs/ontology.md -------------------------------------------------------------------


def doc_queries() -> list[str]:
    text = (ROOT / "docs" / "ontology.md").read_text(encoding="utf-8")
    return re.findall(r"```sparql\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def example_dataset() -> Dataset:
    from test_shapes import ID, LicenceBuilder, valid_licence, valid_provincial, zh

    from kg.namespaces import SCHEMA

    ds = Dataset(default_union=True)
    for path in sorted(ONTOLOGY.glob("vocab-*.ttl")):
        ds.graph(URIRef(f"{ID}graph/{path.stem}")).parse(path, format="turtle")
    a = valid_licence()  # B1: IDC in Beijing and Guangdong machine rooms, B13 nationwide; expires 2029
    b = valid_provincial()  # Beijing B2 licence, expires 2029 unless changed below
    b.g.set((b.lic, SCHEMA.validUntil, Literal("2026-12-29", datatype=URIRef("http://www.w3.org/2001/XMLSchema#date"))))
    b.g.remove((b.lic, LIC.renewalApplicationDue, None))
    b.clause("12")
    tpl = URIRef(f"{ID}template/fedcba9876543210fedc")  # the provincial licence words clause 12 differently
    c12 = b.node("clause", "12")
    b.g.set((c12, LIC.template, tpl))
    b.g.add((tpl, RDF.type, LIC.ClauseTemplate))
    b.g.add((tpl, LIC.text, zh("你公司经营许可证有效期届满需要继续经营的，应当提前90日向原发证机关提出延续经营许可证的申请。")))
    c = LicenceBuilder(key="B2-20210247", number="B2-20210247", cls="B2")  # expiry unreadable
    c.holder("某某网络有限公司", person=None)
    c.g.remove((c.lic, SCHEMA.validUntil, None))
    c.g.remove((c.lic, LIC.renewalApplicationDue, None))
    c.authorise("B21", "CN")
    for builder in (a, b, c):
        g = ds.graph(URIRef(f"{ID}graph/{builder.key}"))
        g.addN((s, p, o, g) for s, p, o in builder.g)
    return ds


def test_docs_have_three_worked_examples():
    assert len(doc_queries()) == 3


def test_example_who_may_run_idc_in_guangdong(example_dataset):
    rows = list(example_dataset.query(doc_queries()[0]))
    assert {(str(r.holder), str(r.number), str(r.coverage)) for r in rows} == {
        ("北京掌全通信息科技有限公司", "B1-20195402", "广东省")}


def test_example_licences_expiring_before_a_date(example_dataset):
    rows = list(example_dataset.query(doc_queries()[1]))
    got = {(str(r.number), str(r.expires) if r.expires else None, str(r.printed) if r.printed else None)
           for r in rows}
    assert got == {("京B2-20240286", "2026-12-29", "2029年 07月 25日"), ("B2-20210247", None, "2029年 07月 25日")}


def test_example_clause_wordings_that_differ(example_dataset):
    rows = list(example_dataset.query(doc_queries()[2]))
    assert {str(r.clause_id) for r in rows} == {"12"}
    assert sorted(str(r.numbers) for r in rows) == ["B1-20195402", "京B2-20240286"]


@pytest.mark.parametrize("path", [*module_files(), *sorted(ONTOLOGY.glob("vocab-*.ttl"))], ids=lambda p: p.name)
def test_loaded_literals_are_single_line(path):
    # kg.ingest writes the ontology and vocabularies into the store as N-Quads built with rdflib's n3(),
    # which does not escape line breaks: a multi-line literal would make the whole file fail to load.
    g = Graph().parse(path, format="turtle")
    bad = [f"{s} {p}" for s, p, o in g if isinstance(o, Literal) and ("\n" in o or "\r" in o)]
    assert not bad, bad
