"""``kg``: the command line, a thin layer over :mod:`kg.api`.

Each command parses its arguments, calls one library function, and turns the
library's own errors into a one-line message and a documented exit code:

==== =====================================================================
code meaning
==== =====================================================================
0    success
1    ``kg check``: a finding of severity error exists
2    usage error, or any other licence-kg error
3    at least one input file is not a (readable) certificate
4    unknown query name or file
5    bad query parameter
6    SPARQL Update refused (``kg query`` only reads)
7    the store is locked by another process
8    the SPARQL endpoint failed (after retries), refused credentials, or a query timed out
130  interrupted (Ctrl-C); ``kg ingest`` and ``kg push`` can simply be run again
==== =====================================================================
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kg.errors import KgError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="licence-kg: a compliance knowledge graph of "
                  "Chinese value-added telecom licences (增值电信业务经营许可证).")

StoreOpt = Annotated[str | None, typer.Option("--store", help="Store directory (default $KG_STORE or ./kg-store)")]
EndpointOpt = Annotated[str | None, typer.Option(
    "--endpoint", help="SPARQL 1.1 endpoint URL; credentials from KG_ENDPOINT_USER / KG_ENDPOINT_PASSWORD")]
DialectOpt = Annotated[str, typer.Option("--dialect", help="Endpoint kind: oxigraph, fuseki, graphdb, virtuoso")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, csv or json")]

T = TypeVar("T")


def _fail(err: KgError) -> None:
    typer.echo(f"kg: {err.one_line()}", err=True)
    raise typer.Exit(err.exit_code)


def guard(fn: Callable[[], T]) -> T:
    """Run a command's library call; its errors become one line on stderr and the exit code of the table above."""
    try:
        return fn()
    except KgError as err:
        _fail(err)
        raise  # unreachable: _fail exits
    except KeyboardInterrupt:
        typer.echo("kg: interrupted (run the same command again: ingest and push resume where they stopped)",
                   err=True)
        raise typer.Exit(130) from None
    except OSError as err:  # an output path that is a directory, a full disk…: the user's to fix, one line
        where = f"{err.filename}: " if err.filename not in (None, "") else ""
        typer.echo(f"kg: {where}{err.strerror or err} (check the path and its permissions)", err=True)
        raise typer.Exit(2) from None


def cli_store(store: str | None, endpoint: str | None, dialect: str = "oxigraph", read_only: bool = False) -> Any:
    """The store a command's --store/--endpoint options name (imports the store back ends only when needed)."""
    from kg import api

    if endpoint:
        return api.open_store(endpoint=endpoint, dialect=dialect)
    return api.open_store(store, read_only=read_only)


def check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    """Refuse an unknown --format before anything runs (exit 2)."""
    if fmt not in allowed:
        typer.echo(f"kg: unknown format {fmt!r} (use one of: {', '.join(allowed)})", err=True)
        raise typer.Exit(2)


@app.command()
def parse(
    files: Annotated[list[Path], typer.Argument(help="Certificate text files")],
    fmt: FormatOpt = "json",
) -> None:
    """Parse certificates and print the extraction (JSON keys: docs/json-format.md)."""
    import json

    from kg.parser import parse_file

    check_format(fmt, ("json", "table"))
    failed = 0
    out = []
    for f in files:
        try:
            cert = parse_file(f)
        except KgError as err:
            typer.echo(f"kg: {err.one_line()}", err=True)
            failed += 1
            continue
        except OSError as err:
            typer.echo(f"kg: {f}: cannot read ({err.strerror or err})", err=True)
            failed += 1
            continue
        if fmt == "json":
            out.append(cert.model_dump(mode="json"))
        else:
            typer.echo(_certificate_summary(cert))
    if fmt == "json":
        typer.echo(json.dumps(out if len(files) != 1 else (out[0] if out else None), ensure_ascii=False, indent=2))
    if failed:
        raise typer.Exit(3)


def _certificate_summary(cert: Any) -> str:
    num = cert.licence_number
    lines = [
        f"{num.printed}  ({num.scope}, class {num.licence_class}, issuer {num.issuer})  [{cert.source.file}]",
        f"  holder: {cert.company.name if cert.company else '?'}   legal representative: "
        f"{cert.legal_representative.name if cert.legal_representative else '?'}",
        f"  valid: {cert.issue_date.value or 'unreadable'} → {cert.expiry_date.value or 'unreadable'}",
    ]
    for a in cert.authorisations:
        cov = "、".join(e.printed for e in a.coverage)
        lines.append(f"  {a.business_type} {a.business_type_printed}: {cov}"
                     + (f"  limited to {a.limited_to}" if a.limited_to else "")
                     + (f"  excludes {a.excludes}" if a.excludes else ""))
    lines.append(f"  clauses: {len(cert.all_clauses())}   websites: {len(cert.websites)}   "
                 f"regulations cited: {len(cert.regulations_cited)}")
    for issue in cert.issues:
        if issue.severity != "info":
            lines.append(f"  {issue.severity}: line {issue.line}: {issue.code}: {issue.message}")
    return "\n".join(lines)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or glob patterns")],
    store: StoreOpt = None,
    endpoint: EndpointOpt = None,
    dialect: DialectOpt = "oxigraph",
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="Processes that parse in parallel (the bulk path)")] = 1,
) -> None:
    """Parse certificates and replace each one's named graph in the store (idempotent)."""
    from kg import api

    def run() -> Any:
        with cli_store(store, endpoint, dialect) as s:
            return _with_progress(lambda progress: api.ingest(paths, s, progress=progress, workers=workers))

    report = guard(run)
    typer.echo(_ingest_summary(report))
    if report.failed:
        raise typer.Exit(3)


def _with_progress(fn: Callable[[Any], T]) -> T:
    if not sys.stderr.isatty():
        return fn(None)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("ingesting", total=None)

        def progress(i: int, n: int, result: Any) -> None:
            bar.update(task, completed=i, total=n, description=f"ingesting {Path(result.path).name}")

        return fn(progress)


def _ingest_summary(report: Any) -> str:
    lines = [f"ingested {len(report.ingested)} certificate(s), {len(report.with_warnings)} with warnings, "
             f"{len(report.failed)} failed"]
    for r in report.with_warnings:
        lines.append(f"  warnings: {r.path}: {r.licence}: {r.issues} issue(s)" + (f"; {r.reason}" if r.reason else ""))
    for r in report.failed:
        lines.append(f"  failed: {r.reason}")
    if report.compacted_seconds is not None:
        lines.append(f"  compacted the store after {report.bulk_loaded} new graphs in {report.compacted_seconds:.1f} s "
                     "(faster queries)")
    return "\n".join(lines)


@app.command("synth")
def synth_command(
    count: Annotated[int, typer.Option("--count", min=0, help="How many certificates to write")],
    out: Annotated[Path, typer.Option("--out", help="Directory for synth_NNNNNN.txt and .facts.jsonl")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same register (byte for byte)")] = 0,
    damage: Annotated[float, typer.Option("--damage", min=0.0, max=1.0,
                                          help="OCR damage rate (0: clean text)")] = 0.05,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Processes that generate")] = 1,
) -> None:
    """Write a synthetic register: certificates as OCR'd text and the facts each was made from (docs/synth.md)."""
    import time

    from kg import synth

    start = time.perf_counter()
    n = guard(lambda: synth.write(count, out, seed=seed, damage=damage, workers=workers))
    elapsed = time.perf_counter() - start
    typer.echo(f"{n} certificate(s) in {elapsed:.1f} s ({n / max(elapsed, 1e-9):,.0f}/s) → {out} "
               f"(their facts: {out / synth.FACTS_FILE})")


@app.command("queries")
def list_queries() -> None:
    """List the named queries with their parameters."""
    from kg import api

    for spec in guard(api.list_queries):
        params = ", ".join(f"{p.name}:{p.type}" + ("?" if p.optional else "") + (f"={p.default}" if p.default else "")
                           for p in spec.params)
        typer.echo(f"{spec.name:18} {spec.title}" + (f"  ({params})" if params else ""))
        if spec.description:
            typer.echo(f"{'':18} {spec.description}")


@app.command()
def query(
    name: Annotated[str, typer.Argument(help="Query name (see kg queries) or a .rq file")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="name=value (repeatable)")] = None,
    fmt: FormatOpt = "table",
    store: StoreOpt = None,
    endpoint: EndpointOpt = None,
    dialect: DialectOpt = "oxigraph",
    timeout: Annotated[float | None, typer.Option(
        help="Seconds before the query is stopped (default $KG_QUERY_TIMEOUT or 300; 0: no limit)")] = None,
    allow_update: Annotated[bool, typer.Option(
        "--allow-update", help="Run a SPARQL Update file against the store (refused otherwise, exit 6)")] = False,
) -> None:
    """Run a named query or a .rq file; parameters are bound as typed RDF terms."""
    from kg import api
    from kg.formatting import render

    check_format(fmt, ("table", "csv", "json"))
    limit = guard(lambda: api.query_timeout(timeout))
    params: dict[str, object] = {}
    for item in param or []:
        if "=" not in item:
            typer.echo(f"kg: --param {item!r}: expected name=value", err=True)
            raise typer.Exit(5)
        k, v = item.split("=", 1)
        params[k.strip()] = v

    if allow_update and guard(lambda: api.is_update_file(name)):
        def write() -> None:
            with cli_store(store, endpoint, dialect) as s:
                api.run_update(name, s, params)

        guard(write)
        typer.echo(f"{name}: update applied")
        return

    def run() -> Any:
        with cli_store(store, endpoint, dialect, read_only=True) as s:
            return api.run_query(name, s, params, timeout=limit)

    result = guard(run)
    if result.kind == "ask":
        typer.echo("true" if result.boolean else "false")
    elif result.kind == "graph":
        typer.echo(result.graph.serialize(format="turtle"))
    else:
        typer.echo(render(result.to_dataframe(), fmt, title=name), nl=False)  # type: ignore[arg-type]


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="trig, nq, ttl or jsonld")] = "trig",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: standard output)")] = None,
    store: StoreOpt = None,
) -> None:
    """Export the whole store (all graphs) as TriG, N-Quads, Turtle or JSON-LD."""
    check_format(fmt, ("trig", "nq", "ttl", "jsonld"))

    def run() -> None:
        with cli_store(store, None, read_only=True) as s:
            if out is None:
                s.export(sys.stdout.buffer, fmt)
            else:
                with out.open("wb") as fh:
                    s.export(fh, fmt)

    guard(run)
    if out is not None:
        typer.echo(f"wrote {out}", err=True)


@app.command()
def push(
    endpoint: Annotated[str, typer.Option("--endpoint", help="Target SPARQL endpoint URL (credentials from "
                                          "KG_ENDPOINT_USER / KG_ENDPOINT_PASSWORD)")],
    store: StoreOpt = None,
    dialect: DialectOpt = "oxigraph",
) -> None:
    """Replace each certificate graph of the local store on a remote SPARQL store (re-run to complete)."""
    from kg import api

    def run() -> Any:
        with cli_store(store, None, read_only=True) as local, cli_store(None, endpoint, dialect) as remote:
            return api.push(local, remote)

    report = guard(run)
    typer.echo(f"pushed {len(report.pushed)} graph(s), failed {len(report.failed)}, "
               f"not attempted {len(report.not_attempted)}")
    if not report.ok:
        for graph in report.pushed:
            typer.echo(f"  pushed: {graph}")
    for graph, reason in report.failed:
        typer.echo(f"  failed: {graph}: {reason}")
    for graph in report.not_attempted:
        typer.echo(f"  not pushed: {graph}")
    if not report.ok:
        typer.echo("run 'kg push' again to complete the rest", err=True)
        raise typer.Exit(8)


@app.command()
def serve(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 7878,
    allow_updates: Annotated[bool, typer.Option("--allow-updates", help="Accept SPARQL Update and GSP writes")] = False,
) -> None:
    """Serve the store as a SPARQL endpoint (Oxigraph server; read-only unless --allow-updates)."""
    import signal
    import time

    from kg import api

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # leave the with block: the server is stopped and the store unlocked

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    server = guard(lambda: api.serve(store, host=host, port=port, allow_updates=allow_updates))
    with server:
        try:
            mode = "read-write" if allow_updates else "read-only"
            typer.echo(f"serving {server.url} ({mode}); SPARQL queries at {server.query_url}; Ctrl-C to stop")
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            typer.echo("stopped")


@app.command("run")
def run_main(
    certificates: Annotated[list[str] | None, typer.Argument(help="Certificates (default: the samples)")] = None,
    store: StoreOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference date YYYY-MM-DD (default: today)")] = None,
    out: Annotated[Path, typer.Option("--out", help="Report file")] = Path("out/report.html"),
) -> None:
    """The main job: ingest, print a summary and the licences, check compliance, write the report."""
    from kg import api, compliance, report
    from kg.formatting import render

    paths = certificates or [str(Path(__file__).resolve().parent.parent / "data" / "certificates")]

    def run() -> Any:
        day = parse_date(as_of, "--as-of")  # before the store opens: a bad date changes nothing
        with cli_store(store, None) as s:
            ingest_report = _with_progress(lambda progress: api.ingest(paths, s, progress=progress))
            typer.echo(_ingest_summary(ingest_report))
            typer.echo(render(api.run_query("licences", s).to_dataframe(), "table", title="licences"), nl=False)
            result = compliance.check(s, day)
            counts = result.to_dataframe()["severity"].value_counts().to_dict() if result.findings else {}
            typer.echo(f"compliance as of {day}: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in
                                                                ("error", "warning", "info")))
            path = report.write_report(s, day, out)
            return ingest_report, path

    ingest_report, path = guard(run)
    typer.echo(f"report written to {path.resolve()}")
    if ingest_report.failed:
        raise typer.Exit(3)


def parse_date(value: str | None, option: str) -> Any:
    """A YYYY-MM-DD option (or "today") as a date; a bad value is a parameter error (exit 5)."""
    import datetime as dt

    from kg.queries import ParameterError

    if value is None or value == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ParameterError(f"{option} {value!r}: expected a date YYYY-MM-DD") from exc


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


# the compliance and report commands register themselves on `app` (kept apart to keep this module small)
from kg import cli_compliance  # noqa: E402,F401

if __name__ == "__main__":
    main()
