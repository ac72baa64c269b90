"""Readers during an ingest, and two ingests at once.

* Readers never see a half-replaced certificate: while a writer re-ingests
  modified versions of the certificates (the last quarter of each cut off:
  100-200 fewer triples) and then the originals again, readers count each
  licence graph's triples and run the ``licence`` query per licence; every
  observation must be the old or the new figure, and every licence is always
  there. On all three stores (``store`` fixture: in-process reader thread),
  and across processes through an Oxigraph server (``kg ingest --endpoint``
  in a child process, the reader in this one).
* Two ``kg ingest`` processes on one embedded store: one runs, the other
  fails at once with "store is locked by process N" (exit code 7); the store
  holds what the first wrote, whole, and the second succeeds when run again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kg import api, synth
from kg.ingest import ingest
from kg.store.base import Store
from kg.store.embedded import LOCK_FILE, EmbeddedStore
from kg.store.server import OxigraphServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "data" / "certificates").glob("*.txt"))
KG = str(Path(sys.executable).parent / "kg")
PER_GRAPH = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


def versions(tmp_path: Path) -> tuple[Path, Path]:
    """The samples as they are, and each cut to its first three quarters of lines (same licence numbers)."""
    old, new = tmp_path / "v1", tmp_path / "v2"
    old.mkdir()
    new.mkdir()
    for f in SAMPLES:
        text = f.read_bytes().decode("utf-8-sig")
        (old / f.name).write_text(text, encoding="utf-8")
        lines = text.splitlines()
        (new / f.name).write_text("\n".join(lines[: len(lines) * 3 // 4]), encoding="utf-8")
    return old, new


def licence_counts(store: Store) -> dict[str, int]:
    return {str(g): int(n) for g, n in store.query(PER_GRAPH).rows  # type: ignore[arg-type]
            if "/graph/" in str(g) and not str(g).endswith(("/templates", "/companies")) and "/ontology/" not in str(g)}


def clause_counts(store: Store) -> dict[str, int]:
    df = api.run_query("licences", store).to_dataframe()
    return {num: int(api.run_query("licence", store, {"number": num}).to_dataframe().iloc[0]["clauses"])
            for num in df["number"]}


def snapshot(store: Store, old: Path, new: Path) -> tuple[dict, dict, dict, dict]:
    ingest([new], store)
    new_counts, new_clauses = licence_counts(store), clause_counts(store)
    ingest([old], store)
    return licence_counts(store), new_counts, clause_counts(store), new_clauses


def test_readers_never_see_a_half_replaced_certificate(store: Store, tmp_path: Path) -> None:
    old, new = versions(tmp_path)
    ingest([old], store)
    old_counts, new_counts, old_clauses, new_clauses = snapshot(store, old, new)
    assert set(old_counts) == set(new_counts) and len(old_counts) == 5
    assert all(old_counts[g] > new_counts[g] for g in old_counts)  # the versions differ in every graph
    numbers = sorted(old_clauses)

    done = threading.Event()
    seen: dict[str, set[int]] = {g: set() for g in old_counts}
    clauses_seen: dict[str, set[int]] = {n: set() for n in numbers}
    problems: list[str] = []
    reads = [0]

    def reader() -> None:
        i = 0
        try:
            while not done.is_set():
                found = licence_counts(store)
                if set(found) != set(old_counts):
                    problems.append(f"licence graphs missing: {set(old_counts) - set(found)}")
                for g, n in found.items():
                    seen[g].add(n)
                number = numbers[i % len(numbers)]
                rows = api.run_query("licence", store, {"number": number}).to_dataframe()
                if len(rows) != 1:
                    problems.append(f"{number}: {len(rows)} rows")
                else:
                    clauses_seen[number].add(int(rows.iloc[0]["clauses"]))
                reads[0] += 1
                i += 1
        except Exception as exc:  # reported by the main thread
            problems.append(repr(exc))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        rounds = 0
        while rounds < 6 or rounds % 2 or (reads[0] < 10 and time.monotonic() < deadline):
            ingest([new if rounds % 2 == 0 else old], store)  # an even number of rounds: back to the old
            rounds += 1
    finally:
        done.set()
        thread.join(120)
    assert not thread.is_alive()
    assert not problems, problems[:5]
    assert reads[0] >= 3
    for g, counts in seen.items():
        assert counts <= {old_counts[g], new_counts[g]}, (g, counts, old_counts[g], new_counts[g])
    for number, counts in clauses_seen.items():
        assert counts <= {old_clauses[number], new_clauses[number]}, (number, counts)
    assert licence_counts(store) == old_counts


WRITER = """
    import subprocess, sys
    kg, endpoint, old, new, rounds = sys.argv[1:6]
    for i in range(int(rounds)):
        run = subprocess.run([kg, "ingest", (new, old)[i % 2], "--endpoint", endpoint], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(run.stderr)
    print("done")
"""


@pytest.mark.server
def test_reader_process_beside_an_ingest_through_a_server(tmp_path: Path) -> None:
    """``kg ingest --endpoint`` in child processes while this process reads the same server."""
    import textwrap

    old, new = versions(tmp_path)
    with OxigraphServer(tmp_path / "served", read_only=False) as srv, srv.store() as reader:
        ingest([old], reader)
        old_counts, new_counts, _, _ = snapshot(reader, old, new)
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), KG, srv.query_url, str(old),
                                 str(new), "6"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: dict[str, set[int]] = {g: set() for g in old_counts}
        deadline = time.monotonic() + 180
        reads = 0
        while proc.poll() is None and time.monotonic() < deadline:
            found = licence_counts(reader)
            assert set(found) == set(old_counts)
            for g, n in found.items():
                seen[g].add(n)
            reads += 1
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and out.strip() == "done", err
        assert reads > 10
        for g, counts in seen.items():
            assert counts <= {old_counts[g], new_counts[g]}, (g, counts)
        assert sum(len(c) for c in seen.values()) > len(seen)  # the reader saw both versions at some point


def test_two_ingests_into_one_embedded_store(tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    synth.write(400, first_dir, seed=1)
    synth.write(5, second_dir, seed=2)
    store = tmp_path / "kg-store"

    first = subprocess.Popen([KG, "ingest", str(first_dir), "--store", str(store)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:  # wait until it holds the store
        try:
            if (store / LOCK_FILE).read_text().strip() == str(first.pid):
                break
        except OSError:
            pass
        time.sleep(0.02)
    assert first.poll() is None, "the first ingest ended before the second could start: make it longer"

    t0 = time.monotonic()
    second = subprocess.run([KG, "ingest", str(second_dir), "--store", str(store)], capture_output=True, text=True,
                            timeout=120)
    assert time.monotonic() - t0 < 30  # fails fast, does not wait
    assert second.returncode == 7, second.stdout + second.stderr
    assert f"store is locked by process {first.pid} (writing)" in second.stderr
    assert second.stderr.count("\n") == 1  # one line

    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert out.startswith("ingested 400 certificate(s)")
    with EmbeddedStore(store, read_only=True) as s:
        assert len(licence_counts(s)) == 400

    again = subprocess.run([KG, "ingest", str(second_dir), "--store", str(store)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    with EmbeddedStore(store, read_only=True) as s:
        assert len(licence_counts(s)) == 405


def test_two_ingests_started_together(tmp_path: Path) -> None:
    """Started at the same moment: exactly one wins, the other names it; neither corrupts the store."""
    corpus = tmp_path / "certs"
    synth.write(150, corpus, seed=3)
    store = tmp_path / "kg-store"
    procs = [subprocess.Popen([KG, "ingest", str(corpus), "--store", str(store)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    results = [(p.pid, p.returncode, *out) for p, out in zip(procs, outputs, strict=True)]
    codes = sorted(code for _, code, _, _ in results)
    assert codes in ([0, 7], [0, 0]), [(c, e[-300:]) for _, c, _, e in results]  # [0, 0]: one ran after the other
    if codes == [0, 7]:
        winner = next(pid for pid, code, _, _ in results if code == 0)
        loser_err = next(err for _, code, _, err in results if code == 7)
        assert f"store is locked by process {winner}" in loser_err
    with EmbeddedStore(store, read_only=True) as s:
        assert len(licence_counts(s)) == 150
    assert os.path.exists(store / LOCK_FILE)
