"""Working days (工作日) for deadlines such as "在处置后的10个工作日内".

A clause that counts in working days means the days on which government
offices work: Monday to Friday, minus the public holidays the State Council
announces each year, plus the adjusted working days (调休) on which a Saturday
or Sunday is worked to bridge a holiday. Counting weekends only would put a
deadline that spans the National Day week a full week too early.

The holiday calendar comes from the maintained PyPI package
``chinese-calendar``, which ships the State Council's announcements for the
years it knows (2004 up to the latest published year). A year it does not
know yet (the calendar for year N is announced in November or December of
N-1) falls back to weekends only; the result then says so
(``calendar_covered`` is False and ``note`` explains), so that a due date in
an uncovered year is read as an estimate, never as silently exact.

Counting rule (see docs/compliance.md): the day of the event itself is not
counted; day 1 is the first working day after it, and the due date is the
``n``-th working day after the event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import chinese_calendar

#: Guard against nonsense input (a deadline of millions of working days).
MAX_WORKING_DAYS = 10_000


@dataclass(frozen=True)
class WorkingDayCount:
    """The result of counting working days forward from an event."""

    start: dt.date
    days: int
    due: dt.date
    calendar_covered: bool
    uncovered_years: tuple[int, ...] = ()

    @property
    def note(self) -> str | None:
        """A sentence for reports when the holiday calendar did not cover the count."""
        if self.calendar_covered:
            return None
        years = ", ".join(str(y) for y in self.uncovered_years)
        return (f"no official holiday calendar for {years} (chinese-calendar {_version()}): "
                "counted Monday to Friday only, public holidays and adjusted working days ignored")


def _version() -> str:
    return str(getattr(chinese_calendar, "__version__", "?"))


@cache
def year_covered(year: int) -> bool:
    """True when the holiday calendar knows the public holidays and 调休 days of ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_working_day(day: dt.date) -> bool:
    """Whether government offices work on ``day``.

    Covered years use the official calendar (holidays off, 调休 weekends on);
    uncovered years fall back to Monday–Friday. Never raises for a valid date.
    """
    if year_covered(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> WorkingDayCount:
    """The ``days``-th working day after ``start`` (``start`` itself not counted).

    ``days == 0`` gives ``start``. The result records whether every year the
    count passed through was covered by the official calendar.
    """
    if days < 0:
        raise ValueError("a number of working days cannot be negative")
    if days > MAX_WORKING_DAYS:
        raise ValueError(f"refusing to count more than {MAX_WORKING_DAYS} working days")
    current = start
    counted = 0
    uncovered: set[int] = set()
    while counted < days:
        current += dt.timedelta(days=1)
        if not year_covered(current.year):
            uncovered.add(current.year)
        if is_working_day(current):
            counted += 1
    return WorkingDayCount(start, days, current, not uncovered, tuple(sorted(uncovered)))


def add_calendar_days(start: dt.date, days: int) -> dt.date:
    """``start`` plus ``days`` calendar days (negative counts back), for symmetry with working days.

    No roll-forward is applied when the last day is a holiday: the earlier
    date is the safe side for a compliance deadline.
    """
    return start + dt.timedelta(days=days)
