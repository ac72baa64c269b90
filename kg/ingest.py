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

import glob
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal as TLiteral

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS

from kg.errors import KgError
from kg.mapping import map_certificate
from kg.namespaces import DEFAULT_DATA_BASE
from kg.parser import parse_file
from kg.reference import ONTOLOGY_DIR
from kg.store.base import Store

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
    failure rather than silently skipped. Symlink loops are not followed.
    """
    out: list[Path] = []
    seen: set[str] = set()

    def push(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for raw in paths:
        text = os.fspath(raw)
        candidates = [Path(text)]
        if not Path(text).exists() and glob.has_magic(text):
            candidates = [Path(m) for m in sorted(glob.glob(text, recursive=True))] or [Path(text)]
        for c in candidates:
            if c.is_dir():
                for f in _walk(c):
                    push(f)
            else:
                push(c)
    return out


def _walk(root: Path) -> Iterator[Path]:
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in visited:  # a symlink loop: stop descending
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def reference_graph_iri(file_name: str, base: str = DEFAULT_DATA_BASE) -> str:
    return f"{base}graph/ontology/{Path(file_name).stem}"


def reference_nquads(file_name: str, base: str = DEFAULT_DATA_BASE) -> tuple[str, str, str]:
    """(graph IRI, version, N-Quads) of one ontology file; the version is the Turtle's sha256."""
    path = ONTOLOGY_DIR / file_name
    data = path.read_bytes()
    version = hashlib.sha256(data).hexdigest()
    g = Graph()
    g.parse(data=data, format="turtle")
    graph = reference_graph_iri(file_name, base)
    g.add((URIRef(graph), DCTERMS.hasVersion, Literal(version)))
    gname = f"<{graph}>"
    lines = sorted(f"{s.n3()} {p.n3()} {o.n3()} {gname} .\n" for s, p, o in g)
    return graph, version, "".join(lines)


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


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    store: Store,
    *,
    base: str = DEFAULT_DATA_BASE,
    progress: Progress | None = None,
) -> IngestReport:
    """Parse, map and store every file; failures are reported, never half-written."""
    report = IngestReport(reference_loaded=ensure_reference(store, base))
    files = expand_paths(paths)
    written: dict[str, str] = {}
    for i, path in enumerate(files, 1):
        result = ingest_one(path, store, base=base)
        if result.graph and result.graph in written:
            result.reason = f"replaces the graph written from {written[result.graph]} earlier in this run"
            result.status = "warnings"
        if result.graph:
            written[result.graph] = str(path)
        report.results.append(result)
        if progress is not None:
            progress(i, len(files), result)
    return report


def ingest_one(path: Path, store: Store, *, base: str = DEFAULT_DATA_BASE) -> FileResult:
    try:
        cert = parse_file(path)
    except KgError as exc:
        return FileResult(str(path), "failed", reason=exc.one_line())
    except OSError as exc:
        return FileResult(str(path), "failed", reason=f"{path}: cannot read ({exc.strerror or exc})")
    mapped = map_certificate(cert, base)
    store.add_to_graph(mapped.templates_graph, mapped.template_nquads())
    store.replace_graph(mapped.graph, mapped.nquads())
    warnings = [i for i in cert.issues if i.severity in ("error", "warning")]
    return FileResult(
        path=str(path),
        status="warnings" if warnings else "ingested",
        licence=cert.licence_number.printed,
        graph=mapped.graph,
        triples=len(mapped.triples),
        issues=len(warnings),
    )
