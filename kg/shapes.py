"""Validate licence graphs against the SHACL shapes of ``ontology/shapes.ttl``.

One licence graph (optionally with its clause templates) is merged with the
SKOS vocabularies (``ontology/vocab-*.ttl``, needed by the constraints that
follow ``skos:broader``) and validated by pySHACL without inference, which
keeps a validation in the tens of milliseconds. Shapes and vocabularies are
parsed once per process.

>>> conforms, messages = validate(graph)          # doctest: +SKIP
>>> messages                                      # doctest: +SKIP
['Violation: licence/B1-20195402 schema:validFrom — The issue date ... (value: 2030-01-01)']

``conforms`` is False only for violations; warnings (``sh:Warning``: odd but
possible on a damaged scan) are reported in ``messages`` without failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyshacl import validate as _pyshacl_validate
from rdflib import RDF, BNode, Dataset, Graph, Literal, URIRef
from rdflib.namespace import SH
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.sparql import Query

from kg.namespaces import DEFAULT_DATA_BASE
from kg.rdfterms import Triple, to_graph

ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontology"
SHAPES_FILE = ONTOLOGY_DIR / "shapes.ttl"

_PREFIXES = (
    (DEFAULT_DATA_BASE, ""),
    ("https://w3id.org/licence-kg/def#", "lic:"),
    ("https://w3id.org/licence-kg/vocab/", "vocab:"),
    ("https://w3id.org/licence-kg/eli/cn/", "eli-cn:"),
    ("https://schema.org/", "schema:"),
    ("http://www.w3.org/ns/regorg#", "rov:"),
    ("http://www.w3.org/ns/org#", "org:"),
    ("http://xmlns.com/foaf/0.1/", "foaf:"),
    ("http://www.w3.org/ns/prov#", "prov:"),
    ("http://data.europa.eu/eli/ontology#", "eli:"),
    ("http://data.europa.eu/2qy/rrmv#", "rrmv:"),
    ("http://www.w3.org/2006/time#", "time:"),
    ("http://purl.org/dc/terms/", "dcterms:"),
    ("http://www.w3.org/2004/02/skos/core#", "skos:"),
)


@dataclass(frozen=True)
class ShapeResult:
    """One validation result, with IRIs shortened for reading."""

    severity: str  # Violation, Warning or Info
    focus: str
    path: str | None
    value: str | None
    message: str
    shape: str

    def __str__(self) -> str:
        where = self.focus + (f" {self.path}" if self.path else "")
        value = f" (value: {self.value})" if self.value and self.value not in self.message else ""
        return f"{self.severity}: {where} — {self.message}{value}"


def vocab_files() -> list[Path]:
    return sorted(ONTOLOGY_DIR.glob("vocab-*.ttl"))


@cache
def shapes_graph() -> Graph:
    """The shapes graph, parsed once."""
    return Graph().parse(SHAPES_FILE, format="turtle")


@cache
def vocab_graph() -> Graph:
    """The SKOS vocabularies the SPARQL constraints rely on, parsed once (treat as read-only)."""
    g = Graph()
    for path in vocab_files():
        g.parse(path, format="turtle")
    return g


@cache
def _prepared(query: str) -> Query:
    return prepareQuery(query)


class _PreparedQueryGraph(Graph):
    """A graph that parses each distinct SPARQL text once per process.

    pySHACL runs every SPARQL constraint once per focus node with the same text
    (``$this`` comes in as an initial binding); rdflib would re-parse it each
    time, which costs ~50 ms a query and dominated validation time.
    """

    def query(self, query_object, *args, **kwargs):  # type: ignore[override]
        if isinstance(query_object, str):
            query_object = _prepared(query_object)
        return super().query(query_object, *args, **kwargs)


def _data_graph(data: Graph | Iterable[Triple]) -> Graph:
    merged = _PreparedQueryGraph()
    merged.addN((s, p, o, merged) for s, p, o in vocab_graph())
    if isinstance(data, Dataset):
        merged.addN((s, p, o, merged) for s, p, o, _ in data.quads((None, None, None, None)))
    elif isinstance(data, Graph):
        merged.addN((s, p, o, merged) for s, p, o in data)
    else:
        to_graph(data, merged)
    return merged


def short(term: object) -> str:
    """A readable form of an IRI or literal: licence/B1-20195402, lic:clause, 2029-07-25."""
    if isinstance(term, URIRef):
        text = str(term)
        for base, prefix in _PREFIXES:
            if text.startswith(base):
                return prefix + text[len(base):]
        return f"<{text}>"
    if isinstance(term, Literal):
        return str(term)
    return str(term)


def _path(report: Graph, node: object) -> str | None:
    if node is None:
        return None
    if isinstance(node, BNode):
        inverse = report.value(node, SH.inversePath)
        if inverse is not None:
            return "^" + short(inverse)
        return "(complex path)"
    return short(node)


def _is_zh(message: str) -> bool:
    # pySHACL drops the language tag of messages it fills in ({?var}); the Chinese messages of
    # shapes.ttl all end with a full stop 。 and the English ones never contain it.
    return message.rstrip().endswith("。")


_IRI_IN_TEXT = re.compile(r"(?:https?://[^\s<>\"{}|^`，。、（）]+)")


def _shorten_iris(message: str) -> str:
    return _IRI_IN_TEXT.sub(lambda m: short(URIRef(m.group(0))).strip("<>"), message)


def _message(report: Graph, result: object, lang: str) -> str:
    messages = sorted(report.objects(result, SH.resultMessage), key=str)
    for m in messages:
        if isinstance(m, Literal) and m.language == lang:
            return str(m)
    untagged = [str(m) for m in messages if not (isinstance(m, Literal) and m.language)]
    for m in untagged:
        if _is_zh(m) == (lang == "zh"):
            return m
    return str(messages[0]) if messages else "(no message)"


def check(data: Graph | Iterable[Triple], lang: str = "en") -> list[ShapeResult]:
    """Validate and return every result (violations, warnings, infos), sorted."""
    _, report, _ = _pyshacl_validate(
        _data_graph(data),
        shacl_graph=shapes_graph(),
        inference="none",
        advanced=False,
        allow_warnings=True,
        inplace=True,
    )
    results = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        severity = report.value(result, SH.resultSeverity)
        value = report.value(result, SH.value)
        shape = report.value(result, SH.sourceShape)
        results.append(
            ShapeResult(
                severity=str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation",
                focus=short(report.value(result, SH.focusNode)),
                path=_path(report, report.value(result, SH.resultPath)),
                value=short(value) if value is not None else None,
                message=_shorten_iris(_message(report, result, lang)),
                shape=short(shape) if isinstance(shape, URIRef) else "(anonymous shape)",
            )
        )
    return sorted(results, key=lambda r: (r.severity != "Violation", r.focus, r.path or "", r.message, r.value or ""))


def validate(data: Graph | Iterable[Triple], lang: str = "en") -> tuple[bool, list[str]]:
    """(conforms, readable messages) for one licence graph.

    ``data`` is an rdflib ``Graph`` or ``Dataset`` (all its quads are used) or
    the triples of :func:`kg.mapping.map_certificate` (``mapped.triples +
    mapped.template_triples``). ``conforms`` is False when there is at least
    one violation; warnings appear in the messages only.
    """
    results = check(data, lang)
    return not any(r.severity == "Violation" for r in results), [str(r) for r in results]
