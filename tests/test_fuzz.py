"""Fuzzing with a fixed budget: the parser (text, bytes, the whole parse → map → N-Quads path) and the CLI.

Complements tests/test_parser_properties.py (arbitrary text and bytes,
token soup, line mutations of the samples) with what OCR and files do:

* text built from real certificate lines (samples and synthetic ones) with
  OCR-noise alphabets spliced in: look-alike glyphs, full-width forms,
  combining marks, zero-width and bidi controls, kana and hangul, private use;
* bytes: a certificate encoded as UTF-8, GB18030 or UTF-16 (with and without
  a BOM), then damaged (bit flips, inserted/deleted bytes, duplicated runs,
  truncation);
* everything the parser accepts is mapped and its N-Quads parsed back by
  pyoxigraph (the store would refuse malformed ones);
* the CLI: argument lists generated from the commands, options and nasty
  values (``typer.testing.CliRunner``): never a traceback, only the exit codes
  documented in kg/cli.py.

Budget: ``KG_FUZZ_EXAMPLES`` examples per campaign (default 120; derandomised
unless ``KG_FUZZ_SEED`` is set, so CI sees the same inputs), a deadline of
10 s per example. Any crash found becomes a test in tests/regressions/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kg import synth
from kg.cli import app
from kg.errors import NotACertificateError
from kg.ingest import ingest
from kg.mapping import map_certificate
from kg.models import Certificate
from kg.parser import parse_bytes, parse_text
from kg.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "data" / "certificates").glob("*.txt"))
TEXTS = [p.read_bytes().decode("utf-8-sig") for p in SAMPLES] + [c.text for c in synth.generate(6, seed=99)]
LINES = sorted({ln for t in TEXTS for ln in t.splitlines() if ln.strip()})
EXAMPLES = int(os.environ.get("KG_FUZZ_EXAMPLES", "120"))
_SEED = os.environ.get("KG_FUZZ_SEED")
BUDGET = settings(max_examples=EXAMPLES, deadline=dt.timedelta(seconds=10), derandomize=_SEED is None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])
BASE = "https://w3id.org/licence-kg/id/"

# OCR noise: look-alikes of the glyphs certificates use, width variants, marks and controls that OCR leaves
LOOKALIKES = "〇O0oΟО一-ー—―─丨|l1I口ロ□人入八士土干千未末己已巳曰日目冂门门戸户兑说。.．，,、､：:；;（(）)《<〈》>〉【[】]"
WIDTHS = "ＡＢＣＩＰ０１２３４５６７８９－／：；，．（）　"
MARKS = "\u0301\u0308\u20dd\u3099\u309a\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u202d\u2066\u2069\u061c"
SCRIPTS = "作業が発売のノーあいうアイウ가나다ㄱㄴ"
ODD = "\x00\x01\x07\x0b\x0c\x1b\x7f\x85\u2028\u2029\ue000\uf8ff\ufffd\ufffe\U0001f600①⑫ⅫⅣ²³ﬁ㎡℃㈱\u3000\t\r"
NOISE = st.text(alphabet=LOOKALIKES + WIDTHS + MARKS + SCRIPTS + ODD, min_size=1, max_size=6)


def check_pipeline(make: object) -> None:
    """Parse (or a clean refusal), then map; the N-Quads must be what a store accepts."""
    try:
        cert = make()  # type: ignore[operator]
    except NotACertificateError as err:
        assert err.reason and "\n" not in err.one_line()
        return
    assert isinstance(cert, Certificate)
    Certificate.model_validate_json(cert.model_dump_json())
    mapped = map_certificate(cert, BASE)
    graph = ox.NamedNode(mapped.graph)
    quads = list(ox.parse(mapped.nquads(), ox.RdfFormat.N_QUADS))
    assert quads and all(q.graph_name == graph for q in quads)
    for shared_graph, nodes in mapped.shared():
        for text in nodes.values():
            assert all(q.graph_name == ox.NamedNode(shared_graph) for q in ox.parse(text, ox.RdfFormat.N_QUADS))


def _campaign(fn):  # type: ignore[no-untyped-def]
    fn = BUDGET(fn)
    return seed(int(_SEED))(fn) if _SEED else fn


# --- the parser -------------------------------------------------------------------------------


@_campaign
@given(st.lists(st.one_of(st.sampled_from(LINES), NOISE, st.just("\n")), min_size=1, max_size=80))
def test_fuzz_certificate_lines_with_ocr_noise(parts: list[str]) -> None:
    check_pipeline(lambda: parse_text("\n".join(parts)))


@_campaign
@given(st.integers(0, len(TEXTS) - 1), st.lists(st.tuples(st.floats(0, 1), NOISE, st.integers(0, 3)),
                                                min_size=1, max_size=25))
def test_fuzz_noise_spliced_into_certificates(which: int, edits: list[tuple[float, str, int]]) -> None:
    """Noise inserted into (0), replacing (1), doubled at (2) or deleting around (3) random points of a certificate."""
    text = TEXTS[which]
    for where, noise, op in edits:
        i = int(where * len(text))
        if op == 0:
            text = text[:i] + noise + text[i:]
        elif op == 1:
            text = text[:i] + noise + text[i + len(noise):]
        elif op == 2:
            text = text[:i] + text[i:i + 40] + text[i:]
        else:
            text = text[:i] + text[i + len(noise) * 5:]
    check_pipeline(lambda: parse_text(text))


ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le", "utf-16-be"]


@_campaign
@given(st.integers(0, len(TEXTS) - 1), st.sampled_from(ENCODINGS),
       st.lists(st.tuples(st.integers(0, 4), st.floats(0, 1), st.binary(min_size=1, max_size=8)), max_size=12))
def test_fuzz_damaged_bytes(which: int, encoding: str, damage: list[tuple[int, float, bytes]]) -> None:
    data = bytearray(TEXTS[which].encode(encoding))
    for op, where, blob in damage:
        i = int(where * len(data))
        if op == 0 and data:  # a bit flip
            data[min(i, len(data) - 1)] ^= 1 << (blob[0] % 8)
        elif op == 1:
            data[i:i] = blob
        elif op == 2:
            del data[i:i + len(blob)]
        elif op == 3:
            data[i:i] = data[i:i + 64]
        else:
            del data[i:]
    check_pipeline(lambda: parse_bytes(bytes(data), file="fuzz.txt"))


@_campaign
@given(st.binary(min_size=0, max_size=64), st.sampled_from(ENCODINGS), st.integers(0, len(TEXTS) - 1))
def test_fuzz_foreign_bytes_around_a_certificate(head: bytes, encoding: str, which: int) -> None:
    """Junk before and after a certificate (a mail header, a PDF's tail, NULs)."""
    body = TEXTS[which].encode(encoding)
    check_pipeline(lambda: parse_bytes(head + body + head[::-1], file="fuzz.txt"))


# --- the command line --------------------------------------------------------------------------

EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 130}  # kg/cli.py's table
COMMANDS = ["parse", "ingest", "synth", "queries", "query", "export", "push", "check", "obligations", "rules", "report"]
NASTY = ["", " ", "-", "--", "-x", "--help", "nan", "inf", "-1", "0", "1e309", "99999999999999999999", "abc",
         "2026-02-30", "today", "\x01", "\udcff", "名=值", "=", "a=b=c", "$(rm -rf /)", "../../etc/passwd", "%s%n",
         "x" * 300]


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A template folder (a sample store, good and bad inputs); each example runs in a fresh copy of it."""
    root = tmp_path_factory.mktemp("cli-fuzz")
    with EmbeddedStore(root / "kg-store") as s:
        ingest([SAMPLES[0], SAMPLES[3]], s)
    (root / "certs").mkdir()
    shutil.copy(SAMPLES[1], root / "certs" / "one.txt")
    (root / "empty.txt").write_bytes(b"")
    (root / "bin.dat").write_bytes(bytes(range(256)))
    (root / "q.rq").write_text("SELECT ?s WHERE { ?s ?p ?o } LIMIT 1", encoding="utf-8")
    (root / "u.rq").write_text("DROP ALL", encoding="utf-8")
    (root / "bad.rq").write_text("# param: x nonsense\nSELECT", encoding="utf-8")
    yield {"root": root}


@contextlib.contextmanager
def fresh_copy(template: Path) -> Iterator[Path]:
    """A copy of the template (examples write stores, reports, exports: they must not see each other's)."""
    work = Path(tempfile.mkdtemp(prefix="kg-cli-fuzz-"))
    try:
        # two levels down, so that a drawn "../../x" (`kg synth --out` makes its directories) stays in the copy's folder
        here = work / "a" / "w"
        shutil.copytree(template, here)
        os.mkfifo(here / "fifo.txt")
        yield here
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _paths() -> st.SearchStrategy[str]:
    return st.sampled_from(["kg-store", "certs", "certs/one.txt", "empty.txt", "bin.dat", "q.rq", "u.rq", "bad.rq",
                            "fifo.txt", "missing", "missing/x.txt", ".", "out/x.html", "/dev/null", "kg-store/CURRENT",
                            "certs/"])


def _values() -> st.SearchStrategy[str]:
    # no NUL: a command line cannot carry one (argv entries are C strings); the library's own check is a regression test
    return st.one_of(st.sampled_from(NASTY), _paths(), st.text(st.characters(exclude_characters="\x00"), max_size=12),
                     st.sampled_from(["licences", "licence", "expiring", "authorised", "table", "csv", "json", "trig",
                                      "nq", "md", "html", "oxigraph", "fuseki", "bogus", "http://127.0.0.1:9/query",
                                      "http://", "ftp://127.0.0.1/x", "not a url", "2026-11-22", "B11", "广东",
                                      "number=B1-20195402", "as_of=2026-11-22", "days=-5", "region=火星"]))


OPTIONS = ["--store", "--endpoint", "--dialect", "--format", "-f", "-p", "--param", "--timeout", "--as-of", "--days",
           "--out", "-o", "--workers", "--event", "--date", "--number", "--write", "--no-write", "--help", "--count",
           "--seed", "--damage"]


@st.composite
def argument_lists(draw: st.DrawFn) -> list[str]:
    args = [draw(st.sampled_from(COMMANDS))] if draw(st.integers(0, 9)) else []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 2))
        if kind == 0:
            args.append(draw(_values()))
        else:
            args += [draw(st.sampled_from(OPTIONS)), draw(_values())]
    return args


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _number_over(value: str, limit: int) -> bool:
    """Whether click would read ``value`` as an integer over ``limit`` (it calls int(): "+500", " 500", "1_000")."""
    try:
        return int(value) > limit
    except ValueError:
        return False


CLI_ENV = {"KG_ENDPOINT": None, "KG_STORE": None, "KG_ENDPOINT_RETRIES": "0", "KG_ENDPOINT_TIMEOUT": "2",
           "KG_QUERY_TIMEOUT": "20", "KG_ENDPOINT_USER": None, "KG_ENDPOINT_PASSWORD": None}


@settings(max_examples=EXAMPLES, deadline=dt.timedelta(seconds=30), derandomize=_SEED is None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(argument_lists())
def test_fuzz_cli_arguments(cli_env: dict[str, Path], args: list[str]) -> None:
    if "serve" in args or "run" in args[:1]:
        return  # a running server or the whole main job: not argument handling
    if args[:1] == ["synth"] and any(_number_over(a, 200) for a in args):
        return  # a register of that size is a long job, not argument handling (a drawn count may be 10^20)
    with fresh_copy(cli_env["root"]) as work, _cwd(work):
        result = CliRunner().invoke(app, args, env=CLI_ENV)  # type: ignore[arg-type]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"kg {args!r} raised {result.exception!r}\n{result.output[-2000:]}") from result.exception
    assert result.exit_code in EXIT_CODES, (args, result.exit_code, result.output[-500:])
    assert "Traceback" not in result.output, (args, result.output[-2000:])


def test_cli_campaign_reaches_every_command(cli_env: dict[str, Path]) -> None:
    """The generated lists do reach the commands' own code: a hand-picked valid call of each succeeds."""
    calls = [["queries"], ["parse", "certs/one.txt", "-f", "table"], ["query", "licences", "-f", "csv"],
             ["export", "-f", "nq", "-o", "out.nq"], ["ingest", "certs"], ["rules"],
             ["synth", "--count", "2", "--out", "register"], ["ingest", "register"]]
    with fresh_copy(cli_env["root"]) as work, _cwd(work):
        for args in calls:
            result = CliRunner().invoke(app, args, env=CLI_ENV)  # type: ignore[arg-type]
            assert result.exit_code == 0, (args, result.output[-1000:], result.exception)
