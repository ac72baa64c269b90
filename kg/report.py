"""The analyst report: one self-contained HTML (or Markdown) file about the whole portfolio.

Built only from named queries and the compliance check, so every figure in
the report can be reproduced with ``kg query`` / ``kg check``. The HTML has
no external reference at all (styles inline, charts as inline SVG with text
as paths), so opening it makes no request to any host.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Environment, PackageLoader, select_autoescape

from kg import charts, queries, reference
from kg.store.base import Store
from kg.store.terms import to_python

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["html", "md"]


@dataclass
class ReportData:
    """Everything the report shows, as data (notebooks and tests read it too)."""

    as_of: dt.date
    licences: pd.DataFrame
    findings: pd.DataFrame
    status: dict[str, str]  # licence number -> valid / expiring / expired / unknown
    coverage: pd.DataFrame  # province × business type counts
    regulations: pd.DataFrame
    variants: pd.DataFrame
    cards: list[dict[str, Any]] = field(default_factory=list)
    charts: dict[str, str] = field(default_factory=dict)
    #: licences with an error or warning finding; when there are more licences than CARDS_UP_TO, the cards
    #: are for the first CARDS_UP_TO of these (worst first) and ``carded_all`` is False
    attention: int = 0
    carded_all: bool = True

    @property
    def status_counts(self) -> dict[str, int]:
        return dict(Counter(self.status.values()))

    @property
    def severity_counts(self) -> dict[str, int]:
        if self.findings.empty:
            return {}
        return {k: int(v) for k, v in self.findings["severity"].value_counts().items()}


#: The status rules of the catalogue (queries/rules/licence-*.rq) and the status each one assigns.
STATUS_RULES = {"licence-expired": "expired", "licence-status-unknown": "unknown",
                "licence-expiring": "expiring", "licence-valid": "valid"}


def status_by_licence(findings: pd.DataFrame) -> dict[str, str]:
    """Licence number → valid / expiring / expired / unknown, from the status rules' findings.

    Where two status rules fired for one licence, the graver wins (the order of STATUS_RULES).
    """
    rank = {status: i for i, status in enumerate(STATUS_RULES.values())}
    out: dict[str, str] = {}
    if findings.empty:
        return out
    for number, rule in zip(findings["number"], findings["rule"], strict=True):
        status = STATUS_RULES.get(rule)
        if status and (number not in out or rank[status] < rank[out[number]]):
            out[number] = status
    return out


def _q(store: Store, name: str, **params: object) -> pd.DataFrame:
    spec = queries.get(name)
    return store.query(spec.text, queries.bindings_for(spec, params)).to_dataframe()


NAMED_UP_TO = 20  # a wording variant printed on at most this many licences is listed with their numbers

#: A portfolio of at most this many licences gets a card for each. A register gets cards for this many of
#: the licences that need attention (an error or warning finding), worst first: a card for each licence was
#: 15 MB of page at 10^4 (~150 MB at 10^5) nobody could open, and the rest is one `kg check -f csv` away.
CARDS_UP_TO = 300
#: Up to this many licences the timeline draws a bar for each; above it, expiries per quarter.
TIMELINE_BARS = 60


def clause_variants(store: Store) -> pd.DataFrame:
    """``clause-variants`` plus, for the rare wordings, the licences that print them (``numbers``).

    The odd ones out are what an analyst checks; the numbers of a wording that 10^5 licences print are
    not, and collecting them would cost a lookup per clause (``wording-licences`` runs per variant).
    """
    df = _q(store, "clause-variants")
    df["numbers"] = [
        ", ".join(_q(store, "wording-licences", template=row["template"])["number"])
        if int(row["licences"]) <= NAMED_UP_TO else ""
        for row in df.to_dict(orient="records")
    ]
    return df


def coverage_matrix(counts: pd.DataFrame) -> pd.DataFrame:
    """Licences per mainland province × business type, from the ``coverage`` query's rows.

    The query counts in the engine, 全国 expanded to every mainland province (0.1 s at 10^4 licences, where
    listing every authorisation and expanding in Python took 1.4 s, and 13 s at 10^5); this only pivots.
    Rows are the provinces with any licence, in code order, under their short names (广东, not 广东省).
    """
    import pandas as pd

    ref = reference.load()
    short = {p.code: p.short_zh for p in ref.provinces.values()}
    if counts.empty:
        return pd.DataFrame()
    cells = {(str(code), bt): int(n) for code, bt, n in
             zip(counts["province_code"], counts["business_type_code"], counts["licences"], strict=True)}
    codes = sorted({code for code, _ in cells})
    types = sorted({bt for _, bt in cells})
    data = [[cells.get((code, bt), 0) for bt in types] for code in codes]
    return pd.DataFrame(data, index=[short[code] for code in codes], columns=types)


def authorisations(store: Store, number: str) -> list[dict[str, str]]:
    """One licence's business types in code order, each with its coverage joined (a report card's table).

    Read from the rows, not a DataFrame: a card is a ~3 ms query, and a frame for it cost as much again.
    """
    spec = queries.get("authorisations")
    result = store.query(spec.text, queries.bindings_for(spec, {"number": number}))
    col = {name: i for i, name in enumerate(result.variables)}
    types: dict[str, tuple[str, set[str]]] = {}
    for row in result.rows:
        code, name, region = (to_python(row[col[v]]) for v in ("business_type_code", "business_type", "region"))
        _, regions = types.setdefault(str(code), (str(name or ""), set()))
        if isinstance(region, str):
            regions.add(region)
    return [{"code": code, "name": name, "coverage": "、".join(sorted(regions))}
            for code, (name, regions) in sorted(types.items())]


def websites(store: Store, number: str) -> list[dict[str, str]]:
    """One licence's appendix websites in name order (a report card's table); "" where a field is missing.

    A point query per card: listing the register's websites to keep ~300 licences' rows cost 5.8 s at 10^5.
    The domains are sorted: the graph keeps them as a set, and GROUP_CONCAT's order is the engine's.
    """
    spec = queries.get("licence-websites")
    result = store.query(spec.text, queries.bindings_for(spec, {"number": number}))
    col = {name: i for i, name in enumerate(result.variables)}
    fields = ("website", "domains", "server_location", "access_provider")
    out = []
    for row in result.rows:
        values = {f: to_python(row[col[f]]) for f in fields}
        site = {f: "" if v is None else str(v) for f, v in values.items()}
        site["domains"] = " ".join(sorted(site["domains"].split()))
        out.append(site)
    return out


def build(store: Store, as_of: dt.date, *, expiring_days: int = 90, findings: pd.DataFrame | None = None) -> ReportData:
    """Collect the report's data from the store (runs ``kg check`` for ``as_of`` unless findings are given)."""
    from kg import compliance

    if findings is None:
        findings = compliance.check(store, as_of, expiring_days=expiring_days, write=True).to_dataframe()
    licences = _q(store, "licences")
    status = status_by_licence(findings)
    data = ReportData(
        as_of=as_of,
        licences=licences,
        findings=findings,
        status={n: status.get(n, "unknown") for n in licences["number"]},
        coverage=coverage_matrix(_q(store, "coverage")),
        regulations=_q(store, "regulations"),
        variants=clause_variants(store),
    )
    records = licences.to_dict(orient="records")
    carded, data.attention = card_licences(records, findings)
    data.carded_all = len(carded) == len(records)
    # each frame cut to the carded licences and split by licence once: filtering the whole frame per card
    # was quadratic (10^4 licences: 51 s of cards; 10^5: hours)
    numbers = {lic["number"] for lic in carded}
    by_number = {"findings": _split(findings, numbers)}
    # point queries per card (~2 ms each on the embedded store): the cards are at most CARDS_UP_TO
    data.cards = [_card(row, data, by_number, authorisations(store, row["number"]), websites(store, row["number"]))
                  for row in carded]
    timeline = (charts.timeline(records, as_of) if len(records) <= TIMELINE_BARS
                else charts.expiry_histogram(records, as_of))
    data.charts = {
        "status": charts.to_svg(charts.status_bar(data.status_counts)),
        "severity": charts.to_svg(charts.severity_bar(data.severity_counts or {"info": 0})),
        "coverage": charts.to_svg(charts.coverage_matrix(data.coverage)) if not data.coverage.empty else "",
        "timeline": charts.to_svg(timeline),
    }
    return data


def card_licences(licences: list[dict[str, Any]], findings: pd.DataFrame) -> tuple[list[dict[str, Any]], int]:
    """The licences that get a card, and how many need attention (an error or warning finding).

    Every licence, in the listing's order, when there are at most CARDS_UP_TO; otherwise the first
    CARDS_UP_TO of those needing attention: most errors first, then most warnings, then by number.
    """
    counts: dict[str, list[int]] = {}
    if not findings.empty:
        for number, severity in zip(findings["number"], findings["severity"], strict=True):
            if severity in ("error", "warning"):
                counts.setdefault(number, [0, 0])[0 if severity == "error" else 1] += 1
    if len(licences) <= CARDS_UP_TO:
        return licences, len(counts)
    flagged = [lic for lic in licences if lic["number"] in counts]
    flagged.sort(key=lambda lic: (-counts[lic["number"]][0], -counts[lic["number"]][1], lic["number"]))
    return flagged[:CARDS_UP_TO], len(counts)


def _split(df: pd.DataFrame, numbers: set[str]) -> dict[str, pd.DataFrame]:
    """The frame's rows of those licences, by licence number (row order kept)."""
    if df.empty:
        return {}
    return dict(iter(df[df["number"].isin(numbers)].groupby("number", sort=False)))


def _card(lic: dict[str, Any], data: ReportData, by_number: dict[str, dict[Any, pd.DataFrame]],
          authorised: list[dict[str, str]], sites: list[dict[str, str]]) -> dict[str, Any]:
    number = lic["number"]
    empty = data.findings.iloc[0:0]
    own = by_number["findings"].get(number, empty)
    upcoming = own[own["due_date"].notna()] if "due_date" in own else own.iloc[0:0]
    upcoming = upcoming[upcoming["due_date"] >= data.as_of].sort_values("due_date") if not upcoming.empty else upcoming
    start, end = lic.get("issue_date"), lic.get("expiry_date")
    elapsed = None
    if start and end and end > start:
        elapsed = max(0.0, min(1.0, (data.as_of - start).days / (end - start).days))
    return {
        "licence": lic,
        "authorisations": authorised,
        "status": data.status.get(number, "unknown"),
        "elapsed": elapsed,
        "findings": own,
        "next_deadlines": upcoming.head(5),
        "websites": sites,
    }


def _env() -> Environment:
    env = Environment(loader=PackageLoader("kg", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["d"] = lambda v: "" if v is None or v != v else (v.isoformat() if hasattr(v, "isoformat") else v)
    return env


def render_html(data: ReportData) -> str:
    return _env().get_template("report.html.j2").render(r=data)


def render_markdown(data: ReportData) -> str:
    return _env().get_template("report.md.j2").render(r=data)


def write_report(store: Store, as_of: dt.date, out: str | Path, fmt: Format = "html") -> Path:
    """Build and write the report; returns the path written."""
    data = build(store, as_of)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data) if fmt == "html" else render_markdown(data), encoding="utf-8")
    return path
