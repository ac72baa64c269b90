"""A remote SPARQL endpoint that fails: not running, killed mid-push, HTTP 500, too slow, wrong credentials.

Everything runs on 127.0.0.1: a real Oxigraph server (``OxigraphServer``)
and, for failures Oxigraph cannot produce, a small stub HTTP server that
answers 500 or 401, or sleeps before forwarding to the real server. Every
wait is bounded; retries and backoff are set through KG_ENDPOINT_RETRIES /
KG_ENDPOINT_BACKOFF / KG_ENDPOINT_TIMEOUT (docs/reliability.md).
"""

from __future__ import annotations

import http.client
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kg import synth
from kg.errors import EndpointAuthError, EndpointError, QueryTimeoutError
from kg.ingest import ingest
from kg.store import remote as remote_module
from kg.store.embedded import EmbeddedStore
from kg.store.remote import RemoteStore
from kg.store.server import OxigraphServer, free_port

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"
KG = str(Path(sys.executable).parent / "kg")
FAST_RETRIES = {"KG_ENDPOINT_RETRIES": "3", "KG_ENDPOINT_BACKOFF": "0.2"}


def kg(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    return subprocess.run([KG, *args], capture_output=True, text=True, timeout=timeout, env={**full, **(env or {})})


class Stub:
    """An HTTP server on 127.0.0.1 whose ``behave(handler, body)`` answers; ``forward`` relays to ``upstream``."""

    def __init__(self, behave: Callable[[Stub, http.server.BaseHTTPRequestHandler, bytes], None],
                 upstream: str | None = None) -> None:
        self.behave, self.upstream, self.requests = behave, upstream, 0
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def handle_any(self) -> None:
                stub.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.behave(stub, self, body)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(handler: http.server.BaseHTTPRequestHandler, status: int, data: bytes,
               content_type: str = "text/plain", headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)

    def forward(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        assert self.upstream is not None
        conn = http.client.HTTPConnection(self.upstream.split("//", 1)[1], timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() in ("content-type", "accept")}
        conn.request(handler.command, handler.path, body=body, headers=headers)
        resp = conn.getresponse()
        self.answer(handler, resp.status, resp.read(), resp.getheader("Content-Type") or "text/plain")
        conn.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_factory() -> Iterator[Callable[..., Stub]]:
    made: list[Stub] = []

    def make(behave: Callable[..., None], upstream: str | None = None) -> Stub:
        made.append(Stub(behave, upstream))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="module")
def local_store(samples_store_dir: Path) -> Path:
    return samples_store_dir


# --- not running -----------------------------------------------------------------------------


def test_server_not_running_bounded_retries_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}/query"
    sleeps: list[float] = []
    monkeypatch.setattr(remote_module.time, "sleep", sleeps.append)
    with pytest.raises(EndpointError, match=r"after 5 attempt\(s\): .*refused") as err:
        RemoteStore(url).query("ASK {}")  # the defaults: 4 retries, 0.5 s doubling
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert err.value.exit_code == 8 and "is the server running" in str(err.value)
    sleeps.clear()
    with pytest.raises(EndpointError, match=r"after 9 attempt\(s\)"):
        RemoteStore(url, retries=8, backoff=4).replace_graph("http://e/g", "<http://e/s> <http://e/p> \"1\" .\n")
    assert sleeps == [4, 8, 16, 30.0, 30.0, 30.0, 30.0, 30.0]  # doubling, capped at 30 s


@pytest.mark.parametrize("command", [
    ["query", "licences"], ["ingest", str(SAMPLES / "001_32a2f19ddba49f70.txt")], ["push", "--store", "LOCAL"],
])
def test_cli_against_a_server_that_is_not_running(command: list[str], local_store: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/query"
    args = [a.replace("LOCAL", str(local_store)) for a in command]
    args = [*args, "--endpoint", url] if args[0] != "push" else ["push", "--endpoint", url, *args[1:]]
    t0 = time.monotonic()
    run = kg(*args, env=FAST_RETRIES)
    elapsed = time.monotonic() - t0
    assert run.returncode == 8, run.stdout + run.stderr
    assert 0.2 + 0.4 + 0.8 <= elapsed < 30  # backed off three times, then gave up
    out = run.stdout + run.stderr
    assert "after 4 attempt(s)" in out and "Connection refused" in out and "is the server running" in out
    assert "Traceback" not in out
    if args[0] == "push":
        assert "pushed 0 graph(s), failed 1, not attempted" in run.stdout and "not pushed: " in run.stdout


def test_bad_retry_settings_are_refused(local_store: Path) -> None:
    run = kg("query", "licences", "--endpoint", "http://127.0.0.1:9/query", env={"KG_ENDPOINT_RETRIES": "-1"})
    assert run.returncode == 2 and "KG_ENDPOINT_RETRIES" in run.stderr


# --- killed mid-push ----------------------------------------------------------------------


def versions(folder: Path, count: int) -> tuple[Path, Path]:
    synth.write(count, folder / "v1", seed=5)
    (folder / "v2").mkdir()
    for f in (folder / "v1").glob("*.txt"):
        lines = f.read_text(encoding="utf-8").splitlines()
        (folder / "v2" / f.name).write_text("\n".join(lines[: len(lines) * 3 // 4]), encoding="utf-8")
    return folder / "v1", folder / "v2"


def licence_graphs(store: EmbeddedStore) -> list[str]:
    return sorted(g for g in store.graph_names()
                  if not g.endswith(("/templates", "/companies")) and "/ontology/" not in g)


def test_server_killed_mid_push_then_push_again(tmp_path: Path) -> None:
    v1, v2 = versions(tmp_path, 300)
    local = tmp_path / "local"
    with EmbeddedStore(local) as s:
        assert ingest([v1], s).ok
        graphs = licence_graphs(s)
        old = {g: s.graph_nquads(g) for g in graphs}
    data, port = tmp_path / "remote", free_port()
    srv = OxigraphServer(data, port=port, read_only=False).start()
    try:
        first = kg("push", "--endpoint", srv.query_url, "--store", str(local))
        assert first.returncode == 0, first.stdout + first.stderr
        with EmbeddedStore(local) as s:  # the certificates change: the next push replaces every graph
            assert ingest([v2], s).ok
            new = {g: s.graph_nquads(g) for g in graphs}
        assert all(old[g] != new[g] for g in graphs)
        with srv.store() as probe:
            full = probe.quad_count()
            push = subprocess.Popen([KG, "push", "--endpoint", srv.query_url, "--store", str(local)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, **FAST_RETRIES})
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and push.poll() is None:
                if probe.quad_count() < full - 1000:  # some graphs replaced (each new one is ~100 quads smaller)
                    break
                time.sleep(0.01)
            assert push.poll() is None, "the push ended before the server could be killed"
            srv.process.kill()  # type: ignore[union-attr]
            srv.process.wait(10)  # type: ignore[union-attr]
        out, err = push.communicate(timeout=120)
        assert push.returncode == 8, out + err
        pushed = [ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith("  pushed: ")]
        failed = [ln.split(": ", 2)[1] for ln in out.splitlines() if ln.startswith("  failed: ")]
        not_pushed = [ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith("  not pushed: ")]
        assert pushed and failed and not_pushed, out
        assert out.startswith(f"pushed {len(pushed)} graph(s), failed 1, not attempted {len(not_pushed)}")
        assert "run 'kg push' again" in err
        srv.stop()

        srv = OxigraphServer(data, port=port, read_only=False).start()  # the server comes back
        with srv.store() as remote:
            on_remote = {g: remote.graph_nquads(g) for g in graphs}
        for g in graphs:  # every certificate graph is the old one or the new one, never a mix
            assert on_remote[g] in (old[g], new[g]), g
        assert {g for g in graphs if on_remote[g] == new[g]} >= {g for g in pushed if g in new}
        assert any(on_remote[g] == old[g] for g in graphs)  # the push really stopped half way

        again = kg("push", "--endpoint", srv.query_url, "--store", str(local))
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.startswith(f"pushed {len(graphs) + 7} graph(s), failed 0, not attempted 0")
        with srv.store() as remote:
            assert all(remote.graph_nquads(g) == new[g] for g in graphs)
            tpl = next(g for g in remote.graph_names() if g.endswith("/templates"))
            dangling = remote.query(
                "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?c <https://w3id.org/licence-kg/def#template> ?t } "
                f"FILTER NOT EXISTS {{ GRAPH <{tpl}> {{ ?t ?p ?o }} }} }}").rows[0][0]
            assert int(dangling) == 0  # type: ignore[arg-type]
    finally:
        srv.stop()


# --- HTTP 500, slow answers, credentials -----------------------------------------------------------


def test_http_500_is_reported_not_retried(stub_factory: Callable[..., Stub], local_store: Path) -> None:
    stub = stub_factory(lambda s, h, b: s.answer(h, 500, b"Internal Server Error: disk full"))
    run = kg("query", "licences", "--endpoint", stub.url + "/query", env=FAST_RETRIES)
    assert run.returncode == 8, run.stderr
    assert "500" in run.stderr and "Traceback" not in run.stderr and run.stderr.count("\n") == 1
    assert stub.requests == 1  # a server error is not a transient failure
    run = kg("push", "--endpoint", stub.url + "/query", "--store", str(local_store), env=FAST_RETRIES)
    assert run.returncode == 8 and "HTTP 500" in run.stdout and "not pushed: " in run.stdout


def test_http_500_in_the_middle_of_a_push(stub_factory: Callable[..., Stub], local_store: Path,
                                           oxigraph_server: OxigraphServer) -> None:
    with oxigraph_server.store() as remote:
        remote.update("DROP ALL")
    updates = [0]

    def fail_fifth_update(s: Stub, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        if h.path.startswith("/update"):
            updates[0] += 1
            if updates[0] == 5:
                return s.answer(h, 500, b"transaction aborted")
        s.forward(h, body)

    stub = stub_factory(fail_fifth_update, oxigraph_server.url)
    run = kg("push", "--endpoint", stub.url + "/query", "--store", str(local_store), env=FAST_RETRIES)
    assert run.returncode == 8, run.stdout + run.stderr
    assert run.stdout.startswith("pushed 4 graph(s), failed 1, not attempted 7"), run.stdout
    with EmbeddedStore(local_store, read_only=True) as local, oxigraph_server.store() as remote:
        pushed = [ln.split(": ", 1)[1] for ln in run.stdout.splitlines() if ln.startswith("  pushed: ")]
        assert len(pushed) == 4 and remote.graph_names() == set(pushed)
        for g in pushed:
            assert remote.graph_nquads(g) == local.graph_nquads(g)
    again = kg("push", "--endpoint", stub.url + "/query", "--store", str(local_store), env=FAST_RETRIES)
    assert again.returncode == 0, again.stdout


def test_slow_answers_time_out(stub_factory: Callable[..., Stub], local_store: Path,
                               oxigraph_server: OxigraphServer) -> None:
    def slow(s: Stub, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        time.sleep(4)
        s.forward(h, body)

    stub = stub_factory(slow, oxigraph_server.url)
    t0 = time.monotonic()
    run = kg("query", "licences", "--endpoint", stub.url + "/query", "--timeout", "1", env=FAST_RETRIES)
    assert run.returncode == 8, run.stderr
    assert "did not finish within 1 s" in run.stderr
    assert time.monotonic() - t0 < 1 + 6  # not retried: the server may still be working
    assert stub.requests == 1

    t0 = time.monotonic()
    run = kg("push", "--endpoint", stub.url + "/query", "--store", str(local_store),
             env={**FAST_RETRIES, "KG_ENDPOINT_TIMEOUT": "0.5"})
    assert run.returncode == 8, run.stdout + run.stderr
    assert "no answer within 0.5 s" in run.stdout
    assert time.monotonic() - t0 < 0.5 + 6
    with pytest.raises(QueryTimeoutError):
        RemoteStore(stub.url + "/query", timeout=0.3).query("ASK {}")


def test_wrong_credentials(stub_factory: Callable[..., Stub], local_store: Path) -> None:
    def needs_login(s: Stub, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        s.answer(h, 401, b"unauthorised", headers={"WWW-Authenticate": 'Basic realm="kg"'})

    stub = stub_factory(needs_login)
    for env in ({}, {"KG_ENDPOINT_USER": "analyst", "KG_ENDPOINT_PASSWORD": "not-the-password-42"}):
        run = kg("query", "licences", "--endpoint", stub.url + "/query", env={**FAST_RETRIES, **env})
        assert run.returncode == 8, run.stderr
        assert "KG_ENDPOINT_USER" in run.stderr and "KG_ENDPOINT_PASSWORD" in run.stderr
        assert "401" in run.stderr and "not-the-password-42" not in run.stdout + run.stderr
        run = kg("push", "--endpoint", stub.url + "/query", "--store", str(local_store), env={**FAST_RETRIES, **env})
        assert run.returncode == 8 and "KG_ENDPOINT_USER" in run.stdout
        assert "not-the-password-42" not in run.stdout + run.stderr
    with pytest.raises(EndpointAuthError, match="KG_ENDPOINT_PASSWORD"):
        RemoteStore(stub.url + "/query").query("ASK {}")
    assert stub.requests <= 6  # an authentication failure is not retried


def test_kg_serve_stops_its_server_on_sigterm(local_store: Path, tmp_path: Path) -> None:
    """A supervisor's SIGTERM stops ``kg serve`` and its Oxigraph child (no orphan holding the store)."""
    import shutil

    copy = tmp_path / "served"
    shutil.copytree(local_store, copy)
    port = free_port()
    proc = subprocess.Popen([KG, "serve", "--store", str(copy), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith(f"serving http://127.0.0.1:{port}"), line + proc.stderr.read()  # type: ignore[union-attr]
        child = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
            time.sleep(0.05)
        assert not Path(f"/proc/{child}").exists(), "the oxigraph server outlived kg serve"
        with EmbeddedStore(copy) as s:  # unlocked
            assert s.graph_names()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
