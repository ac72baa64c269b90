"""The compliance and report commands of ``kg`` (``kg report``, ``kg rules``, ``kg check``, ``kg obligations``).

Registered on :data:`kg.cli.app` when :mod:`kg.cli` is imported; the same thin layer as the rest of the CLI
(library: kg/report.py, kg/compliance.py, kg/events.py), with the exit codes of :mod:`kg.cli`'s table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kg.cli import (
    DialectOpt,
    EndpointOpt,
    FormatOpt,
    StoreOpt,
    app,
    check_format,
    cli_store,
    guard,
    parse_date,
)


@app.command("report")
def report_cmd(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference date YYYY-MM-DD (default: today)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file")] = Path("out/report.html"),
    fmt: Annotated[str, typer.Option("--format", "-f", help="html or md")] = "html",
    store: StoreOpt = None,
    endpoint: EndpointOpt = None,
    dialect: DialectOpt = "oxigraph",
) -> None:
    """Write the analyst report (self-contained HTML, or Markdown) for a reference date."""
    from kg import report

    check_format(fmt, ("html", "md"))

    def run() -> Path:
        day = parse_date(as_of, "--as-of")
        with cli_store(store, endpoint, dialect) as s:
            return report.write_report(s, day, out, fmt)  # type: ignore[arg-type]

    path = guard(run)
    typer.echo(f"report written to {path.resolve()}")


@app.command("rules")
def list_rules_command(fmt: FormatOpt = "table") -> None:
    """List the compliance rules (queries/rules/*.rq): id, severity, kind, titles and what each rests on."""
    import pandas as pd

    from kg.compliance import list_rules
    from kg.formatting import render

    check_format(fmt, ("table", "csv", "json"))
    rules = guard(list_rules)
    df = pd.DataFrame([{"id": r.id, "severity": r.severity, "kind": r.kind, "title_en": r.title_en,
                        "title_zh": r.title_zh, "rests_on": r.rests_on} for r in rules])
    typer.echo(render(df, fmt, title="compliance rules"), nl=False)  # type: ignore[arg-type]


@app.command("check")
def check_command(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference date YYYY-MM-DD (default: today)")] = None,
    days: Annotated[int, typer.Option("--days", help="Window of the 'expiring' status, in days")] = 90,
    fmt: FormatOpt = "table",
    write: Annotated[bool, typer.Option("--write/--no-write",
                                        help="Store the findings graph <…/graph/findings/DATE> (default)")] = True,
    store: StoreOpt = None,
    endpoint: EndpointOpt = None,
    dialect: DialectOpt = "oxigraph",
    workers: Annotated[int | None, typer.Option("--workers", min=1, max=64,
                                                help="Rules run at once (default: the cores, at most 4, on the "
                                                     "embedded store; 2 on an endpoint; 1 in memory)")] = None,
) -> None:
    """Run the compliance rules as of a date; exit code 1 when a finding of severity error exists."""
    from kg.compliance import check
    from kg.formatting import render

    check_format(fmt, ("table", "csv", "json"))

    def run() -> Any:
        date = parse_date(as_of, "--as-of")
        with cli_store(store, endpoint, dialect, read_only=not write) as s:
            return check(s, date, expiring_days=days, write=write, workers=workers)

    result = guard(run)
    typer.echo(render(result.to_dataframe(), fmt, title=f"findings as of {result.as_of}"), nl=False)  # type: ignore[arg-type]
    counts = result.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    typer.echo(f"kg check {result.as_of}: {summary}" + (f"; written to <{result.graph}>" if result.graph else ""),
               err=True)
    if result.has_errors:
        raise typer.Exit(1)


@app.command("obligations")
def obligations_command(
    event: Annotated[str, typer.Option("--event", help="shareholder-change, office-change, cross-regional-licence, "
                                                       "security-assessment or illegal-information")],
    date: Annotated[str, typer.Option("--date", help="Date of the event, YYYY-MM-DD")],
    number: Annotated[str | None, typer.Option("--number", help="Only this licence (number as printed)")] = None,
    fmt: FormatOpt = "table",
    store: StoreOpt = None,
    endpoint: EndpointOpt = None,
    dialect: DialectOpt = "oxigraph",
) -> None:
    """What an event obliges each licence holder to do, and by when (working days use the holiday calendar)."""
    from kg.events import get_event, obligations_for_event
    from kg.formatting import render

    check_format(fmt, ("table", "csv", "json"))

    def run() -> Any:
        ev = get_event(event)
        when = parse_date(date, "--date")
        with cli_store(store, endpoint, dialect, read_only=True) as s:
            return obligations_for_event(s, ev, when, number)

    df = guard(run)
    typer.echo(render(df, fmt, title=f"obligations after {event} on {date}"), nl=False)  # type: ignore[arg-type]
