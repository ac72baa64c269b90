"""Render DataFrames for the terminal (table), for spreadsheets (csv) and for programs (json)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["table", "csv", "json"]

#: rows a ``table`` shows. rich measures every cell (1-1.3 ms a row of ``licences``): a register's 10^5 rows
#: took minutes to print, for a table nobody reads; csv and json, which programs read, always hold them all.
TABLE_ROWS = 200


def _jsonable(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()  # type: ignore[union-attr]
    try:
        import pandas as pd

        if pd.isna(value):  # type: ignore[arg-type]
            return None
    except (TypeError, ValueError):
        pass
    return value


def render(df: pd.DataFrame, fmt: Format, title: str | None = None, *, max_rows: int | None = None) -> str:
    """The DataFrame as text; ``table`` uses rich, fits the terminal width and shows at most ``max_rows`` rows
    (default :data:`TABLE_ROWS`; 0: all), saying how many it left out and how to get them."""
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        rows = [{k: _jsonable(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for col in df.columns:
        table.add_column(str(col), overflow="fold")
    limit = TABLE_ROWS if max_rows is None else max_rows
    shown = df if limit <= 0 or len(df) <= limit else df.head(limit)
    for row in shown.itertuples(index=False):
        table.add_row(*("" if _jsonable(v) is None else str(_jsonable(v)) for v in row))
    console = Console(width=200, record=True, force_terminal=False)
    with console.capture() as cap:
        console.print(table)
        if len(shown) < len(df):
            console.print(f"the first {len(shown):,} of {len(df):,} rows; --format csv or json gives them all")
        else:
            console.print(f"{len(df)} row(s)")
    return cap.get()
