"""Write the analyst notebooks in ``notebooks/`` (committed without outputs).

The notebooks are code, so they are generated from this script and executed
end to end by the test suite (tests/test_notebooks.py): they never rot.
Run ``python tools/make_notebooks.py`` after editing a cell here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks"

SETUP = '''\
import datetime as dt
import os
from pathlib import Path

from kg import api, charts, compliance, explore, report

AS_OF = dt.date(2026, 11, 22)
ROOT = Path(os.environ.get("KG_ROOT", Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))
STORE_DIR = os.environ.get("KG_NOTEBOOK_STORE")  # an existing embedded store, or None: the samples in memory

if STORE_DIR:
    store = api.open_store(STORE_DIR, read_only=True)
else:
    store = api.open_store(memory=True)
    ingest_report = api.ingest([ROOT / "data" / "certificates"], store)
    print(f"ingested {len(ingest_report.ingested)} sample certificates into an in-memory store")
'''

PORTFOLIO = [
    new_markdown_cell("# Exploring the licence portfolio\n\nLoad the store, ask the named queries into "
                      "DataFrames, look at coverage and expiry, and draw one networkx view. Set "
                      "`KG_NOTEBOOK_STORE` to a store directory to explore your own register; by default "
                      "the five sample certificates are loaded into memory."),
    new_code_cell(SETUP),
    new_markdown_cell("## Every licence\n\n`kg query licences` as a DataFrame."),
    new_code_cell('licences = api.run_query("licences", store).to_dataframe()\nlicences'),
    new_markdown_cell("## What expires, and what is overdue for renewal"),
    new_code_cell('expiring = api.run_query("expiring", store, {"as_of": AS_OF, "days": 90}).to_dataframe()\n'
                  'renewal = api.run_query("renewal-due", store, {"as_of": AS_OF}).to_dataframe()\n'
                  'expired = api.run_query("expired", store, {"as_of": AS_OF}).to_dataframe()\n'
                  'print("expired:", list(expired["number"]))\n'
                  'print("expiring within 90 days:", list(expiring["number"]))\n'
                  'renewal'),
    new_markdown_cell("## Coverage matrix: province × business type\n\n全国 coverage counts for every "
                      "province; machine-room cities count for their province."),
    new_code_cell('counts = api.run_query("coverage", store).to_dataframe()\nmatrix = report.coverage_matrix(counts)\n'
                  'fig = charts.coverage_matrix(matrix)\nfig'),
    new_markdown_cell("## Expiry timeline\n\nBars run from issue to expiry; ▼ marks the renewal "
                      "application date (90 days before expiry); the dashed line is the as-of date."),
    new_code_cell('charts.timeline(licences.to_dict(orient="records"), AS_OF)'),
    new_markdown_cell("## Who may run IDC services in Guangdong?"),
    new_code_cell('api.run_query("authorised", store, {"business_type": "B11", "region": "广东"}).to_dataframe()'),
    new_markdown_cell("## A networkx view: companies, licences, business types and regions"),
    new_code_cell('import matplotlib\nimport networkx as nx\n\n'
                  'g = explore.portfolio_graph(store)\nprint(explore.kind_counts(g))\n'
                  'fig, ax = charts._figure(9, 6)\n'
                  'colours = {"company": "#8e44ad", "licence": "#2980b9", "business_type": "#27ae60", "region": "#e67e22"}\n'
                  'pos = nx.spring_layout(nx.Graph(g), seed=7)\n'
                  'nx.draw_networkx(nx.Graph(g), pos, ax=ax, node_size=220, font_size=7,\n'
                  '                 labels={n: d.get("label", "") for n, d in g.nodes(data=True)},\n'
                  '                 node_color=[colours[d["kind"]] for _, d in g.nodes(data=True)],\n'
                  '                 font_family=charts.cjk_font())\n'
                  'ax.set_axis_off()\nfig'),
    new_code_cell('explore.centrality_summary(g).head(10)'),
    new_markdown_cell("## Clause wordings\n\nWhich licences carry identical clause wordings, and where wordings differ."),
    new_code_cell('wg = explore.wording_graph(store)\nprint(explore.wording_clusters(wg, min_jaccard=0.9))\n'
                  '# clause-variants, with the licence numbers of the rare wordings (wording-licences per variant)\n'
                  'report.clause_variants(store)[["clause_id", "licences", "numbers"]]'),
]

COMPANY = [
    new_markdown_cell("# One company's compliance picture\n\nPick a holder; see its licences, the obligations "
                      "that apply (and those printed but not applicable), upcoming deadlines and findings."),
    new_code_cell(SETUP + '\nCOMPANY = os.environ.get("KG_COMPANY", "北京掌全通信息科技有限公司")'),
    new_markdown_cell("## Its licences"),
    new_code_cell('licences = api.run_query("licences", store).to_dataframe()\n'
                  'mine = licences[licences["holder"] == COMPANY]\nmine'),
    new_markdown_cell("## Where it may operate, per business type"),
    new_code_cell('explore.regions_by_business_type(explore.portfolio_graph(store), COMPANY)'),
    new_markdown_cell("## Obligations that apply\n\nClauses printed \"(适用于…)\" a service the licence excludes "
                      "are marked not applicable, with the reason."),
    new_code_cell('obligations = {n: api.run_query("obligations", store, {"number": n}).to_dataframe() for n in mine["number"]}\n'
                  'for n, df in obligations.items():\n'
                  '    print(n, len(df), "clauses;", int((~df["applicable"]).sum()), "not applicable")\n'
                  'next(iter(obligations.values()))[["clause_id", "governs", "applicable", "reason", "deadlines"]].head(25)'),
    new_markdown_cell("## Findings and upcoming deadlines as of the reference date"),
    new_code_cell('result = compliance.check(store, AS_OF, write=False)\nfindings = result.to_dataframe()\n'
                  'own = findings[findings["number"].isin(mine["number"])]\nown'),
    new_markdown_cell("## If its shareholders change today\n\nWhat must be done, by when (clause 十一)."),
    new_code_cell('compliance.obligations_for_event(store, "shareholder-change", AS_OF)'),
]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, cells in (("01-portfolio.ipynb", PORTFOLIO), ("02-company-compliance.ipynb", COMPANY)):
        nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
        nbformat.write(nb, OUT / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
