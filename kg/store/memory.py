"""In-memory store: rdflib ``Dataset(default_union=True)``.

For tests, notebooks and small batches: no files, no locks, pure Python. It
is the slowest back end (see the stack notes: 14 s and 1.5 GiB for 1.2 M
quads) but the reference for rdflib semantics. One re-entrant lock serialises
writes and queries, so an in-process reader sees a graph before or after a
replace, never half of one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import ClassVar

import pyoxigraph as ox
from rdflib import Dataset, Graph, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.term import Node

from kg.errors import QueryError
from kg.store.base import QueryResult, Store, call_with_timeout, parse_graph_nquads
from kg.store.terms import canonical_quads, check_iri, from_ox, normalise, to_ox


class MemoryStore(Store):
    """rdflib Dataset whose default graph is the union of its named graphs."""

    name: ClassVar[str] = "memory"

    def __init__(self, read_only: bool = False) -> None:
        self.read_only = read_only
        self._ds = Dataset(default_union=True)
        self._lock = threading.RLock()

    # --- writes ---------------------------------------------------------------
    def _triples(self, graph: str, nquads: str) -> list[tuple[Node, Node, Node]]:
        quads = canonical_quads(parse_graph_nquads(graph, nquads))
        return [(from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)) for q in quads]  # type: ignore[misc]

    def replace_graph(self, graph: str, nquads: str) -> None:
        self._writable()
        triples = self._triples(graph, nquads)  # parse before touching the data
        with self._lock:
            self._ds.remove_graph(URIRef(graph))
            if triples:
                ctx = self._ds.graph(URIRef(graph))
                for t in triples:
                    ctx.add(t)

    def add_to_graph(self, graph: str, nquads: str) -> None:
        self._writable()
        triples = self._triples(graph, nquads)
        with self._lock:
            ctx = self._ds.graph(URIRef(graph))
            for t in triples:
                ctx.add(t)

    def drop_graph(self, graph: str) -> None:
        self._writable()
        with self._lock:
            self._ds.remove_graph(URIRef(check_iri(graph, "graph IRI")))

    def update(self, sparql: str) -> None:
        """rdflib applies the operations one by one: a failing later operation does not undo earlier ones."""
        self._writable()
        with self._lock:
            try:
                self._ds.update(sparql)
            except Exception as exc:
                raise QueryError(f"SPARQL update failed: {exc}") from exc

    # --- reads ----------------------------------------------------------------
    def _contexts(self) -> Iterable[Graph]:
        return (c for c in self._ds.graphs() if c.identifier != DATASET_DEFAULT_GRAPH_ID and len(c) > 0)

    def graph_names(self) -> set[str]:
        with self._lock:
            return {str(c.identifier) for c in self._contexts()}

    def quad_count(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._contexts())

    def _quads(self, graph: str | None) -> list[ox.Quad]:
        with self._lock:
            if graph is not None:  # a view on the store's context: does not create the graph
                ctxs: Iterable[Graph] = [Graph(store=self._ds.store, identifier=URIRef(graph))]
            else:
                ctxs = list(self._contexts())
            # rdflib re-spells some typed literals (a zero xsd:duration reads back as "P0D"): Oxigraph's form again
            return canonical_quads([ox.Quad(to_ox(s), to_ox(p), to_ox(o), ox.NamedNode(str(c.identifier)))  # type: ignore[arg-type]
                                    for c in ctxs for s, p, o in c])

    def _query(self, sparql: str, bindings: dict[str, Node], timeout: float | None) -> QueryResult:
        def run() -> QueryResult:
            with self._lock:
                try:
                    res = self._ds.query(sparql, initBindings=bindings or None)
                    return _result(res)
                except (QueryError, KeyboardInterrupt):
                    raise
                except Exception as exc:
                    raise QueryError(f"SPARQL query failed: {exc}") from exc

        if timeout is not None:
            _warm_up()
        return call_with_timeout(run, timeout)

    def close(self) -> None:
        """Nothing to release; the data goes with the object."""


_warm = threading.Lock()
_warmed = False


def _warm_up() -> None:
    """rdflib's SPARQL modules and grammar, loaded in the calling thread before a query that may be cancelled.

    rdflib imports them lazily on the first query (~1 s); a timeout's
    asynchronous exception arriving in the middle of that import leaves it
    broken for the rest of the process ("module 'rdflib.plugins' has no
    attribute 'sparql'").
    """
    global _warmed
    with _warm:
        if not _warmed:
            Dataset().query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(STRLEN(STR(?o)) + 1 > 0) } GROUP BY ?s")
            _warmed = True


def _result(res: object) -> QueryResult:
    kind = getattr(res, "type", "")
    if kind == "ASK":
        return QueryResult("ask", boolean=bool(res.askAnswer))  # type: ignore[attr-defined]
    if kind in ("CONSTRUCT", "DESCRIBE"):
        g = Graph()
        for s, p, o in res.graph:  # type: ignore[attr-defined]
            g.add((s, p, normalise(o)))
        return QueryResult("graph", graph=g)
    variables = [str(v) for v in res.vars]  # type: ignore[attr-defined]
    rows = [tuple(normalise(row[i]) for i in range(len(variables))) for row in res]  # type: ignore[attr-defined]
    return QueryResult("select", variables=variables, rows=rows)
