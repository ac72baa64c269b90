"""rdflib terms for query results, built without rdflib's per-call work where it changes nothing.

Why: every cell of a result becomes an rdflib term, and ``Literal(...)`` costs
3 µs for a string and 10 µs for a date (it re-derives the lexical form from the
Python value, checks the language tag, and looks the datatype up in several
tables). On a whole-register listing that was 40 % of the embedded store's time
(`licences` at 10^4: 0.31 s of 0.88 s converting 24,450 distinct terms). The
stores hand over terms that are already valid and, for the datatypes below, in
canonical form, where rdflib's normalisation is the identity; for them the
instance rdflib would build is known, and :func:`literal` builds it directly
(0.2–0.3 µs).

Which instance rdflib builds is an implementation detail of rdflib, so the fast
path is used only if :func:`_self_check` finds that it builds, for a set of
probes, exactly what ``Literal(...)`` builds (lexical form, language, datatype,
Python value, ill-typed flag, hash); otherwise every term goes through rdflib's
constructors (``FAST`` says which). ``tests/test_fastterms.py`` checks the
probes and more on the installed rdflib.
"""

from __future__ import annotations

import datetime as dt
import re

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from kg.rdfterms import XSD_DATE as _DATE
from kg.rdfterms import XSD_STRING

_INTEGER = str(XSD.integer)
_BOOLEAN = str(XSD.boolean)
_DATE_URI, _INTEGER_URI, _BOOLEAN_URI = URIRef(_DATE), URIRef(_INTEGER), URIRef(_BOOLEAN)

# canonical lexical forms only: rdflib would rewrite "01", "+1", "-0", "2026-1-5", "1" (boolean)
_CANONICAL_INTEGER = re.compile(r"-?[1-9][0-9]*|0")
CANONICAL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # no time zone, no sign (kg.store.ordering too)
_BOOLEANS = {"true": True, "false": False}

_new = str.__new__


def _fast_iri(value: str) -> URIRef:
    """An IRI from a store (already valid: rdflib's check would only log) as an rdflib ``URIRef``."""
    return _new(URIRef, value)


def _fast_literal(value: str, lang: str | None = None, datatype: str | None = None) -> Literal:
    """A literal from a store as rdflib's ``Literal`` (language lower-cased, ``xsd:string`` dropped)."""
    if lang:
        return _make(value, lang.lower(), None, value, None)
    if datatype is None or datatype == XSD_STRING:
        return _make(value, None, None, value, None)
    if datatype == _DATE and CANONICAL_DATE.fullmatch(value) and value[:4] != "0000":
        try:
            return _make(value, None, _DATE_URI, dt.date.fromisoformat(value), False)
        except ValueError:  # 2026-02-30: rdflib marks it ill-typed, which its constructor knows how to do
            pass
    elif datatype == _INTEGER and _CANONICAL_INTEGER.fullmatch(value):
        return _make(value, None, _INTEGER_URI, int(value), False)
    elif datatype == _BOOLEAN and value in _BOOLEANS:
        return _make(value, None, _BOOLEAN_URI, _BOOLEANS[value], False)
    return Literal(value, datatype=URIRef(datatype))


def _make(lexical: str, lang: str | None, datatype: URIRef | None, value: object, ill_typed: bool | None) -> Literal:
    inst = _new(Literal, lexical)
    inst._language = lang
    inst._datatype = datatype
    inst._value = value
    inst._ill_typed = ill_typed
    return inst


def _slow_iri(value: str) -> URIRef:
    return URIRef(value)


def _slow_literal(value: str, lang: str | None = None, datatype: str | None = None) -> Literal:
    if lang:
        return Literal(value, lang=lang.lower())
    if datatype is None or datatype == XSD_STRING:
        return Literal(value)
    return Literal(value, datatype=URIRef(datatype))


#: (lexical form, language, datatype) triples that exercise every fast branch and its fallbacks (an
#: ill-typed date and the year 0000 are tested in tests/test_fastterms.py: rdflib logs a warning for them)
PROBES: tuple[tuple[str, str | None, str | None], ...] = (
    ("深圳市腾讯计算机系统有限公司", None, None), ("B2-20236113", None, XSD_STRING), ("", None, None),
    ("广东", "zh", None), ("Guangdong", "EN-GB", None),
    ("2026-11-22", None, _DATE), ("2026-11-22Z", None, _DATE),
    ("12", None, _INTEGER), ("0", None, _INTEGER), ("-7", None, _INTEGER), ("007", None, _INTEGER),
    ("true", None, _BOOLEAN), ("false", None, _BOOLEAN), ("1", None, _BOOLEAN),
    ("1.50", None, str(XSD.decimal)), ("P90D", None, str(XSD.duration)), ("x", None, "urn:x-kg:unknown-datatype"),
)


def same_literal(a: Literal, b: Literal) -> bool:
    """Whether two literals are the same instance state (not just ``==``, which ignores the Python value)."""
    return (type(a) is type(b) and str(a) == str(b) and a.language == b.language and a.datatype == b.datatype
            and type(a.datatype) is type(b.datatype) and a.value == b.value and type(a.value) is type(b.value)
            and a.ill_typed == b.ill_typed and hash(a) == hash(b) and a.n3() == b.n3())


def _self_check() -> bool:
    try:
        literals_agree = all(same_literal(_fast_literal(*p), _slow_literal(*p)) for p in PROBES)
        iri = "https://w3id.org/licence-kg/id/licence/B2-20236113"
        iris_agree = _fast_iri(iri) == URIRef(iri) and hash(_fast_iri(iri)) == hash(URIRef(iri)) \
            and _fast_iri(iri).n3() == URIRef(iri).n3()
        return literals_agree and iris_agree
    except Exception:
        return False


#: whether results are built by the fast path (rdflib's internals are as :func:`_self_check` expects)
FAST = _self_check()
iri = _fast_iri if FAST else _slow_iri
literal = _fast_literal if FAST else _slow_literal
