"""Profile of the ingest: where one certificate's time goes, stage by stage and function by function.

    python bench/ingest_profile.py                       # 1,000 synthetic certificates, print
    python bench/ingest_profile.py --count 2000 --write  # also write bench/ingest_profile.md

Everything runs in one process (``workers=1``) so that cProfile sees all of
it: read and decode, parse, map to N-Quads, bulk load into a fresh embedded
store. The stage table times each stage on its own over the same files; the
function table is cProfile's, grouped by the module that owns the time.
Not part of the test command: benchmarks measure, tests assert.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def stages(files: list[Path], store_dir: Path) -> list[tuple[str, float]]:
    """Milliseconds per certificate for each stage, measured separately."""
    from kg import api
    from kg.mapping import map_certificate
    from kg.parser import parse_bytes

    blobs = [(f.name, f.read_bytes()) for f in files]
    t = time.perf_counter()
    certs = [parse_bytes(b, file=name) for name, b in blobs]
    parse = time.perf_counter() - t
    t = time.perf_counter()
    mapped = [map_certificate(c) for c in certs]
    map_ = time.perf_counter() - t
    t = time.perf_counter()
    texts = [(m.graph, m.nquads().encode("utf-8")) for m in mapped]  # as the workers hand them over
    nq = time.perf_counter() - t
    store = api.open_store(store_dir)
    t = time.perf_counter()
    shared: dict[str, dict[str, str]] = {}
    for m in mapped:
        for g, nodes in m.shared():
            shared.setdefault(g, {}).update(nodes)
    for g, nodes in shared.items():
        store.add_to_graph(g, "".join(nodes.values()))
    store.load_new_graphs(texts, validated=True)
    load = time.perf_counter() - t
    store.close()
    n = len(files)
    return [("parse (read, decode, sections, fields, clauses)", parse * 1000 / n),
            ("map to model triples", map_ * 1000 / n), ("serialise N-Quads", nq * 1000 / n),
            ("bulk load into Oxigraph (incl. shared graphs)", load * 1000 / n)]


class _Inline:
    """A write queue that runs each write at once, in the caller's thread: cProfile follows one thread only,
    and the ingest's own queue runs the bulk load on a background thread."""

    def __init__(self, on_exit=None) -> None:
        self.on_exit = on_exit

    def submit(self, fn, *args, **kwargs) -> None:
        fn(*args, **kwargs)

    def close(self, *, abandon: bool = False) -> None:
        if self.on_exit is not None:  # what the real queue's thread calls when it ends
            self.on_exit()


def profile(files: list[Path], store_dir: Path) -> pstats.Stats:
    from kg import api
    from kg import ingest as ingest_module

    store = api.open_store(store_dir)
    real = ingest_module.WriteQueue
    ingest_module.WriteQueue = _Inline  # type: ignore[assignment,misc]
    prof = cProfile.Profile()
    try:
        prof.enable()
        ingest_module.ingest(files, store, workers=1)
        prof.disable()
    finally:
        ingest_module.WriteQueue = real  # type: ignore[misc]
        store.close()
    return pstats.Stats(prof)


def by_module(stats: pstats.Stats, total: float) -> list[tuple[str, float]]:
    """Own (tottime) seconds per module: which code the time is actually spent in."""
    own: dict[str, float] = defaultdict(float)
    for (file, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if file == "~":
            key = f"built-in: {func.strip('<>').split(' of ')[0]}"
        else:
            p = Path(file)
            key = f"{p.parent.name}/{p.name}" if "kg" in p.parts else p.name
        own[key] += tt
    return sorted(own.items(), key=lambda kv: -kv[1])[:18]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None)
    ap.add_argument("--write", action="store_true", help="write bench/ingest_profile.md")
    args = ap.parse_args()

    from kg import reference, synth

    work = Path(args.work or tempfile.mkdtemp(prefix="kg-profile-"))
    certs = work / f"certs-{args.count}"
    if not (certs / synth.FACTS_FILE).exists():
        synth.write(args.count, certs, seed=args.seed, workers=2)
    files = sorted(certs.glob("synth_*.txt"))
    reference.load()
    stage_rows = stages(files, work / "store-stages")
    t = time.perf_counter()
    stats = profile(files, work / "store-profile")
    total = time.perf_counter() - t
    n = len(files)

    lines = ["# Ingest profile", "", f"`python bench/ingest_profile.py --count {n} --write`: {n:,} synthetic certificates "
             "(seed 1), one process, a fresh embedded store. Under cProfile the ingest is slower than without; "
             "read the shares, not the absolute figures. The store writes run inline here (cProfile follows one "
             "thread); `kg ingest` runs them on a writer thread beside the parsing.", "", "## Stages (measured separately, no profiler)", "",
             "| stage | ms per certificate | share |", "|---|---|---|"]
    whole = sum(ms for _, ms in stage_rows)
    lines += [f"| {name} | {ms:.2f} | {ms / whole:.0%} |" for name, ms in stage_rows]
    lines += [f"| **total, one core** | **{whole:.2f}** | → {1000 / whole:.0f} certificates/s per core |", "",
              f"## Own time by module (cProfile of `kg.ingest.ingest`, workers=1: {total:.1f} s, "
              f"{total * 1000 / n:.2f} ms per certificate)", "", "| module | seconds | share |", "|---|---|---|"]
    lines += [f"| {mod} | {sec:.2f} | {sec / total:.0%} |" for mod, sec in by_module(stats, total)]
    lines += ["", "## Top functions by own time", "", "| function | calls | own s | cumulative s |",
              "|---|---|---|---|"]
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:25]  # type: ignore[attr-defined]
    for (file, line, func), (_cc, nc, tt, ct, _callers) in rows:
        where = "built-in" if file == "~" else f"{Path(file).parent.name}/{Path(file).name}:{line}"
        lines.append(f"| `{func}` ({where}) | {nc:,} | {tt:.2f} | {ct:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (ROOT / "bench" / "ingest_profile.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
