"""Event-triggered obligations: what a holder must do, by when, after an event.

Some special provisions set a time limit counted from an event rather than a
calendar date: a company decision on a merger, split or shareholder change
(clause 十一, 30 days), a change of the local office information (clause 十二,
30 days), a new cross-regional licence covering a provincial one (clause 十三,
30 days), a completed security assessment (30 days), illegal information
handled (clause 九, 10 working days). The mapping records each such deadline
with its ``lic:anchorEvent``, ``lic:amount`` and ``lic:unit``; this module
asks the graph which licences carry a deadline anchored on the event (rule
``event-obligations``) and computes each due date in Python, because working
days need the official holiday calendar (:mod:`kg.workdays`) and not every
SPARQL engine can add days to a date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kg.namespaces import LIC
from kg.queries import ParameterError
from kg.rules import get_rule, run_rows
from kg.workdays import add_working_days

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Event:
    """A kind of event the CLI accepts, the anchor individual it maps to, and what it obliges."""

    key: str
    anchor: str
    title_en: str
    title_zh: str
    clause: str
    action: str
    cross_regional_only: bool = False


EVENTS: dict[str, Event] = {
    e.key: e
    for e in (
        Event("shareholder-change", str(LIC.EventCompanyDecision), "Merger, split or change of shareholders",
              "合并、分立或股东变化", "十一",
              "apply to the issuing authority for approval of the change of the operating entity "
              "(counted from the company's decision; implement only after approval)"),
        Event("office-change", str(LIC.EventInformationChange), "Change of local office information",
              "当地业务经营、客户服务机构信息变化", "十二",
              "report the changed information of the local business or customer-service office to the "
              "issuing authority (or update it in the market-management information system)"),
        Event("cross-regional-licence", str(LIC.EventLicenceGranted),
              "Cross-regional licence granted", "取得跨地区电信业务经营许可证", "十三",
              "cancel or change, at the provincial communications administration, any provincial licence "
              "whose business types and coverage this cross-regional licence includes",
              cross_regional_only=True),
        Event("security-assessment", str(LIC.EventAssessmentCompleted), "Security assessment completed",
              "安全评估完成", "新技术新业务安全评估 items",
              "submit the written security assessment report to the telecom authority"),
        Event("illegal-information", str(LIC.EventIllegalInformationHandled), "Illegal information handled",
              "违法信息处置", "九",
              "report the illegal information found and its handling to the telecom authority"),
    )
}

OBLIGATION_COLUMNS = ("number", "holder", "event", "clause", "applies_to", "deadline", "amount", "unit",
                      "event_date", "due_date", "action", "calendar_note", "line")


def get_event(key: str) -> Event:
    """The event of a CLI key; an unknown key is a parameter error listing the known ones."""
    event = EVENTS.get(key)
    if event is None:
        raise ParameterError(f"unknown event {key!r}", hint=f"use one of: {', '.join(EVENTS)}")
    return event


def due_date(event_date: dt.date, amount: int, unit: str, relation: str | None = None) -> tuple[dt.date, str | None]:
    """Due date of a deadline of ``amount`` days or working days counted from ``event_date``.

    Returns the date and a note when the holiday calendar did not cover the
    working days counted (then only weekends were skipped).
    """
    if unit == str(LIC.WorkingDay) or unit == "working_day":
        if relation == str(LIC.Before):
            raise ParameterError("a deadline in working days before an event is not supported")
        count = add_working_days(event_date, amount)
        return count.due, count.note
    sign = -1 if relation == str(LIC.Before) else 1
    return event_date + dt.timedelta(days=sign * amount), None


def obligations_for_event(store: Any, event: str | Event, event_date: dt.date, number: str | None = None,
                          *, timeout: float | None = None) -> pd.DataFrame:
    """Per licence, what the event obliges the holder to do and by when.

    ``event`` is a key of :data:`EVENTS` (``shareholder-change``,
    ``office-change``, ``cross-regional-licence``, ``security-assessment``,
    ``illegal-information``). Licences that expired before ``event_date`` are
    left out (their clauses no longer bind); licences whose expiry date is
    unreadable are kept. ``number`` restricts the answer to one licence.
    One row per clause deadline, sorted by licence and due date.
    """
    import pandas as pd

    ev = event if isinstance(event, Event) else get_event(event)
    if isinstance(event_date, str):
        event_date = dt.date.fromisoformat(event_date)
    if isinstance(event_date, dt.datetime):
        event_date = event_date.date()
    rule = get_rule("event-obligations")
    rows = run_rows(rule, store, {"anchor": ev.anchor, "event_date": event_date, "number": number},
                    timeout=timeout)
    out: dict[tuple[str, str, str], dict[str, object]] = {}
    for row in rows:
        if ev.cross_regional_only and row.get("scope") != str(LIC.CrossRegional):
            continue
        amount = row.get("amount")
        if not isinstance(amount, int):
            continue
        unit = str(row.get("unit") or "")
        due, note = due_date(event_date, amount, unit, row.get("relation"))
        key = (str(row["licence"]), str(row.get("clause_id")), str(row.get("quote")))
        out.setdefault(key, {
            "number": row.get("number"),
            "holder": row.get("holder"),
            "event": ev.key,
            "clause": row.get("clause_id"),
            "applies_to": row.get("governs"),
            "deadline": row.get("quote"),
            "amount": amount,
            "unit": "working_day" if unit == str(LIC.WorkingDay) else "day",
            "event_date": event_date,
            "due_date": due,
            "action": ev.action,
            "calendar_note": note,
            "line": row.get("line"),
        })
    df = pd.DataFrame(list(out.values()), columns=list(OBLIGATION_COLUMNS))
    if not df.empty:
        df = df.sort_values(["number", "due_date", "line"], kind="stable", na_position="last").reset_index(drop=True)
    return df
