"""Ingest certificates into a store: parse, map, and replace each certificate's graph.

Guarantees an analyst can rely on:

* a file that fails to parse changes nothing in the store;
* each certificate's named graph is replaced in one atomic step, so a reader
  (or a crash) sees the old graph or the new one, never half of one;
* clause templates are written before the graph that points at them, so a
  crash between the two leaves at worst an unused template, never a dangling
  clause;
* ingesting the same files again leaves the store unchanged (idempotent);
* the ontology and vocabularies are loaded once, and again only when their
  Turtle changes.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import glob
import hashlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal as TLiteral

import pyoxigraph as ox
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS

from kg import reference
from kg.errors import KgError, StoreError
from kg.mapping import map_certificate
from kg.namespaces import DEFAULT_DATA_BASE
from kg.parser import parse_file, printable
from kg.reference import ONTOLOGY_DIR
from kg.store.base import Store
from kg.store.embedded import LOCK_FILE
from kg.store.terms import check_iri
from kg.write_queue import SharedNodes, WriteQueue

REFERENCE_FILES = ("core.ttl", "vocab-business-types.ttl", "vocab-regions.ttl", "vocab-authorities.ttl",
                   "vocab-regulations.ttl")

Status = TLiteral["ingested", "warnings", "failed"]


@dataclass
class FileResult:
    path: str
    status: Status
    licence: str | None = None
    graph: str | None = None
    triples: int = 0
    issues: int = 0
    reason: str | None = None


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    reference_loaded: list[str] = field(default_factory=list)
    bulk_loaded: int = 0  # new graphs written through the bulk path
    compacted_seconds: float | None = None  # time spent compacting the store after a large bulk load

    @property
    def ingested(self) -> list[FileResult]:
        return [r for r in self.results if r.status != "failed"]

    @property
    def with_warnings(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "warnings"]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dataframe(self):  # -> pandas.DataFrame (pandas imported lazily: CLI start-up time)
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.results])


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files, directories (recursively, hidden files skipped) and glob patterns, in a stable order.

    A path that matches nothing is returned as is, so that it is reported as a
    failure rather than silently skipped; so is a directory that cannot be
    listed. Symlink loops are not followed, and a file reached by two paths
    (symlinks, ``..``) is listed once.
    """
    out: list[Path] = []
    seen: set[str] = set()

    def push(p: Path) -> None:
        try:
            key = os.path.realpath(p)  # one file reached through symlinks or ".." is ingested once
        except (OSError, ValueError):  # a link it may not read (/proc/1/cwd), a NUL: reported when read
            key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for raw in paths:
        text = os.fspath(raw)
        candidates = [Path(text)]
        if not _probe(Path(text).exists) and glob.has_magic(text):
            candidates = [Path(m) for m in sorted(glob.glob(text, recursive=True))] or [Path(text)]
        for c in candidates:
            if _probe(c.is_dir):
                for f in _walk(c):
                    push(f)
            else:
                push(c)
    return out


def _probe(check: Callable[[], bool]) -> bool:
    """``Path.exists``/``is_dir`` without the PermissionError Python 3.11 lets through (reported when read)."""
    try:
        return check()
    except (OSError, ValueError):  # ValueError: a path with a NUL byte
        return False


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root``; a directory that cannot be listed is yielded itself, so that it is reported."""
    visited: set[tuple[int, int]] = set()
    unreadable: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable.append):
        yield from (Path(e.filename) for e in unreadable if e.filename)
        unreadable.clear()
        try:
            st = os.stat(dirpath)
        except OSError:
            yield Path(dirpath)
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:  # a symlink loop: stop descending
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name
    yield from (Path(e.filename) for e in unreadable if e.filename)


def reference_graph_iri(file_name: str, base: str = DEFAULT_DATA_BASE) -> str:
    return f"{base}graph/ontology/{Path(file_name).stem}"


def reference_nquads(file_name: str, base: str = DEFAULT_DATA_BASE) -> tuple[str, str, str]:
    """(graph IRI, version, N-Quads) of one ontology file; the version is the Turtle's sha256."""
    path = ONTOLOGY_DIR / file_name
    data = path.read_bytes()
    version = hashlib.sha256(data).hexdigest()
    graph = reference_graph_iri(file_name, base)
    g = ox.NamedNode(graph)
    quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in ox.parse(data, format=ox.RdfFormat.TURTLE)]
    quads.append(ox.Quad(g, ox.NamedNode(str(DCTERMS.hasVersion)), ox.Literal(version), g))
    # pyoxigraph's N-Quads writer escapes line breaks in literals (multi-line comments stay loadable)
    text = ox.serialize(quads, format=ox.RdfFormat.N_QUADS).decode("utf-8")
    return graph, version, "".join(sorted(line + "\n" for line in text.splitlines() if line.strip()))


def ensure_reference(store: Store, base: str = DEFAULT_DATA_BASE) -> list[str]:
    """Load the ontology and vocabulary graphs that are missing or out of date; return those loaded."""
    loaded = []
    for name in REFERENCE_FILES:
        graph, version, nquads = reference_nquads(name, base)
        current = store.query(
            "ASK { GRAPH ?g { ?g <http://purl.org/dc/terms/hasVersion> ?v } }",
            {"g": URIRef(graph), "v": Literal(version)},
        )
        if not current.boolean:
            store.replace_graph(graph, nquads)
            loaded.append(graph)
    return loaded


Progress = Callable[[int, int, FileResult], None]


@dataclass
class _Prepared:
    """What a worker hands back: plain strings, cheap to pickle between processes."""

    result: FileResult
    nquads: bytes = b""  # UTF-8: half the memory of a str holding CJK text, and what the loader reads
    shared: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (graph, {node: N-Quads})


def _prepare(path: Path, base: str) -> _Prepared:
    """Parse and map one file (runs in a worker process when ``workers > 1``).

    Every failure becomes a one-line reason that starts with the path as given.
    """
    shown = printable(os.fspath(path))
    if "\x00" in os.fspath(path):
        return _Prepared(FileResult(shown, "failed", reason=f"{shown!r}: not a valid path (it holds a NUL byte)"))
    try:
        if path.is_dir():
            return _Prepared(FileResult(shown, "failed", reason=_directory_reason(path, shown)))
        cert = parse_file(path)
    except KgError as exc:
        exc.file = shown
        return _Prepared(FileResult(shown, "failed", reason=exc.one_line()))
    except OSError as exc:
        return _Prepared(FileResult(shown, "failed", reason=f"{shown}: cannot read ({exc.strerror or exc}; "
                                                             "check that the file exists and is readable)"))
    except Exception as exc:  # a parser bug must not stop an ingest of 10^5 files: report it as this file's
        return _Prepared(FileResult(shown, "failed", reason=_bug(shown, "parsing", exc)))
    try:
        mapped = map_certificate(cert, base)
    except Exception as exc:
        return _Prepared(FileResult(shown, "failed", reason=_bug(shown, "mapping", exc)))
    warnings = [i for i in cert.issues if i.severity in ("error", "warning")]
    result = FileResult(
        path=shown,
        status="warnings" if warnings else "ingested",
        licence=cert.licence_number.printed,
        graph=mapped.graph,
        triples=len(mapped.triples),
        issues=len(warnings),
    )
    return _Prepared(result, mapped.nquads().encode("utf-8"), mapped.shared(skip=_sent))


def _bug(shown: str, stage: str, exc: Exception) -> str:
    return (f"{shown}: internal error while {stage} ({type(exc).__name__}: {str(exc)[:200]}); the file was "
            "skipped: please report it with the file")


def _directory_reason(path: Path, shown: str) -> str:
    try:
        os.listdir(path)
    except OSError as exc:
        return f"{shown}: cannot read the directory ({exc.strerror or exc}; check its permissions)"
    return f"{shown}: a directory that could not be walked (a symlink loop?); give its files instead"


# Shared nodes this process has already handed over in the current ingest run (None: not in a run).
# A template is printed on thousands of licences; serialising and shipping it once per process is enough,
# since the ingest consumes results in order and so has the node before any later result of the process.
_sent: set[str] | None = None


def _prepare_chunk(chunk: list[Path], base: str) -> list[_Prepared]:
    return [_prepare(f, base) for f in chunk]


CHUNK = 16  # files per task sent to a worker
IN_FLIGHT = 4  # tasks per worker queued or unread at any time


def _prepared(files: list[Path], base: str, workers: int) -> Iterator[_Prepared]:
    global _sent
    if workers <= 1 or len(files) < 2 * workers:
        _sent = set()
        try:
            for f in files:
                yield _prepare(f, base)
        finally:
            _sent = None
        return
    import multiprocessing as mp

    reference.load()  # load once in the parent; forked workers inherit it
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(os.getpid(),)) as pool:
        # Bounded, in order: Pool.imap would read ahead without limit, and since the store's bulk load (in
        # this process) is slower than the parse workers, their results piled up here: 1.5 GB at 10^4
        # certificates. At most workers × IN_FLIGHT × CHUNK prepared files are held at once.
        pending: collections.deque = collections.deque()
        for start in range(0, len(files), CHUNK):
            pending.append(pool.apply_async(_prepare_chunk, (files[start:start + CHUNK], base)))
            if len(pending) >= workers * IN_FLIGHT:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def _worker_init(parent: int) -> None:
    """In a forked worker: die with the parent, and drop the inherited copy of the store's lock.

    A fork shares the parent's open ``kg.lock`` (an ``flock`` belongs to the
    open file, not the process): a worker that outlived a killed ingest would
    keep the store locked. Closing the copy does not release the parent's lock.
    """
    global _sent
    _sent = set()
    # Ctrl-C reaches the whole process group: the parent handles it (finishes the write in flight, stops the
    # pool); a worker that raised KeyboardInterrupt too would only print a traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl
            os._exit(1)
    with contextlib.suppress(OSError):
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError, ValueError):
                if os.readlink(f"/proc/self/fd/{fd}").endswith("/" + LOCK_FILE):
                    os.close(int(fd))


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    store: Store,
    *,
    base: str = DEFAULT_DATA_BASE,
    progress: Progress | None = None,
    workers: int = 1,
    batch_size: int = 1000,
) -> IngestReport:
    """Parse, map and store every file; failures are reported, never half-written.

    With ``workers > 1`` parsing and mapping run in worker processes. Graphs
    the store does not hold yet are written in batches through the store's
    bulk path (``Store.load_new_graphs``), graphs it already holds are
    replaced one atomic transaction each; see docs/stores.md for how the bulk
    path stays crash-safe.
    """
    check_iri(base, "base IRI", StoreError)  # the one IRI part the mapper does not build: the loader trusts the rest
    report = IngestReport(reference_loaded=ensure_reference(store, base))
    files = expand_paths(paths)
    written: dict[str, str] = {}
    existing = store.graph_names()
    shared = SharedNodes()
    batch: list[tuple[str, bytes]] = []
    writer = WriteQueue(on_exit=store.release_thread)

    def write_shared() -> None:
        for graph, nquads in shared.take():
            writer.submit(store.add_to_graph, graph, nquads)

    def flush() -> None:
        if batch:
            write_shared()
            # the mapper's N-Quads: IRIs and language tags valid by construction (tests/test_ingest_pipeline.py)
            writer.submit(store.load_new_graphs, list(batch), validated=True)
            report.bulk_loaded += len(batch)
            batch.clear()

    ok = False
    try:
        for i, prep in enumerate(_prepared(files, base, workers), 1):
            result = prep.result
            if result.graph:
                shared.add(prep.shared)
                if result.graph in written:
                    result.reason = f"replaces the graph written from {written[result.graph]} earlier in this run"
                    result.status = "warnings"
                if result.graph in existing or result.graph in written:
                    flush()
                    write_shared()
                    writer.submit(store.replace_graph, result.graph, prep.nquads.decode("utf-8"))
                else:
                    batch.append((result.graph, prep.nquads))
                    if len(batch) >= batch_size:
                        flush()
                written[result.graph] = str(result.path)
            report.results.append(result)
            if progress is not None:
                progress(i, len(files), result)
        flush()
        ok = True
    finally:
        writer.close(abandon=not ok)
    if report.bulk_loaded >= COMPACT_AFTER:
        t = time.perf_counter()
        if store.compact():
            report.compacted_seconds = time.perf_counter() - t
    return report


# Bulk loads leave the embedded store's indexes in many overlapping files, which every lookup has to
# visit: at 10^4 new licences a compaction takes ~12 s (15 % of the ingest) and makes the portfolio
# queries 2-5x faster (bench/results.md). Below this many new graphs it is not worth its time.
COMPACT_AFTER = 2000
