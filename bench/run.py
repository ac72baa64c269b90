"""Benchmarks: ingest and query a synthetic national register at several sizes.

    python bench/run.py                       # N = 10^3, 10^4, 10^5; rdflib comparison at 10^4
    python bench/run.py --sizes 1000 --rdflib-at 1000 --out /tmp/r.md   # a quick run

Each size runs in a child process of its own, so its peak RSS is its own.
Results go to ``bench/results.md`` (and ``bench/results.json``) with the
machine description. Not part of the test command: benchmarks measure, tests
assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = "2026-11-22"
QUERY_LIMIT = 120.0


def _rss_mb() -> float:
    """Peak RSS of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _timeit(fn, repeat: int, budget: float = 20.0) -> tuple[float, float, int]:
    """Median and p95 over up to ``repeat`` runs, stopping early once ``budget`` seconds are spent."""
    times, rows = [], 0
    start = time.perf_counter()
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        rows = len(out) if hasattr(out, "__len__") else 0
        if time.perf_counter() - start > budget:
            break
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, rows


def _in_fork(fn, repeat: int, limit: float) -> dict:
    """Time a query in a forked copy of this process, killed after ``limit`` seconds.

    rdflib's engine cannot be interrupted, and a few of its plans run for many
    minutes at 10^4 licences; the fork shares the loaded dataset copy-on-write.
    """
    import multiprocessing as mp

    parent, child_end = mp.get_context("fork").Pipe()

    def work() -> None:
        child_end.send(_timeit(fn, repeat))

    proc = mp.get_context("fork").Process(target=work)
    proc.start()
    proc.join(limit)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"median": None, "p95": None, "rows": None, "timeout": limit}
    med, p95, rows = parent.recv()
    return {"median": med, "p95": p95, "rows": rows}


def child(args: argparse.Namespace) -> dict:
    """Measure one size on one back end; prints JSON on stdout."""
    from kg import api, queries
    from kg.ingest import expand_paths, ingest
    from kg.mapping import map_certificate
    from kg.parser import parse_file

    files = expand_paths([args.certs])
    files = [f for f in files if f.suffix == ".txt"]
    n = len(files)
    out: dict = {"n": n, "backend": args.backend}

    sample = files[: min(n, 2000)]
    t = time.perf_counter()
    certs = [parse_file(f) for f in sample]
    out["parse_rate"] = len(sample) / (time.perf_counter() - t)
    t = time.perf_counter()
    for c in certs:
        map_certificate(c).nquads()
    out["map_rate"] = len(sample) / (time.perf_counter() - t)
    number = certs[0].licence_number.printed
    del certs

    if args.backend == "memory":
        store = api.open_store(memory=True)
    else:
        store = api.open_store(args.store)
    t = time.perf_counter()
    report = ingest([str(Path(args.certs) / "synth_*.txt")], store, workers=args.workers)
    elapsed = time.perf_counter() - t
    out["ingest_seconds"] = elapsed
    out["ingest_rate"] = len(report.ingested) / elapsed
    out["ingested"] = len(report.ingested)
    out["failed"] = len(report.failed)
    out["quads"] = store.quad_count()
    if args.backend != "memory":
        store.close()
        out["store_bytes"] = _du(Path(args.store))
        store = api.open_store(args.store, read_only=True)

    samples = {"number": number, "business_type": "B11", "region": "广东", "as_of": AS_OF, "days": 90}
    out["queries"] = {}
    for spec in queries.list_queries():
        params = {p.name: samples[p.name] for p in spec.params if p.name in samples}
        bindings = queries.bindings_for(spec, params)
        repeat = args.repeat if args.backend != "memory" else max(1, args.repeat // 5)
        if args.backend != "memory":
            api.run_query(spec.name, store, params)  # warm-up: the first query pays cold caches
        fn = lambda spec=spec, bindings=bindings: store.query(spec.text, bindings).rows  # noqa: E731
        if args.backend == "memory":
            out["queries"][spec.name] = _in_fork(fn, repeat, args.query_limit)
        else:
            med, p95, rows = _timeit(fn, repeat)
            out["queries"][spec.name] = {"median": med, "p95": p95, "rows": rows}
    try:
        from kg import compliance
    except ImportError:
        compliance = None
    if compliance is not None and args.backend != "memory":
        store.close()
        store = api.open_store(args.store)
        med, p95, rows = _timeit(
            lambda: compliance.check(store, dt.date.fromisoformat(AS_OF)).findings, max(1, args.repeat // 5)
        )
        out["queries"]["kg check"] = {"median": med, "p95": p95, "rows": rows}
    store.close()
    out["peak_rss_mb"] = _rss_mb()
    return out


def run_child(certs: Path, store: Path, backend: str, workers: int, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--child", "--certs", str(certs), "--store", str(store),
           "--backend", backend, "--workers", str(workers), "--repeat", str(repeat),
           "--query-limit", str(QUERY_LIMIT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({backend}, {certs}):\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    # children's peak RSS includes the parse workers (RUSAGE_CHILDREN of this process covers the child tree)
    res["peak_rss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return res


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import pyoxigraph
    import rdflib

    return (f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
            f"pyoxigraph {pyoxigraph.__version__}, rdflib {rdflib.__version__}, {platform.platform()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--rdflib-at", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--query-limit", type=float, default=120.0, help="seconds before an rdflib query is stopped")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    ap.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--certs")
    ap.add_argument("--store")
    ap.add_argument("--backend", default="embedded")
    args = ap.parse_args()
    global QUERY_LIMIT
    QUERY_LIMIT = args.query_limit
    if args.child:
        print(json.dumps(child(args)))
        return

    from kg import synth

    work = Path(args.work or tempfile.mkdtemp(prefix="kg-bench-"))
    json_path = Path(args.out).with_suffix(".json")
    results = {"machine": machine(), "date": dt.date.today().isoformat(), "runs": []}
    if json_path.exists():  # runs of other sizes from earlier invocations are kept; a size run again replaces
        results["runs"] = json.loads(json_path.read_text(encoding="utf-8")).get("runs", [])

    def record(res: dict) -> None:
        results["runs"] = [r for r in results["runs"] if (r["n"], r["backend"]) != (res["n"], res["backend"])]
        results["runs"].append(res)
        results["runs"].sort(key=lambda r: (r["n"], r["backend"] != "embedded"))
        json_path.write_text(json.dumps(results, indent=2), encoding="utf-8")
        Path(args.out).write_text(render(results), encoding="utf-8")
    for n in [int(s) for s in args.sizes.split(",")]:
        certs = work / f"certs-{n}"
        if not (certs / "facts.jsonl").exists():
            t = time.perf_counter()
            synth.write(n, certs, seed=args.seed, workers=args.workers)
            gen = n / (time.perf_counter() - t)
        else:
            gen = None
        store = work / f"store-{n}"
        shutil.rmtree(store, ignore_errors=True)
        res = run_child(certs, store, "embedded", args.workers, args.repeat)
        res["generate_rate"] = gen
        record(res)
        print(json.dumps({k: v for k, v in res.items() if k != "queries"}), file=sys.stderr)
        shutil.rmtree(store, ignore_errors=True)
        if n == args.rdflib_at:
            mem = run_child(certs, store, "memory", args.workers, args.repeat)
            record(mem)
            print(json.dumps({k: v for k, v in mem.items() if k != "queries"}), file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)


def render(results: dict) -> str:
    lines = ["# Benchmark results", "", f"Machine: {results['machine']}", f"Date: {results['date']}", "",
             "Generated by `make bench` (`python bench/run.py`). Ingest is end to end: parse in worker processes, "
             "map to N-Quads, bulk load new graphs into the embedded Oxigraph store.", "",
             "## Ingest", "",
             "| N | back end | parse /s | map /s | ingest /s | ingest s | quads | store on disk | peak RSS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        size = f"{r['store_bytes'] / 2**20:.0f} MiB" if r.get("store_bytes") else "(memory)"
        lines.append(f"| {r['n']:,} | {r['backend']} | {r['parse_rate']:.0f} | {r['map_rate']:.0f} | "
                     f"{r['ingest_rate']:.0f} | {r['ingest_seconds']:.1f} | {r['quads']:,} | {size} | "
                     f"{max(r['peak_rss_mb'], r.get('peak_rss_children_mb', 0)):.0f} MiB |")
    lines += ["", "## Query latency (median / p95, seconds)", ""]
    runs = results["runs"]
    names = sorted({q for r in runs for q in r["queries"]})
    lines.append("| query | " + " | ".join(f"{r['n']:,} {r['backend']}" for r in runs) + " |")
    lines.append("|---" * (len(runs) + 1) + "|")
    for q in names:
        cells = []
        for r in runs:
            m = r["queries"].get(q)
            if m and m.get("median") is None:
                cells.append(f"> {m['timeout']:.0f} (stopped)")
            else:
                cells.append(f"{m['median']:.4f} / {m['p95']:.4f}" if m else "–")
        lines.append(f"| {q} | " + " | ".join(cells) + " |")
    emb = {r["n"]: r for r in runs if r["backend"] == "embedded"}
    for r in runs:
        if r["backend"] == "memory" and r["n"] in emb:
            e = emb[r["n"]]
            lines += ["", f"## Embedded Oxigraph vs rdflib in memory at N = {r['n']:,}", "",
                      f"Ingest: {e['ingest_rate'] / r['ingest_rate']:.1f}× faster end to end.", "",
                      "| query | rdflib median | Oxigraph median | ratio |", "|---|---|---|---|"]
            for q in names:
                if q in r["queries"] and q in e["queries"]:
                    a, b = r["queries"][q]["median"], e["queries"][q]["median"]
                    if a is None:
                        lim = r["queries"][q]["timeout"]
                        lines.append(f"| {q} | > {lim:.0f} (stopped) | {b:.4f} | > {lim / b:.0f}× |")
                    else:
                        lines.append(f"| {q} | {a:.4f} | {b:.4f} | {a / b:.1f}× |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
