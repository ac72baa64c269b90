"""The appendix websites: the ``websites`` listing, its point query ``licence-websites`` and the report's cards,
against the parsed models.

The oracle is the pydantic models the parser returns, not the graph: a website dropped, repeated or given
another licence's access provider shows here. Domains are compared as sets: the graph keeps a website's
domains as separate values, and GROUP_CONCAT joins them in whatever order the engine holds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kg import api, report, synth
from kg.models import Certificate
from kg.store.base import Store
from tests.conftest import parsed_folder, synthetic_register

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"

Site = tuple[str, frozenset[str], str, str]


def _model_sites(cert: Certificate) -> list[Site]:
    return sorted((w.name or "", frozenset(w.domains), w.server_location or "", w.access_provider or "")
                  for w in cert.websites)


def _rows(df) -> list[Site]:  # type: ignore[no-untyped-def]
    def s(v: object) -> str:
        return v if isinstance(v, str) else ""  # unbound: None or NaN

    return sorted((s(w), frozenset(s(d).split()), s(loc), s(ap)) for w, d, loc, ap in
                  zip(df["website"], df["domains"], df["server_location"], df["access_provider"], strict=True))


def test_websites_of_each_sample_are_its_models(loaded: Store) -> None:
    """On every back end: the point query, and the listing cut to the licence, give the model's websites."""
    listing = api.run_query("websites", loaded).to_dataframe()
    certs = parsed_folder(SAMPLES)
    assert sum(len(c.websites) for c in certs) > 0
    for cert in certs:
        number = cert.licence_number.printed
        own = api.run_query("licence-websites", loaded, {"number": number}).to_dataframe()
        assert _rows(own) == _model_sites(cert), number
        assert set(own["number"]) <= {number}
        if cert.websites:
            assert set(own["holder"]) == {cert.company.name if cert.company else None}
        assert _rows(listing[listing["number"] == number]) == _model_sites(cert), number


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[Store, Path]]:
    with synthetic_register(150, 11, tmp_path_factory, request) as reg:
        yield reg


def test_websites_of_a_register_are_its_models(register: tuple[Store, Path]) -> None:
    """Shared access providers (a name on many licences) must not leak between licences' rows."""
    store, folder = register
    certs = parsed_folder(folder)
    assert sum(1 for c in certs if len(c.websites) > 1) > 10
    listing = api.run_query("websites", store).to_dataframe()
    for cert in certs:
        number = cert.licence_number.printed
        own = api.run_query("licence-websites", store, {"number": number}).to_dataframe()
        assert _rows(own) == _rows(listing[listing["number"] == number]) == _model_sites(cert), number


def _card_sites(cert: Certificate) -> list[dict[str, str]]:
    """A report card's websites from the model: by name, domains sorted, "" for a missing field."""
    return sorted(({"website": w.name or "", "domains": " ".join(sorted(set(w.domains))),
                    "server_location": w.server_location or "", "access_provider": w.access_provider or ""}
                   for w in cert.websites), key=lambda s: (s["website"], s["domains"]))


def test_report_cards_list_each_licences_websites(loaded: Store) -> None:
    data = report.build(loaded, synth.REFERENCE_DATE)
    by_number = {c.licence_number.printed: c for c in parsed_folder(SAMPLES)}
    assert len(data.cards) == 5 and any(card["websites"] for card in data.cards)
    for card in data.cards:
        cert = by_number[card["licence"]["number"]]
        assert sorted(card["websites"], key=lambda s: (s["website"], s["domains"])) == _card_sites(cert)
    html = report.render_html(data)
    for cert in by_number.values():
        for site in _card_sites(cert):
            assert f"<td>{site['domains']}</td>" in html


def test_websites_of_a_register_as_the_cards_read_them(register: tuple[Store, Path]) -> None:
    store, folder = register
    for cert in parsed_folder(folder):
        got = report.websites(store, cert.licence_number.printed)
        assert sorted(got, key=lambda s: (s["website"], s["domains"])) == _card_sites(cert)
        assert [s["website"] for s in got] == sorted(s["website"] for s in got)  # the card lists them by name
