"""The ingest pipeline: parse workers, the writer thread, shared nodes written once, the lenient bulk path.

The store must hold exactly the same quads whatever the number of workers and
the batch size, and whatever was ingested before in the same process.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg import synth
from kg.errors import StoreError
from kg.ingest import ingest
from kg.mapping import map_certificate
from kg.parser import parse_file, parse_text
from kg.store.embedded import EmbeddedStore
from kg.store.memory import MemoryStore
from kg.store.terms import check_iri

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "data" / "certificates").glob("*.txt"))
COUNT = 90


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("register")
    synth.write(COUNT, out, seed=7)
    for p in SAMPLES:
        (out / p.name).write_bytes(p.read_bytes())
    return out


def _content(store: EmbeddedStore | MemoryStore) -> dict[str, str]:
    return {g: store.graph_nquads(g) for g in store.graph_names() if "/graph/ontology/" not in g}


@pytest.fixture(scope="module")
def one_worker(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    with EmbeddedStore(tmp_path_factory.mktemp("w1") / "s") as store:
        report = ingest([corpus], store, workers=1)
        assert report.ok and len(report.ingested) == COUNT + len(SAMPLES)
        return _content(store)


@pytest.mark.parametrize(("workers", "batch_size"), [(2, 500), (2, 7), (3, 1)])
def test_workers_and_batches_give_the_same_store(corpus: Path, one_worker: dict[str, str], tmp_path: Path,
                                                 workers: int, batch_size: int) -> None:
    """Workers hand each shared node (a clause template) over once per process and the writer batches
    them: whatever the split, the store holds the same quads, templates and companies included."""
    with EmbeddedStore(tmp_path / "s") as store:
        report = ingest([corpus], store, workers=workers, batch_size=batch_size)
        assert report.ok
        assert _content(store) == one_worker


def test_every_ingest_run_writes_its_shared_nodes(corpus: Path, one_worker: dict[str, str], tmp_path: Path) -> None:
    """Regression guard: the per-process record of shared nodes already handed over must not outlive a
    run, or a second store ingested in the same process would miss the templates the first one got."""
    with EmbeddedStore(tmp_path / "a") as first:
        ingest([corpus], first, workers=1)
    with EmbeddedStore(tmp_path / "b") as second:
        ingest([corpus], second, workers=1)
        assert _content(second) == one_worker
    memory = MemoryStore()
    ingest(SAMPLES, memory, workers=1)
    templates = [g for g in memory.graph_names() if g.endswith("/graph/templates")]
    assert templates and memory.graph_nquads(templates[0]).count("\n") > 50


class _FailingStore(MemoryStore):
    """Its first bulk load fails; records every write that reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def load_new_graphs(self, items, *, validated: bool = False) -> None:  # type: ignore[override]
        self.calls.append("load_new_graphs")
        time.sleep(0.5)  # slow, like a real bulk load: the next batch's writes queue up behind it
        raise StoreError("disk full", file="test")

    def add_to_graph(self, graph: str, nquads: str) -> None:
        self.calls.append("add_to_graph")
        super().add_to_graph(graph, nquads)

    def replace_graph(self, graph: str, nquads: str) -> None:
        self.calls.append("replace_graph")
        super().replace_graph(graph, nquads)


def test_a_failed_write_stops_every_later_write(corpus: Path) -> None:
    """The writer thread raises the store's error in the caller, and writes nothing after it (not even
    the writes already queued behind the failed one)."""
    store = _FailingStore()
    with pytest.raises(StoreError, match="disk full"):
        ingest([corpus], store, workers=1, batch_size=10)
    reference_writes = store.calls.index("load_new_graphs")
    assert store.calls.count("load_new_graphs") == 1
    assert store.calls[reference_writes + 1:] == []
    assert not [g for g in store.graph_names() if "/graph/ontology/" not in g and not g.endswith(
        ("/graph/templates", "/graph/companies"))]


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_mapper_nquads_pass_the_strict_parser(path: Path) -> None:
    """The bulk path loads the mapper's text leniently (no IRI checks): it must be valid anyway."""
    mapped = map_certificate(parse_file(path))
    _strict(mapped.nquads())
    for _graph, nodes in mapped.shared():
        _strict("".join(nodes.values()))


def test_synthetic_nquads_pass_the_strict_parser() -> None:
    for cert in synth.generate(60, seed=11, damage=0.2):
        mapped = map_certificate(parse_text(cert.text, file=cert.file_name))
        _strict(mapped.nquads())
        for _graph, nodes in mapped.shared():
            _strict("".join(nodes.values()))


def _strict(text: str) -> None:
    quads = list(ox.parse(text, ox.RdfFormat.N_QUADS))  # strict: IRIs and language tags validated
    assert quads and len(quads) == text.count("\n")
    for q in quads:
        for term in (q.subject, q.predicate, q.object, q.graph_name):
            if isinstance(term, ox.NamedNode):
                check_iri(term.value)


def test_a_base_iri_that_would_break_the_n_quads_is_refused(corpus: Path) -> None:
    """The bulk loader trusts the mapper's IRIs; the base is the one part it takes from the caller."""
    store = MemoryStore()
    with pytest.raises(StoreError, match="base IRI"):
        ingest(SAMPLES, store, base="http://example.org/a b/")
    assert store.graph_names() == set()


def test_the_writer_thread_lets_go_of_its_store_when_it_ends() -> None:
    """WriteQueue(on_exit=...) runs in the writer thread as it ends, after the writes and after an abandon."""
    import threading

    from kg.write_queue import WriteQueue

    for abandon in (False, True):
        seen: list[str] = []
        writer = WriteQueue(on_exit=lambda seen=seen: seen.append(threading.current_thread().name))
        writer.submit(seen.append, "write")
        writer.close(abandon=abandon)
        assert seen[-1] == "kg-store-writer" and len(seen) in (1, 2)


@pytest.mark.server
def test_ingest_to_an_endpoint_closes_the_writer_connection(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Regression: the ingest's writer thread talks to an endpoint over a keep-alive connection of its own;
    when the thread ended, the garbage collector closed it ("ResourceWarning: unclosed <socket…>")."""
    import gc
    import warnings

    from tests.conftest import make_store

    store = make_store("server", tmp_path, request)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            assert len(ingest(SAMPLES, store).ingested) == 5
            gc.collect()
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    finally:
        store.close()
