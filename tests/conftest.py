"""Shared fixtures. Keep this file generic: fixtures for one module belong in that module.

* ``oxigraph_server``: one real Oxigraph server per test session (writes
  enabled, data in a temporary directory, bound to 127.0.0.1 on a free port),
  stopped at the end of the session.
* ``store``: a fresh, empty store of each kind in turn — ``memory`` (rdflib),
  ``embedded`` (pyoxigraph on disk) and ``server`` (a remote store on the
  session server, cleared with ``DROP ALL`` before each test). A test that
  takes ``store`` runs three times with the same assertions.
* ``samples_store_dir``: a closed embedded store holding the five samples,
  one per test module, for tests that run ``kg`` against a store on disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from kg.ingest import REFERENCE_FILES, reference_nquads
from kg.mapping import map_certificate
from kg.models import Certificate
from kg.parser import parse_file
from kg.store.base import Store
from kg.store.embedded import EmbeddedStore
from kg.store.memory import MemoryStore
from kg.store.server import OxigraphServer

STORE_KINDS = ("memory", "embedded", "server")
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "certificates"


def pytest_configure(config: pytest.Config) -> None:
    # rdflib 7.6 calls its own deprecated Dataset.default_context inside Dataset.triples(): not ours to fix
    config.addinivalue_line("filterwarnings", "ignore:Dataset.default_context is deprecated:DeprecationWarning")


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    """A real ``oxigraph serve`` on 127.0.0.1 (a server-side query timeout stops runaway test queries)."""
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph") / "data", read_only=False, timeout_s=60)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_store(kind: str, directory: Path, request: pytest.FixtureRequest) -> Store:
    """An empty store of ``kind`` (``memory``, ``embedded`` in ``directory``, or ``server``)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "embedded":
        return EmbeddedStore(directory / "kg-store")
    if kind == "server":
        server: OxigraphServer = request.getfixturevalue("oxigraph_server")
        remote = server.store(retries=2, backoff=0.05)
        remote.update("DROP ALL")
        return remote
    raise ValueError(f"unknown store kind {kind!r}")


@pytest.fixture(params=[pytest.param(k, marks=[pytest.mark.server] if k == "server" else []) for k in STORE_KINDS])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A fresh empty store of each kind: the same test runs on memory, embedded and server.

    The embedded store lives in its own temporary directory, not in the test's
    ``tmp_path``, so a test can ingest everything under ``tmp_path``.
    """
    s = make_store(request.param, tmp_path_factory.mktemp("store"), request)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def loaded(store: Store) -> Store:
    """The five samples ingested into each kind of store (``store``)."""
    from kg.ingest import ingest

    report = ingest([SAMPLES], store)
    assert report.ok, [r.reason for r in report.failed]
    assert len(report.ingested) == 5
    return store


@pytest.fixture(scope="module")
def samples_store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded store with the five samples, closed so that ``kg`` subprocesses can open it."""
    from kg.ingest import ingest

    path = tmp_path_factory.mktemp("samples") / "kg-store"
    with EmbeddedStore(path) as s:
        assert ingest([SAMPLES], s).ok
    return path


@cache
def _reference() -> tuple[tuple[str, str], ...]:
    return tuple((graph, nq) for graph, _, nq in (reference_nquads(name) for name in REFERENCE_FILES))


def store_with(*certs: Certificate, store: Store | None = None) -> Store:
    """A store (a new memory store unless given) holding the ontology, the vocabularies and the given
    certificates."""
    store = store if store is not None else MemoryStore()
    for graph, nq in _reference():
        store.replace_graph(graph, nq)
    for cert in certs:
        mapped = map_certificate(cert)
        store.add_to_graph(mapped.templates_graph, mapped.template_nquads())
        store.replace_graph(mapped.graph, mapped.nquads())
    return store


def parsed_folder(folder: Path) -> list[Certificate]:
    """The certificates of a folder (a register kg synth wrote, or the samples), parsed: the tests' oracle."""
    return [parse_file(p) for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]


@contextlib.contextmanager
def synthetic_register(count: int, seed: int, tmp_path_factory: pytest.TempPathFactory,
                       request: pytest.FixtureRequest) -> Iterator[tuple[Store, Path]]:
    """``count`` synthetic certificates written and ingested into a new embedded store: (store, folder)."""
    from kg import synth
    from kg.ingest import ingest

    out = tmp_path_factory.mktemp("register")
    synth.write(count, out, seed=seed)
    store = make_store("embedded", tmp_path_factory.mktemp("store"), request)
    try:
        result = ingest([out], store)
        assert result.ok and len(result.ingested) == count
        yield store, out
    finally:
        store.close()
