"""The analyst report: self-contained, correct figures, Chinese that renders."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kg import api, charts, report
from kg.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"
AS_OF = dt.date(2026, 11, 22)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def store():
    s = api.open_store(memory=True)
    assert ingest([SAMPLES], s).ok
    return s


@pytest.fixture(scope="module")
def data(store):
    return report.build(store, AS_OF)


@pytest.fixture(scope="module")
def html_file(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(report.render_html(data), encoding="utf-8")
    return path


class _Tiles(HTMLParser):
    """Collects the overview tiles (data-status / data-severity) and the licence cards."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, int] = {}
        self.cards: list[str] = []
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-status" in a or "data-severity" in a:
            self._key = a.get("data-status") or a.get("data-severity")
        if tag == "section" and "data-number" in a:
            self.cards.append(a["data-number"])

    def handle_data(self, text):
        if self._key and text.strip().isdigit():
            self.tiles[self._key] = int(text.strip())
            self._key = None


def test_report_is_self_contained(html_file):
    text = html_file.read_text(encoding="utf-8")
    # no external reference: no src/href to another host, no @import, no url(http…)
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', text)
    assert "@import" not in text and not re.search(r"url\(\s*['\"]?https?:", text)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (make test installs it)")
def test_report_opens_in_headless_chromium(html_file, tmp_path):
    from playwright.sync_api import sync_playwright

    errors, requests, failed = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(html_file.as_uri())
        page.wait_for_load_state("load")
        shot = ROOT / "docs" / "report-screenshot.png"
        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        shutil.copy(tmp_path / "report.png", shot)
        assert page.locator("section.card").count() == 5
        browser.close()
    assert errors == []
    assert failed == []
    assert requests == [html_file.as_uri()]


def test_report_figures_match_queries(store, data, html_file):
    parsed = _Tiles()
    parsed.feed(html_file.read_text(encoding="utf-8"))
    licences = api.run_query("licences", store).to_dataframe()
    assert sorted(parsed.cards) == sorted(licences["number"])
    findings = api.run_query("findings", store, {"as_of": AS_OF, "severity_floor": "info"}).to_dataframe()
    for severity in ("error", "warning", "info"):
        assert parsed.tiles[severity] == int((findings["severity"] == severity).sum())
    assert sum(parsed.tiles[s] for s in ("valid", "expiring", "expired", "unknown")) == len(licences)
    assert parsed.tiles["expired"] == len(api.run_query("expired", store, {"as_of": AS_OF}).to_dataframe())
    assert data.status["京B2-20240286"] == "unknown"
    assert data.status["京ICP证020001号"] == "expiring"


def test_markdown_report(data):
    md = report.render_markdown(data)
    assert "### B1-20195402" in md and "《中华人民共和国电信条例》" in md


@pytest.mark.parametrize("chart", ["status", "severity", "coverage", "timeline", "expiry-histogram"])
def test_chart_text_uses_a_font_with_chinese_glyphs(data, chart):
    figures = {
        "status": lambda: charts.status_bar(data.status_counts),
        "severity": lambda: charts.severity_bar(data.severity_counts),
        "coverage": lambda: charts.coverage_matrix(data.coverage),
        "timeline": lambda: charts.timeline(data.licences.to_dict(orient="records"), AS_OF),
        "expiry-histogram": lambda: charts.expiry_histogram(data.licences.to_dict(orient="records"), AS_OF),
    }
    fig = figures[chart]()
    texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")) if t.get_text()]
    chinese = "".join(ch for t in texts for ch in t if "\u4e00" <= ch <= "\u9fff")
    assert chinese, "every chart carries Chinese labels"
    for font in charts.chart_fonts(fig):
        assert charts.has_glyphs(str(font), chinese), f"{font} lacks glyphs for {chinese!r}"


def test_has_glyphs_rejects_a_latin_font():
    from matplotlib import font_manager

    dejavu = font_manager.findfont("DejaVu Sans")
    assert not charts.has_glyphs(dejavu, "广东")


def test_clause_variants_name_the_licences_of_rare_wordings(store, monkeypatch):
    df = report.clause_variants(store)
    by_count = {(r["clause_id"], r["licences"]): r["numbers"] for r in df.to_dict(orient="records")}
    assert by_count[("12", 1)] == "京ICP证020001号"  # 004's newer wording
    assert len(by_count[("12", 4)].split(", ")) == 4
    monkeypatch.setattr(report, "NAMED_UP_TO", 2)  # a wording on more licences than that is counted, not listed
    df = report.clause_variants(store)
    by_count = {(r["clause_id"], r["licences"]): r["numbers"] for r in df.to_dict(orient="records")}
    assert by_count[("12", 1)] == "京ICP证020001号" and by_count[("12", 4)] == ""


# --- a register: more licences than cards ------------------------------------------------------------

@pytest.fixture(scope="module")
def register_store(tmp_path_factory):
    from kg import synth

    out = tmp_path_factory.mktemp("register")
    synth.write(40, out, seed=3)
    s = api.open_store(memory=True)
    assert ingest([out], s).ok
    return s


def test_a_register_gets_cards_for_the_licences_needing_attention_worst_first(register_store, monkeypatch):
    monkeypatch.setattr(report, "CARDS_UP_TO", 8)
    monkeypatch.setattr(report, "TIMELINE_BARS", 10)
    drawn: list[str] = []

    def spy(name: str):
        draw = getattr(charts, name)
        return lambda *args: drawn.append(name) or draw(*args)

    for name in ("timeline", "expiry_histogram"):
        monkeypatch.setattr(charts, name, spy(name))
    data = report.build(register_store, AS_OF)
    assert drawn == ["expiry_histogram"]  # 40 licences > TIMELINE_BARS: no bar per licence
    f = data.findings
    flagged = f[f["severity"].isin(["error", "warning"])]
    errors = flagged[flagged["severity"] == "error"].groupby("number").size()
    warnings = flagged[flagged["severity"] == "warning"].groupby("number").size()
    worst = sorted(set(flagged["number"]), key=lambda n: (-errors.get(n, 0), -warnings.get(n, 0), n))
    assert len(data.licences) == 40 and data.attention == len(worst) > 8
    assert [c["licence"]["number"] for c in data.cards] == worst[:8]
    assert not data.carded_all
    for c in data.cards:  # each card holds that licence's findings only, in the check's order
        own = f[f["number"] == c["licence"]["number"]]
        assert c["findings"].index.tolist() == own.index.tolist()
    html = report.render_html(data)
    assert f"40 licences, {len(worst)} of them with an error or warning finding: cards for the 8" in html
    md = report.render_markdown(data)
    assert "sections for the 8 with the most errors" in md and md.count("\n### ") == 8


def test_a_register_timeline_counts_expiries_per_quarter(register_store):
    rows = api.run_query("licences", register_store).to_dataframe().to_dict(orient="records")
    fig = charts.expiry_histogram(rows, AS_OF)
    ax = fig.axes[0]
    readable = [r for r in rows if r.get("issue_date") and r.get("expiry_date")]
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == len(readable) > 0
    assert ax.get_title().startswith("到期季度 Expiry by quarter")
    expired = sum(1 for r in readable if r["expiry_date"] < AS_OF)
    assert sum(p.get_height() for p in ax.containers[0]) == expired
