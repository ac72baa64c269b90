"""Run a real Oxigraph SPARQL server (the ``oxigraph`` binary from PyPI) for tests and for reading during writes.

Why a server at all: RocksDB allows one writing process per store directory,
and reading it from another process while it is written is undefined
behaviour. A server owns the directory and answers any number of readers over
HTTP while it applies updates, each update request atomically.

The server takes the store's ``kg.lock`` on behalf of its process (exclusive
for ``serve``, shared for ``serve-read-only``) and writes its pid into it, so
``kg`` commands that open the directory directly fail with
``store is locked by process N`` instead of corrupting it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from kg.errors import StoreError
from kg.store.embedded import DirLock
from kg.store.remote import RemoteStore


def find_oxigraph() -> str:
    """The ``oxigraph`` binary next to the running Python (a venv's bin/) or on PATH."""
    local = Path(sys.executable).parent / "oxigraph"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("oxigraph")
    if found:
        return found
    raise StoreError("the oxigraph server binary was not found", hint="pip install oxigraph (see pyproject's dev extra)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class OxigraphServer:
    """``with OxigraphServer(path, read_only=False) as srv:`` → a running server at ``srv.url``.

    ``port=None`` picks a free port (retrying if another process takes it
    first). Start-up is bounded by ``start_timeout`` (polling
    ``GET /query?query=ASK{}``); exit sends SIGTERM and, after
    ``stop_timeout``, SIGKILL. The data stays in ``location``. Note that the
    server does not flush its write-ahead log on SIGTERM: the next opening of a
    heavily written directory replays it (measured: 48 s for a 1.4 GB log).
    """

    def __init__(self, location: str | os.PathLike[str], port: int | None = None, host: str = "127.0.0.1",
                 read_only: bool = True, *, union_default_graph: bool = False, timeout_s: float | None = None,
                 start_timeout: float = 30.0, stop_timeout: float = 10.0) -> None:
        self.location = Path(location)
        self.host = host
        self.port = port
        self.read_only = read_only
        self.union_default_graph = union_default_graph
        self.timeout_s = timeout_s
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: DirLock | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def query_url(self) -> str:
        return self.url + "/query"

    @property
    def update_url(self) -> str:
        return self.url + "/update"

    @property
    def gsp_url(self) -> str:
        return self.url + "/store"

    def store(self, **kw: object) -> RemoteStore:
        """A :class:`RemoteStore` (dialect oxigraph) on this server; read-only if the server is."""
        kw.setdefault("read_only", self.read_only)
        return RemoteStore(self.query_url, dialect="oxigraph", **kw)  # type: ignore[arg-type]

    def _command(self) -> list[str]:
        cmd = [find_oxigraph(), "serve-read-only" if self.read_only else "serve",
               "--location", str(self.location), "--bind", f"{self.host}:{self.port}"]
        if self.union_default_graph:
            cmd.append("--union-default-graph")
        if self.timeout_s is not None:
            cmd += ["--timeout-s", f"{self.timeout_s:g}"]
        return cmd

    def start(self) -> OxigraphServer:
        if self.read_only and not (self.location / "CURRENT").exists():
            raise StoreError("no store to serve read-only", file=str(self.location), hint="ingest into it first")
        self.location.mkdir(parents=True, exist_ok=True)
        self._lock = DirLock(self.location, shared=self.read_only)
        fixed = self.port is not None
        try:
            for _ in range(1 if fixed else 5):
                if not fixed:
                    self.port = free_port(self.host)
                if self._launch():
                    if not self.read_only:
                        self._lock.set_owner(self.process.pid)  # type: ignore[union-attr]
                    return self
            raise StoreError(f"the Oxigraph server did not start: {self._log_tail()}", file=str(self.location))
        except BaseException:
            self.stop()
            raise

    def _launch(self) -> bool:
        """True when the server answers; False when it exited early (e.g. the port was taken)."""
        self._log.seek(0)
        self._log.truncate()
        self.process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        probe = f"{self.query_url}?query=ASK%7B%7D"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                with urllib.request.urlopen(probe, timeout=1) as resp:
                    if resp.status == 200:
                        return True
            time.sleep(0.05)
        self._terminate()
        raise StoreError(f"the Oxigraph server did not answer within {self.start_timeout:g} s: {self._log_tail()}",
                         file=str(self.location))

    def _terminate(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(self.stop_timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; releases the store lock. Idempotent."""
        self._terminate()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _log_tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace").strip()[-500:] or "no output"

    def __enter__(self) -> OxigraphServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
