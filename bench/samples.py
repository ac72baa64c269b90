"""Load and query figures for the five sample certificates (issue: store and query library).

    python bench/samples.py          # prints Markdown; --write updates bench/samples.md

Measures, on each back end, the time to ingest the five samples (reference graphs
included, first load into an empty store), the quads stored, and the median of
20 runs of every named query with the sample parameters.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARAMS = {"number": "B1-20195402", "business_type": "B11", "region": "广东", "as_of": "2026-11-22", "days": 90}


def measure(backend: str) -> dict:
    from kg import api, queries
    from kg.ingest import ingest

    tmp = Path(tempfile.mkdtemp(prefix="kg-samples-"))
    store = api.open_store(memory=True) if backend == "memory" else api.open_store(tmp / "store")
    t = time.perf_counter()
    report = ingest([ROOT / "data" / "certificates"], store)
    load = time.perf_counter() - t
    t = time.perf_counter()
    ingest([ROOT / "data" / "certificates"], store)
    reload = time.perf_counter() - t
    out = {"backend": backend, "load_s": load, "reload_s": reload, "ingested": len(report.ingested),
           "quads": store.quad_count(), "queries": {}}
    for spec in queries.list_queries():
        params = {p.name: PARAMS[p.name] for p in spec.params if p.name in PARAMS}
        bindings = queries.bindings_for(spec, params)
        store.query(spec.text, bindings)
        times = []
        for _ in range(20):
            t = time.perf_counter()
            store.query(spec.text, bindings)
            times.append(time.perf_counter() - t)
        out["queries"][spec.name] = statistics.median(times)
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def render(results: list[dict]) -> str:
    lines = ["# The five sample certificates: load and query figures", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}; `python bench/samples.py --write`.",
             "", "| back end | first ingest (s) | re-ingest (s) | certificates | quads |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['backend']} | {r['load_s']:.2f} | {r['reload_s']:.2f} | {r['ingested']} | {r['quads']:,} |")
    lines += ["", "Query medians over 20 runs (ms):", "",
              "| query | " + " | ".join(r["backend"] for r in results) + " |", "|---" * (len(results) + 1) + "|"]
    for q in results[0]["queries"]:
        lines.append(f"| {q} | " + " | ".join(f"{r['queries'][q] * 1000:.1f}" for r in results) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    text = render([measure("embedded"), measure("memory")])
    print(text)
    if args.write:
        (ROOT / "bench" / "samples.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
