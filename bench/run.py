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


def _rare_wording(store) -> str:
    """The clause wording the fewest licences print (ties: the first IRI), taken from ``clause-variants``:
    the drill-down an analyst makes from that query to the odd ones out. Found once, outside the timings."""
    from kg import api

    variants = api.run_query("clause-variants", store).to_dataframe()
    if variants.empty:
        return "https://w3id.org/licence-kg/id/template/12/none"
    return str(variants.sort_values(["licences", "template"]).iloc[0]["template"])


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
    """Measure one phase of one size on one back end; prints JSON on stdout.

    Phases run in processes of their own so that each peak RSS is that
    phase's: ``rates`` (parse and map of up to 2,000 files, held in memory),
    ``ingest`` (the end-to-end ingest, workers included), ``queries`` (every
    named query and the compliance check on the store the ingest left).
    The memory back end cannot be reopened, so it runs ``ingest`` and
    ``queries`` in one process (``all``).
    """
    from kg import api, queries
    from kg.ingest import expand_paths, ingest
    from kg.mapping import map_certificate
    from kg.parser import parse_file

    files = [f for f in expand_paths([args.certs]) if f.suffix == ".txt"]
    n = len(files)
    out: dict = {"n": n, "backend": args.backend}

    if args.phase == "rates":
        sample = files[: min(n, 2000)]
        t = time.perf_counter()
        certs = [parse_file(f) for f in sample]
        out["parse_rate"] = len(sample) / (time.perf_counter() - t)
        t = time.perf_counter()
        for c in certs:
            map_certificate(c).nquads()
        out["map_rate"] = len(sample) / (time.perf_counter() - t)
        out["number"] = certs[0].licence_number.printed
        # licence-websites is timed on a licence with an appendix (the first licence may have none)
        out["site_number"] = next((c.licence_number.printed for c in certs if len(c.websites) >= 2), out["number"])
        out["peak_rss_mb"] = _rss_mb()
        return out

    store = None
    if args.phase in ("ingest", "all"):
        store = api.open_store(memory=True) if args.backend == "memory" else api.open_store(args.store)
        t = time.perf_counter()
        report = ingest([str(Path(args.certs) / "synth_*.txt")], store, workers=args.workers)
        elapsed = time.perf_counter() - t
        out["ingest_seconds"] = elapsed
        out["ingest_rate"] = len(report.ingested) / elapsed
        out["ingested"] = len(report.ingested)
        out["failed"] = len(report.failed)
        out["quads"] = store.quad_count()
        out["compacted_seconds"] = report.compacted_seconds
        out["ingest_rss_mb"] = _rss_mb()
        out["ingest_rss_workers_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if args.backend != "memory":
            store.close()
            out["store_bytes"] = _du(Path(args.store))
            return out

    from kg import compliance

    # the check first (it writes the findings graph, so a writing open), so that `findings` has rows to read
    as_of = dt.date.fromisoformat(AS_OF)
    findings = Path(args.findings)
    graph = compliance.findings_graph_iri(as_of)
    checked: list[compliance.CheckResult] = []

    def check() -> list:
        checked[:] = [compliance.check(store, as_of)]
        return checked[0].findings

    if args.backend == "memory":
        # rdflib may not finish the rule set in reasonable time: timed in a fork with the limit; the findings
        # graph itself is the one the embedded run computed, so that `findings` reads the same rows
        out["queries"] = {"kg check": _in_fork(check, 1, args.query_limit)}
        store.replace_graph(graph, findings.read_text(encoding="utf-8"))
    else:
        store = api.open_store(args.store)
        med, p95, rows = _timeit(check, max(1, args.repeat // 5))
        out["queries"] = {"kg check": {"median": med, "p95": p95, "rows": rows}}
        findings.write_text(store.graph_nquads(graph), encoding="utf-8")
        store.close()
        store = api.open_store(args.store, read_only=True)
    limits = json.loads(args.limits)
    samples = {"number": args.number, "business_type": "B11", "region": "广东", "as_of": AS_OF, "days": 90,
               "template": _rare_wording(store)}
    for spec in queries.list_queries():
        params = {p.name: samples[p.name] for p in spec.params if p.name in samples}
        if spec.name == "licence-websites" and args.site_number:
            params["number"] = args.site_number
        repeat = args.repeat if args.backend != "memory" else max(1, args.repeat // 5)
        # the library's path, as `kg query` and a notebook take it (the query file read, parameters typed,
        # the update guard, the store): timing store.query alone hid 70-130 ms of the guard in every call
        fn = lambda spec=spec, params=params: api.run_query(spec.name, store, params).rows  # noqa: E731
        if args.backend == "memory":
            out["queries"][spec.name] = _in_fork(fn, repeat, limits.get(spec.name, args.query_limit))
            continue
        t = time.perf_counter()
        rows = len(fn())  # warm-up: the first query pays cold caches
        first = time.perf_counter() - t
        if first > 5.0:  # a query this slow is not interactive anyway: its one (cold) run is the figure
            out["queries"][spec.name] = {"median": first, "p95": first, "rows": rows, "runs": 1}
        else:
            med, p95, rows = _timeit(fn, repeat)
            out["queries"][spec.name] = {"median": med, "p95": p95, "rows": rows}
    if args.backend != "memory":
        # the analyst report from the check's findings (kg report = that check + this): its queries, the
        # cards and charts, the HTML
        from kg import report

        frame, size = checked[-1].to_dataframe(), []

        def page() -> list:
            data = report.build(store, as_of, findings=frame)
            size[:] = [len(report.render_html(data).encode("utf-8"))]
            return data.cards

        med, p95, cards = _timeit(page, 1)
        out["queries"]["kg report"] = {"median": med, "p95": p95, "rows": cards, "runs": 1}
        out["report_bytes"] = size[0]
    store.close()
    out["query_rss_mb"] = _rss_mb()
    return out


def run_child(certs: Path, store: Path, backend: str, workers: int, repeat: int, phase: str,
              number: str = "", limits: dict[str, float] | None = None, site_number: str = "") -> dict:
    cmd = [sys.executable, __file__, "--child", "--certs", str(certs), "--store", str(store),
           "--backend", backend, "--workers", str(workers), "--repeat", str(repeat),
           "--query-limit", str(QUERY_LIMIT), "--phase", phase, "--number", number, "--site-number", site_number,
           "--findings", str(certs / "findings.nq"), "--limits", json.dumps(limits or {})]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({backend}, {phase}, {certs}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rdflib_limits(embedded: dict, floor: float) -> dict[str, float]:
    """Per named query, how long rdflib may run: ``floor`` seconds, or 20 times the embedded store's median
    if that is longer (plus a second for the fork). A query stopped at that limit is then at least 20 times
    slower than on Oxigraph, so the 20x target has a verdict either way; with one limit for all, a query that
    takes Oxigraph over ``floor`` / 20 s could only be reported as "more than" some smaller ratio."""
    return {q: max(floor, 20 * m["median"] + 1.0) for q, m in embedded.get("queries", {}).items()
            if q != "kg check" and m.get("median") is not None}


def measure(certs: Path, store: Path, backend: str, workers: int, repeat: int,
            embedded: dict | None = None) -> dict:
    """All phases of one size on one back end, merged into one record (``embedded``: that size's embedded
    record, whose medians set rdflib's time limits)."""
    res = run_child(certs, store, backend, workers, repeat, "rates")
    number, site = res.pop("number"), res.pop("site_number", "")
    res["rates_rss_mb"] = res.pop("peak_rss_mb")
    if backend == "memory":
        limits = rdflib_limits(embedded or {}, QUERY_LIMIT)
        res.update(run_child(certs, store, backend, workers, repeat, "all", number, limits, site))
    else:
        res.update(run_child(certs, store, backend, workers, repeat, "ingest"))
        res.update(run_child(certs, store, backend, workers, repeat, "queries", number, site_number=site))
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
    ap.add_argument("--keep-stores", action="store_true", help="keep the embedded stores (store-N in --work) for later queries")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json (after editing analysis.md)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--certs")
    ap.add_argument("--store")
    ap.add_argument("--backend", default="embedded")
    ap.add_argument("--phase", default="all", choices=("rates", "ingest", "queries", "all"))
    ap.add_argument("--number", default="")
    ap.add_argument("--site-number", default="")
    ap.add_argument("--findings", default="", help=argparse.SUPPRESS)
    ap.add_argument("--limits", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global QUERY_LIMIT
    QUERY_LIMIT = args.query_limit
    if args.child:
        print(json.dumps(child(args)))
        return
    if args.render:
        results = json.loads(Path(args.out).with_suffix(".json").read_text(encoding="utf-8"))
        Path(args.out).write_text(render(results), encoding="utf-8")
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
        if not (certs / synth.FACTS_FILE).exists():
            t = time.perf_counter()
            synth.write(n, certs, seed=args.seed, workers=args.workers)
            gen = n / (time.perf_counter() - t)
        else:
            gen = None
        store = work / f"store-{n}"
        shutil.rmtree(store, ignore_errors=True)
        res = measure(certs, store, "embedded", args.workers, args.repeat)
        res["generate_rate"] = gen
        record(res)
        print(json.dumps({k: v for k, v in res.items() if k != "queries"}), file=sys.stderr)
        if not args.keep_stores:
            shutil.rmtree(store, ignore_errors=True)
        if n == args.rdflib_at:
            mem = measure(certs, store, "memory", args.workers, args.repeat, embedded=res)
            record(mem)
            print(json.dumps({k: v for k, v in mem.items() if k != "queries"}), file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)


def render(results: dict) -> str:
    lines = ["# Benchmark results", "", f"Machine: {results['machine']}", f"Date: {results['date']}", "",
             "Generated by `make bench` (`python bench/run.py`). Ingest is end to end: parse in worker processes, "
             "map to N-Quads, bulk load new graphs into the embedded Oxigraph store.", "",
             "## Ingest", "",
             "Peak RSS is per phase, each in a process of its own: the ingest's main process, and the largest of "
             "its parse workers (there are `--workers` of them, 2 here); the query phase (`kg check`, which writes "
             "the findings graph `findings` reads, then every named query, then `kg report` from the check's findings). For rdflib (memory) ingest and queries "
             "share one process.", "",
             "| N | back end | parse /s | map /s | ingest /s | ingest s | quads | store on disk "
             "| ingest peak RSS: main + worker | query-phase peak RSS |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        size = f"{r['store_bytes'] / 2**20:.0f} MiB" if r.get("store_bytes") else "(memory)"
        query_rss = f"{r['query_rss_mb']:.0f} MiB" if r.get("query_rss_mb") else "–"
        lines.append(f"| {r['n']:,} | {r['backend']} | {r['parse_rate']:.0f} | {r['map_rate']:.0f} | "
                     f"{r['ingest_rate']:.0f} | {r['ingest_seconds']:.1f} | {r['quads']:,} | {size} | "
                     f"{r['ingest_rss_mb']:.0f} + {r['ingest_rss_workers_mb']:.0f} MiB | {query_rss} |")
    compacted = [r for r in results["runs"] if r["backend"] == "embedded" and r.get("compacted_seconds")]
    if compacted:
        lines += ["", "Ingest time includes the compaction `kg ingest` runs after 2,000 or more new graphs: "
                  + ", ".join(f"{r['compacted_seconds']:.0f} s at N = {r['n']:,}" for r in compacted) + "."]
    lines += ["", "## Query latency (median / p95, seconds)", "",
              "Embedded: a warm-up run, then up to `--repeat` runs within 20 s; a query whose warm-up took over "
              "5 s is reported from that one cold run. rdflib: in a forked copy, stopped after `--query-limit` s "
              "or 20 times the embedded median at that size (+1 s), whichever is longer.",
              ""]
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
                one = " (1 run)" if m and m.get("runs") == 1 else ""
                cells.append(f"{m['median']:.4f} / {m['p95']:.4f}{one}" if m else "–")
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
    lines += targets(results)
    notes = ROOT / "bench" / "analysis.md"
    if notes.exists():  # the hand-written part: where the time goes and what would close the gaps
        lines += ["", notes.read_text(encoding="utf-8").rstrip()]
    return "\n".join(lines) + "\n"


POINT = ("licence", "authorisations", "licence-websites", "obligations", "wording-licences", "licence-findings")
PORTFOLIO = ("expiring", "expired", "renewal-due", "authorised", "findings", "licences", "websites")
AGGREGATE = ("regulations", "clause-variants", "coverage", "deadlines")


def targets(results: dict) -> list[str]:
    """The targets of the scale issue against the figures above: met, or missed by how much."""
    runs = results["runs"]
    big = max((r for r in runs if r["backend"] == "embedded"), key=lambda r: r["n"], default=None)
    if big is None:
        return []
    rows: list[tuple[str, str, str, str]] = []

    def verdict(measured: float, limit: float, lower_is_better: bool = True) -> str:
        ok = measured <= limit if lower_is_better else measured >= limit
        factor = measured / limit if lower_is_better else limit / measured
        return "met" if ok else f"**missed** ({factor:.1f}× off)"

    n = f"{big['n']:,}"
    rows.append((f"ingest rate at N = {n}", "≥ 550 /s", f"{big['ingest_rate']:.0f} /s",
                 verdict(big["ingest_rate"], 550, lower_is_better=False)))
    rss = big["ingest_rss_mb"] + 2 * big["ingest_rss_workers_mb"]
    rows.append((f"ingest peak RSS at N = {n} (main + 2 workers)", "< 1,536 MiB", f"{rss:.0f} MiB", verdict(rss, 1536)))
    for names, limit in ((POINT, 0.05), (PORTFOLIO, 0.5), (AGGREGATE, 3.0)):
        for q in names:
            m = big["queries"].get(q)
            if m and m.get("median") is not None:
                rows.append((f"`{q}` median at N = {n}", f"< {limit * 1000:.0f} ms", f"{m['median'] * 1000:.1f} ms",
                             verdict(m["median"], limit)))
    emb = {r["n"]: r for r in runs if r["backend"] == "embedded"}
    for r in runs:
        if r["backend"] != "memory" or r["n"] not in emb:
            continue
        e = emb[r["n"]]
        ratio = e["ingest_rate"] / r["ingest_rate"]
        rows.append((f"ingest vs rdflib at N = {r['n']:,}", "≥ 3×", f"{ratio:.1f}×", verdict(ratio, 3, False)))
        for q, m in sorted(r["queries"].items()):
            b = e["queries"].get(q, {}).get("median")
            if b is None or q == "kg check":  # the target is for the named queries
                continue
            if m.get("median") is None:
                rows.append((f"`{q}` vs rdflib at N = {r['n']:,}", "≥ 20×", f"> {m['timeout'] / b:.0f}×",
                             verdict(m["timeout"] / b, 20, False)))
            else:
                rows.append((f"`{q}` vs rdflib at N = {r['n']:,}", "≥ 20×", f"{m['median'] / b:.1f}×",
                             verdict(m["median"] / b, 20, False)))
    out = ["", "## Targets", "", "Point queries < 50 ms, portfolio queries < 500 ms, aggregates "
           "over all clauses < 3 s, at the largest N measured (`kg check`, 18 rules, and `kg report`, built from its findings, have no target of their own).", "",
           "| target | limit | measured | verdict |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return out


if __name__ == "__main__":
    main()
