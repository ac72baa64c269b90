"""Exception classes, one per kind of failure.

Each carries what an analyst needs to act: the file (or store / endpoint),
the line where known, what went wrong and what to do. The CLI turns them into
one-line messages and documented exit codes (see ``kg/cli.py``); the library
never prints.
"""

from __future__ import annotations


class KgError(Exception):
    """Base class: ``str(err)`` is the one-line message the CLI prints."""

    exit_code = 2

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None, hint: str | None = None):
        self.reason = reason
        self.file = file
        self.line = line
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        tail = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.reason}{tail}"


class NotACertificateError(KgError):
    """The input is not a licence certificate at all (empty, binary, HTML, no licence number)."""

    exit_code = 3


class InputTooLargeError(NotACertificateError):
    """The input exceeds the documented size bounds of the parser."""


# --- store layer (kg/store) -------------------------------------------------


class StoreError(KgError):
    """The store cannot do what was asked: missing store directory, malformed N-Quads, bad graph IRI."""


class StoreLockedError(StoreError):
    """Another process (or another open handle) holds the embedded store: ``store is locked by process N``."""

    exit_code = 7

    def __init__(self, reason: str, *, pid: int | None = None, file: str | None = None,
                 line: int | None = None, hint: str | None = None):
        self.pid = pid
        super().__init__(reason, file=file, line=line, hint=hint)


class BindingError(StoreError):
    """A query parameter cannot be bound as an RDF term (invalid IRI, blank node, unknown type)."""

    exit_code = 5


class QueryError(StoreError):
    """The SPARQL query or update is malformed or the engine rejected it."""


class UpdateRefusedError(StoreError):
    """A write was sent to a read-only store or server."""

    exit_code = 6


class EndpointError(KgError):
    """The remote SPARQL endpoint failed (after bounded retries) or answered with an unexpected error."""

    exit_code = 8


class EndpointAuthError(EndpointError):
    """The endpoint answered 401/403: credentials come only from KG_ENDPOINT_USER / KG_ENDPOINT_PASSWORD."""


class QueryTimeoutError(EndpointError):
    """A query did not finish within its timeout (any back end; an exit code shared with endpoint failures)."""


class MultipleCertificatesError(NotACertificateError):
    """Two different certificates concatenated in one input: rejected with a reason, never merged."""


class SynthOutputError(KgError):
    """``kg synth`` was pointed at a directory holding certificates it would not overwrite: an ingest of the
    directory would read them beside the new register, and its ``.facts.jsonl`` would no longer describe it."""
