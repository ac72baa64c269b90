"""The fast construction of result terms builds exactly what rdflib's constructors build."""

from __future__ import annotations

import logging

import pyoxigraph as ox
import pytest
from rdflib import BNode, Literal, URIRef, namespace

from kg.store import fastterms
from kg.store.terms import from_json, from_ox, normalise

DATE, INTEGER, BOOLEAN = (str(namespace.XSD[name]) for name in ("date", "integer", "boolean"))

CASES = [
    *fastterms.PROBES,
    ("2026-02-30", None, DATE),  # ill-typed: rdflib's own constructor, flagged ill-typed
    ("0000-01-01", None, DATE),  # a year Python's date cannot hold
    ("2026-1-5", None, DATE), ("-2026-01-05", None, DATE), ("20260105", None, DATE),
    ("+1", None, INTEGER), ("-0", None, INTEGER), ("1.0", None, INTEGER), ("", None, INTEGER), ("١٢", None, INTEGER),
    ("TRUE", None, BOOLEAN), ("0", None, BOOLEAN),
    ("12", None, str(namespace.XSD.int)), ("2026-11-22T08:00:00", None, str(namespace.XSD.dateTime)),
    ("line\nbreak \"quoted\"", None, None), ("增值电信", "zh-Hans-CN", None),
]


def test_the_fast_path_is_taken_on_the_installed_rdflib() -> None:
    # if an rdflib release changes Literal's internals, FAST turns False and results are only slower:
    # this test says so, so that the change is looked at rather than silently costing 40 % on listings
    assert fastterms.FAST
    assert fastterms.literal is fastterms._fast_literal


@pytest.mark.parametrize("lexical,lang,datatype", CASES)
def test_a_fast_literal_is_rdflibs_literal(lexical: str, lang: str | None, datatype: str | None,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)  # rdflib logs the ill-typed ones
    fast = fastterms._fast_literal(lexical, lang, datatype)
    slow = fastterms._slow_literal(lexical, lang, datatype)
    assert fastterms.same_literal(fast, slow), (fast, slow)
    assert fast == slow and fast.eq(slow) and fast.toPython() == slow.toPython()
    assert normalise(fast) == fast


def test_same_literal_tells_apart_what_equality_does_not() -> None:
    # the check must be able to fail: equal lexical forms with a different Python value or flag
    good = fastterms._fast_literal("12", None, INTEGER)
    wrong = fastterms._make("12", None, URIRef(INTEGER), "12", False)
    assert good == wrong and not fastterms.same_literal(good, wrong)
    assert not fastterms.same_literal(good, fastterms._make("12", None, URIRef(INTEGER), 12, None))


def test_iris_and_terms_from_both_result_formats() -> None:
    iri = "https://w3id.org/licence-kg/id/licence/B2-20236113"
    assert fastterms.iri(iri) == URIRef(iri) and type(fastterms.iri(iri)) is URIRef
    assert hash(fastterms.iri(iri)) == hash(URIRef(iri))
    date = ox.Literal("2026-11-22", datatype=ox.NamedNode(DATE))
    assert fastterms.same_literal(from_ox(date), Literal("2026-11-22", datatype=namespace.XSD.date))
    assert fastterms.same_literal(from_ox(ox.Literal("广东", language="ZH")), Literal("广东", lang="zh"))
    assert fastterms.same_literal(from_json({"type": "literal", "value": "12", "datatype": INTEGER}),
                                  Literal("12", datatype=namespace.XSD.integer))
    assert fastterms.same_literal(from_json({"type": "typed-literal", "value": "x", "datatype": str(namespace.XSD.string)}),
                                  Literal("x"))
    assert from_json({"type": "bnode", "value": "b0"}) == BNode("b0")


def test_an_endpoints_invalid_language_tag_is_refused_as_before() -> None:
    with pytest.raises(ValueError):
        from_json({"type": "literal", "value": "x", "xml:lang": "not a tag"})
