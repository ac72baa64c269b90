"""Who may run which service where: the ``coverage`` and ``authorisations`` queries against the parsed models.

The oracle is computed in Python from the pydantic models the parser returns, not from the graph, so a join
that drops or repeats an authorisation, or a 全国 that is not spread over the provinces, shows here. The
samples run on every back end (the ``store`` fixture); a synthetic register on the embedded store gives
counts in the hundreds, every business type and province, and the report's matrix built from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from kg import api, reference, report, synth
from kg.models import Certificate, CoverageEntry
from kg.store.base import Store
from tests.conftest import parsed_folder, store_with, synthetic_register

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"


def expected_coverage(certs: Iterable[Certificate]) -> dict[tuple[str, str], int]:
    """(province code, business type code) → licences, 全国 counting in every mainland province."""
    ref = reference.load()
    mainland = {code for code, p in ref.provinces.items() if p.authority}
    cells: dict[tuple[str, str], set[str]] = {}
    for cert in certs:
        for auth in cert.authorisations:
            if auth.business_type not in ref.business_types:
                continue  # not in the catalogue: no code to count it under (kg check reports it)
            for entry in auth.coverage:
                for province in (mainland if entry.region == "CN" else {entry.region} & mainland):
                    cells.setdefault((province, auth.business_type), set()).add(cert.licence_number.printed)
    return {cell: len(numbers) for cell, numbers in cells.items()}


def _counts(store: Store) -> dict[tuple[str, str], int]:
    df = api.run_query("coverage", store).to_dataframe()
    assert df["licences"].gt(0).all()
    return {(str(p), bt): int(n) for p, bt, n in zip(df["province_code"], df["business_type_code"], df["licences"],
                                                     strict=True)}


def _authorisations(cert: Certificate) -> list[tuple[str, str | None]]:
    """(business type, region) per catalogue type and region covered; a type with no readable region once.

    A region printed twice (machine-room cities of one province) is one coverage: a set.
    """
    ref = reference.load()
    return sorted({(a.business_type, e.region if e is not None else None)
                   for a in cert.authorisations if a.business_type in ref.business_types
                   for e in (a.coverage or [None])}, key=lambda p: (p[0], p[1] or ""))


def test_coverage_of_the_samples_is_their_authorisations(loaded: Store) -> None:
    expected = expected_coverage(parsed_folder(SAMPLES))
    assert _counts(loaded) == expected
    # B1-20195402 prints B13 for 全国 and is the only sample with B13: one licence in every mainland province
    ref = reference.load()
    assert {p for (p, bt) in expected if bt == "B13"} == {c for c, p in ref.provinces.items() if p.authority}


def test_coverage_rows_name_the_province_and_the_type(loaded: Store) -> None:
    ref = reference.load()
    df = api.run_query("coverage", loaded).to_dataframe()
    for row in df.to_dict(orient="records"):
        assert row["province"] == ref.provinces[str(row["province_code"])].name_zh
        assert row["business_type"] == ref.business_types[row["business_type_code"]].name_zh
    keys = list(zip(df["province_code"].map(str), df["business_type_code"], strict=True))
    assert keys == sorted(keys)


def test_a_licence_naming_a_province_and_nationwide_counts_once_there(store: Store) -> None:
    """全国 and 北京 printed for the same type on one licence: one licence in 北京, not two."""
    cert = next(c for c in parsed_folder(SAMPLES) if c.licence_number.printed == "B1-20195402")
    auth = next(a for a in cert.authorisations if a.business_type == "B13")
    auth.coverage = [CoverageEntry(printed="全国", region="CN"), CoverageEntry(printed="北京", region="11")]
    counts = _counts(store_with(cert, store=store))
    assert counts[("11", "B13")] == 1 and counts[("44", "B13")] == 1
    assert counts == expected_coverage([cert])


def test_authorisations_of_each_sample_are_its_models(loaded: Store) -> None:
    for cert in parsed_folder(SAMPLES):
        df = api.run_query("authorisations", loaded, {"number": cert.licence_number.printed}).to_dataframe()
        got = [(bt, r if isinstance(r, str) else None)  # an unbound region is None or NaN
               for bt, r in zip(df["business_type_code"], df["region_code"], strict=True)]
        assert got == _authorisations(cert), cert.licence_number.printed


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[Store, Path]]:
    with synthetic_register(300, 5, tmp_path_factory, request) as reg:
        yield reg


def test_coverage_of_a_register_is_its_authorisations(register: tuple[Store, Path]) -> None:
    store, folder = register
    expected = expected_coverage(parsed_folder(folder))
    assert len(expected) > 300 and max(expected.values()) > 50  # every type, many provinces, 全国 spread
    assert _counts(store) == expected


def test_report_matrix_is_the_coverage_by_short_province_name(register: tuple[Store, Path]) -> None:
    store, folder = register
    ref = reference.load()
    expected = expected_coverage(parsed_folder(folder))
    matrix = report.coverage_matrix(api.run_query("coverage", store).to_dataframe())
    assert list(matrix.index) == [ref.provinces[c].short_zh for c in sorted({p for p, _ in expected})]
    assert list(matrix.columns) == sorted({bt for _, bt in expected})
    short_to_code = {p.short_zh: c for c, p in ref.provinces.items()}
    got = {(short_to_code[p], bt): int(matrix.loc[p, bt]) for p in matrix.index for bt in matrix.columns
           if matrix.loc[p, bt]}
    assert got == expected


def _card_table(cert: Certificate) -> list[dict[str, str]]:
    """A report card's authorisations from the model: catalogue types in code order, region names joined."""
    ref = reference.load()
    names = {code: p.name_zh for code, p in ref.provinces.items()} | {"CN": "全国"}
    return [{"code": a.business_type, "name": ref.business_types[a.business_type].name_zh,
             "coverage": "、".join(sorted({names[e.region] for e in a.coverage}))}
            for a in sorted(cert.authorisations, key=lambda a: a.business_type)
            if a.business_type in ref.business_types]


def test_report_cards_list_each_licences_authorisations(loaded: Store) -> None:
    data = report.build(loaded, synth.REFERENCE_DATE)
    by_number = {c.licence_number.printed: c for c in parsed_folder(SAMPLES)}
    assert len(data.cards) == 5
    for card in data.cards:
        assert card["authorisations"] == _card_table(by_number[card["licence"]["number"]])


def test_authorisations_of_a_register_as_the_cards_read_them(register: tuple[Store, Path]) -> None:
    store, folder = register
    for cert in parsed_folder(folder):
        assert report.authorisations(store, cert.licence_number.printed) == _card_table(cert)
