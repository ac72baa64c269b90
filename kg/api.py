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
        return _open_store(endpoint=endpoint, **kwargs)
    return _open_store(store_dir=os.fspath(store) if store else default_store_dir(), read_only=read_only, **kwargs)


def ingest(paths: Iterable[str | os.PathLike[str]], store: Store, *, progress: Progress | None = None) -> IngestReport:
    return _ingest(paths, store, progress=progress)


def run_query(
    name_or_path: str,
    store: Store,
    params: dict[str, object] | None = None,
    *,
    timeout: float | None = None,
) -> QueryResult:
    """Run a named query (or a .rq file) with typed parameter bindings."""
    spec = _queries.get(name_or_path)
    bindings = _queries.bindings_for(spec, dict(params or {}))
    if _queries.is_update(spec.text):
        raise UpdateRefusedError("is a SPARQL Update; kg query only reads", file=str(spec.path),
                                 hint="updates are refused on purpose; edit the store through kg ingest")
    return store.query(spec.text, bindings, timeout=timeout)


def query(name_or_path: str, store: Store | str | os.PathLike[str] | None = None, **params: object) -> pd.DataFrame:
    """``kg.query("expiring", as_of="2026-11-22", days=90)`` → a DataFrame.

    ``store`` is a :class:`Store`, a store directory, or None for the default
    embedded store (opened read-only for the call).
    """
    if isinstance(store, Store):
        return run_query(name_or_path, store, params).to_dataframe()
    with open_store(store, read_only=True) as s:
        return run_query(name_or_path, s, params).to_dataframe()


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

    A graph is either pushed whole or left as it was on the remote. When the
    endpoint is unreachable (after the remote store's own bounded retries) the
    push stops and lists the graphs it did not attempt; graph-specific errors
    are recorded and the push goes on.
    """
    from kg.errors import EndpointError

    names = sorted(graphs if graphs is not None else source.graph_names())
    report = PushReport()
    for i, graph in enumerate(names):
        try:
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
