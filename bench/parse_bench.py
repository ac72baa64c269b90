"""Benchmark: how long parsing one certificate takes, per sample, reference data warm.

    python bench/parse_bench.py                 # print the table
    python bench/parse_bench.py --write         # also write bench/parse.md
    python bench/parse_bench.py --repeat 500    # more runs per certificate

The reference vocabularies are read once per process (kg.reference.load is
cached); that one-off cost is measured separately as the cold start. Each
certificate is then parsed ``--repeat`` times from its bytes (decoding and
hashing included) and the median is reported. Not part of the test command:
benchmarks measure, tests assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.parser import parse_bytes  # noqa: E402
from kg.reference import load  # noqa: E402

SAMPLES = sorted((ROOT / "data" / "certificates").glob("*.txt"))
BUDGET_MS = 10.0


def measure(repeat: int) -> tuple[float, list[tuple[str, int, float, float, float]]]:
    t0 = time.perf_counter()
    load()
    parse_bytes(SAMPLES[0].read_bytes(), file=SAMPLES[0].name)
    cold = (time.perf_counter() - t0) * 1000
    rows = []
    for path in SAMPLES:
        data = path.read_bytes()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            parse_bytes(data, file=path.name)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        rows.append((path.name, len(data), statistics.median(times), times[int(len(times) * 0.95) - 1], times[0]))
    return cold, rows


def report(cold: float, rows: list[tuple[str, int, float, float, float]], repeat: int) -> str:
    out = [
        "# Parser benchmark",
        "",
        f"`python bench/parse_bench.py --write` on {dt.date.today().isoformat()}: Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform(terse=True)}.",
        "",
        f"Each certificate parsed {repeat} times from its bytes (decoding, hashing, normalisation, sections, "
        "clause tree, model validation), reference data warm. Budget: well under "
        f"{BUDGET_MS:.0f} ms per certificate.",
        "",
        "| certificate | bytes | median ms | p95 ms | min ms |",
        "|---|---:|---:|---:|---:|",
    ]
    out += [f"| {name} | {size} | {med:.2f} | {p95:.2f} | {low:.2f} |" for name, size, med, p95, low in rows]
    medians = [r[2] for r in rows]
    out += [
        "",
        f"Median over all samples: **{statistics.median(medians):.2f} ms**; slowest sample median "
        f"{max(medians):.2f} ms.",
        f"Cold start (reading the ontology vocabularies once per process, then the first parse): {cold:.0f} ms.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--write", action="store_true", help="write bench/parse.md")
    args = ap.parse_args(argv)
    cold, rows = measure(args.repeat)
    text = report(cold, rows, args.repeat)
    print(text)
    if args.write:
        (ROOT / "bench" / "parse.md").write_text(text, encoding="utf-8")
    return 0 if max(r[2] for r in rows) < BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
