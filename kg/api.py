"""The library API that the CLI and notebooks share.

Everything ``kg …`` prints is available here as data (models, DataFrames,
reports); the CLI only formats it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg import queries as _queries
from kg.errors import KgError, UpdateRefusedError
from kg.ingest import IngestReport, Progress
from kg.ingest import ingest as _ingest
from kg.store import open_store as _open_store
from kg.store.base import QueryResult, Store

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_STORE_DIR = "kg-store"


def default_store_dir() -> str:
    """``$KG_STORE`` or ``./kg-store``."""
    return os.environ.get("KG_STORE") or DEFAULT_STORE_DIR


def open_store(
    store: str | os.PathLike[str] | None = None,
    *,
    endpoint: str | None = None,
    memory: bool = False,
    read_only: bool = False,
    **kwargs: Any,
) -> Store:
    """Open the embedded store (default), an in-memory one, or a remote SPARQL endpoint."""
    if memory:
        return _open_store(memory=True)
    if not endpoint and not store and os.environ.get("KG_ENDPOINT"):
        endpoint = os.environ["KG_ENDPOINT"]
    if endpoint:
        return _open_store(endpoint=endpoint, **{**endpoint_settings(), **kwargs})
    return _open_store(store_dir=os.fspath(store) if store else default_store_dir(), read_only=read_only, **kwargs)


#: Seconds a query may run (``kg query``, :func:`query`) unless ``--timeout`` or ``$KG_QUERY_TIMEOUT`` says otherwise.
DEFAULT_QUERY_TIMEOUT = 300.0


def _env_number(name: str, *, integer: bool = False, minimum: float = 0.0) -> float | int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = None
    if value is None or value != value or value < minimum or value == float("inf"):
        kind = "a whole number" if integer else "a number of seconds"
        raise KgError(f"${name}={raw!r} is not {kind} >= {minimum:g}", hint=f"fix or unset {name}")
    return value


def endpoint_settings() -> dict[str, Any]:
    """Remote-store settings from the environment (docs/reliability.md).

    ``KG_ENDPOINT_RETRIES`` (default 4) retries of a transient failure, waiting
    ``KG_ENDPOINT_BACKOFF`` seconds (default 0.5), doubled each time (at most
    30 s); ``KG_ENDPOINT_TIMEOUT`` seconds for any one request (default: 60 for
    queries, 300 for writes).
    """
    out: dict[str, Any] = {}
    retries = _env_number("KG_ENDPOINT_RETRIES", integer=True)
    if retries is not None:
        out["retries"] = retries
    backoff = _env_number("KG_ENDPOINT_BACKOFF")
    if backoff is not None:
        out["backoff"] = backoff
    timeout = _env_number("KG_ENDPOINT_TIMEOUT", minimum=0.001)
    if timeout is not None:
        out["timeout"] = out["write_timeout"] = timeout
    return out


def query_timeout(timeout: float | None = None) -> float | None:
    """The timeout of a query: ``timeout`` if given (0 means none), else ``$KG_QUERY_TIMEOUT``, else 300 s."""
    if timeout is None:
        env = _env_number("KG_QUERY_TIMEOUT")
        timeout = DEFAULT_QUERY_TIMEOUT if env is None else env
    if timeout != timeout or timeout < 0 or timeout == float("inf"):
        raise KgError(f"timeout {timeout!r} is not a number of seconds >= 0", hint="0 means no timeout")
    return timeout or None


def ingest(paths: Iterable[str | os.PathLike[str]], store: Store, *, progress: Progress | None = None,
           workers: int = 1) -> IngestReport:
    """Parse, map and store certificates (``workers > 1``: parse in that many processes; docs/reliability.md)."""
    return _ingest(paths, store, progress=progress, workers=workers)


def run_query(
    name_or_path: str,
    store: Store,
    params: dict[str, object] | None = None,
    *,
    timeout: float | None = None,
) -> QueryResult:
    """Run a named query (or a .rq file) with typed parameter bindings; a SPARQL Update is refused."""
    spec = _queries.get(name_or_path)
    if _queries.is_update(spec.text):
        raise UpdateRefusedError("is a SPARQL Update; kg query only reads", file=str(spec.path),
                                 hint="edit the store through kg ingest, or pass --allow-update on purpose")
    bindings = _queries.bindings_for(spec, dict(params or {}))
    return store.query(spec.text, bindings, timeout=timeout)


def run_update(path: str | os.PathLike[str], store: Store, params: dict[str, object] | None = None) -> None:
    """Run a SPARQL Update file, asked for explicitly (``kg query FILE.rq --allow-update``).

    The store is meant to change through the ingest, whose graphs stay
    traceable to their documents, so this is a separate, deliberate call. The
    update is one request (one transaction on the embedded store). It takes
    no parameters: neither engine binds variables in an update, and pasting
    values into the text is what the parameter binding exists to avoid.
    """
    spec = _queries.get(os.fspath(path))
    if not _queries.is_update(spec.text):
        raise KgError("is a query, not a SPARQL Update", file=str(spec.path), hint="run it without --allow-update")
    if params:
        raise _queries.ParameterError("a SPARQL Update takes no parameters", file=str(spec.path),
                                      hint="write the values into the update file")
    store.update(spec.text)


def query(name_or_path: str, store: Store | str | os.PathLike[str] | None = None, **params: object) -> pd.DataFrame:
    """``kg.query("expiring", as_of="2026-11-22", days=90)`` → a DataFrame.

    ``store`` is a :class:`Store`, a store directory, or None for the default
    embedded store (opened read-only for the call).
    """
    if isinstance(store, Store):
        return run_query(name_or_path, store, params, timeout=query_timeout()).to_dataframe()
    with open_store(store, read_only=True) as s:
        return run_query(name_or_path, s, params, timeout=query_timeout()).to_dataframe()


def is_update_file(name_or_path: str) -> bool:
    """Whether a named query or .rq file is a SPARQL Update (so the CLI knows to open the store for writing)."""
    return _queries.is_update(_queries.get(name_or_path).text)


def list_queries() -> list[_queries.QuerySpec]:
    return _queries.list_queries()


def export(store: Store, out: str | os.PathLike[str], fmt: str = "trig") -> Path:
    path = Path(out)
    with path.open("wb") as fh:
        store.export(fh, fmt)  # type: ignore[arg-type]
    return path


@dataclass
class PushReport:
    """Which graphs reached the remote store; running the push again completes the rest."""

    pushed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (graph, reason)
    not_attempted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_attempted


def push(source: Store, target: Store, *, graphs: Iterable[str] | None = None) -> PushReport:
    """Replace each graph of ``source`` on ``target``, one atomic graph replacement at a time.

    A graph is either pushed whole or left as it was on the remote. Ontology
    and shared graphs go first, as in the ingest, so that a push cut short
    leaves no certificate pointing at a template the remote does not have;
    the shared graphs (clause templates, companies) are merged into the
    remote's (set union), not replaced, for the same reason: certificate
    graphs already on the remote may point at nodes this store lacks. When the
    endpoint is unreachable (after the remote store's own bounded retries) the
    push stops and lists the graphs it did not attempt; graph-specific errors
    are recorded and the push goes on.
    """
    from kg.errors import EndpointError

    names = sorted(graphs if graphs is not None else source.graph_names(), key=_push_order)
    report = PushReport()
    for i, graph in enumerate(names):
        try:
            if _push_order(graph)[0] == 0 and "/graph/ontology/" not in graph:
                target.add_to_graph(graph, source.graph_nquads(graph))  # shared nodes: merged, as in the ingest
            else:
                target.replace_graph(graph, source.graph_nquads(graph))
        except EndpointError as exc:
            report.failed.append((graph, exc.one_line()))
            report.not_attempted.extend(names[i + 1 :])
            break
        except KgError as exc:
            report.failed.append((graph, exc.one_line()))
            continue
        report.pushed.append(graph)
    return report


def _push_order(graph: str) -> tuple[int, str]:
    """Ontology and shared graphs (templates, companies) first: a push cut short leaves no dangling reference."""
    from kg.mapping import COMPANIES_GRAPH, TEMPLATES_GRAPH

    shared = graph.endswith(("/" + TEMPLATES_GRAPH, "/" + COMPANIES_GRAPH)) or "/graph/ontology/" in graph
    return (0 if shared else 1, graph)


def serve(store_dir: str | os.PathLike[str] | None = None, *, host: str = "127.0.0.1", port: int = 7878,
          allow_updates: bool = False) -> Any:
    """An Oxigraph SPARQL server over the embedded store (read-only unless ``allow_updates``).

    Returns the started :class:`~kg.store.server.OxigraphServer` (a context
    manager); the default graph is the union of the certificate graphs, as in
    the library.
    """
    from kg.store.server import OxigraphServer

    location = Path(store_dir or default_store_dir())
    if not location.is_dir():
        raise KgError("no store here", file=str(location), hint="run 'kg ingest …' first or pass --store DIR")
    return OxigraphServer(location, port=port, host=host, read_only=not allow_updates, union_default_graph=True)
