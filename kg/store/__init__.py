"""Where the knowledge graph lives: one interface, three back ends (docs/stores.md).

* ``memory``   rdflib ``Dataset`` in this process (tests, notebooks);
* ``embedded`` pyoxigraph on disk, ``./kg-store`` by default (the ``kg`` commands);
* ``remote``   any SPARQL 1.1 endpoint (Oxigraph server, Fuseki, GraphDB, Virtuoso).
"""

from __future__ import annotations

import os
from typing import Any

from kg.store.base import QueryResult, Store

DEFAULT_STORE_DIR = "kg-store"

__all__ = ["DEFAULT_STORE_DIR", "QueryResult", "Store", "open_store"]


def open_store(store_dir: str | None = None, endpoint: str | None = None, memory: bool = False, **kw: Any) -> Store:
    """Open a store: in memory, at a SPARQL endpoint, or in a directory.

    Precedence: ``memory``; ``endpoint``; ``store_dir``; ``$KG_ENDPOINT``;
    ``$KG_STORE``; ``./kg-store``. Keyword arguments go to the back end:
    ``read_only`` (all), ``dialect``, ``timeout``, ``retries``… (remote; the
    dialect defaults to ``$KG_ENDPOINT_DIALECT`` or ``oxigraph``).
    Credentials are never arguments: a remote store reads
    ``KG_ENDPOINT_USER`` / ``KG_ENDPOINT_PASSWORD``.
    """
    if memory:
        from kg.store.memory import MemoryStore

        return MemoryStore(read_only=bool(kw.get("read_only", False)))
    if not endpoint and not store_dir:
        endpoint = os.environ.get("KG_ENDPOINT") or None
    if endpoint:
        from kg.store.remote import RemoteStore

        kw.setdefault("dialect", os.environ.get("KG_ENDPOINT_DIALECT") or "oxigraph")
        return RemoteStore(endpoint, **kw)
    from kg.store.embedded import EmbeddedStore

    return EmbeddedStore(store_dir or os.environ.get("KG_STORE") or DEFAULT_STORE_DIR, **kw)
