"""Compare named queries as committed at a git revision with the working tree's, on a kept store.

Why: a query rewritten for speed must give the same answer, and its gain must be measured against the
old text on the same store at the same time. Run-to-run spread on this machine is ±30 % or more
(bench/analysis.md), so comparing a new run with an old run's table says little; this runs the old and
the new text alternately (each first in every other pair, since the first warms the caches for the second)
and checks that they return the same rows (as multisets; GROUP_CONCAT cells as
sorted lists, as in tests/test_query_engines.py).

    python bench/query_ab.py --store /tmp/kg-bench/store-100000 --against 820602a renewal-due authorised
    python bench/query_ab.py --store /tmp/kg-bench/store-100000 --against 3d17fa7 --rules licence-expiring

Uses the bench's parameters (B11 in 广东, as of 2026-11-22, 90 days; a rule's `until` follows from them).
With --rules the names are rules of `kg check` (queries/rules/), each run as the check runs it. Prints one
line per query.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg import api, queries  # noqa: E402
from kg.rules import get_rule  # noqa: E402
from kg.store.base import QueryResult, Store  # noqa: E402

SAMPLES = {"business_type": "B11", "region": "广东", "as_of": "2026-11-22", "days": 90}


def _old_spec(name: str, rev: str, scratch: Path, folder: str = "queries") -> queries.QuerySpec:
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{folder}/{name}.rq"],
                          check=True, capture_output=True, text=True).stdout
    path = scratch / f"{name}.rq"
    path.write_text(text, encoding="utf-8")
    return queries.load_spec(path)


def _new_spec(name: str, rules: bool) -> queries.QuerySpec:
    return get_rule(name).spec if rules else queries.get(name)


def _compare(store: Store, name: str, old: queries.QuerySpec, runs: int, rules: bool = False) -> None:
    specs = {"old": old, "new": _new_spec(name, rules)}
    times: dict[str, list[float]] = {"old": [], "new": []}
    answers: dict[str, QueryResult] = {}
    for run in range(runs):
        # the first text of a pair warms the caches for the second: alternate which one goes first
        for tag in ("old", "new") if run % 2 == 0 else ("new", "old"):
            spec = specs[tag]
            # a rule's declared binds (`until = as_of + days`) are worked out by bindings_for, as `kg check` does
            bindings = queries.bindings_for(spec, {p.name: SAMPLES[p.name] for p in spec.params if p.name in SAMPLES})
            t = time.perf_counter()
            answers[tag] = store.query(spec.text, bindings)
            times[tag].append(time.perf_counter() - t)
        if max(times["old"][-1], times["new"][-1]) > 10:
            break
    same = queries.comparable_rows(specs["old"], answers["old"]) == queries.comparable_rows(specs["new"], answers["new"])
    print(f"{name:36} rows {len(answers['new'].rows):>7}  same rows: {same}  "
          f"old {statistics.median(times['old']):.3f} s  new {statistics.median(times['new']):.3f} s  "
          f"({len(times['new'])} runs each)", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True, help="an embedded store directory (opened read-only)")
    ap.add_argument("--against", required=True, help="git revision holding the old query texts")
    ap.add_argument("--runs", type=int, default=5, help="runs of each text, alternating (fewer if one takes > 10 s)")
    ap.add_argument("--rules", action="store_true", help="the names are rules of kg check (queries/rules/)")
    ap.add_argument("names", nargs="+")
    args = ap.parse_args(argv)
    store = api.open_store(args.store, read_only=True)
    try:
        with tempfile.TemporaryDirectory(prefix="query-ab-") as scratch:
            for name in args.names:
                folder = "queries/rules" if args.rules else "queries"
                _compare(store, name, _old_spec(name, args.against, Path(scratch), folder), args.runs, args.rules)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
