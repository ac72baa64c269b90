"""The compliance rule catalogue: ``queries/rules/*.rq``, one SPARQL SELECT per rule.

Rules are data an analyst can read and change without Python. Each file has
the header of the named queries (``# param:``, ``# bind:``, ``# description:``,
parsed by :func:`kg.queries.load_spec`, so parameters are bound as typed RDF
terms in the same way) plus the rule's own keys::

    # id: renewal-overdue                    stable identifier, also the rule IRI's last segment
    # title_zh: 续办申请逾期                   titles in Chinese and English
    # title_en: Renewal application overdue
    # severity: error                        error | warning | info
    # status: overdue                        the finding's status (a ?status column overrides it)
    # rests_on: 特别规定事项 十二 …            the clause or regulation the rule rests on
    # message: overdue since {due_date} …    English message; {name} is a result column
    # compute: next-annual-window            optional Python step (see COMPUTE below)
    # kind: event                            optional: event rules run from kg obligations, not kg check

Each result row becomes one finding. Column names carry meaning: ``licence``
and ``number`` (required), ``clause`` and ``clause_id``, ``due_date``,
``evidence``/``evidence_*`` (evidence node IRIs), ``line``/``line_*`` (source
lines) and ``quote``/``quote_*`` (printed values quoted as evidence). Python
is used only where SPARQL is not enough: date arithmetic (days left, the next
annual window), because not every engine can add durations to dates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import Literal, URIRef

from kg.errors import KgError
from kg.queries import QUERY_DIR, SEVERITIES, QuerySpec, bindings_for, load_spec

RULES_DIR = QUERY_DIR / "rules"
KINDS = ("as-of", "event")
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}

_RULE_HEADER = re.compile(r"^#\s*(id|title_zh|title_en|severity|status|rests_on|message|compute|kind):\s*(.*)$")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class RuleError(KgError):
    """A rule file is malformed (missing id, unknown severity, unknown compute step)."""

    exit_code = 2


class RuleNotFoundError(KgError):
    exit_code = 4


@dataclass(frozen=True)
class Rule:
    """One rule of the catalogue, read from its ``.rq`` file."""

    id: str
    title_zh: str
    title_en: str
    severity: str
    rests_on: str
    description: str
    message: str
    spec: QuerySpec = field(repr=False)
    status: str | None = None
    compute: str | None = None
    kind: str = "as-of"

    def iri(self, base: str) -> str:
        """``<base>rule/<id>``: stable, so findings of every date point at the same rule."""
        return f"{base}rule/{self.id}"

    @property
    def path(self) -> Path:
        return self.spec.path


@dataclass(frozen=True)
class Finding:
    """One finding: a rule applied to one licence (and clause or evidence), as of a date."""

    rule_id: str
    severity: str
    status: str
    licence: str
    number: str
    message: str
    as_of: dt.date | None = None
    due_date: dt.date | None = None
    clause: str | None = None
    clause_id: str | None = None
    evidence: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()
    quotes: tuple[str, ...] = ()
    title_en: str = ""

    @property
    def key(self) -> str:
        """Identity of the finding within one as-of date: the same facts give the same IRI.

        The message is part of it: it is made from the row's values, and two rows that differ only there are two
        findings (three unknown business types on one authorisation: same licence, line and status)."""
        parts = [self.rule_id, self.licence, self.clause or "", "|".join(self.evidence),
                 "|".join(map(str, self.lines)), "|".join(self.quotes), self.status, self.message]
        return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]

    def iri(self, base: str) -> str:
        day = self.as_of.isoformat() if self.as_of else "undated"
        return f"{base}finding/{day}_{self.rule_id}_{self.key}"

    def sort_key(self) -> tuple[int, str, str, tuple[object, ...], str]:
        return (SEVERITY_ORDER.get(self.severity, 9), self.number, self.rule_id, natural_key(self.clause_id or ""),
                self.message)


def load_rule(path: Path) -> Rule:
    """Read one rule file; a header that is incomplete or wrong is an error, not a silent skip."""
    spec = load_spec(path)
    keys: dict[str, str] = {}
    for n, line in enumerate(spec.text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        m = _RULE_HEADER.match(stripped)
        if m:
            if m.group(1) in keys:
                raise RuleError(f"duplicate header key {m.group(1)!r}", file=str(path), line=n)
            keys[m.group(1)] = m.group(2).strip()
    for required in ("id", "title_zh", "title_en", "severity", "rests_on", "message"):
        if not keys.get(required) and not (required == "message" and keys.get("kind") == "event"):
            raise RuleError(f"missing '# {required}:' header", file=str(path),
                            hint="see docs/compliance.md for the rule header")
    if not _ID.match(keys["id"]) or keys["id"] != path.stem:
        raise RuleError(f"rule id {keys['id']!r} must be kebab-case and equal the file name", file=str(path))
    if keys["severity"] not in SEVERITIES:
        raise RuleError(f"unknown severity {keys['severity']!r}", file=str(path), hint=f"use one of {SEVERITIES}")
    kind = keys.get("kind", "as-of")
    if kind not in KINDS:
        raise RuleError(f"unknown kind {kind!r}", file=str(path), hint=f"use one of {KINDS}")
    compute = keys.get("compute") or None
    if compute is not None and compute not in COMPUTE:
        raise RuleError(f"unknown compute step {compute!r}", file=str(path), hint=f"known: {', '.join(COMPUTE)}")
    return Rule(
        id=keys["id"], title_zh=keys["title_zh"], title_en=keys["title_en"], severity=keys["severity"],
        rests_on=keys["rests_on"], description=spec.description, message=keys.get("message", ""), spec=spec,
        status=keys.get("status") or None, compute=compute, kind=kind,
    )


def list_rules(directory: Path = RULES_DIR, kind: str | None = None) -> list[Rule]:
    """The catalogue in file-name order; ``kind`` keeps only as-of or only event rules."""
    rules = [load_rule(p) for p in sorted(directory.glob("*.rq"))]
    return [r for r in rules if kind is None or r.kind == kind]


def get_rule(rule_id: str, directory: Path = RULES_DIR) -> Rule:
    path = directory / f"{rule_id}.rq"
    if not path.is_file():
        known = ", ".join(r.id for r in list_rules(directory))
        raise RuleNotFoundError(f"no rule named {rule_id!r}", hint=f"known: {known}")
    return load_rule(path)


def natural_key(text: str) -> tuple[object, ...]:
    """Sort key that puts 15.2 before 15.10 and 9 before 11 (clause ids in their printed order)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


# --- running a rule ---------------------------------------------------------------------------

def python_value(term: object) -> object:
    """An rdflib term as a plain Python value: IRIs as str, dates as date, integers as int."""
    if term is None:
        return None
    if isinstance(term, Literal):
        value = term.toPython()
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, Literal):  # unknown datatype: keep the lexical form
            return str(value)
        return value
    if isinstance(term, URIRef):
        return str(term)
    return str(term)


def run_rows(rule: Rule, store: Any, params: dict[str, object], timeout: float | None = None) -> list[dict[str, Any]]:
    """Run the rule's query with the parameters it declares; rows as dicts of Python values."""
    values = {k: v for k, v in params.items() if rule.spec.param(k) is not None}
    bindings = bindings_for(rule.spec, values)
    result = store.query(rule.spec.text, bindings, timeout=timeout)
    names = [str(v) for v in result.variables]
    return [{name: python_value(term) for name, term in zip(names, row, strict=False)} for row in result.rows]


class _Blank(dict):
    """format_map mapping: a column that is absent or unbound prints as '?' instead of raising."""

    def __missing__(self, key: str) -> str:
        return "?"


def _text(value: object) -> str:
    if value is None:
        return "?"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def format_message(template: str, values: dict[str, Any]) -> str:
    return template.format_map(_Blank({k: _text(v) for k, v in values.items()})).strip()


def _collect(values: dict[str, Any], prefix: str) -> list[Any]:
    return [v for k, v in values.items() if (k == prefix or k.startswith(prefix + "_")) and v is not None]


def findings_from_rows(rule: Rule, rows: list[dict[str, Any]], context: dict[str, Any]) -> list[Finding]:
    """Turn result rows into findings: derived day counts, the compute step, the message."""
    as_of = context.get("as_of")
    out: dict[str, Finding] = {}
    for row in rows:
        values: dict[str, Any] = {**context, **row}
        _derive_days(values, as_of)
        if rule.compute is not None:
            computed = COMPUTE[rule.compute](values, context)
            if computed is None:
                continue
            values = computed
        message = values.get("message") if isinstance(values.get("message"), str) else None
        due = values.get("due_date")
        finding = Finding(
            rule_id=rule.id,
            severity=rule.severity,
            status=str(values.get("status") or rule.status or "finding"),
            licence=str(values["licence"]),
            number=str(values.get("number") or ""),
            message=message or format_message(rule.message, values),
            as_of=as_of,
            due_date=due if isinstance(due, dt.date) else None,
            clause=values.get("clause"),
            clause_id=values.get("clause_id"),
            evidence=tuple(dict.fromkeys(str(v) for v in _collect(values, "evidence"))),
            lines=tuple(dict.fromkeys(int(v) for v in _collect(values, "line") if isinstance(v, int))),
            quotes=tuple(dict.fromkeys(str(v) for v in _collect(values, "quote"))),
            title_en=rule.title_en,
        )
        out.setdefault(finding.key, finding)  # union default graphs may repeat a row
    return list(out.values())


def _derive_days(values: dict[str, Any], as_of: dt.date | None) -> None:
    if as_of is None:
        return
    due = values.get("due_date")
    if isinstance(due, dt.date):
        values["due_in_days"] = (due - as_of).days
        values["overdue_days"] = (as_of - due).days
    expiry = values.get("expiry_date")
    if isinstance(expiry, dt.date):
        values["expires_in_days"] = (expiry - as_of).days
        values["expired_days"] = (as_of - expiry).days


# --- compute steps: the Python part of rules whose arithmetic SPARQL cannot do portably -----------

Compute = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]


def _printed_as(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    quote, line = values.get("quote"), values.get("line")
    if quote:
        values["printed_as"] = f" (printed 「{quote}」" + (f", line {line})" if line else ")")
    else:
        values["printed_as"] = " (nothing legible printed)"
    return values


QUARTER_START = {"Q1": 1, "Q2": 4, "Q3": 7, "Q4": 10}


def quarter_window(year: int, window: str) -> tuple[dt.date, dt.date]:
    """First and last day of quarter ``window`` (Q1–Q4) of ``year``."""
    month = QUARTER_START[window]
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 10), (month + 3 - 1) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def next_annual_window(as_of: dt.date, window: str) -> tuple[dt.date, dt.date, bool]:
    """The window open on ``as_of`` or the next one to open: (start, end, open now)."""
    start, end = quarter_window(as_of.year, window)
    if as_of > end:
        start, end = quarter_window(as_of.year + 1, window)
    return start, end, start <= as_of <= end


def _next_annual_window(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any] | None:
    window = str(values.get("window") or "")
    as_of = context["as_of"]
    if window not in QUARTER_START:
        return None
    start, end, open_now = next_annual_window(as_of, window)
    values.update(window_start=start, window_end=end, due_date=end, status="open" if open_now else "upcoming")
    expiry = values.get("expiry_date")
    if isinstance(expiry, dt.date) and expiry < start:
        values["window_note"] = (f"; the licence expires on {expiry.isoformat()}, before the window opens: "
                                 "the report is due only if the licence is renewed")
    elif open_now:
        values["window_note"] = f"; the window is open now: report by {end.isoformat()}"
    else:
        values["window_note"] = ""
    values["due_in_days"] = (end - as_of).days
    return values


def _auth_line_text(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    line = values.get("line_authorisation")
    values["auth_line_text"] = f"; authorisation printed on line {line}" if line else ""
    if not values.get("quote"):
        values["quote"] = values.get("excluded_label") or "?"
    return values




def _sort_lists(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    for name in ("items", "other_codes", "authorised_codes"):
        if isinstance(values.get(name), str):
            parts = sorted({p.strip() for p in values[name].split(",") if p.strip()}, key=natural_key)
            values[name] = ", ".join(parts)
    return values


def _other_types(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any] | None:
    """The licence's business types other than the block's, sorted; no finding when there is none."""
    values = _sort_lists(values, context)
    others = [c for c in str(values.get("authorised_codes") or "").split(", ") if c and c != values.get("bt_code")]
    if not others:
        return None
    values["other_codes"] = ", ".join(others)
    return values


DEFAULT_COVERED_DAYS = 30


def _covered_provincial(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any] | None:
    granted = values.get("granted")
    if not isinstance(granted, dt.date):
        return None
    amount = values.get("amount")
    if not isinstance(amount, int):
        amount = DEFAULT_COVERED_DAYS
        values["amount"] = amount
    due = granted + dt.timedelta(days=amount)
    as_of = context["as_of"]
    values["due_date"] = due
    if due < as_of:
        values["status"] = "overdue"
        values["due_note"] = f" ({(as_of - due).days} days overdue, unless already done)"
    else:
        values["status"] = "due"
        values["due_note"] = f" (in {(due - as_of).days} days)"
    return values


COMPUTE: dict[str, Compute] = {
    "printed-as": _printed_as,
    "next-annual-window": _next_annual_window,
    "auth-line-text": _auth_line_text,
    "sort-lists": _sort_lists,
    "other-types": _other_types,
    "covered-provincial": _covered_provincial,
}
