"""The named SPARQL query library: ``queries/*.rq`` loaded by name.

Each file starts with a header of ``#`` comment lines::

    # title: Licences expiring soon
    # description: Licences whose expiry date falls within `days` days after `as_of`.
    # param: as_of date = today | the reference date
    # param: days integer = 90 | window length in days
    # bind: until = as_of + days

A ``param`` line declares a variable the caller may bind: name, type, an
optional default and a description. A type ending in ``?`` (``number licence?``)
makes the parameter optional: when it is not given its variable stays unbound,
so the same query answers for one licence (an index lookup from the bound
number) or for all of them. Values are converted to typed RDF terms
(dates to ``xsd:date``, regions and business types to their vocabulary IRIs)
and bound through the store's binding mechanism, never pasted into the query
text. A ``bind`` line derives a date from other parameters in Python, because
not every SPARQL engine can add a duration to a date.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rdflib import Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from kg import reference
from kg.errors import KgError
from kg.namespaces import VOCAB

if TYPE_CHECKING:
    from kg.store.base import QueryResult

QUERY_DIR = Path(__file__).resolve().parent.parent / "queries"
PARAM_TYPES = ("date", "integer", "string", "boolean", "iri", "licence", "region", "business_type", "severity")
SEVERITIES = ("error", "warning", "info")  # most severe first; kg.rules and the `severity` parameter type


class QueryNotFoundError(KgError):
    exit_code = 4


class ParameterError(KgError):
    exit_code = 5


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    description: str
    optional: bool = False  # declared ``TYPE?``: left unbound when not given


@dataclass(frozen=True)
class QuerySpec:
    name: str
    path: Path
    title: str
    description: str
    params: tuple[Param, ...]
    binds: tuple[tuple[str, str, str, str], ...]  # (target, date param, op, integer param)
    text: str = field(repr=False)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


_HEADER = re.compile(r"^#\s*(title|description|param|bind):\s*(.*)$")
_PARAM = re.compile(r"^(\w+)\s+(\w+)(\?)?(?:\s*=\s*([^|]*?))?\s*(?:\|\s*(.*))?$")
_BIND = re.compile(r"^(\w+)\s*=\s*(\w+)\s*([+-])\s*(\w+)$")


def load_spec(path: Path) -> QuerySpec:
    """Read a query file and its header; a malformed header is an error, not ignored."""
    text = path.read_text(encoding="utf-8")
    title, description, params, binds = "", [], [], []
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line.strip())
        if not m:
            if line.strip().startswith("#") or not line.strip():
                continue
            break
        kind, value = m.groups()
        if kind == "title":
            title = value.strip()
        elif kind == "description":
            description.append(value.strip())
        elif kind == "param":
            pm = _PARAM.match(value.strip())
            if not pm or pm.group(2) not in PARAM_TYPES:
                raise KgError(f"malformed parameter declaration {value!r}", file=str(path), line=n,
                              hint="use '# param: NAME TYPE [= DEFAULT] | description' (or NAME TYPE? for an "
                                   f"optional one) with TYPE in {PARAM_TYPES}")
            if pm.group(3) and pm.group(4):
                raise KgError(f"parameter {pm.group(1)!r} is optional and has a default", file=str(path), line=n,
                              hint="an optional parameter (TYPE?) is unbound when not given: drop the ? or the default")
            params.append(Param(pm.group(1), pm.group(2), (pm.group(4) or None), (pm.group(5) or "").strip(),
                                optional=bool(pm.group(3))))
        else:
            bm = _BIND.match(value.strip())
            if not bm:
                raise KgError(f"malformed bind {value!r}", file=str(path), line=n,
                              hint="use '# bind: NAME = DATE_PARAM + INTEGER_PARAM'")
            binds.append(bm.groups())
    return QuerySpec(path.stem, path, title or path.stem, " ".join(description), tuple(params), tuple(binds), text)


def list_queries(directory: Path = QUERY_DIR) -> list[QuerySpec]:
    """Named queries (top level of ``queries/``; rules live in ``queries/rules/``)."""
    return [load_spec(p) for p in sorted(directory.glob("*.rq"))]


def get(name_or_path: str, directory: Path = QUERY_DIR) -> QuerySpec:
    candidate = Path(name_or_path)
    if name_or_path.endswith(".rq"):
        if not candidate.is_file():
            raise QueryNotFoundError("no such query file", file=name_or_path)
        return load_spec(candidate)
    path = directory / f"{name_or_path}.rq"
    if not path.is_file():
        known = ", ".join(s.name for s in list_queries(directory))
        raise QueryNotFoundError(f"no query named {name_or_path!r}", hint=f"known: {known}")
    return load_spec(path)


_SURROGATE = re.compile("[\ud800-\udfff]")


def to_term(param: Param, value: object) -> Node:
    """Convert a user value to the RDF term the query expects."""
    if isinstance(value, str) and _SURROGATE.search(value):  # a command-line argument that was not UTF-8
        raise ParameterError(f"parameter {param.name} ({param.type}): the value is not valid text "
                             "(bytes that are not UTF-8)", hint="check the terminal's encoding (UTF-8)")
    try:
        return _CONVERT[param.type](value)
    except (ValueError, TypeError, LookupError) as exc:
        raise ParameterError(f"parameter {param.name} ({param.type}): {exc}",
                             hint=param.description or None) from exc


def _date(value: object) -> Literal:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        value = dt.date.today() if value == "today" else dt.date.fromisoformat(value.strip())
    if not isinstance(value, dt.date):
        raise TypeError(f"expected a date (YYYY-MM-DD), got {value!r}")
    return Literal(value.isoformat(), datatype=XSD.date)


def _integer(value: object) -> Literal:
    if isinstance(value, bool):
        raise TypeError("expected an integer")
    return Literal(str(int(str(value).strip())), datatype=XSD.integer)


def _boolean(value: object) -> Literal:
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"expected true or false, got {value!r}")
    return Literal(text in ("true", "1", "yes"))


def _string(value: object) -> Literal:
    return Literal(str(value))


def _iri(value: object) -> URIRef:
    """An absolute IRI, checked as the stores check bindings (so a bad one is a ParameterError, not later)."""
    from kg.store.terms import check_iri

    text = str(value).strip()
    try:
        return URIRef(check_iri(text, "IRI"))
    except KgError as exc:
        raise ValueError(f"not an absolute IRI: {text!r}") from exc


def _region(value: object) -> URIRef:
    """A region as GB/T 2260 code, ISO 3166-2 code, Chinese full or short name, or 全国/CN."""
    text = str(value).strip()
    if text in ("全国", "CN", "cn"):
        return URIRef(VOCAB["region/CN"])
    ref = reference.load()
    province = ref.province_by_name(text) or ref.province_by_name(text.upper())
    if province is not None:
        return URIRef(province.iri)
    if text in ref.cities:
        return URIRef(ref.cities[text].iri)
    raise LookupError(f"unknown region {text!r} (give a GB/T 2260 code like 44, an ISO code like CN-GD, "
                      "or a name like 广东)")


def _business_type(value: object) -> URIRef:
    text = str(value).strip()
    ref = reference.load()
    bt = ref.business_types.get(text.upper()) or ref.business_type_by_name(text)
    if bt is None:
        raise LookupError(f"unknown business type {text!r} (give a catalogue code like B11 or a name like "
                          "互联网数据中心业务)")
    return URIRef(bt.iri)


def _severity(value: object) -> Literal:
    """A finding severity; anything else is refused rather than read as the lowest one."""
    text = str(value).strip().lower()
    if text not in SEVERITIES:
        raise ValueError(f"expected one of {', '.join(SEVERITIES)}, got {value!r}")
    return Literal(text)


_CONVERT = {
    "date": _date,
    "integer": _integer,
    "string": _string,
    "licence": _string,
    "boolean": _boolean,
    "iri": _iri,
    "region": _region,
    "business_type": _business_type,
    "severity": _severity,
}


def bindings_for(spec: QuerySpec, values: dict[str, object]) -> dict[str, Node]:
    """Typed bindings for a query: defaults applied, unknown or missing parameters refused."""
    unknown = set(values) - {p.name for p in spec.params}
    if unknown:
        names = ", ".join(p.name for p in spec.params) or "none"
        raise ParameterError(f"query {spec.name!r} has no parameter {sorted(unknown)[0]!r}",
                             hint=f"its parameters: {names}")
    out: dict[str, Node] = {}
    for p in spec.params:
        if p.name in values and values[p.name] is not None:
            out[p.name] = to_term(p, values[p.name])
        elif p.default is not None:
            out[p.name] = to_term(p, p.default)
        elif p.optional:
            continue
        else:
            raise ParameterError(f"query {spec.name!r} needs parameter {p.name!r} ({p.type})",
                                 hint=p.description or None)
    for target, date_param, op, int_param in spec.binds:
        base = dt.date.fromisoformat(str(out[date_param]))
        days = int(str(out[int_param]))
        out[target] = _date(base + dt.timedelta(days=days if op == "+" else -days))
    return out


#: a column built by GROUP_CONCAT, and its separator
_CONCAT = re.compile(r'separator\s*=\s*"([^"]*)"\s*\)\s*AS\s*\?(\w+)')


def comparable_rows(spec: QuerySpec, result: QueryResult) -> Counter[tuple[str, ...]]:
    """A query's rows as a multiset of strings that compare equal whichever engine answered.

    SPARQL leaves the order of GROUP_CONCAT's values to the engine, and rdflib and Oxigraph do differ
    ("13, 135" against "135, 13" for a finding's evidence lines), so those columns are compared as sorted
    lists; the other cells as N-Triples terms. For checking that two stores, or two texts of one query,
    give the same answer (tests/test_query_engines.py, bench/query_ab.py).
    """
    concatenated = {name: sep for sep, name in _CONCAT.findall(spec.text)}

    def cell(variable: str, value: object) -> str:
        if value is None:
            return ""
        if variable in concatenated:
            return concatenated[variable].join(sorted(str(value).split(concatenated[variable])))
        return value.n3()  # type: ignore[attr-defined]

    return Counter(tuple(cell(v, x) for v, x in zip(result.variables, row, strict=True)) for row in result.rows)


@functools.lru_cache(maxsize=512)
def is_update(sparql: str) -> bool:
    """True when the text is a SPARQL Update (or a query followed by an update operation).

    Read from the tokens, as the grammar does: keywords inside strings, IRIs,
    comments, variable names (``?delete``) and prefixed names (``ex:drop``) do
    not count. The text is an update when the first operation after the
    prologue (``BASE``/``PREFIX``) starts with an update keyword (``INSERT``,
    ``DELETE``, ``WITH``, ``LOAD``, ``CLEAR``, ``DROP``, ``CREATE``, ``ADD``,
    ``MOVE``, ``COPY``; any case), or when a ``;`` outside braces is followed by
    one (a second operation). As a second opinion, text that holds an update
    keyword as a token elsewhere and does not parse as a query but does parse as
    an update (rdflib) is an update too. A malformed query is not an update: the
    engine reports it.

    The second opinion is for such odd texts only: rdflib's parser takes 70-130 ms
    on a named query, which every ``kg query`` paid before a 3 ms answer while the
    word "with" in a comment was enough to call it. Cached by text, like
    ``kg.store.ordering.split_order_by``: tokenising a named query takes ~0.5 ms,
    a sixth of a point query's answer, and a notebook runs the same texts again.
    """
    from kg.store.sparql_text import UPDATE_KEYWORDS, keyword, tokens

    depth, expect_operation, keyword_seen = 0, True, False
    for tok in tokens(sparql):
        if tok.kind in ("open", "close"):
            depth += 1 if tok.kind == "open" else -1
            expect_operation = False
            continue
        kw = keyword(tok)
        if kw in UPDATE_KEYWORDS:
            if expect_operation:
                return True
            keyword_seen = True
        if expect_operation:
            if kw in ("PREFIX", "BASE") or tok.kind == "iri" or (tok.kind == "word" and ":" in tok.text):
                continue  # the prologue
            expect_operation = False
        elif depth <= 0 and tok.kind == "other" and tok.text == ";":
            expect_operation = True
    if not keyword_seen:
        return False
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    try:
        parseQuery(sparql)
        return False
    except Exception:
        pass
    try:
        parseUpdate(sparql)
    except Exception:
        return False
    return True
