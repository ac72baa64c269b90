"""The store interface every back end implements, and what they share.

A store holds one named graph per certificate (plus shared graphs such as the
clause templates and the ontology). Queries see the union of all named graphs
as their default graph, on every back end, so the query library never needs
``GRAPH`` or ``FROM``. The contract each back end is tested against (the same
assertions on all three) is in ``tests/test_store_backends.py``; how each one
keeps it is in docs/stores.md.
"""

from __future__ import annotations

import abc
import ctypes
import io
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Literal, TypeVar

import pyoxigraph as ox
import rdflib
from rdflib.term import Node

from kg.errors import QueryTimeoutError, StoreError, UpdateRefusedError
from kg.store.terms import canonical_term, check_iri, check_variable, sparql_term, to_python

if TYPE_CHECKING:
    import pandas as pd

ExportFormat = Literal["trig", "nq", "ttl", "jsonld"]
EXPORT_FORMATS: dict[str, ox.RdfFormat] = {
    "trig": ox.RdfFormat.TRIG, "nq": ox.RdfFormat.N_QUADS, "ttl": ox.RdfFormat.TURTLE, "jsonld": ox.RdfFormat.JSON_LD,
}
DEFAULT_PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#", "schema": "https://schema.org/",
    "dcterms": "http://purl.org/dc/terms/", "prov": "http://www.w3.org/ns/prov#",
}
T = TypeVar("T")


@dataclass
class QueryResult:
    """Plain data: the answer of one query, with normalised rdflib terms."""

    kind: Literal["select", "ask", "graph"]
    variables: list[str] = field(default_factory=list)
    rows: list[tuple[Node | None, ...]] = field(default_factory=list)
    boolean: bool | None = None
    graph: rdflib.Graph | None = None

    def __len__(self) -> int:
        if self.kind == "graph":
            return len(self.graph) if self.graph is not None else 0
        return len(self.rows) if self.kind == "select" else 1

    def to_dataframe(self) -> pd.DataFrame:
        """One column per variable with Python values (see :func:`kg.store.terms.to_python`).

        A column whose cells are all ``int`` (or all ``float``, or all ``bool``)
        gets that dtype; any other column, in particular one with unbound cells,
        stays ``object`` so that ``None`` stays ``None`` (not ``NaN``) and dates
        stay ``datetime.date``. ASK gives one ``boolean`` column, CONSTRUCT and
        DESCRIBE give ``subject``/``predicate``/``object``.
        """
        import pandas as pd

        if self.kind == "ask":
            return pd.DataFrame({"boolean": pd.Series([bool(self.boolean)], dtype=bool)})
        if self.kind == "graph":
            names = ["subject", "predicate", "object"]
            table = sorted(self.graph or [])
        else:
            names, table = self.variables, self.rows
        columns = {}
        for i, name in enumerate(names):
            cells = [to_python(row[i]) for row in table]
            columns[name] = pd.Series(cells, dtype=_dtype(cells))
        return pd.DataFrame(columns, columns=names)


def _dtype(cells: list[object]) -> str:
    if not cells:
        return "object"
    kinds = {type(c) for c in cells}
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int64"
    if kinds <= {int, float}:
        return "float64"
    return "object"


class Store(abc.ABC):
    """A quad store of named graphs whose default graph, for queries, is the union of them all."""

    name: ClassVar[str]
    read_only: bool = False
    #: how many read queries are worth running at once (``kg check`` runs its rules on this many threads):
    #: 1 unless the back end evaluates queries outside the GIL
    parallel_reads: ClassVar[int] = 1

    def release_thread(self) -> None:
        """Let go of what the calling thread holds for this store (a remote store's keep-alive connection).

        For threads that end before the store is closed, such as the ingest's writer: otherwise the
        garbage collector closes the connection when the thread ends, with an unclosed-socket warning.
        """
        return None  # the local stores hold nothing per thread

    # --- writes ---------------------------------------------------------------
    @abc.abstractmethod
    def replace_graph(self, graph: str, nquads: str) -> None:
        """Atomically replace named graph ``graph`` with ``nquads``: readers see the old or the new graph.

        Every quad must be in ``graph`` (a triple without a graph term is put
        into it); an empty ``nquads`` drops the graph.
        """

    def replace_graphs(self, items: Iterable[tuple[str, str]]) -> None:
        """Replace several graphs, each atomically (back ends may batch)."""
        for graph, nquads in items:
            self.replace_graph(graph, nquads)

    def load_new_graphs(self, items: Iterable[tuple[str, str | bytes]], *, validated: bool = False) -> None:
        """Write graphs the store does not hold yet, by the fastest path the back end has.

        Defaults to :meth:`replace_graphs`; the embedded store overrides it with
        its non-transactional bulk loader (see docs/stores.md). ``validated``
        says the text comes from kg's own mapper, whose IRIs and language tags
        are valid by construction: a back end may then skip checking them.
        The N-Quads may be given as text or as UTF-8 bytes.
        """
        self.replace_graphs((g, nq.decode("utf-8") if isinstance(nq, bytes) else nq) for g, nq in items)

    @abc.abstractmethod
    def add_to_graph(self, graph: str, nquads: str) -> None:
        """Add quads to ``graph`` (set semantics: adding the same ground quad twice keeps one)."""

    @abc.abstractmethod
    def drop_graph(self, graph: str) -> None:
        """Remove ``graph``; dropping a graph that does not exist is not an error."""

    @abc.abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 Update (name graphs explicitly: the union default graph is for queries)."""

    def compact(self) -> bool:
        """Reorganise storage for fast reads after a large bulk load; False where there is nothing to do."""
        return False

    # --- reads ----------------------------------------------------------------
    @abc.abstractmethod
    def graph_names(self) -> set[str]:
        """IRIs of the named graphs."""

    @abc.abstractmethod
    def quad_count(self) -> int:
        """Number of quads in the named graphs."""

    @abc.abstractmethod
    def _quads(self, graph: str | None) -> Iterable[ox.Quad]:
        """The quads of one named graph, or of all named graphs, as normalised pyoxigraph quads."""

    @abc.abstractmethod
    def _query(self, sparql: str, bindings: dict[str, Node], timeout: float | None) -> QueryResult:
        """Run a query with already validated bindings."""

    def query(
        self,
        sparql: str,
        bindings: Mapping[str, Node] | None = None,
        *,
        timeout: float | None = None,
    ) -> QueryResult:
        """Run a SPARQL query over the union default graph, binding variables to RDF terms.

        Bindings are validated the same way on every back end (valid IRIs,
        well-formed language tags, no blank nodes), so a bad parameter fails
        everywhere rather than on one server only, and typed literals are put
        in canonical form (``"12.50"^^xsd:decimal`` matches the stored ``12.5``).
        """
        checked: dict[str, Node] = {}
        for key, value in (bindings or {}).items():
            sparql_term(value)  # validates; the back end decides how to bind
            checked[check_variable(key)] = canonical_term(value)
        return self._query(sparql, checked, timeout)

    def graph_nquads(self, graph: str) -> str:
        """Canonical N-Quads of one graph: sorted lines, blank nodes relabelled by RDFC-1.0."""
        return canonical_nquads(self._quads(check_iri(graph, "graph IRI", StoreError)))

    def export(self, out: BinaryIO, format: ExportFormat, *, prefixes: Mapping[str, str] | None = None) -> None:
        """Write every named graph as TriG, N-Quads or JSON-LD; ``ttl`` writes the union (graph names lost).

        pyoxigraph's serialisers are used on every back end: rdflib's TriG and
        Turtle writers are quadratic on per-licence IRIs (see the stack notes).
        """
        fmt = export_format(format)
        quads = list(self._quads(None))
        pre = dict(prefixes if prefixes is not None else DEFAULT_PREFIXES)
        if format == "ttl":
            ox.serialize(sorted({q.triple for q in quads}, key=str), out, fmt, prefixes=pre)
        elif format == "nq":
            ox.serialize(quads, out, fmt)
        else:
            ox.serialize(quads, out, fmt, prefixes=pre)

    # --- lifecycle ------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None:
        """Release the store (files, locks, connections). Idempotent."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _writable(self) -> None:
        if self.read_only:
            raise UpdateRefusedError(f"the {self.name} store was opened read-only",
                                     hint="open it without read_only to write")


def export_format(format: str) -> ox.RdfFormat:
    try:
        return EXPORT_FORMATS[format]
    except KeyError:
        raise StoreError(f"unknown export format {format!r}", hint="use one of: trig, nq, ttl, jsonld") from None


# --- N-Quads in -------------------------------------------------------------------

def parse_graph_nquads(graph: str, nquads: str | bytes) -> list[ox.Quad]:
    """Parse ``nquads`` for graph ``graph``: validated, fresh blank nodes, triples moved into ``graph``.

    Fails with :class:`StoreError` (and the line) on a syntax error or on a
    quad that names another graph, so that nothing is written.
    """
    target = ox.NamedNode(check_iri(graph, "graph IRI", StoreError))
    try:
        parsed = list(ox.parse(nquads, ox.RdfFormat.N_QUADS, rename_blank_nodes=True))
    except SyntaxError as exc:
        raise StoreError(f"malformed N-Quads: {exc.msg}", file=f"<{graph}>", line=exc.lineno) from None
    out = []
    for q in parsed:
        if isinstance(q.graph_name, ox.DefaultGraph):
            q = ox.Quad(q.subject, q.predicate, q.object, target)
        elif q.graph_name != target:
            raise StoreError(f"a quad is in graph {q.graph_name}, not in the graph being written",
                             file=f"<{graph}>", hint="write each graph's quads with its own call")
        out.append(q)
    return out


def plain_nquads(graph: str, nquads: str | bytes) -> bool:
    """True if every line of ``nquads`` ends with `` <graph> .`` and no blank node occurs (C-speed string counts).

    Lets the bulk loader take the text as it is, without building Python
    objects (the per-line regex it replaced cost 20 % of the bulk time). The
    one thing it cannot see, a triple whose object is the graph IRI, lands in
    the default graph, where the bulk loader checks for it afterwards.
    """
    if isinstance(nquads, bytes):
        return (b"_:" not in nquads and nquads.endswith(b"\n")
                and nquads.count(f" <{graph}> .\n".encode()) == nquads.count(b"\n"))
    return ("_:" not in nquads and nquads.endswith("\n")
            and nquads.count(f" <{graph}> .\n") == nquads.count("\n"))


class ChunkReader(io.RawIOBase):
    """A read-only stream over a list of byte strings, without copying them into one."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = iter(parts)
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._current:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._current = memoryview(part)
        n = min(len(buffer), len(self._current))
        buffer[:n] = self._current[:n]
        self._current = self._current[n:]
        return n


def triples_text(quads: Iterable[ox.Quad]) -> str:
    """N-Triples lines (for INSERT DATA / DELETE DATA / a GSP body) of the quads' triples."""
    return "".join(f"{q.triple} .\n" for q in quads)


def canonical_nquads(quads: Iterable[ox.Quad]) -> str:
    """Sorted N-Quads lines; with blank nodes, relabelled first (RDFC-1.0) so equal graphs give equal text."""
    items = list(quads)
    if any(isinstance(q.subject, ox.BlankNode) or isinstance(q.object, ox.BlankNode) for q in items):
        ds = ox.Dataset(items)
        ds.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        items = list(ds)
    return "".join(sorted(f"{q} .\n" for q in items))


# --- timeouts ---------------------------------------------------------------------


class _Cancelled(BaseException):
    """Raised inside an abandoned query thread (BaseException: rdflib's ``except Exception`` lets it through)."""


def _cancel(worker: threading.Thread, finished: threading.Event, give_up: float = 600.0) -> None:
    """Raise :class:`_Cancelled` in ``worker`` until it has finished (at most ``give_up`` seconds).

    Once is not enough: an asynchronous exception that arrives while the
    worker runs a weakref callback or ``__del__`` (rdflib's evaluation triggers
    garbage collection) is printed and dropped, and the worker goes on holding
    the memory store's lock. Native pyoxigraph code sees it only when it
    returns to Python.
    """
    deadline = time.monotonic() + give_up
    while not finished.is_set() and worker.is_alive() and time.monotonic() < deadline:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident or 0), ctypes.py_object(_Cancelled))
        finished.wait(0.05)


def call_with_timeout(fn: Callable[[], T], timeout: float | None, what: str = "query") -> T:
    """Run ``fn`` in a worker thread and give up after ``timeout`` seconds.

    Neither rdflib nor pyoxigraph can cancel a running query. Pure-Python
    work (rdflib) is interrupted by raising :class:`_Cancelled` in the worker;
    a pyoxigraph query runs on in native code (it releases the GIL) until it
    returns, then stops. The caller gets :class:`QueryTimeoutError` on time.
    """
    if timeout is None:
        return fn()
    box: dict[str, object] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            try:
                box["value"] = fn()
            except _Cancelled:
                pass
            except BaseException as exc:
                box["error"] = exc
        except _Cancelled:  # a second cancellation that arrived while the first was being handled
            pass
        finally:
            finished.set()

    worker = threading.Thread(target=run, name="kg-store-query", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        threading.Thread(target=_cancel, args=(worker, finished), name="kg-store-cancel", daemon=True).start()
        raise QueryTimeoutError(f"{what} did not finish within {timeout:g} s",
                                hint="narrow the query or raise --timeout")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
