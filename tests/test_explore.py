"""The networkx projections agree with SPARQL counts on the same data."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg import api, explore
from kg.ingest import ingest

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "certificates"


@pytest.fixture(scope="module")
def store():
    s = api.open_store(memory=True)
    assert ingest([SAMPLES], s).ok
    return s


def count(store, sparql: str) -> int:
    prefix = ("PREFIX lic: <https://w3id.org/licence-kg/def#>\nPREFIX schema: <https://schema.org/>\n"
              "PREFIX rov: <http://www.w3.org/ns/regorg#>\n")
    return int(store.query(prefix + sparql).rows[0][0])


def test_portfolio_graph_counts_match_sparql(store):
    g = explore.portfolio_graph(store)
    kinds = explore.kind_counts(g)
    assert kinds["licence"] == count(store, "SELECT (COUNT(DISTINCT ?l) AS ?n) WHERE { ?l lic:authorisation ?a }")
    assert kinds["company"] == count(store, "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?l lic:holder ?c ; lic:authorisation ?a }")
    assert kinds["business_type"] == count(store, "SELECT (COUNT(DISTINCT ?b) AS ?n) WHERE { ?a lic:businessType ?b }")
    assert kinds["region"] == count(store, "SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { ?a lic:coverage ?r }")
    authorises = [e for e in g.edges(data=True) if e[2]["kind"] == "authorises"]
    assert len(authorises) == count(store, "SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { ?l lic:authorisation ?a }")


def test_regions_by_business_type(store):
    g = explore.portfolio_graph(store)
    regions = explore.regions_by_business_type(g, "北京掌全通信息科技有限公司")
    assert set(regions) == {"B11", "B13", "B14"}
    assert regions["B13"] == ["全国"]
    assert "广东省" in regions["B11"] and len(regions["B14"]) == 12


def test_website_graph_and_shared_providers(store):
    g = explore.website_graph(store)
    assert explore.kind_counts(g)["website"] == count(store, "SELECT (COUNT(DISTINCT ?w) AS ?n) WHERE { ?l lic:appendixWebsite ?w }")
    # the two sample websites use different access providers: nobody shares one
    assert explore.shared_access_providers(g) == {}


def test_wording_graph(store):
    g = explore.wording_graph(store)
    assert g.number_of_nodes() == 5
    # every pair of certificates shares at least the common clauses 1-10
    assert all(d["weight"] >= 10 for _, _, d in g.edges(data=True))
    clusters = explore.wording_clusters(g, min_jaccard=1.0)
    assert sum(len(c) for c in clusters) == 5
    summary = explore.centrality_summary(g)
    assert list(summary.columns) == ["node", "kind", "label", "degree", "betweenness"]
    assert len(summary) == 5
