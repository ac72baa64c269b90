"""Ordered background writes for the ingest, and the shared nodes a batch still has to write.

Kept apart from :mod:`kg.ingest` so that the pipeline reads top to bottom;
neither class knows about certificates.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable


class SharedNodes:
    """Shared nodes (templates, companies) of the graphs waiting to be written, one text per shared graph.

    They are written before the graphs that point at them (in the same writer
    queue), so a crash in between leaves at worst an unused shared node, never
    a dangling reference. Nodes already written in this run are skipped (adding
    is idempotent anyway; this only saves work), and a batch's nodes go in one
    call per shared graph instead of one transaction per certificate.
    """

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.pending: dict[str, list[str]] = {}

    def add(self, shared: list[tuple[str, dict[str, str]]]) -> None:
        """``shared``: (graph, {node IRI: its N-Quads}), as ``MappedCertificate.shared`` gives it."""
        for graph, nodes in shared:
            fresh = [nq for node, nq in nodes.items() if node not in self.known]
            if fresh:
                self.pending.setdefault(graph, []).extend(fresh)
                self.known.update(nodes)

    def take(self) -> list[tuple[str, str]]:
        out = [(graph, "".join(texts)) for graph, texts in self.pending.items()]
        self.pending = {}
        return out


class WriteQueue:
    """The store's writes, in submission order, on one background thread.

    Parsing (in the workers, or in this process) and the store's bulk load then
    overlap instead of taking turns: pyoxigraph releases the GIL while it loads.
    At most ``depth`` writes wait in the queue, which bounds the memory held.
    The first failure stops every later write and is raised in the caller's
    thread, at its next call.
    """

    def __init__(self, depth: int = 1, on_exit: Callable[[], object] | None = None) -> None:
        self._on_exit = on_exit  # run in the writer thread as it ends (e.g. Store.release_thread)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="kg-store-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                if self._on_exit is not None:
                    with contextlib.suppress(Exception):  # tidying up; the writes' outcome is already known
                        self._on_exit()
                return
            if self._error is None and not self._stop:
                fn, args, kwargs = item
                try:
                    fn(*args, **kwargs)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def submit(self, fn: Callable[..., object], *args: object, **kwargs: object) -> None:
        self._check()
        self._queue.put((fn, args, kwargs))

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self, *, abandon: bool = False) -> None:
        """Wait for the writes (``abandon``: only for the one running, skipping those queued)."""
        self._stop = abandon
        self._queue.put(None)
        self._thread.join()
        if not abandon:  # when abandoning, the caller is already raising: its exception is the one to see
            self._check()
