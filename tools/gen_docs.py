"""Generate the reference part of ``docs/ontology.md`` and the class diagram from the ontology Turtle.

* The tables (classes, object and datatype properties, datatypes, individuals, concept schemes, and the
  data profile of ``ontology/shapes.ttl``) replace what lies between ``<!-- BEGIN GENERATED -->`` and
  ``<!-- END GENERATED -->`` in ``docs/ontology.md``; the hand-written prose around them is kept.
* ``docs/ontology.dot`` is a class diagram: classes as nodes, object properties as edges (solid: lic:
  properties with their domain and range; dashed: properties of other vocabularies as the shapes use
  them; hollow arrow: subclass). ``docs/ontology.svg`` is rendered from it with Graphviz ``dot`` when
  it is installed (the SVG is not checked for staleness, so CI needs no Graphviz).

``python tools/gen_docs.py`` writes; ``python tools/gen_docs.py --check`` exits 1 when the committed
tables or the .dot file differ from what the Turtle gives. Ontology modules are ``ontology/*.ttl``
except ``vocab-*.ttl`` (SKOS vocabularies) and ``shapes.ttl``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, SH, SKOS

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology"
DOCS = ROOT / "docs"
MARKDOWN = DOCS / "ontology.md"
DOT = DOCS / "ontology.dot"
SVG = DOCS / "ontology.svg"

LIC = "https://w3id.org/licence-kg/def#"
BEGIN = "<!-- BEGIN GENERATED -->"
END = "<!-- END GENERATED -->"

PREFIXES = {
    "lic": LIC,
    "vocab": "https://w3id.org/licence-kg/vocab/",
    "lsh": "https://w3id.org/licence-kg/shapes#",
    "schema": "https://schema.org/",
    "rov": "http://www.w3.org/ns/regorg#",
    "org": "http://www.w3.org/ns/org#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "prov": "http://www.w3.org/ns/prov#",
    "eli": "http://data.europa.eu/eli/ontology#",
    "rrmv": "http://data.europa.eu/2qy/rrmv#",
    "time": "http://www.w3.org/2006/time#",
    "dcterms": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "freq": "http://purl.org/cld/freq/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "sh": "http://www.w3.org/ns/shacl#",
}

# Diagram groups: which lic: classes are drawn together (unlisted lic: classes go to "other modules").
GROUPS = {
    "licence": ("许可证 licence", ("Licence", "Authorisation", "Website", "Company")),
    "clauses": ("特别规定事项 special provisions", ("Clause", "ClauseTemplate", "Deadline", "RecurringWindow",
                                            "AnchorEvent", "Modality")),
    "provenance": ("来源 provenance", ("SourceDocument", "ParseActivity", "FieldEvidence", "ExtractionIssue")),
    "vocab": ("词表 vocabularies (SKOS)", ("Region", "Province", "City", "IssuingAuthority", "BusinessType",
                                        "ServiceItem", "LicenceClassConcept", "NonRegulationTitle", "LicenceScope")),
}


# --------------------------------------------------------------------------------------------- loading


def module_files() -> list[Path]:
    return sorted(p for p in ONTOLOGY.glob("*.ttl") if not p.name.startswith("vocab-") and p.name != "shapes.ttl")


def vocab_files() -> list[Path]:
    return sorted(ONTOLOGY.glob("vocab-*.ttl"))


def load(paths: list[Path]) -> Graph:
    g = Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return g


def curie(term: object) -> str:
    if isinstance(term, URIRef):
        text = str(term)
        for prefix, ns in PREFIXES.items():
            if text.startswith(ns) and re.fullmatch(r"[A-Za-z0-9_./-]*", text[len(ns):]):
                return f"{prefix}:{text[len(ns):]}"
        return f"<{text}>"
    return str(term)


def local(term: URIRef) -> str:
    return str(term)[len(LIC):] if str(term).startswith(LIC) else curie(term)


def is_lic(term: object) -> bool:
    return isinstance(term, URIRef) and str(term).startswith(LIC)


def label(g: Graph, term: object, lang: str) -> str:
    for pred in (RDFS.label, SKOS.prefLabel):
        for o in g.objects(term, pred):
            if isinstance(o, Literal) and o.language == lang:
                return str(o)
    return ""


def comment(g: Graph, term: object) -> str:
    for o in g.objects(term, RDFS.comment):
        if isinstance(o, Literal) and o.language in ("en", None):
            return str(o)
    return ""


def class_expr(g: Graph, node: object) -> str:
    """A class expression as text: a CURIE, a union (A ⊔ B) or an enumeration ({x, y})."""
    if isinstance(node, BNode):
        union = g.value(node, OWL.unionOf)
        if union is not None:
            return " ⊔ ".join(class_expr(g, m) for m in Collection(g, union))
        one_of = g.value(node, OWL.oneOf)
        if one_of is not None:
            return "{" + ", ".join(curie(m) for m in Collection(g, one_of)) + "}"
        return "(anonymous class)"
    return curie(node)


def class_members(g: Graph, node: object) -> list[object]:
    """The named classes of a class expression (a union is split; a oneOf stays one node)."""
    if isinstance(node, BNode) and g.value(node, OWL.unionOf) is not None:
        return [m for m in Collection(g, g.value(node, OWL.unionOf))]
    return [node]


def md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def by_name(terms) -> list[URIRef]:
    return sorted(terms, key=lambda t: (local(t).lower(), str(t)))


# --------------------------------------------------------------------------------------------- tables


@dataclass
class Docs:
    core: Graph
    vocab: Graph
    shapes: Graph

    def declared(self, kind: URIRef) -> list[URIRef]:
        return by_name(t for t in self.core.subjects(RDF.type, kind) if is_lic(t))

    def individuals(self) -> list[URIRef]:
        return by_name(t for t in self.core.subjects(RDF.type, OWL.NamedIndividual) if is_lic(t))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def terms_tables(d: Docs) -> list[str]:
    g = d.core
    out: list[str] = []
    modules = ", ".join(f"`ontology/{p.name}`" for p in module_files())
    out += [f"Generated from {modules}, `ontology/shapes.ttl` and the vocabularies by `tools/gen_docs.py`.", ""]

    classes = d.declared(OWL.Class)
    out += [f"### Classes ({len(classes)})", ""]
    rows = []
    for c in classes:
        supers = ", ".join(sorted(curie(s) for s in g.objects(c, RDFS.subClassOf) if isinstance(s, URIRef)))
        equiv = [class_expr(g, e) for e in g.objects(c, OWL.equivalentClass)]
        if equiv:
            supers = (supers + "; " if supers else "") + "≡ " + ", ".join(equiv)
        rows.append([f"`lic:{local(c)}`", label(g, c, "zh"), label(g, c, "en"), md(supers) or "—", md(comment(g, c))])
    out += [*_table(["term", "zh", "en", "subclass of", "comment"], rows), ""]

    for kind, title in ((OWL.ObjectProperty, "Object properties"), (OWL.DatatypeProperty, "Datatype properties")):
        props = d.declared(kind)
        out += [f"### {title} ({len(props)})", ""]
        rows = []
        for p in props:
            domain = " ⊔ ".join(class_expr(g, x) for x in g.objects(p, RDFS.domain)) or "—"
            rng = " ⊔ ".join(class_expr(g, x) for x in g.objects(p, RDFS.range)) or "—"
            notes = []
            if (p, RDF.type, OWL.FunctionalProperty) in g:
                notes.append("functional")
            if (p, RDF.type, OWL.InverseFunctionalProperty) in g:
                notes.append("inverse functional")
            notes += [f"⊑ {curie(s)}" for s in sorted(g.objects(p, RDFS.subPropertyOf))]
            extra = f" ({', '.join(notes)})" if notes else ""
            rows.append([f"`lic:{local(p)}`", label(g, p, "zh"), label(g, p, "en"), md(f"{domain} → {rng}"),
                         md(comment(g, p)) + extra])
        out += [*_table(["term", "zh", "en", "domain → range", "comment"], rows), ""]

    datatypes = d.declared(RDFS.Datatype)
    out += [f"### Datatypes ({len(datatypes)})", ""]
    rows = []
    for t in datatypes:
        patterns = []
        for e in g.objects(t, OWL.equivalentClass):
            restrictions = g.value(e, OWL.withRestrictions)
            for r in Collection(g, restrictions) if restrictions is not None else []:
                patterns += [str(x) for x in g.objects(r, URIRef(PREFIXES["xsd"] + "pattern"))]
        rows.append([f"`lic:{local(t)}`", label(g, t, "zh"), label(g, t, "en"),
                     md(" ".join(f"`{p}`" for p in patterns)) or "—", md(comment(g, t))])
    out += [*_table(["term", "zh", "en", "lexical pattern", "comment"], rows), ""]

    individuals = d.individuals()
    out += [f"### Individuals ({len(individuals)})", ""]
    rows = []
    for i in individuals:
        types = ", ".join(sorted(curie(t) for t in g.objects(i, RDF.type) if t not in (OWL.NamedIndividual, SKOS.Concept)))
        notation = ", ".join(f"`{n}`" for n in sorted(str(n) for n in g.objects(i, SKOS.notation)))
        scheme = ", ".join(sorted(curie(s) for s in g.objects(i, SKOS.inScheme)))
        rows.append([f"`lic:{local(i)}`", label(g, i, "zh"), label(g, i, "en"),
                     md(f"{types} in {scheme}; notation {notation}"), md(comment(g, i))])
    out += [*_table(["term", "zh", "en", "type, scheme, notation", "comment"], rows), ""]

    out += schemes_table(d)
    out += profile_tables(d)
    return out


def schemes_table(d: Docs) -> list[str]:
    rows = []
    for source, g, files in (("core", d.core, module_files()), ("vocab", d.vocab, vocab_files())):
        for s in by_name(g.subjects(RDF.type, SKOS.ConceptScheme)):
            members = set(g.subjects(SKOS.inScheme, s))
            counts: dict[str, int] = defaultdict(int)
            for m in members:
                kinds = [curie(t) for t in g.objects(m, RDF.type) if t not in (SKOS.Concept, OWL.NamedIndividual)]
                kinds = kinds or ["skos:Concept only"]
                for k in kinds:
                    counts[k] += 1
            if source == "vocab":
                where = next((f"`ontology/{f.name}`" for f in files if _defines(f, s)), "")
            else:
                where = "`ontology/core.ttl`"
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
            rows.append([f"`{curie(s)}`", label(g, s, "zh"), label(g, s, "en"), str(len(members)), md(kinds), where,
                         md(comment(g, s))])
    rows.sort(key=lambda r: r[0])
    return [f"### Concept schemes ({len(rows)})", "",
            *_table(["scheme", "zh", "en", "concepts", "by class", "file", "comment"], rows), ""]


_DEFINES_CACHE: dict[Path, str] = {}


def _defines(path: Path, scheme: URIRef) -> bool:
    text = _DEFINES_CACHE.setdefault(path, path.read_text(encoding="utf-8"))
    return f"<{scheme}> a skos:ConceptScheme" in text


def _values(g: Graph, shape: object) -> str:
    parts = []
    for pred, fmt in ((SH.datatype, "{}"), (SH["class"], "{}"), (SH.nodeKind, "{}"), (SH.node, "node {}"),
                      (SH.hasValue, "= {}")):
        parts += [fmt.format(curie(o)) for o in g.objects(shape, pred)]
    for lst in g.objects(shape, SH["in"]):
        parts.append("one of " + ", ".join(curie(x) for x in Collection(g, lst)))
    for lst in g.objects(shape, SH["or"]):
        alternatives = []
        for alt in Collection(g, lst):
            alternatives += [curie(o) for o in g.objects(alt, SH["class"])]
        parts.append(" or ".join(alternatives))
    for lst in g.objects(shape, SH.languageIn):
        parts.append("@" + "/".join(str(x) for x in Collection(g, lst)))
    for o in g.objects(shape, SH.pattern):
        parts.append(f"`{o}`")
    for pred, op in ((SH.minInclusive, "≥"), (SH.maxInclusive, "≤"), (SH.minLength, "length ≥")):
        parts += [f"{op} {o}" for o in g.objects(shape, pred)]
    for pred, op in ((SH.lessThanOrEquals, "≤"), (SH.lessThan, "<")):
        parts += [f"{op} {curie(o)}" for o in g.objects(shape, pred)]
    return "; ".join(parts)


def _path_text(g: Graph, path: object) -> str:
    if isinstance(path, BNode):
        inv = g.value(path, SH.inversePath)
        return "^" + curie(inv) if inv is not None else "(path)"
    return curie(path)


def _english(g: Graph, node: object) -> str:
    for o in g.objects(node, SH.message):
        if isinstance(o, Literal) and o.language == "en":
            return str(o)
    return ""


def profile_tables(d: Docs) -> list[str]:
    g = d.shapes
    rows = []
    for shape in sorted(g.subjects(RDF.type, SH.NodeShape), key=curie):
        targets = ", ".join(curie(t) for t in g.objects(shape, SH.targetClass))
        if not targets:
            continue
        shape_severity = g.value(shape, SH.severity)
        for ps in sorted(g.objects(shape, SH.property), key=curie):
            path = g.value(ps, SH.path)
            lo, hi = g.value(ps, SH.minCount), g.value(ps, SH.maxCount)
            card = f"{lo if lo is not None else 0}..{hi if hi is not None else '*'}"
            severity = g.value(ps, SH.severity) or shape_severity or SH.Violation
            rows.append([targets, f"`{_path_text(g, path)}`", card, md(_values(g, ps)), curie(severity).split(":")[1],
                         md(_english(g, ps))])
        for c in sorted(g.objects(shape, SH.sparql), key=curie):
            severity = shape_severity or SH.Violation
            rows.append([targets, "(SPARQL)", "", "", curie(severity).split(":")[1], md(_english(g, c))])
    return [f"### Data profile: SHACL shapes ({len(rows)} constraints)", "",
            "What `kg.shapes.validate` checks on each licence graph; messages also exist in Chinese. "
            "Warnings are reported without failing validation.", "",
            *_table(["focus", "path", "count", "values", "severity", "message"], rows), ""]


# --------------------------------------------------------------------------------------------- diagram


def _q(text: str) -> str:
    """A DOT string literal; newlines become line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_id(term: object) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", curie(term))


def diagram(d: Docs) -> str:
    g = d.core
    classes = d.declared(OWL.Class)
    nodes: dict[str, str] = {}  # id -> attribute text
    edges: list[tuple[str, str, str, str]] = []  # from, to, label, extra attributes
    external: set[URIRef] = set()

    def add_node(term: object) -> str:
        nid = node_id(term)
        if nid in nodes:
            return nid
        if is_lic(term):
            supers = sorted(curie(s) for s in g.objects(term, RDFS.subClassOf) if isinstance(s, URIRef) and not is_lic(s))
            text = local(term) + "\n" + label(g, term, "zh")
            if supers:
                text += "\n⊑ " + ", ".join(supers)
            nodes[nid] = f"label={_q(text)}"
        else:
            external.add(term)  # type: ignore[arg-type]
            nodes[nid] = f"label={_q(curie(term))}, style=\"rounded,dashed\", fontcolor=\"#555555\""
        return nid

    for c in classes:
        add_node(c)

    # enumerated ranges (owl:oneOf) become one record-like node
    def range_nodes(expr: object) -> list[str]:
        out = []
        for m in class_members(g, expr):
            if isinstance(m, BNode) and g.value(m, OWL.oneOf) is not None:
                names = [local(x) for x in Collection(g, g.value(m, OWL.oneOf))]
                nid = "enum_" + "_".join(names)
                nodes.setdefault(nid, f"label={_q('{' + ', '.join(names) + '}')}, style=\"rounded,dotted\"")
                out.append(nid)
            elif isinstance(m, URIRef):
                out.append(add_node(m))
        return out

    for p in d.declared(OWL.ObjectProperty):
        for dom in g.objects(p, RDFS.domain):
            for rng in g.objects(p, RDFS.range):
                for a in range_nodes(dom):
                    for b in range_nodes(rng):
                        edges.append((a, b, local(p), ""))

    # properties of other vocabularies, as the shapes use them (target class --path--> sh:class)
    s = d.shapes
    for shape in s.subjects(RDF.type, SH.NodeShape):
        for target in s.objects(shape, SH.targetClass):
            for ps in s.objects(shape, SH.property):
                path = s.value(ps, SH.path)
                if not isinstance(path, URIRef) or is_lic(path):
                    continue
                for cls in s.objects(ps, SH["class"]):
                    edges.append((add_node(target), add_node(cls), curie(path), ", style=dashed"))

    for c in classes:
        for sup in g.objects(c, RDFS.subClassOf):
            if is_lic(sup):
                edges.append((node_id(c), node_id(sup), "⊑", ", arrowhead=empty, style=bold"))

    grouped: dict[str, list[str]] = defaultdict(list)
    member_of = {name: key for key, (_, names) in GROUPS.items() for name in names}
    for nid in nodes:
        name = nid[len("lic_"):] if nid.startswith("lic_") else None
        if name is not None:
            grouped[member_of.get(name, "other")].append(nid)
        elif nid.startswith("enum_"):
            grouped["clauses" if "Within" in nid else "other_enum"].append(nid)
        else:
            grouped["external"].append(nid)

    lines = [
        "// Generated by tools/gen_docs.py from the ontology modules and shapes.ttl: do not edit.",
        "// Render: dot -Tsvg docs/ontology.dot -o docs/ontology.svg",
        "digraph licence_kg {",
        "  graph [rankdir=LR, fontname=\"WenQuanYi Micro Hei, sans-serif\", fontsize=11, nodesep=0.25, ranksep=0.6,"
        " labelloc=t, label=\"licence-kg ontology: classes (boxes), lic: object properties (solid), other "
        "vocabularies' properties as the shapes use them (dashed), subclass (hollow arrow)\"];",
        "  node [shape=box, style=rounded, fontname=\"WenQuanYi Micro Hei, sans-serif\", fontsize=10];",
        "  edge [fontname=\"WenQuanYi Micro Hei, sans-serif\", fontsize=9, color=\"#444444\"];",
    ]
    titles = {key: title for key, (title, _) in GROUPS.items()}
    titles.update({"other": "其他模块 other modules", "external": "外部词汇 other vocabularies",
                   "other_enum": "枚举 enumerations"})
    for key in [*GROUPS, "other", "other_enum", "external"]:
        if not grouped.get(key):
            continue
        lines.append(f"  subgraph cluster_{key} {{")
        lines.append(f"    label={_q(titles[key])}; style=\"rounded,filled\"; color=\"#dddddd\"; fillcolor=\"#f7f7f7\";")
        for nid in sorted(grouped[key]):
            lines.append(f"    {nid} [{nodes[nid]}];")
        lines.append("  }")
    # one edge per (from, to, style), labels of parallel properties joined
    merged: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for a, b, text, style in edges:
        if text not in merged[(a, b, style)]:
            merged[(a, b, style)].append(text)
    for (a, b, style), texts in sorted(merged.items()):
        lines.append(f"  {a} -> {b} [label={_q(chr(10).join(sorted(texts)))}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- main


def generated_block(d: Docs) -> str:
    return "\n".join([BEGIN, "", *terms_tables(d), END])


def render_markdown(d: Docs, current: str) -> str:
    if BEGIN not in current or END not in current:
        raise SystemExit(f"{MARKDOWN} lacks the markers {BEGIN} / {END}")
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + generated_block(d) + tail


def load_docs() -> Docs:
    return Docs(core=load(module_files()), vocab=load(vocab_files()), shapes=load([ONTOLOGY / "shapes.ttl"]))


def stale(d: Docs | None = None) -> list[str]:
    """Names of the generated files that differ from what the Turtle gives."""
    d = d or load_docs()
    out = []
    current = MARKDOWN.read_text(encoding="utf-8") if MARKDOWN.exists() else ""
    if not current or render_markdown(d, current) != current:
        out.append(str(MARKDOWN.relative_to(ROOT)))
    if not DOT.exists() or DOT.read_text(encoding="utf-8") != diagram(d):
        out.append(str(DOT.relative_to(ROOT)))
    return out


def main(argv: list[str]) -> int:
    d = load_docs()
    if "--check" in argv:
        names = stale(d)
        if names:
            print("stale: " + ", ".join(names) + " (run python tools/gen_docs.py)")
            return 1
        return 0
    MARKDOWN.write_text(render_markdown(d, MARKDOWN.read_text(encoding="utf-8")), encoding="utf-8")
    DOT.write_text(diagram(d), encoding="utf-8")
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", str(DOT), "-o", str(SVG)], check=True)
    else:
        print("graphviz `dot` not found: docs/ontology.svg not re-rendered", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
