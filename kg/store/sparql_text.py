"""SPARQL text as tokens: just enough to find a query's form, its WHERE group and its ORDER BY.

Why: the store layer edits query texts in two places (a VALUES block injected
for bindings, :mod:`kg.store.terms`; the final ORDER BY taken out to be applied
in Python, :mod:`kg.store.ordering`), and a regex over the raw text would be
fooled by a keyword inside a string, an IRI or a comment. The tokens skip
whitespace and comments and keep strings and IRIs whole.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from kg.errors import QueryError

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      |(?P<comment>\#[^\n]*)
      |(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
      |(?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
                 |"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')
      |(?P<var>[?$]\w+)
      |(?P<word>[A-Za-z_][\w\-.]*(?::[^\s{}()\[\],;]*)?|:[^\s{}()\[\],;]*)
      |(?P<open>\{)|(?P<close>\})
      |(?P<other>.)""",
    re.X | re.S,
)

# the keywords an update operation starts with (SPARQL 1.1 Update; WITH opens a DELETE/INSERT)
UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})


class Token(NamedTuple):
    """One token: its kind (a group name of the pattern above), its text and where it is in the query."""

    kind: str
    text: str
    start: int
    end: int


def tokens(sparql: str) -> list[Token]:
    """The query's tokens, without whitespace and comments."""
    out = []
    for m in _TOKEN.finditer(sparql):
        kind = m.lastgroup or "other"
        if kind not in ("ws", "comment"):
            out.append(Token(kind, m.group(), m.start(), m.end()))
    return out


def keyword(tok: Token) -> str:
    """The token upper-cased if it is a bare word (a keyword candidate), else "" (prefixed names, variables…)."""
    return tok.text.upper() if tok.kind == "word" and ":" not in tok.text else ""


def matching(toks: list[Token], i: int) -> int:
    """The index of the ``}`` that closes the ``{`` at ``toks[i]``."""
    depth = 0
    for k in range(i, len(toks)):
        depth += (toks[k].kind == "open") - (toks[k].kind == "close")
        if depth == 0:
            return k
    raise QueryError("unbalanced braces in the SPARQL query")
