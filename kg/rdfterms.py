"""Lightweight RDF terms and an N-Quads writer for the mapping's hot path.

The mapping emits plain tuples instead of rdflib objects: building rdflib
``Literal``s costs microseconds each, and at national scale (10^5
certificates × ~150 triples) that alone would bound ingest speed. IRIs are
plain ``str`` (rdflib's ``URIRef`` is a ``str`` subclass, so closed-namespace
terms fit directly); literals are :class:`Lit`. Conversion to rdflib (for
SHACL, export and the in-memory store) is done once, at the edge.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import XSD

XSD_STRING = str(XSD.string)
XSD_INTEGER = str(XSD.integer)
XSD_BOOLEAN = str(XSD.boolean)
XSD_DATE = str(XSD.date)
XSD_DURATION = str(XSD.duration)


class Lit(NamedTuple):
    """A literal: lexical form plus datatype IRI or language tag (never both)."""

    value: str
    datatype: str | None = None
    lang: str | None = None


Object = str | Lit
Triple = tuple[str, str, Object]


def zh(text: str) -> Lit:
    return Lit(text, None, "zh")


def en(text: str) -> Lit:
    return Lit(text, None, "en")


def plain(text: str) -> Lit:
    return Lit(text)


def integer(value: int) -> Lit:
    return Lit(str(int(value)), XSD_INTEGER)


def boolean(value: bool) -> Lit:
    return Lit("true" if value else "false", XSD_BOOLEAN)


def date(value: dt.date) -> Lit:
    return Lit(value.isoformat(), XSD_DATE)


def duration(value: str) -> Lit:
    return Lit(value, XSD_DURATION)


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _nt_object(o: Object) -> str:
    if not isinstance(o, Lit):
        return f"<{o}>"
    value = o.value
    # str.translate walks a long Chinese wording char by char through a dict; "in" is a fast scan
    if '"' in value or "\\" in value or "\n" in value or "\r" in value:
        value = value.translate(_ESCAPES)
    if o.lang:
        return f'"{value}"@{o.lang}'
    if o.datatype and o.datatype != XSD_STRING:
        return f'"{value}"^^<{o.datatype}>'
    return f'"{value}"'


def to_nquads(triples: Iterable[Triple], graph: str) -> str:
    """Serialise triples into one named graph as N-Quads text (one quad per line, sorted)."""
    g = f"<{graph}>"
    lines = {f"<{s}> <{p}> {_nt_object(o)} {g} .\n" for s, p, o in triples}
    return "".join(sorted(lines))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend the cyclic garbage collector while building millions of small acyclic objects (rows, tuples,
    lines): its full passes walk the whole growing heap, and at 10^5 licences they cost more than the work
    (N-Quads of 370k findings: 19.2 s with, 8.6 s without). Collection resumes on exit."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def to_rdflib_object(o: Object) -> URIRef | Literal:
    if isinstance(o, Lit):
        if o.lang:
            return Literal(o.value, lang=o.lang)
        if o.datatype and o.datatype != XSD_STRING:
            return Literal(o.value, datatype=URIRef(o.datatype))
        return Literal(o.value)
    return URIRef(o)


def to_graph(triples: Iterable[Triple], graph: Graph | None = None) -> Graph:
    """Add triples to an rdflib graph (a new one by default)."""
    g = graph if graph is not None else Graph()
    for s, p, o in triples:
        g.add((URIRef(s), URIRef(p), to_rdflib_object(o)))
    return g


def add_to_dataset(ds: Dataset, triples: Iterable[Triple], graph: str) -> None:
    to_graph(triples, ds.graph(URIRef(graph)))
