"""The real Oxigraph server, store locking across processes, and the remote store's failure handling.

Everything here runs real processes: the ``oxigraph`` binary, and Python
subprocesses that hold or write a store. The fault-injecting proxy is a real
HTTP server in front of the real Oxigraph server (it answers 503 or 401 first,
then forwards), because those failures cannot be provoked on Oxigraph itself.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kg.errors import EndpointAuthError, EndpointError, StoreLockedError, UpdateRefusedError
from kg.store.embedded import LOCK_FILE, EmbeddedStore
from kg.store.remote import RemoteStore
from kg.store.server import OxigraphServer, find_oxigraph, free_port

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
EX = "http://example.org/"
GRAPH = EX + "graph/1"
COUNT = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}"


def version(tag: str, n: int = 50) -> str:
    return "".join(f'<{EX}s{i}> <{EX}p> "{tag}{i}" <{GRAPH}> .\n' for i in range(n))


def count(store: object) -> int:
    return int(store.query(COUNT).rows[0][0])  # type: ignore[attr-defined]


def python(code: str, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]


HOLD = """
    import sys
    from kg.store import open_store
    s = open_store(sys.argv[1], read_only=sys.argv[2] == "ro")
    print("ready", flush=True)
    sys.stdin.readline()
    s.close()
"""


@contextmanager
def held_by_another_process(path: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    proc = python(HOLD, str(path), mode)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
    try:
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(30)


def make_store(path: Path) -> None:
    with EmbeddedStore(path) as s:
        s.replace_graph(GRAPH, version("a"))


# --- the server --------------------------------------------------------------------------


def test_server_starts_answers_and_stops(tmp_path: Path) -> None:
    srv = OxigraphServer(tmp_path / "data", read_only=False)
    with srv:
        assert srv.process is not None and srv.process.poll() is None
        with urllib.request.urlopen(f"{srv.query_url}?query=ASK%7B%7D", timeout=5) as resp:
            assert resp.status == 200
        assert (tmp_path / "data" / LOCK_FILE).read_text().strip() == str(srv.process.pid)
        with pytest.raises(StoreLockedError) as err:
            EmbeddedStore(tmp_path / "data")
        assert err.value.pid == srv.process.pid
        with srv.store() as remote:
            remote.replace_graph(GRAPH, version("a"))
            assert count(remote) == 50
    assert srv.process.returncode is not None
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"{srv.query_url}?query=ASK%7B%7D", timeout=2)
    with EmbeddedStore(tmp_path / "data", read_only=True) as s:  # the data persists, the lock is released
        assert count(s) == 50


def test_read_only_server_refuses_updates(tmp_path: Path) -> None:
    make_store(tmp_path / "data")
    with OxigraphServer(tmp_path / "data", read_only=True) as srv:
        sent = srv.store(read_only=False)  # let the server itself refuse
        with pytest.raises(UpdateRefusedError, match="read-only"):
            sent.update("DROP ALL")
        with pytest.raises(UpdateRefusedError):
            sent.replace_graph(GRAPH, version("b"))
        assert count(sent) == 50
        with pytest.raises(UpdateRefusedError):
            srv.store().drop_graph(GRAPH)  # refused before sending
        with EmbeddedStore(tmp_path / "data", read_only=True) as reader:  # shared with the read-only server
            assert count(reader) == 50
        with pytest.raises(StoreLockedError, match="reading"):
            EmbeddedStore(tmp_path / "data")


# --- locks across processes ----------------------------------------------------------------------


def test_a_server_started_by_hand_is_named(tmp_path: Path) -> None:
    """``oxigraph serve`` run without OxigraphServer does not take kg.lock; RocksDB's own lock is found instead."""
    make_store(tmp_path / "data")
    port = free_port()
    proc = subprocess.Popen([find_oxigraph(), "serve", "--location", str(tmp_path / "data"),
                             "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with RemoteStore(f"http://127.0.0.1:{port}/query", retries=8, backoff=0.05) as remote:
            assert count(remote) == 50  # up and serving
        for read_only in (False, True):
            with pytest.raises(StoreLockedError, match=f"store is locked by process {proc.pid}"):
                EmbeddedStore(tmp_path / "data", read_only=read_only)
    finally:
        proc.terminate()
        proc.wait(10)

TRY_OPEN = """
    import sys
    from kg.errors import KgError
    from kg.store import open_store
    try:
        open_store(sys.argv[1], read_only=sys.argv[2] == "ro").close()
    except KgError as err:
        print(err)
        sys.exit(err.exit_code)
"""


def test_second_process_fails_fast_on_a_locked_store(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "data") as s:
        s.replace_graph(GRAPH, version("a"))
        for mode in ("rw", "ro"):
            t0 = time.monotonic()
            proc = python(TRY_OPEN, str(tmp_path / "data"), mode)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 7, err
            assert f"store is locked by process {os.getpid()} (writing)" in out
            assert time.monotonic() - t0 < 30


def test_store_held_by_a_writer_process(tmp_path: Path) -> None:
    make_store(tmp_path / "data")
    with held_by_another_process(tmp_path / "data", "rw") as proc:
        with pytest.raises(StoreLockedError, match=f"store is locked by process {proc.pid}") as err:
            EmbeddedStore(tmp_path / "data")
        assert err.value.pid == proc.pid
        # reading next to a writing process is undefined behaviour in RocksDB: refused, not attempted
        with pytest.raises(StoreLockedError, match=r"\(writing\)"):
            EmbeddedStore(tmp_path / "data", read_only=True)
    with EmbeddedStore(tmp_path / "data") as s:
        assert count(s) == 50


def test_store_held_by_a_reader_process(tmp_path: Path) -> None:
    make_store(tmp_path / "data")
    with held_by_another_process(tmp_path / "data", "ro") as proc:
        with pytest.raises(StoreLockedError, match=rf"process {proc.pid} \(reading\)"):
            EmbeddedStore(tmp_path / "data")
        with EmbeddedStore(tmp_path / "data", read_only=True) as s:
            assert count(s) == 50


WRITER = """
    import sys
    from kg.store.remote import RemoteStore
    a, b = sys.stdin.read().split("\\x00")
    with RemoteStore(sys.argv[1]) as s:
        for i in range(int(sys.argv[2])):
            s.replace_graph(sys.argv[3], (b, a)[i % 2])
    print("done")
"""


def test_reading_while_another_process_writes_through_a_server(tmp_path: Path) -> None:
    make_store(tmp_path / "data")
    with OxigraphServer(tmp_path / "data", read_only=False) as srv, srv.store() as reader:
        proc = python(WRITER, srv.query_url, "150", GRAPH)
        assert proc.stdin is not None
        proc.stdin.write(version("a") + "\x00" + version("b"))
        proc.stdin.close()
        seen: set[int] = set()
        reads = 0
        while proc.poll() is None:
            seen.add(count(reader))
            reads += 1
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        assert seen == {50} and reads > 10  # each replace is one atomic update request


# --- failures at the endpoint -----------------------------------------------------------------------


class FaultyProxy:
    """A real HTTP proxy to the Oxigraph server that answers ``status`` to the first ``fail`` requests."""

    def __init__(self, upstream: str, *, fail: int = 0, status: int = 503, credentials: str | None = None) -> None:
        self.upstream = upstream.split("//", 1)[1]
        self.fail, self.status, self.requests = fail, status, 0
        self.expected = "Basic " + base64.b64encode(credentials.encode()).decode() if credentials else None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def relay(self) -> None:
                proxy.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                auth = self.headers.get("Authorization")
                if proxy.expected and auth != proxy.expected:
                    return self.answer(401 if auth is None else 403, b"who are you?")
                if proxy.requests <= proxy.fail:
                    return self.answer(proxy.status, b"try again later")
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                self.answer(resp.status, resp.read(), resp.getheader("Content-Type"))

            def answer(self, status: int, data: bytes, content_type: str | None = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def clean_server(oxigraph_server: OxigraphServer) -> OxigraphServer:
    with oxigraph_server.store() as s:
        s.update("DROP ALL")
    return oxigraph_server


def test_transient_failures_are_retried(clean_server: OxigraphServer) -> None:
    proxy = FaultyProxy(clean_server.url, fail=2, status=503)
    try:
        with RemoteStore(proxy.url + "/query", retries=3, backoff=0.01) as s:
            s.replace_graph(GRAPH, version("a"))
            assert proxy.requests == 3
            proxy.fail, proxy.status = proxy.requests + 2, 502
            assert count(s) == 50
            proxy.fail, proxy.status = proxy.requests + 10, 504
            with pytest.raises(EndpointError, match=r"after 3 attempt\(s\): HTTP 504"):
                RemoteStore(proxy.url + "/query", retries=2, backoff=0.01).query("ASK {}")
    finally:
        proxy.close()


def test_credentials_come_from_the_environment(clean_server: OxigraphServer, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = FaultyProxy(clean_server.url, credentials="kg:s3cret")
    monkeypatch.delenv("KG_ENDPOINT_USER", raising=False)
    monkeypatch.delenv("KG_ENDPOINT_PASSWORD", raising=False)
    try:
        with pytest.raises(EndpointAuthError, match="KG_ENDPOINT_USER") as err:
            RemoteStore(proxy.url + "/query").query("ASK {}")
        assert err.value.exit_code == 8
        with pytest.raises(EndpointAuthError, match="KG_ENDPOINT_PASSWORD"):
            RemoteStore(proxy.url + "/query").replace_graph(GRAPH, version("a"))
        monkeypatch.setenv("KG_ENDPOINT_USER", "kg")
        monkeypatch.setenv("KG_ENDPOINT_PASSWORD", "wrong")
        with pytest.raises(EndpointAuthError, match="403") as err:
            RemoteStore(proxy.url + "/query").query("ASK {}")
        assert "wrong" not in str(err.value)
        monkeypatch.setenv("KG_ENDPOINT_PASSWORD", "s3cret")
        with RemoteStore(proxy.url + "/query") as s:
            s.replace_graph(GRAPH, version("a"))
            assert count(s) == 50
    finally:
        proxy.close()


def test_graph_store_protocol_write_path(clean_server: OxigraphServer) -> None:
    with clean_server.store(write="gsp") as s:
        s.replace_graph(GRAPH, version("a"))
        s.replace_graph(GRAPH, version("b", 30))
        s.add_to_graph(GRAPH, version("b", 40))
        assert count(s) == 40 and s.graph_names() == {GRAPH}
        assert '"b39"' in s.graph_nquads(GRAPH)


def test_connection_refused_is_bounded() -> None:
    url = f"http://127.0.0.1:{free_port()}/query"
    t0 = time.monotonic()
    with pytest.raises(EndpointError, match=r"after 3 attempt\(s\)"):
        RemoteStore(url, retries=2, backoff=0.01).query("ASK {}")
    with pytest.raises(EndpointError, match=r"after 3 attempt\(s\)"):
        RemoteStore(url, retries=2, backoff=0.01).replace_graph(GRAPH, version("a"))
    assert time.monotonic() - t0 < 10
