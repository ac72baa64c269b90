"""networkx views of the licence graph, for analysts who would rather look than read.

Each projection is built from a named query in ``queries/explore/`` (so the
SPARQL stays readable and testable) and documents its node and edge types.
Nodes are keyed by their RDF IRI and carry ``kind`` and ``label`` attributes;
edges carry ``kind``.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import TYPE_CHECKING

import networkx as nx

from kg import queries
from kg.store.base import Store

if TYPE_CHECKING:
    import pandas as pd

EXPLORE_DIR = queries.QUERY_DIR / "explore"


def _rows(store: Store, name: str) -> pd.DataFrame:
    spec = queries.get(name, EXPLORE_DIR)
    return store.query(spec.text, {}).to_dataframe()


def portfolio_graph(store: Store) -> nx.MultiDiGraph:
    """Company –holds→ licence –authorises→ business type; licence –covers→ region.

    Node kinds: ``company``, ``licence``, ``business_type``, ``region``.
    Edge kinds: ``holds`` (company→licence), ``authorises`` (licence→business type),
    ``covers`` (licence→region, attribute ``business_type``: the catalogue code the
    coverage is for; one edge per business type and region).
    """
    g = nx.MultiDiGraph(name="portfolio")
    for r in _rows(store, "portfolio-edges").to_dict(orient="records"):
        lic = r["licence"]
        g.add_node(lic, kind="licence", label=r["number"])
        bt = r["business_type"]
        g.add_node(bt, kind="business_type", label=r["business_type_code"], name=r["business_type_name"])
        if not g.has_edge(lic, bt, key="authorises"):
            g.add_edge(lic, bt, key="authorises", kind="authorises")
        if r.get("company"):
            g.add_node(r["company"], kind="company", label=r["holder"])
            if not g.has_edge(r["company"], lic, key="holds"):
                g.add_edge(r["company"], lic, key="holds", kind="holds")
        if r.get("region"):
            g.add_node(r["region"], kind="region", label=r["region_name"], code=r["region_code"])
            key = f"covers:{r['business_type_code']}"
            if not g.has_edge(lic, r["region"], key=key):
                g.add_edge(lic, r["region"], key=key, kind="covers", business_type=r["business_type_code"])
    return g


def website_graph(store: Store) -> nx.DiGraph:
    """Company –operates→ website –accessed via→ access provider.

    Node kinds: ``company``, ``website``, ``provider`` (a provider that also holds a
    licence stays one node, kind ``provider``). Edge kinds: ``operates``, ``access``.
    """
    g = nx.DiGraph(name="websites")
    for r in _rows(store, "website-edges").to_dict(orient="records"):
        w = r["website"]
        g.add_node(w, kind="website", label=r.get("website_name") or r["number"], licence=r["number"])
        if r.get("company"):
            g.add_node(r["company"], kind="company", label=r["holder"])
            g.add_edge(r["company"], w, kind="operates")
        if r.get("provider"):
            g.add_node(r["provider"], kind="provider", label=r["provider_name"])
            g.add_edge(w, r["provider"], kind="access")
    return g


def wording_graph(store: Store, min_shared: int = 1) -> nx.Graph:
    """Licence —shares wordings— licence, weighted by the number of clause positions worded identically.

    Node kind: ``licence`` (attribute ``clauses``: how many clauses it carries).
    Edge attribute ``weight``: shared (position, wording) pairs; ``jaccard``: weight
    over the union of both licences' pairs. Edges below ``min_shared`` are left out.
    """
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    labels: dict[str, str] = {}
    for r in _rows(store, "licence-templates").to_dict(orient="records"):
        pairs[r["licence"]].add((r["clause_id"], r["template"]))
        labels[r["licence"]] = r["number"]
    g = nx.Graph(name="wordings")
    for lic, items in pairs.items():
        g.add_node(lic, kind="licence", label=labels[lic], clauses=len(items))
    for a, b in combinations(sorted(pairs), 2):
        shared = len(pairs[a] & pairs[b])
        if shared >= min_shared:
            g.add_edge(a, b, weight=shared, jaccard=shared / len(pairs[a] | pairs[b]))
    return g


def shared_access_providers(g: nx.DiGraph) -> dict[str, list[str]]:
    """Access providers serving websites of more than one company: provider → sorted company names."""
    out: dict[str, list[str]] = {}
    for node, data in g.nodes(data=True):
        if data.get("kind") != "provider":
            continue
        companies = {
            g.nodes[c]["label"]
            for w in g.predecessors(node)
            for c in g.predecessors(w)
            if g.nodes[c].get("kind") == "company"
        }
        if len(companies) > 1:
            out[data["label"]] = sorted(companies)
    return out


def regions_by_business_type(g: nx.MultiDiGraph, company_name: str) -> dict[str, list[str]]:
    """For one company: catalogue code → the regions it may serve (printed coverage, 全国 as 全国)."""
    out: dict[str, set[str]] = defaultdict(set)
    for company, data in g.nodes(data=True):
        if data.get("kind") != "company" or data.get("label") != company_name:
            continue
        for _, lic, _k in g.out_edges(company, keys=True):
            for _, region, edata in g.out_edges(lic, data=True):
                if edata.get("kind") == "covers":
                    out[edata["business_type"]].add(g.nodes[region]["label"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def wording_clusters(g: nx.Graph, min_jaccard: float = 1.0) -> list[list[str]]:
    """Groups of licences whose clause wordings agree at least ``min_jaccard`` (1.0: identical versions).

    Connected components of the wording graph restricted to edges at or above
    the threshold; each cluster lists licence numbers, largest first.
    """
    h = nx.Graph()
    h.add_nodes_from(g.nodes(data=True))
    h.add_edges_from((a, b) for a, b, d in g.edges(data=True) if d["jaccard"] >= min_jaccard)
    clusters = [sorted(h.nodes[n]["label"] for n in comp) for comp in nx.connected_components(h)]
    return sorted(clusters, key=lambda c: (-len(c), c))


def centrality_summary(g: nx.Graph) -> pd.DataFrame:
    """Degree and betweenness centrality per node, most central first."""
    import pandas as pd

    simple = nx.Graph(g) if g.is_multigraph() or g.is_directed() else g
    betweenness = nx.betweenness_centrality(simple) if simple.number_of_nodes() <= 5000 else {}
    rows = [
        {
            "node": n,
            "kind": d.get("kind"),
            "label": d.get("label"),
            "degree": simple.degree(n),
            "betweenness": betweenness.get(n),
        }
        for n, d in simple.nodes(data=True)
    ]
    df = pd.DataFrame(rows, columns=["node", "kind", "label", "degree", "betweenness"])
    return df.sort_values(["degree", "label"], ascending=[False, True]).reset_index(drop=True)


def kind_counts(g: nx.Graph) -> dict[str, int]:
    """Number of nodes of each kind (what the tests compare with SPARQL counts)."""
    counts: dict[str, int] = defaultdict(int)
    for _, d in g.nodes(data=True):
        counts[d.get("kind", "?")] += 1
    return dict(counts)
