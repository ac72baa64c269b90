"""RDF terms in and out of the store back ends, and the little SPARQL text handling they need.

Why this module exists: the three back ends disagree on small things that
change query answers. pyoxigraph and the Oxigraph server drop an explicit
``xsd:string`` datatype and lower-case language tags; rdflib keeps both, so
``Literal("x", datatype=XSD.string) != Literal("x")``; Virtuoso-style servers
answer ``"type": "typed-literal"``. Every term that leaves a store goes through
:func:`normalise` (or :func:`from_ox` / :func:`from_json`, which normalise), so
callers can compare results from any back end with ``==``.

Bindings travel as RDF terms. Where a back end has no binding API (a remote
SPARQL 1.1 endpoint; pyoxigraph for variables outside the SELECT projection)
they become a ``VALUES`` block whose terms are written by :func:`sparql_term`:
IRIs are validated against the IRIREF grammar (no ``>``, spaces, quotes or
braces can get through), literals are escaped as in N-Triples. A value such as
``"} ; DROP ALL ; #`` therefore stays one string literal that matches nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import Decimal

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from kg.errors import BindingError, QueryError
from kg.store import fastterms
from kg.store.sparql_text import UPDATE_KEYWORDS, keyword, matching, tokens

XSD_STRING = str(XSD.string)
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_IRI_CHARS = r"""[^<>"{}|^`\\\x00-\x20]"""
_ABSOLUTE_IRI = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*:{_IRI_CHARS}*")
_LANG = re.compile(r"[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_VARNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


# --- terms out of the stores -------------------------------------------------


def normalise(term: Node | None) -> Node | None:
    """One spelling per term: plain literals for ``xsd:string``, lower-case language tags."""
    if isinstance(term, Literal):
        if term.language:
            lang = term.language.lower()
            return term if lang == term.language else Literal(str(term), lang=lang)
        if term.datatype is not None and str(term.datatype) == XSD_STRING:
            return Literal(str(term))
    return term


def from_ox(term: object) -> Node | None:
    """A pyoxigraph term as a normalised rdflib term (``None`` for the default graph / unbound)."""
    if term is None or isinstance(term, ox.DefaultGraph):
        return None
    if isinstance(term, ox.NamedNode):
        return fastterms.iri(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        language = term.language
        if language:
            return fastterms.literal(term.value, language)
        return fastterms.literal(term.value, None, term.datatype.value)
    raise QueryError(f"unsupported RDF term in a result: {term!r}", hint="RDF-star triples are not used here")


def from_json(binding: Mapping[str, str]) -> Node:
    """A SPARQL 1.1 JSON results binding (``uri``, ``literal``, ``typed-literal``, ``bnode``) as an rdflib term."""
    kind = binding.get("type")
    value = binding.get("value", "")
    if kind == "uri":
        return fastterms.iri(value)
    if kind == "bnode":
        return BNode(value)
    if kind in ("literal", "typed-literal"):
        lang = binding.get("xml:lang")
        if lang:
            # an endpoint's tag is not checked by Oxigraph's parser: an invalid one goes to rdflib, which refuses it
            return fastterms.literal(value, lang) if _LANG.fullmatch(lang) else Literal(value, lang=lang.lower())
        datatype = binding.get("datatype")
        if datatype and datatype not in (XSD_STRING, RDF_LANGSTRING):
            return fastterms.literal(value, None, datatype)
        return fastterms.literal(value)
    raise QueryError(f"unsupported term type {kind!r} in SPARQL JSON results")


def to_ox(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """An rdflib term as a pyoxigraph term (for substitutions and for writing the memory store's quads)."""
    try:
        if isinstance(term, URIRef):
            return ox.NamedNode(str(term))
        if isinstance(term, BNode):
            return ox.BlankNode(str(term))
        if isinstance(term, Literal):
            if term.language:
                return ox.Literal(str(term), language=term.language)
            if term.datatype is not None and str(term.datatype) != XSD_STRING:
                return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
            return ox.Literal(str(term))
    except ValueError as exc:
        raise BindingError(f"not a valid RDF term: {term!r} ({exc})") from exc
    raise BindingError(f"not an RDF term: {term!r}", hint="bind rdflib URIRef or Literal values")


def canonical_quads(quads: list[ox.Quad]) -> list[ox.Quad]:
    """The quads as Oxigraph stores them: canonical numbers (``12.50`` → ``12.5``), booleans, durations.

    Oxigraph canonicalises typed literals on write (and maps derived integer
    types to ``xsd:integer``); rdflib keeps the lexical form, and rdflib
    terms compare by lexical form. The memory store and query bindings go
    through an in-memory pyoxigraph store (~4 µs a quad) so that every back
    end holds and matches the same terms.
    """
    if not any(isinstance(q.object, ox.Literal) and q.object.datatype.value != XSD_STRING
               and not q.object.language for q in quads):
        return quads
    scratch = ox.Store()
    scratch.extend(quads)
    return list(scratch)


def canonical_term(term: Node) -> Node:
    """A typed literal in Oxigraph's canonical form (other terms unchanged)."""
    if not isinstance(term, Literal) or term.language or term.datatype is None:
        return normalise(term)  # type: ignore[return-value]
    probe = ox.NamedNode("urn:x-kg:probe")
    (quad,) = canonical_quads([ox.Quad(probe, probe, to_ox(term), probe)])
    return from_ox(quad.object)  # type: ignore[return-value]


def to_python(term: Node | None) -> object:
    """The Python value an analyst expects in a DataFrame cell.

    IRIs, blank nodes, plain and language-tagged literals become ``str``;
    typed literals their rdflib Python value (``date`` for ``xsd:date``,
    ``int``, ``bool``, ``float``); ``xsd:decimal`` becomes ``float`` so that
    pandas can compute with it; ill-typed literals stay strings.
    """
    if term is None:
        return None
    if not isinstance(term, Literal):
        return str(term)
    if term.language or term.datatype is None:
        return str(term)
    value = term.toPython()
    if isinstance(value, Literal) or value is None:
        return str(term)
    if isinstance(value, Decimal):
        return float(value)
    return value


# --- terms into SPARQL text ----------------------------------------------------


def check_iri(iri: str, what: str = "IRI", error: type[BindingError] | type[QueryError] = BindingError) -> str:
    """``iri`` if it is an absolute IRI that can be written as ``<iri>`` without breaking out of it."""
    if not isinstance(iri, str) or not _ABSOLUTE_IRI.fullmatch(iri):
        raise error(f"not a valid absolute {what}: {iri!r}",
                    hint="IRIs may not contain spaces, <, >, quotes, braces, | ^ ` or backslashes")
    return iri


def check_variable(name: str) -> str:
    """A binding key as a bare SPARQL variable name (a leading ``?`` or ``$`` is accepted)."""
    bare = name[1:] if name[:1] in ("?", "$") else name
    if not _VARNAME.fullmatch(bare):
        raise BindingError(f"not a valid SPARQL variable name: {name!r}")
    return bare


def sparql_term(term: Node) -> str:
    """``term`` in N-Triples syntax, which is also valid SPARQL: validated IRIs, escaped literals."""
    if isinstance(term, URIRef):
        return f"<{check_iri(str(term))}>"
    if isinstance(term, Literal):
        lexical = '"' + str(term).translate(_ESCAPES) + '"'
        if term.language:
            if not _LANG.fullmatch(term.language):
                raise BindingError(f"not a valid language tag: {term.language!r}")
            return f"{lexical}@{term.language.lower()}"
        if term.datatype is not None and str(term.datatype) != XSD_STRING:
            return f"{lexical}^^<{check_iri(str(term.datatype), 'datatype IRI')}>"
        return lexical
    if isinstance(term, BNode):
        raise BindingError("blank nodes cannot be bound as query parameters", hint="bind an IRI or a literal")
    raise BindingError(f"not an RDF term: {term!r}", hint="bind rdflib URIRef or Literal values")


# --- SPARQL text: query form and VALUES injection ---------------------------------

_FORMS = {"SELECT": "select", "ASK": "ask", "CONSTRUCT": "construct", "DESCRIBE": "describe"}


def query_kind(sparql: str) -> str:
    """``select``, ``ask``, ``construct``, ``describe`` or ``update``, read from the text (comments skipped)."""
    for tok in tokens(sparql):
        kw = keyword(tok)
        if kw in _FORMS:
            return _FORMS[kw]
        if kw in UPDATE_KEYWORDS:
            return "update"
    raise QueryError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")


def values_block(bindings: Mapping[str, Node]) -> str:
    """``VALUES (?a ?b) { (t1 t2) }`` with every term serialised by :func:`sparql_term`."""
    names = sorted(bindings)
    heads = " ".join("?" + check_variable(n) for n in names)
    terms = " ".join(sparql_term(bindings[n]) for n in names)
    return f" VALUES ({heads}) {{ ({terms}) }} "


def inject_values(sparql: str, bindings: Mapping[str, Node]) -> str:
    """Bind variables by opening each group graph pattern that mentions them with a VALUES row.

    A single VALUES at the top would be invisible inside OPTIONAL, EXISTS and
    sub-select groups (SPARQL evaluates bottom-up); one in each group where a
    variable occurs makes it bound wherever it occurs, which is what rdflib's
    ``initBindings`` and pyoxigraph's substitutions do. Only those groups: a
    VALUES row in an OPTIONAL group that does not use the variable changes
    nothing in the answer but stops Oxigraph from driving the OPTIONAL by the
    outer bindings (``expiring`` at 10^4 licences: 0.9 s instead of 0.06 s).
    Variables of the projection, ORDER BY and the like belong to the WHERE
    group of their (sub-)select. Skipped: the CONSTRUCT template, VALUES data
    blocks, and the brace that opens a sub-select. ``CONSTRUCT WHERE {…}`` is
    rewritten to the long form first.

    Where the rows go depends on the text only, so it is worked out once per
    query text (:func:`_values_plan`): tokenising a library query took 1.5–2.5 ms,
    a third of a point query's time on the embedded store.
    """
    if not bindings:
        return sparql
    values_block(bindings)  # checks every name and term before anything else
    text, groups = _values_plan(sparql)
    pieces: list[str] = []
    last = 0
    for pos, names in groups:
        used = {n: bindings[n] for n in names if n in bindings}
        if used:
            pieces += [text[last:pos], values_block(used)]
            last = pos
    pieces.append(text[last:])
    return "".join(pieces)


@functools.lru_cache(maxsize=512)
def _values_plan(sparql: str) -> tuple[str, tuple[tuple[int, frozenset[str]], ...]]:
    """The text to bind (``CONSTRUCT WHERE`` in its long form) and, in text order, each group's opening
    position with the variables that belong to it (see :func:`inject_values`)."""
    toks = tokens(sparql)
    form = next((k for k, t in enumerate(toks) if keyword(t) in _FORMS), None)
    if form is None:
        raise QueryError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    k = form + 1
    if keyword(toks[form]) == "CONSTRUCT" and k < len(toks):
        if toks[k].kind == "open":
            k = matching(toks, k) + 1
        elif keyword(toks[k]) == "WHERE" and k + 1 < len(toks) and toks[k + 1].kind == "open":
            end = matching(toks, k + 1)
            body = sparql[toks[k + 1].end:toks[end].start]
            long_form = sparql[:toks[k].start] + "{" + body + "} WHERE {" + body + "}" + sparql[toks[end].end:]
            return _values_plan(long_form)
    groups: list[tuple[int, set[str]]] = []  # (where the row goes, variables that occur in the group itself)
    top: set[str] = set()  # outside every group: the projection, ORDER BY…
    stack: list[list] = []  # per open brace: ["group", index] or ["sub", own variables, first group index]
    while k < len(toks):
        tok = toks[k]
        if keyword(tok) == "VALUES":
            while k < len(toks) and toks[k].kind != "open":
                k += 1
            k = matching(toks, k) + 1 if k < len(toks) else k
            continue
        if tok.kind == "open":
            if k + 1 < len(toks) and keyword(toks[k + 1]) == "SELECT":
                stack.append(["sub", set(), None])
            else:
                groups.append((tok.end, set()))
                if stack and stack[-1][0] == "sub" and stack[-1][2] is None:
                    stack[-1][2] = len(groups) - 1
                stack.append(["group", len(groups) - 1])
        elif tok.kind == "close" and stack:
            entry = stack.pop()
            if entry[0] == "sub":  # the sub-select's head and tail belong to its WHERE group
                owner = groups[entry[2]][1] if entry[2] is not None else (
                    _owner(stack, groups, top))
                owner.update(entry[1])
        elif tok.kind == "var":
            _owner(stack, groups, top).add(tok.text[1:])
        k += 1
    if groups:
        groups[0][1].update(top)
    return sparql, tuple((pos, frozenset(names)) for pos, names in groups)


def _owner(stack: list[list], groups: list[tuple[int, set[str]]], top: set[str]) -> set[str]:
    if not stack:
        return top
    entry = stack[-1]
    return groups[entry[1]][1] if entry[0] == "group" else entry[1]
