"""A query's final ORDER BY applied to its rows in Python, for the embedded store.

Why: Oxigraph sorts solutions by comparing encoded terms and decodes both terms
again at every comparison; a string too long to be inlined in its encoding (a
company name, a clause text) is read back from the store each time. On the 10^5
register, `licences` spent 2.6 of 7.2 s in `ORDER BY ?number` and `authorised`
~0.1 of 0.5 s in `ORDER BY ?holder ?number` (2,008 rows). The rows have been
decoded anyway by then, and Python sorts 10^5 of them in ~0.1 s.

So when the final ORDER BY of a SELECT can be applied to its rows (every key a
variable, optionally in ASC()/DESC(), nothing but GROUP BY/HAVING
between the WHERE group and it, no LIMIT, OFFSET or VALUES after it),
:func:`split_order_by` gives the query without it and the keys, and
:func:`sort_rows` sorts the rows the way SPARQL 1.1 orders them (§15.1):
unbound first, then blank nodes, IRIs, literals. Literals compare as the SPARQL
``<`` operator does where it is defined (numbers by value, dates, date-times
and booleans by value, simple and language-tagged strings by code point).
A language-tagged string comes before the simple literal of the same text, as
in Oxigraph; ``tests/test_ordering.py`` checks that Oxigraph's own ORDER BY
agrees with :func:`term_key` on columns of unbound cells, IRIs and literals of
one kind. Literals that ``<`` does not compare (a number and a date) SPARQL
leaves to the implementation; Oxigraph's order there is not even transitive (an
integer before a date before a decimal), so :func:`term_key` puts kinds in a
fixed order (numbers, dates, date-times, strings, booleans, other datatypes).
No library query mixes kinds in a column. Equal keys keep the engine's order
(the sort is stable); SPARQL leaves that order open too.

A key that is an expression (``findings`` sorts by a severity rank computed in
the query) keeps the whole ORDER BY in the engine.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from kg.rdfterms import XSD_DATE
from kg.store.fastterms import CANONICAL_DATE
from kg.store.sparql_text import keyword, matching, tokens

OrderKey = tuple[str, bool]  # (variable name without "?", descending)

_NUMERIC = {str(XSD[name]) for name in (
    "integer", "decimal", "float", "double", "int", "long", "short", "byte", "nonNegativeInteger",
    "positiveInteger", "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
    "unsignedByte")}
_DATETIME, _BOOLEAN = str(XSD.dateTime), str(XSD.boolean)
_AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}


class OrderSplit(NamedTuple):
    """A query whose final ORDER BY the caller applies: the text to run, the keys, and the key variables the
    text projects only for the sort (their columns are dropped from the result afterwards)."""

    text: str
    keys: tuple[OrderKey, ...]
    hidden: tuple[str, ...] = ()


@functools.lru_cache(maxsize=512)
def split_order_by(sparql: str) -> OrderSplit | None:
    """The query without its final ORDER BY and that clause's keys, or ``None`` when the clause must stay.

    ``None`` for anything but a SELECT whose ORDER BY is the last clause and orders by variables (see the
    module docstring); the text is otherwise unchanged, comments included. A key variable the SELECT does
    not project is added to the projection (``hidden``) where that cannot change the rows: no DISTINCT,
    REDUCED, GROUP BY or aggregate (e.g. `ORDER BY ?d` where ?d is a deadline's IRI the SELECT does not list).
    """
    toks = tokens(sparql)
    form = next((k for k, t in enumerate(toks) if keyword(t) in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")), None)
    if form is None or keyword(toks[form]) != "SELECT":
        return None
    where = next((k for k in range(form + 1, len(toks)) if toks[k].kind == "open"), None)
    if where is None:
        return None
    projected = _projection(toks[form + 1:where])
    if projected is None:
        return None
    k = matching(toks, where) + 1
    while k < len(toks) and keyword(toks[k]) != "ORDER":
        if toks[k].kind == "open":  # a HAVING (…) group would be 'other' tokens; braces here are a VALUES block
            return None
        k += 1
    if k + 1 >= len(toks) or keyword(toks[k + 1]) != "BY":
        return None
    start, k = k, k + 2
    keys: list[OrderKey] = []
    while k < len(toks):
        tok = toks[k]
        if tok.kind == "var":
            keys.append((tok.text[1:], False))
            k += 1
        elif keyword(tok) in ("ASC", "DESC") and _is_bracketed_var(toks, k + 1):
            keys.append((toks[k + 2].text[1:], keyword(tok) == "DESC"))
            k += 4
        else:
            return None  # an expression, LIMIT, OFFSET, VALUES…: the engine orders
    if not keys:
        return None
    text = sparql[:toks[start].start] + sparql[toks[-1].end:]
    hidden = tuple(dict.fromkeys(name for name, _ in keys if name not in projected))
    if hidden:
        clause = toks[form + 1:where]
        if any(keyword(t) in ("DISTINCT", "REDUCED", "GROUP") or keyword(t) in _AGGREGATES
               for t in [*clause, *toks[matching(toks, where) + 1:start]]):
            return None
        # after the projection: before FROM (a dataset clause), WHERE or the group
        at = next(t.start for t in toks[form + 1:where + 1] if keyword(t) in ("FROM", "WHERE") or t.kind == "open")
        text = text[:at] + " ".join("?" + name for name in hidden) + " " + text[at:]
    return OrderSplit(text, tuple(keys), hidden)


def _is_bracketed_var(toks: Sequence, k: int) -> bool:
    return (k + 2 < len(toks) and toks[k].text == "(" and toks[k + 1].kind == "var" and toks[k + 2].text == ")")


def _projection(toks: Sequence) -> set[str] | None:
    """The variables a SELECT clause projects (``None`` for ``SELECT *``, whose columns the text does not name)."""
    names: set[str] = set()
    depth = 0
    for i, tok in enumerate(toks):
        if tok.text == "*" and depth == 0:
            return None
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        elif tok.kind == "var" and (depth == 0 or (i > 0 and keyword(toks[i - 1]) == "AS")):
            names.add(tok.text[1:])
    return names


def term_key(term: Node | None) -> tuple:
    """A sort key that orders terms as SPARQL's ORDER BY does (see the module docstring)."""
    kind = type(term)
    if kind is Literal:
        datatype = term.datatype  # type: ignore[union-attr]
        if datatype is None:
            language = term.language  # type: ignore[union-attr]
            return (3, 5, str(term), 0, language) if language else (3, 5, str(term), 1, "")
        value = term.value  # type: ignore[union-attr]
        if value is not None and not term.ill_typed:  # type: ignore[union-attr]
            datatype = str(datatype)
            if datatype == XSD_DATE and type(value) is dt.date and CANONICAL_DATE.fullmatch(term):  # type: ignore[arg-type]
                return (3, 2, value)
            if datatype in _NUMERIC and type(value) in (int, float, Decimal) and value == value:  # not NaN
                return (3, 0, value)
            if datatype == _BOOLEAN and type(value) is bool:
                return (3, 6, value)
            if datatype == _DATETIME and type(value) is dt.datetime:
                return (3, 3, value) if value.tzinfo is None else (3, 4, value)
        return (3, 9, str(datatype), str(term))
    if term is None:
        return (0,)
    if kind is URIRef:
        return (2, str(term))
    if kind is BNode:
        return (1, str(term))
    return (4, str(term))


def sort_rows(variables: Sequence[str], rows: list[tuple], keys: Sequence[OrderKey]) -> list[tuple]:
    """``rows`` ordered by ``keys``: one sort when every key goes the same way, else one per key from the last."""
    # keyed by identity: a result's equal terms are one object (kg.store.embedded.ox_result converts each
    # distinct term once), and rdflib's __hash__/__eq__ would cost more than the key itself; the rows keep
    # every term alive, so no id is reused during the sort
    memo: dict[int, tuple] = {}

    def tk(term: Node | None) -> tuple:
        k = memo.get(id(term))
        if k is None:
            k = memo[id(term)] = term_key(term)
        return k

    index = {name: i for i, name in enumerate(variables)}
    out = list(rows)
    if len({descending for _, descending in keys}) == 1:
        columns = [index[name] for name, _ in keys]
        out.sort(key=lambda row: [tk(row[i]) for i in columns], reverse=keys[0][1])
        return out
    for name, descending in reversed(keys):
        i = index[name]
        out.sort(key=lambda row, i=i: tk(row[i]), reverse=descending)
    return out
