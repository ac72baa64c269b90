"""Remote store: any SPARQL 1.1 endpoint (Oxigraph server, Fuseki, GraphDB, Virtuoso).

Queries go through SPARQLWrapper (POST, JSON results, ``typed-literal``
accepted); writes through a small keep-alive HTTP client (``http.client``,
``TCP_NODELAY``: with urllib's fresh connection per request and Nagle's
algorithm, a 15 kB update took 65 ms on localhost, 7× slower). SPARQL 1.1 has
no binding protocol, so bindings become a VALUES row in every group of the
query (:func:`kg.store.terms.inject_values`), written with N-Triples escaping.

Credentials come only from ``KG_ENDPOINT_USER`` / ``KG_ENDPOINT_PASSWORD``
(HTTP basic auth); they are never arguments, never logged. Transient failures
(refused or reset connections, connect timeouts, HTTP 429/502/503/504) are
retried with exponential backoff a bounded number of times; a query that
times out while the server works on it is not retried (QueryTimeoutError).
"""

from __future__ import annotations

import ast
import base64
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import pyoxigraph as ox
import rdflib
from rdflib.term import Node
from SPARQLWrapper import BASIC, JSON, POST, TURTLE, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (
    EndPointInternalError,
    EndPointNotFound,
    QueryBadFormed,
    Unauthorized,
    URITooLong,
)

from kg.errors import (
    EndpointAuthError,
    EndpointError,
    QueryError,
    QueryTimeoutError,
    StoreError,
    UpdateRefusedError,
)
from kg.store.base import QueryResult, Store, parse_graph_nquads, triples_text
from kg.store.terms import canonical_quads, check_iri, from_json, from_ox, inject_values, query_kind, to_ox

T = TypeVar("T")
USER_ENV, PASSWORD_ENV = "KG_ENDPOINT_USER", "KG_ENDPOINT_PASSWORD"


@dataclass(frozen=True)
class Dialect:
    """How one server family exposes the union default graph, updates and the Graph Store Protocol."""

    name: str
    union_param: tuple[str, str] | None  # sent with every user query; None: the default graph is the union
    suffixes: tuple[str, ...]            # query-path suffixes stripped to find the service base
    update_path: str                     # relative to the base ("" = same URL as queries)
    gsp_path: str
    gsp_graph_param: str
    write: str                           # default write path: "update" or "gsp"
    graph_names: str


DIALECTS = {
    # Oxigraph's GSP PUT is clear + load, two transactions (cli/src/main.rs): one update request is atomic
    # and, measured, as fast. The union is a per-request parameter.
    "oxigraph": Dialect("oxigraph", ("union-default-graph", ""), ("/query",), "/update", "/store", "graph",
                        "update", "SELECT ?g WHERE { GRAPH ?g { } }"),
    "fuseki": Dialect("fuseki", ("default-graph-uri", "urn:x-arq:UnionGraph"), ("/query", "/sparql"), "/update",
                      "/data", "graph", "gsp", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"),
    "graphdb": Dialect("graphdb", None, (), "/statements", "/rdf-graphs/service", "graph", "gsp",
                       "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"),
    "virtuoso": Dialect("virtuoso", None, ("/sparql",), "/sparql", "/sparql-graph-crud", "graph-uri", "update",
                        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"),
}


def service_urls(endpoint: str, dialect: Dialect) -> tuple[str, str, str]:
    """(query URL, update URL, Graph Store Protocol URL) derived from the query endpoint."""
    endpoint = endpoint.rstrip("/")
    base = endpoint
    for suffix in dialect.suffixes:
        if endpoint.endswith(suffix):
            base = endpoint[: -len(suffix)]
            break
    query = endpoint if base != endpoint or not dialect.suffixes else base + dialect.suffixes[0]
    return query, base + dialect.update_path, base + dialect.gsp_path


class _Transient(Exception):
    def __init__(self, reason: str, *, unsent: bool) -> None:
        super().__init__(reason)
        self.unsent = unsent  # the server did not process the request: safe to retry even a non-idempotent one


class _Http:
    """Keep-alive connections per thread and host, with TCP_NODELAY and basic auth."""

    def __init__(self, auth: str | None) -> None:
        self._auth = auth
        self._local = threading.local()

    def _pool(self) -> dict[str, http.client.HTTPConnection]:
        if not hasattr(self._local, "pool"):
            self._local.pool = {}
        return self._local.pool

    def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                timeout: float) -> tuple[int, str, bytes]:
        parts = urllib.parse.urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = dict(headers)
        if self._auth:
            headers["Authorization"] = self._auth
        for attempt in (0, 1):
            conn, reused = self._conn(parts, timeout)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(parts.netloc)
                if reused and attempt == 0:
                    continue  # the server closed an idle kept-alive connection: reconnect once, silently
                raise _Transient(f"connection lost: {exc}", unsent=False) from None
            except TimeoutError:
                self._drop(parts.netloc)
                raise QueryTimeoutError(f"no answer within {timeout:g} s", file=url,
                                        hint="the server may still be working; raise the timeout") from None
            except OSError:
                self._drop(parts.netloc)
                raise
            if resp.will_close:
                self._drop(parts.netloc)
            return resp.status, resp.getheader("Content-Type", ""), data
        raise AssertionError("unreachable")

    def _conn(self, parts: urllib.parse.SplitResult, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        pool = self._pool()
        conn = pool.get(parts.netloc)
        if conn is not None:
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, True
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "localhost", parts.port, timeout=timeout)
        try:
            conn.connect()
        except ConnectionRefusedError as exc:
            raise _Transient(f"connection refused: {exc}", unsent=True) from None
        except TimeoutError:
            raise _Transient("connect timed out", unsent=True) from None
        except socket.gaierror as exc:
            raise EndpointError(f"cannot resolve host {parts.hostname!r}: {exc}", hint="check the endpoint URL") from None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pool[parts.netloc] = conn
        return conn, False

    def _drop(self, netloc: str) -> None:
        conn = self._pool().pop(netloc, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for netloc in list(self._pool()):
            self._drop(netloc)


class RemoteStore(Store):
    """A SPARQL 1.1 endpoint; ``dialect`` says how to get the union default graph and where to write."""

    name: ClassVar[str] = "remote"
    parallel_reads: ClassVar[int] = 2  # the server works on two queries at once (each query is a request of its own)

    def __init__(self, endpoint: str, *, dialect: str = "oxigraph", update_endpoint: str | None = None,
                 gsp_endpoint: str | None = None, write: str = "auto", timeout: float = 60.0,
                 write_timeout: float = 300.0, retries: int = 4, backoff: float = 0.5,
                 read_only: bool = False) -> None:
        if dialect not in DIALECTS:
            raise StoreError(f"unknown endpoint dialect {dialect!r}", hint=f"use one of: {', '.join(DIALECTS)}")
        self.dialect = DIALECTS[dialect]
        endpoint = _check_url(endpoint)
        query_url, update_url, gsp_url = service_urls(endpoint, self.dialect)
        self.query_url = query_url
        self.update_url = update_endpoint or update_url
        self.gsp_url = gsp_endpoint or gsp_url
        self.write = self.dialect.write if write == "auto" else write
        if self.write not in ("update", "gsp"):
            raise StoreError(f"unknown write path {write!r}", hint="use auto, update or gsp")
        self.timeout, self.write_timeout = timeout, write_timeout
        self.retries, self.backoff = retries, backoff
        self.read_only = read_only
        self._user = os.environ.get(USER_ENV) or None
        self._password = os.environ.get(PASSWORD_ENV, "")
        auth = None
        if self._user:
            auth = "Basic " + base64.b64encode(f"{self._user}:{self._password}".encode()).decode("ascii")
        self._http = _Http(auth)

    # --- plumbing ---------------------------------------------------------------
    def _retrying(self, what: str, url: str, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        delay = self.backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except _Transient as exc:
                if attempt > self.retries or not (idempotent or exc.unsent):
                    raise EndpointError(f"{what} failed after {attempt} attempt(s): {exc}", file=url,
                                        hint="is the server running and reachable?") from None
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _check_status(self, status: int, body: bytes, url: str, what: str) -> None:
        if status < 300:
            return
        text = body.decode("utf-8", "replace").strip()[:300]
        if status in (429, 502, 503, 504):
            raise _Transient(f"HTTP {status} {text}", unsent=status != 504)
        if status in (401, 403):
            if "read-only" in text.lower() or "read only" in text.lower():
                raise UpdateRefusedError(f"the endpoint is read-only: {text}", file=url)
            raise self._auth_error(status, url)
        if status == 400:
            raise QueryError(f"the endpoint rejected the {what}: {text}", file=url)
        if status == 404:
            raise EndpointError(f"HTTP 404 for the {what}: {text}", file=url,
                                hint=f"check the endpoint URL and --dialect (now {self.dialect.name})")
        raise EndpointError(f"HTTP {status} for the {what}: {text}", file=url)

    def _auth_error(self, status: int, url: str) -> EndpointAuthError:
        state = f"{USER_ENV} is set" if self._user else f"{USER_ENV} is not set"
        return EndpointAuthError(f"the endpoint refused access (HTTP {status}; {state})", file=url,
                                 hint=f"set {USER_ENV} and {PASSWORD_ENV} for HTTP basic auth")

    def _send(self, method: str, url: str, body: str, content_type: str, what: str, *,
              idempotent: bool = True) -> None:
        self._writable()

        def once() -> None:
            status, _, data = self._http.request(method, url, body.encode("utf-8"),
                                                 {"Content-Type": content_type}, self.write_timeout)
            self._check_status(status, data, url, what)

        self._retrying(what, url, once, idempotent=idempotent)

    def _post_update(self, sparql: str, *, idempotent: bool = True) -> None:
        self._send("POST", self.update_url, sparql, "application/sparql-update; charset=utf-8", "update",
                   idempotent=idempotent)

    def _gsp(self, method: str, graph: str, body: str) -> None:
        param = urllib.parse.urlencode({self.dialect.gsp_graph_param: graph})
        self._send(method, f"{self.gsp_url}?{param}", body, "application/n-triples; charset=utf-8",
                   f"graph store {method}")

    @staticmethod
    def _body(graph: str, nquads: str) -> str:
        """N-Triples for the request, parsed locally first: errors name the line, and nothing is sent."""
        return triples_text(parse_graph_nquads(graph, nquads))

    # --- writes -----------------------------------------------------------------
    def replace_graph(self, graph: str, nquads: str) -> None:
        """One request per graph: GSP PUT, or ``DROP SILENT GRAPH`` + ``INSERT DATA`` in one update."""
        self._writable()
        check_iri(graph, "graph IRI", StoreError)
        body = self._body(graph, nquads)
        if not body:
            self.drop_graph(graph)
        elif self.write == "gsp":
            self._gsp("PUT", graph, body)
        else:
            self._post_update(f"DROP SILENT GRAPH <{graph}> ;\nINSERT DATA {{ GRAPH <{graph}> {{\n{body}}} }}")

    def add_to_graph(self, graph: str, nquads: str) -> None:
        self._writable()
        check_iri(graph, "graph IRI", StoreError)
        body = self._body(graph, nquads)
        if not body:
            return
        if self.write == "gsp":
            self._gsp("POST", graph, body)
        else:
            self._post_update(f"INSERT DATA {{ GRAPH <{graph}> {{\n{body}}} }}")

    def drop_graph(self, graph: str) -> None:
        self._post_update(f"DROP SILENT GRAPH <{check_iri(graph, 'graph IRI', StoreError)}>")

    def update(self, sparql: str) -> None:
        """Retried only when the server cannot have run it (refused connection, 429/502/503)."""
        self._post_update(sparql, idempotent=False)

    # --- reads ------------------------------------------------------------------
    def _raw_query(self, sparql: str, kind: str, *, union: bool, timeout: float | None) -> tuple[bytes, str]:
        w = SPARQLWrapper(self.query_url)
        w.setMethod(POST)
        w.setOnlyConneg(True)
        w.setReturnFormat(JSON if kind in ("select", "ask") else TURTLE)
        w.setQuery(sparql)
        w.timeout = timeout or self.timeout  # setTimeout() truncates to int: 0.5 s would mean "no timeout"
        if union and self.dialect.union_param:
            w.addParameter(*self.dialect.union_param)
        if self._user:
            w.setHTTPAuth(BASIC)
            w.setCredentials(self._user, self._password)
        url = self.query_url

        def once() -> tuple[bytes, str]:
            try:
                res = w.query()
                return res.response.read(), res.response.headers.get("Content-Type", "")
            except QueryBadFormed as exc:
                raise QueryError(f"the endpoint rejected the query: {_msg(exc)}", file=url) from None
            except Unauthorized:
                raise self._auth_error(401, url) from None
            except EndPointNotFound:
                self._check_status(404, b"", url, "query")
            except (EndPointInternalError, URITooLong) as exc:
                status = 414 if isinstance(exc, URITooLong) else 500
                raise EndpointError(f"HTTP {status}: the endpoint failed on the query: {_msg(exc)}", file=url) from None
            except urllib.error.HTTPError as exc:
                self._check_status(exc.code, exc.read() or b"", url, "query")
            except urllib.error.URLError as exc:
                unsent = isinstance(exc.reason, ConnectionRefusedError | TimeoutError)
                raise _Transient(f"{exc.reason}", unsent=unsent) from None
            except (http.client.RemoteDisconnected, ConnectionResetError) as exc:
                raise _Transient(f"connection lost: {exc}", unsent=False) from None
            except TimeoutError:
                raise QueryTimeoutError(f"query did not finish within {w.timeout:g} s", file=url,
                                        hint="narrow the query or raise --timeout") from None
            raise AssertionError("unreachable")

        return self._retrying("query", url, once)

    def _select(self, sparql: str) -> list[tuple[Node | None, ...]]:
        return self._decode(self._raw_query(sparql, "select", union=False, timeout=None), "select").rows

    def _query(self, sparql: str, bindings: dict[str, Node], timeout: float | None) -> QueryResult:
        kind = query_kind(sparql)
        if kind == "update":
            raise QueryError("this is a SPARQL update, not a query", hint="use Store.update()")
        text = inject_values(sparql, bindings) if bindings else sparql
        return self._decode(self._raw_query(text, kind, union=True, timeout=timeout), kind)

    @staticmethod
    def _decode(answer: tuple[bytes, str], kind: str) -> QueryResult:
        body, content_type = answer
        if kind in ("construct", "describe"):
            fmt = ox.RdfFormat.from_media_type(content_type.split(";")[0].strip()) or ox.RdfFormat.TURTLE
            g = rdflib.Graph()
            for t in ox.parse(body, fmt):
                g.add((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)))  # type: ignore[arg-type]
            return QueryResult("graph", graph=g)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise EndpointError(f"the endpoint did not answer SPARQL JSON ({content_type}): {exc}") from None
        if "boolean" in data:
            return QueryResult("ask", boolean=bool(data["boolean"]))
        variables = list(data.get("head", {}).get("vars", []))
        rows = [tuple(from_json(b[v]) if v in b else None for v in variables)
                for b in data.get("results", {}).get("bindings", [])]
        return QueryResult("select", variables=variables, rows=rows)

    def graph_names(self) -> set[str]:
        return {str(row[0]) for row in self._select(self.dialect.graph_names) if isinstance(row[0], rdflib.URIRef)}

    def quad_count(self) -> int:
        rows = self._select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0  # type: ignore[arg-type]

    def _quads(self, graph: str | None) -> Iterable[ox.Quad]:
        if graph is not None:
            g = ox.NamedNode(graph)
            rows = self._select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
            quads = [ox.Quad(to_ox(s), to_ox(p), to_ox(o), g) for s, p, o in rows]  # type: ignore[arg-type]
        else:
            rows = self._select("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
            quads = [ox.Quad(to_ox(s), to_ox(p), to_ox(o), to_ox(g)) for s, p, o, g in rows]  # type: ignore[arg-type]
        # the rows went through rdflib, which re-spells some typed literals (a zero xsd:duration as "P0D")
        return canonical_quads(quads)

    def release_thread(self) -> None:
        self._http.close()  # the calling thread's connections (they are kept per thread)

    def close(self) -> None:
        self._http.close()


def _check_url(url: str) -> str:
    """An http(s) URL with a host, or a StoreError (urllib's own errors are ValueErrors without context)."""
    text = url.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a bad port, a bad IPv6 literal
        ok = False
    if not ok or any(c.isspace() for c in text):
        raise StoreError(f"not an http(s) endpoint URL: {url!r}", hint="e.g. http://127.0.0.1:7878/query")
    return text


def _msg(exc: Exception) -> str:
    """The server's answer in a SPARQLWrapper exception (which holds it only as ``repr(bytes)`` in its text)."""
    text = str(exc).strip()
    if "Response:\n" in text:
        answer = text.split("Response:\n", 1)[1].strip()
        if answer[:2] in ("b'", 'b"'):
            try:
                answer = ast.literal_eval(answer).decode("utf-8", "replace")
            except (ValueError, SyntaxError, AttributeError):
                pass
        text = " ".join(answer.split())
    return text[:300] if text else type(exc).__name__
