"""The terminal table shows a bounded number of rows and says so; csv and json hold every row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kg import formatting
from kg.cli import app
from kg.formatting import render


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"number": [f"粤B2-{i:08d}" for i in range(n)], "holder": ["某某有限公司"] * n})


def test_a_table_shows_the_first_rows_and_says_how_many_it_left_out() -> None:
    text = render(_frame(5), "table", "t", max_rows=3)
    assert "粤B2-00000002" in text and "粤B2-00000003" not in text
    assert "the first 3 of 5 rows; --format csv or json gives them all" in text


def test_a_table_within_the_limit_shows_every_row() -> None:
    text = render(_frame(3), "table", "t", max_rows=3)
    assert "粤B2-00000002" in text and "3 row(s)" in text and "the first" not in text


def test_zero_means_every_row() -> None:
    assert "粤B2-00000004" in render(_frame(5), "table", max_rows=0)


def test_the_default_limit_is_table_rows() -> None:
    text = render(_frame(formatting.TABLE_ROWS + 1), "table")
    assert f"the first {formatting.TABLE_ROWS:,} of {formatting.TABLE_ROWS + 1:,} rows" in text


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_csv_and_json_are_never_cut(fmt: str) -> None:
    text = render(_frame(5), fmt, max_rows=1)  # type: ignore[arg-type]
    rows = json.loads(text) if fmt == "json" else text.strip().splitlines()[1:]
    assert len(rows) == 5


def test_kg_query_tables_a_long_result_in_part(samples_store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the CLI: a table of the samples' licences cut at 2 rows, the csv of the same query whole."""
    monkeypatch.setattr(formatting, "TABLE_ROWS", 2)
    runner = CliRunner()
    table = runner.invoke(app, ["query", "licences", "--store", str(samples_store_dir)])
    assert table.exit_code == 0, table.output
    csv = runner.invoke(app, ["query", "licences", "--store", str(samples_store_dir), "--format", "csv"])
    total = len(csv.output.strip().splitlines()) - 1
    assert total > 2
    assert f"the first 2 of {total} rows" in table.output
