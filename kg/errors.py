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
