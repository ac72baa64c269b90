"""Query safety: no SPARQL injection through parameters, no writes through ``kg query`` or ``kg serve``, bounded time.

* Hostile values on every parameter of every named query, and on every
  parameter *type* (string, boolean and iri through a query file of this
  test), on all three stores: a clean ParameterError or no rows, and the store
  unchanged (every graph's canonical N-Quads hashed before and after).
* ``kg serve`` binds 127.0.0.1 by default and refuses updates unless
  ``--allow-updates``; ``kg query FILE.rq`` refuses SPARQL Update (exit 6)
  and does not refuse queries that only mention update keywords.
* A deliberately expensive query (a cartesian product over the samples) is
  stopped at ``--timeout`` / ``$KG_QUERY_TIMEOUT`` on the embedded and memory
  stores, with exit code 8 and a one-line message.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kg import api, queries
from kg.cli import app
from kg.errors import KgError, QueryTimeoutError
from kg.ingest import ingest
from kg.queries import ParameterError
from kg.store.base import Store
from kg.store.embedded import EmbeddedStore
from kg.store.memory import MemoryStore
from kg.store.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"
KG = str(Path(sys.executable).parent / "kg")

HOSTILE = [
    '"} ; DROP ALL ; #',
    'B1-20195402" } } DROP ALL { {',
    "'; CLEAR DEFAULT; '",
    "<x> } ; DELETE WHERE { ?s ?p ?o } #",
    'x" . } INSERT DATA { GRAPH <urn:evil> { <urn:a> <urn:b> <urn:c> } } #',
    '2026-01-01"^^<http://www.w3.org/2001/XMLSchema#date> } ; DROP ALL ; #',
    "1 } ; DROP ALL ; SELECT * WHERE { ",
    "?s ?p ?o",
    '\\" \\u0022 \n DROP ALL',
    "http://x> } ; DROP ALL ; #",
    "urn:a\x01b> } DROP ALL",
    '广东" ; DROP ALL',
    "B11\n} ; DROP ALL",
    "\x00",
    "\udcff\udcfe",  # a command-line argument that was not UTF-8 (surrogate-escaped)
    "",
    "a" * 5000,
]
# a value of the right shape that matches nothing (what a hostile literal must amount to)
EMPTY_OK = {"licence", "string"}
FILE_QUERY = """# title: every parameter type
# description: one parameter of each type the named queries do not use
# param: s string | a string
# param: flag boolean = false | a boolean
# param: thing iri = urn:x-kg:nothing | an IRI
SELECT ?l WHERE {
  ?l <https://w3id.org/licence-kg/def#licenceNumber> ?s .
  ?l ?p ?thing .
  FILTER(?flag)
}
"""


def digest(store: Store) -> dict[str, str]:
    return {g: hashlib.sha256(store.graph_nquads(g).encode()).hexdigest() for g in sorted(store.graph_names())}


def valid_params(spec: queries.QuerySpec) -> dict[str, object]:
    samples = {"number": "B1-20195402", "business_type": "B11", "region": "北京", "as_of": "2026-11-22", "days": 90,
               "s": "B1-20195402", "flag": "true", "thing": "urn:x",
               "template": "https://w3id.org/licence-kg/id/template/12/0123456789abcdef0123", "severity_floor": "info"}
    return {p.name: samples[p.name] for p in spec.params}


def specs(tmp_path: Path) -> list[queries.QuerySpec]:
    path = tmp_path / "every-type.rq"
    path.write_text(FILE_QUERY, encoding="utf-8")
    found = [s for s in queries.list_queries() if s.params] + [queries.load_spec(path)]
    assert {p.type for s in found for p in s.params} >= set(queries.PARAM_TYPES)
    return found


def test_hostile_parameters_on_every_named_query(store: Store, tmp_path: Path) -> None:
    assert ingest([SAMPLES], store).ok
    before = digest(store)
    outcomes: dict[str, int] = {"refused": 0, "no rows": 0}
    for spec in specs(tmp_path):
        base = valid_params(spec)
        name = str(spec.path) if spec.path.parent == tmp_path else spec.name
        for param in spec.params:
            for value in HOSTILE:
                try:
                    result = api.run_query(name, store, {**base, param.name: value})
                except ParameterError as err:
                    assert err.exit_code == 5 and param.name in str(err)
                    outcomes["refused"] += 1
                    continue
                assert param.type in EMPTY_OK, (spec.name, param.name, value)
                assert len(result.rows) == 0, (spec.name, param.name, value, result.rows[:2])
                outcomes["no rows"] += 1
        with pytest.raises(ParameterError, match="has no parameter"):
            api.run_query(name, store, {**base, "x } DROP ALL": "1"})
    assert outcomes["refused"] and outcomes["no rows"]
    assert digest(store) == before
    assert "urn:evil" not in store.graph_names()


@pytest.fixture(scope="module")
def sample_store(samples_store_dir: Path) -> Path:
    return samples_store_dir


def test_hostile_parameters_through_the_cli(sample_store: Path) -> None:
    runner = CliRunner()
    for value in [*HOSTILE[:6], "\udcff"]:
        for query, param, code in (("licence", "number", 0), ("expiring", "as_of", 5), ("authorised", "region", 5)):
            extra = ["-p", "business_type=B11"] if query == "authorised" else []
            result = runner.invoke(app, ["query", query, "-p", f"{param}={value}", *extra, "--store", str(sample_store),
                                         "--format", "csv"])
            code = 5 if value == "\udcff" else code  # not valid text: refused like any bad value
            assert result.exit_code == code, (query, value, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
            if code == 0:
                assert result.output.strip().count("\n") == 0  # the header only
    with EmbeddedStore(sample_store, read_only=True) as s:
        assert len([g for g in s.graph_names() if "/ontology/" not in g]) == 7


# --- kg query FILE.rq only reads ------------------------------------------------------------------

UPDATES = [
    "insert data { <urn:a> <urn:b> <urn:c> }",
    "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }",
    "DELETE WHERE { ?s ?p ?o }",
    "delete where { ?s ?p ?o }",
    "PREFIX ex: <http://e/>\nDELETE { ?s ?p ?o } WHERE { ?s ex:p ?o }",
    "WITH <urn:g> DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "# a comment first\nCLEAR ALL",
    "DROP GRAPH <urn:g>", "drop all", "CREATE GRAPH <urn:g>", "LOAD <http://127.0.0.1:9/x.ttl>",
    "ADD <urn:a> TO <urn:b>", "MOVE DEFAULT TO <urn:b>", "COPY <urn:a> TO <urn:b>",
    "BASE <http://e/>\nPREFIX : <http://e/>\nInSeRt DaTa { :a :b :c }",
    "SELECT * WHERE { ?s ?p ?o } ; DROP ALL",
    "select * { ?s ?p ?o }\n;\nPREFIX ex: <http://e/> delete where { ?s ex:p ?o }",
]
READS = [
    "# DROP ALL ; INSERT DATA { <a> <b> <c> }\nSELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    'SELECT ?s WHERE { ?s ?p "DELETE WHERE { ?s ?p ?o }" }',
    "SELECT ?s WHERE { ?s ?p '''CLEAR\nALL''' }",
    "SELECT ?insert ?delete WHERE { ?insert <urn:drop> ?delete } LIMIT 1",
    "PREFIX drop: <http://e/drop#>\nPREFIX with: <http://e/with#>\nSELECT * WHERE { ?s drop:all ?o ; with:x ?y }",
    "ASK { ?s ?p ?o FILTER(CONTAINS(STR(?o), 'insert data')) }",
    "CONSTRUCT { ?s <urn:load> ?o } WHERE { ?s <urn:copy> ?o } # WITH",
    "DESCRIBE <http://e/delete>",
    'SELECT (GROUP_CONCAT(?o ; separator=";") AS ?all) WHERE { ?s <urn:p> ?o ; <urn:q> ?x }',
    "SELECT * WHERE { ?s <http://e/#DROP> ?o } # ' \"\nLIMIT 1",
]


def test_kg_query_refuses_updates(sample_store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for i, text in enumerate(UPDATES):
        path = tmp_path / f"update-{i}.rq"
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(app, ["query", str(path), "--store", str(sample_store)])
        assert result.exit_code == 6, (text, result.output)
        assert "is a SPARQL Update" in result.output and result.output.count("\n") == 1
    for i, text in enumerate(READS):
        path = tmp_path / f"read-{i}.rq"
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(app, ["query", str(path), "--store", str(sample_store)])
        assert result.exit_code == 0, (text, result.output)
    with EmbeddedStore(sample_store, read_only=True) as s:
        assert "urn:g" not in s.graph_names() and len(s.graph_names()) == 12
    path = tmp_path / "broken.rq"  # a malformed query that merely contains an update keyword: a syntax error
    path.write_text("SELECT * WHERE { ?s ?p ?o . with", encoding="utf-8")
    result = runner.invoke(app, ["query", str(path), "--store", str(sample_store)])
    assert result.exit_code == 2 and "rejected" in result.output


# --- kg serve --------------------------------------------------------------------------------------


def listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of the sockets listening on ``port``."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hexport = fields[1].rsplit(":", 1)
            if int(hexport, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                out.append(address)
    return out


def post(url: str, body: bytes, content_type: str, method: str = "POST") -> int:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def serve(store: Path, *extra: str) -> tuple[subprocess.Popen[str], int, str]:
    port = free_port()
    proc = subprocess.Popen([KG, "serve", "--store", str(store), "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith(f"serving http://127.0.0.1:{port} "), line + proc.stderr.read()  # type: ignore[union-attr]
    return proc, port, line


@pytest.mark.server
def test_kg_serve_is_read_only_and_local_by_default(sample_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "served"
    shutil.copytree(sample_store, store)
    proc, port, line = serve(store)
    try:
        assert "(read-only)" in line
        assert listening(port) == ["0100007F"]  # 127.0.0.1 only, no 0.0.0.0, no IPv6
        base = f"http://127.0.0.1:{port}"
        ask = urllib.request.urlopen(f"{base}/query?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D&union-default-graph", timeout=10)
        assert ask.status == 200 and b"true" in ask.read()
        assert post(f"{base}/update", b"DROP ALL", "application/sparql-update") == 403
        assert post(f"{base}/store?graph=urn:g", b"<urn:a> <urn:b> <urn:c> .", "application/n-triples", "PUT") == 403
        assert post(f"{base}/store?graph=urn:g", b"<urn:a> <urn:b> <urn:c> .", "application/n-triples") == 403
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    with EmbeddedStore(store, read_only=True) as s:
        assert len(s.graph_names()) == 12

    proc, port, line = serve(store, "--allow-updates")
    try:
        assert "(read-write)" in line
        assert post(f"http://127.0.0.1:{port}/update", b"INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }",
                    "application/sparql-update") in (200, 204)
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    with EmbeddedStore(store, read_only=True) as s:
        assert "urn:g" in s.graph_names()


# --- timeouts -------------------------------------------------------------------------------------

EXPENSIVE = """# title: a cartesian product
# description: every triple times every triple times every triple (~10^11 rows on the samples)
SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f }
"""


def test_expensive_query_stops_at_the_timeout_embedded(sample_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "expensive.rq"
    path.write_text(EXPENSIVE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "KG_QUERY_TIMEOUT"}
    for args, extra_env, limit in ((["--timeout", "2"], {}, 2.0), ([], {"KG_QUERY_TIMEOUT": "1.5"}, 1.5)):
        t0 = time.monotonic()
        run = subprocess.run([KG, "query", str(path), "--store", str(sample_store), *args], capture_output=True,
                             text=True, timeout=120, env={**env, **extra_env})
        elapsed = time.monotonic() - t0
        assert run.returncode == 8, run.stdout + run.stderr
        assert f"query did not finish within {limit:g} s" in run.stderr and run.stderr.count("\n") == 1
        assert limit <= elapsed < limit + 10  # start-up and exit included


def test_expensive_query_stops_at_the_timeout_memory(tmp_path: Path) -> None:
    store = MemoryStore()
    assert ingest([SAMPLES], store).ok
    path = tmp_path / "expensive.rq"
    path.write_text(EXPENSIVE, encoding="utf-8")
    t0 = time.monotonic()
    with pytest.raises(QueryTimeoutError, match=r"did not finish within 2 s") as err:
        api.run_query(str(path), store, timeout=2)
    assert err.value.exit_code == 8
    assert time.monotonic() - t0 < 2 + 5
    t0 = time.monotonic()  # the abandoned query lets go of the store: the next one runs
    assert len(api.run_query("licences", store, timeout=60).rows) == 5
    assert time.monotonic() - t0 < 30


def test_query_timeout_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KG_QUERY_TIMEOUT", raising=False)
    assert api.query_timeout() == api.DEFAULT_QUERY_TIMEOUT == 300
    assert api.query_timeout(5) == 5 and api.query_timeout(0) is None
    monkeypatch.setenv("KG_QUERY_TIMEOUT", "12.5")
    assert api.query_timeout() == 12.5 and api.query_timeout(3) == 3
    monkeypatch.setenv("KG_QUERY_TIMEOUT", "0")
    assert api.query_timeout() is None
    for bad in ("-1", "abc", "nan", "inf"):
        monkeypatch.setenv("KG_QUERY_TIMEOUT", bad)
        with pytest.raises(KgError, match="KG_QUERY_TIMEOUT"):
            api.query_timeout()
    monkeypatch.delenv("KG_QUERY_TIMEOUT")
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(KgError, match="not a number of seconds"):
            api.query_timeout(bad)


def test_kg_query_runs_an_update_only_when_asked(tmp_path: Path) -> None:
    """``--allow-update`` is the explicit way round the refusal; without it nothing changes (exit 6)."""
    store_dir = tmp_path / "store"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(SAMPLES / "001_32a2f19ddba49f70.txt"), "--store", str(store_dir)]).exit_code == 0
    path = tmp_path / "add.rq"
    path.write_text('INSERT DATA { GRAPH <urn:x:note> { <urn:x:a> <urn:x:b> "c" } }', encoding="utf-8")
    refused = runner.invoke(app, ["query", str(path), "--store", str(store_dir)])
    assert refused.exit_code == 6
    with EmbeddedStore(store_dir, read_only=True) as s:
        assert "urn:x:note" not in s.graph_names()
    with_param = runner.invoke(app, ["query", str(path), "--store", str(store_dir), "--allow-update", "-p", "a=b"])
    assert with_param.exit_code == 5 and "takes no parameters" in with_param.output
    done = runner.invoke(app, ["query", str(path), "--store", str(store_dir), "--allow-update"])
    assert done.exit_code == 0, done.output
    with EmbeddedStore(store_dir, read_only=True) as s:
        assert "urn:x:note" in s.graph_names()
    read = runner.invoke(app, ["query", "licences", "--store", str(store_dir), "--allow-update"])
    assert read.exit_code == 0 and "-" in read.output, read.output
