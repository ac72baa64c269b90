"""Render DataFrames for the terminal (table), for spreadsheets (csv) and for programs (json)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["table", "csv", "json"]


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


def render(df: pd.DataFrame, fmt: Format, title: str | None = None) -> str:
    """The DataFrame as text; ``table`` uses rich and fits the terminal width."""
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
    for row in df.itertuples(index=False):
        table.add_row(*("" if _jsonable(v) is None else str(_jsonable(v)) for v in row))
    console = Console(width=200, record=True, force_terminal=False)
    with console.capture() as cap:
        console.print(table)
        console.print(f"{len(df)} row(s)")
    return cap.get()
