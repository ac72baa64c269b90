"""Bad input beside good input: every bad file gets a one-line reason, changes nothing, and nothing hangs.

The corpus is generated here from the sample certificates: empty and
white-space files, binary files (PNG, PDF, random bytes), an HTML page, a
certificate without its licence number, two certificates in one file, a
50 MB file, a file of one 10 MB line, a FIFO, a dangling symlink, a symlink to
itself, a directory symlink loop, and files without read permission. Files
that are certificates in another shape (GB18030, UTF-16 with and without a
BOM, truncated, a file name that is not UTF-8) must parse. The limits are
documented in docs/json-format.md and docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import random
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kg.errors import NotACertificateError
from kg.ingest import IngestReport, ingest
from kg.parser import parse_file
from kg.store.base import Store
from kg.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "certificates"
B1 = SAMPLES / "003_536d42bffd6cec79.txt"  # B1-20195402
B2 = SAMPLES / "001_32a2f19ddba49f70.txt"  # B2-20210247
KG = str(Path(sys.executable).parent / "kg")
def text(path: Path = B1) -> str:
    return path.read_bytes().decode("utf-8-sig")


def _html(folder: Path) -> Path:
    body = text().replace("&", "&amp;").replace("<", "&lt;")
    page = f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>许可证</title></head>\n<body><pre>{body}</pre></body></html>\n"
    (folder / "saved-page.html").write_text(page, encoding="utf-8")
    return folder / "saved-page.html"


def _pdf(folder: Path) -> Path:
    stream = zlib.compress(text().encode("utf-8"))
    data = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\n"
            b"stream\n" + stream + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    (folder / "scan.pdf").write_bytes(data)
    return folder / "scan.pdf"


def _png(folder: Path) -> Path:
    rng = random.Random(1)
    chunk = b"IHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    data = b"\x89PNG\r\n\x1a\n" + len(chunk[4:]).to_bytes(4, "big") + chunk + b"\x00\x00\x00\x00" + rng.randbytes(6000)
    (folder / "scan.png").write_bytes(data)
    return folder / "scan.png"


def _no_number(folder: Path) -> Path:
    lines = [ln for ln in text(B2).splitlines() if "B2-20210247" not in ln and "经营许可证编号" not in ln]
    (folder / "no-number.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder / "no-number.txt"


def _write(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data() if callable(data) else data)
        return folder / name
    return make


def _big(folder: Path) -> Path:
    block = (text() + "\n").encode("utf-8")
    with (folder / "big.txt").open("wb") as fh:
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(block)
    return folder / "big.txt"


def _one_line(folder: Path) -> Path:
    with (folder / "one-line.txt").open("wb") as fh:
        fh.write(("经营许可证编号:B2-20210247 " + "公司名称" * 1000).encode("utf-8") * 1000)  # ~12 MB, no line break
    return folder / "one-line.txt"


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.txt")
    return folder / "pipe.txt"


def _dangling(folder: Path) -> Path:
    (folder / "gone.txt").symlink_to(folder / "no-such-file.txt")
    return folder / "gone.txt"


def _self_link(folder: Path) -> Path:
    (folder / "self.txt").symlink_to("self.txt")
    return folder / "self.txt"


# (maker, words the one-line reason must contain)
BAD: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty": (_write("empty.txt", b""), "empty input"),
    "white-space": (_write("blank.txt", " \t\n\u3000\r\n  \n".encode()), "empty input"),
    "png": (_png, "not text"),
    "pdf": (_pdf, "not text"),
    "random-bytes": (_write("noise.bin", random.Random(2).randbytes(8192)), "not text"),
    "html": (_html, "an HTML page"),
    "no-licence-number": (_no_number, "no licence number"),
    "two-certificates": (_write("two.txt", lambda: (text(B1) + "\n" + text(B2)).encode()), "two different licence numbers"),
    "cut-before-everything": (_write("stub.txt", lambda: "\n".join(text().splitlines()[:6]).encode()),
                              "too little of a certificate"),
    "50-MB": (_big, "input too large: 5"),
    "one-10-MB-line": (_one_line, "input too large: 1"),
    "fifo": (_fifo, "not a regular file but a named pipe"),
    "dangling-symlink": (_dangling, "cannot read (No such file or directory"),
    "symlink-to-itself": (_self_link, "cannot read (Too many levels of symbolic links"),
}


def digest(store: Store) -> dict[str, str]:
    """Every graph's canonical N-Quads, hashed: equal digests, equal stores."""
    return {g: hashlib.sha256(store.graph_nquads(g).encode()).hexdigest() for g in sorted(store.graph_names())}


def ingest_bounded(paths: list[Path], store: Store, limit: float = 60) -> IngestReport:
    """Ingest in a thread: a hang fails the test instead of blocking the suite."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["report"] = ingest(paths, store)
        except BaseException as exc:  # reported below
            box["error"] = exc

    t0 = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit)
    assert not worker.is_alive(), f"ingest of {[p.name for p in paths]} still running after {limit} s"
    assert "error" not in box, box.get("error")
    assert time.monotonic() - t0 < limit
    return box["report"]  # type: ignore[return-value]


@pytest.fixture(scope="module")
def samples_store(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path_factory.mktemp("bad-input") / "kg-store")
    report = ingest([SAMPLES], store)
    assert report.ok
    yield store  # type: ignore[misc]
    store.close()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_refused_with_a_reason_and_changes_nothing(case: str, samples_store: EmbeddedStore,
                                                              tmp_path: Path) -> None:
    make, words = BAD[case]
    bad = make(tmp_path)
    before = digest(samples_store)
    t0 = time.monotonic()
    report = ingest_bounded([bad], samples_store)
    assert time.monotonic() - t0 < 30
    assert [r.status for r in report.results] == ["failed"]
    reason = report.results[0].reason or ""
    assert reason.startswith(str(bad)), reason  # which file,
    assert words in reason, reason  # what is wrong,
    assert "(" in reason and reason.endswith(")") and "\n" not in reason, reason  # and what to do, on one line
    assert digest(samples_store) == before


def _permission_corpus(folder: Path) -> tuple[Path, Path]:
    locked = folder / "locked.txt"
    locked.write_bytes(B2.read_bytes())
    locked.chmod(0)
    closed = folder / "closed"
    closed.mkdir()
    (closed / "inside.txt").write_bytes(B2.read_bytes())
    closed.chmod(0)
    return locked, closed


def _check_permission_reasons(results: list[list], ok: str = "ok.txt") -> None:
    reasons = {Path(path).name: reason or "" for path, status, reason in results if status == "failed"}
    assert "cannot read (Permission denied" in reasons["locked.txt"], reasons
    assert "cannot read the directory (Permission denied" in reasons["closed"], reasons
    assert [Path(p).name for p, status, _ in results if status != "failed"] == [ok]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def _file_modes_apply() -> Iterator[None]:
    """Make chmod 000 bind this thread even as root, and threads it starts (they inherit its capabilities).

    Root reads any file through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: lowering them from the calling
    thread's effective set (they stay permitted, so they can be raised again) makes root obey file modes
    like any user. Lowering an effective capability needs no privilege; for other users this changes
    nothing.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    saved = data[0].effective
    data[0].effective &= ~((1 << 1) | (1 << 2))  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    try:
        yield
    finally:
        data[0].effective = saved
        libc.capset(ctypes.byref(header), data)


def test_reading_needs_permission(samples_store: EmbeddedStore, tmp_path: Path) -> None:
    """chmod 000 on a file and on a directory: a one-line reason each, the readable file beside them is ingested.

    Runs as root too (CI does): the ingest thread then lacks the capabilities that let root ignore chmod.
    """
    (tmp_path / B1.name).write_bytes(B1.read_bytes())  # its own name: the source document is recorded by name
    _, closed = _permission_corpus(tmp_path)
    try:
        before = digest(samples_store)
        with _file_modes_apply():
            with pytest.raises(PermissionError):  # the premise: this thread cannot read it, even as root
                (tmp_path / "locked.txt").read_bytes()
            report = ingest_bounded([tmp_path], samples_store)
        _check_permission_reasons([[r.path, r.status, r.reason] for r in report.results], ok=B1.name)
        assert digest(samples_store) == before  # sample 003, already in the store
    finally:
        closed.chmod(0o755)


def test_unreadable_file_is_reported_whoever_runs_the_tests(samples_store: EmbeddedStore, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The permission case without chmod (which root ignores): opening the file raises EACCES."""
    (tmp_path / B1.name).write_bytes(B1.read_bytes())  # its own name: the source document is recorded by name
    (tmp_path / "locked.txt").write_bytes(B2.read_bytes())
    real = os.open

    def deny(path: object, *args: object, **kwargs: object) -> int:
        if Path(os.fsdecode(path)).name == "locked.txt":  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fsdecode(path))  # type: ignore[arg-type]
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", deny)
    before = digest(samples_store)
    report = ingest_bounded([tmp_path], samples_store)
    reasons = {Path(r.path).name: r.reason or "" for r in report.results if r.status == "failed"}
    assert list(reasons) == ["locked.txt"] and "cannot read (Permission denied" in reasons["locked.txt"], reasons
    assert [Path(r.path).name for r in report.results if r.status != "failed"] == [B1.name]
    assert digest(samples_store) == before  # sample 003 is already in the store; locked.txt left nothing


def test_unwalkable_directory_is_reported_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory os.walk cannot list is one failed entry (as root, simulated: permissions do not apply)."""
    from kg import ingest as ingest_module

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_bytes(B2.read_bytes())
    (tmp_path / "b").mkdir()
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(os.fsdecode(path)).name == "b":  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fsdecode(path))  # type: ignore[arg-type]
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    files = ingest_module.expand_paths([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a/x.txt", "b"]


def test_directory_symlink_loop_ends(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "cert.txt").write_bytes(B2.read_bytes())
    (folder / "sub" / "up").symlink_to("..")  # in/sub/up -> in: a cycle
    (folder / "sub" / "down").symlink_to(".")  # in/sub/down -> in/sub
    (tmp_path / "loop").symlink_to("loop")  # a directory argument that is a symlink to itself
    from kg.ingest import expand_paths

    t0 = time.monotonic()
    files = expand_paths([folder, folder / "sub" / "up" / "sub", tmp_path / "loop"])
    assert time.monotonic() - t0 < 10
    assert files == [folder / "sub" / "cert.txt", tmp_path / "loop"]  # each file once; the loop is reported
    with EmbeddedStore(tmp_path / "kg-store") as store:
        report = ingest_bounded(files, store)
    assert [r.status for r in report.results] == ["ingested", "failed"]
    assert "Too many levels of symbolic links" in (report.results[1].reason or "")


# --- certificates in another shape: they must parse ------------------------------------------


def extraction(path: Path) -> dict:
    out = parse_file(path).model_dump(mode="json")
    out.pop("source")
    return out


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_other_encodings_parse_to_the_same_certificate(encoding: str, tmp_path: Path) -> None:
    """GB18030/GBK and UTF-16 with a BOM, and UTF-16 without one (detected by where its NUL bytes fall)."""
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text().encode(encoding))
    cert = parse_file(path)
    assert cert.source.encoding == {"gbk": "gb18030", "utf-8-sig": "utf-8-sig"}.get(encoding, encoding)
    assert extraction(path) == extraction(B1)


def test_truncated_mid_clause_parses_with_an_issue(tmp_path: Path) -> None:
    data = B1.read_bytes()
    for cut in (len(data) // 2, len(data) // 2 + 1, len(data) * 3 // 4 + 2):  # byte cuts: some in a character
        path = tmp_path / f"cut-{cut}.txt"
        path.write_bytes(data[:cut])
        cert = parse_file(path)
        assert cert.licence_number.printed == "B1-20195402"
        assert cert.expiry_date.value is not None and cert.all_clauses()
        codes = [i.code for i in cert.issues]
        assert "input-truncated" in codes, (cut, codes)
        try:
            data[:cut].decode("utf-8")
        except UnicodeDecodeError:  # cut inside a character: that is reported too
            assert any(i.code == "input-truncated" and "inside a character" in i.message for i in cert.issues)


def test_truncated_before_the_dates_parses_with_dates_unknown(tmp_path: Path) -> None:
    """Documented behaviour: number, holder and table are there, so it parses; both dates are null with issues."""
    full = parse_file(B1)
    lines = text().splitlines()
    path = tmp_path / "cut-before-dates.txt"
    path.write_text("\n".join(lines[: full.issue_date.line - 1]), encoding="utf-8")  # type: ignore[operator]
    cert = parse_file(path)
    assert cert.licence_number.printed == "B1-20195402"
    assert cert.issue_date.value is None and cert.expiry_date.value is None
    assert {"issue date", "expiry date"} <= {m for i in cert.issues for m in ("issue date", "expiry date")
                                              if i.code == "missing-field" and m in i.message}
    with pytest.raises(NotACertificateError, match="too little of a certificate"):
        parse_file(BAD["cut-before-everything"][0](tmp_path))


def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/\xd6\xd0\xce\xc4-licence.txt"  # 中文 in GBK: not UTF-8
    with open(raw, "wb") as fh:
        fh.write(B2.read_bytes())
    with EmbeddedStore(tmp_path.parent / f"{tmp_path.name}-store") as store:
        report = ingest_bounded([tmp_path], store)
        assert [r.status for r in report.results] == ["ingested"], [r.reason for r in report.results]
        assert "\\xd6\\xd0\\xce\\xc4-licence.txt" in report.results[0].path
        assert any(g.endswith("/B2-20210247") for g in store.graph_names())


# --- the command line, over one folder of good and bad files ---------------------------------


def test_kg_ingest_reports_each_bad_file_and_ingests_the_good_ones(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    for f in (B1, B2):
        (folder / f.name).write_bytes(f.read_bytes())
    store_dir = tmp_path / "kg-store"
    first = subprocess.run([KG, "ingest", str(folder), "--store", str(store_dir)], capture_output=True, text=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    with EmbeddedStore(store_dir, read_only=True) as store:
        good_only = digest(store)
    bad = {name: make(folder) for name, (make, _) in BAD.items()}
    loop = folder / "loop"
    loop.mkdir()
    (loop / "back").symlink_to("..")

    t0 = time.monotonic()
    run = subprocess.run([KG, "ingest", str(folder), "--store", str(store_dir)], capture_output=True, text=True,
                         timeout=120)
    assert time.monotonic() - t0 < 90
    assert run.returncode == 3, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("ingested 2 certificate(s)") and lines[0].endswith(f"{len(BAD)} failed"), lines[0]
    failed = [ln for ln in lines if ln.startswith("  failed: ")]
    assert len(failed) == len(BAD), run.stdout
    for name, path in bad.items():
        line = next((ln for ln in failed if ln.startswith(f"  failed: {path}")), None)
        assert line is not None, (name, run.stdout)
        assert BAD[name][1] in line, line
    with EmbeddedStore(store_dir, read_only=True) as store:
        assert digest(store) == good_only  # the bad files changed nothing

    fresh = tmp_path / "fresh-store"  # and a fresh store with the same folder holds just the good ones
    run = subprocess.run([KG, "ingest", str(folder), "--store", str(fresh)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 3
    with EmbeddedStore(fresh, read_only=True) as store:
        assert digest(store) == good_only
