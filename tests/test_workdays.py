"""Working-day counting (kg/workdays.py): weekends, public holidays, adjusted working days, uncovered years."""

from __future__ import annotations

import datetime as dt

import pytest

from kg.workdays import add_calendar_days, add_working_days, is_working_day, year_covered

D = dt.date


def test_normal_week_counts_monday_to_friday():
    # Monday 2025-06-09 + 4 working days = Friday 2025-06-13; the start day itself is not counted
    count = add_working_days(D(2025, 6, 9), 4)
    assert count.due == D(2025, 6, 13)
    assert count.calendar_covered and count.note is None


def test_weekend_is_skipped():
    # Friday 2025-06-13 + 1 working day = Monday 2025-06-16
    assert add_working_days(D(2025, 6, 13), 1).due == D(2025, 6, 16)
    # an event on a Saturday: day 1 is the Monday
    assert add_working_days(D(2025, 6, 14), 1).due == D(2025, 6, 16)
    assert not is_working_day(D(2025, 6, 14))


def test_zero_working_days_is_the_start_day():
    assert add_working_days(D(2025, 6, 14), 0).due == D(2025, 6, 14)


def test_national_day_2025_with_adjusted_working_weekend_days():
    # 2025: 1–8 October off (National Day + Mid-Autumn); Sunday 28 September and Saturday 11 October worked
    assert is_working_day(D(2025, 9, 28))  # Sunday, adjusted working day (调休)
    assert is_working_day(D(2025, 10, 11))  # Saturday, adjusted working day
    assert not any(is_working_day(D(2025, 10, d)) for d in range(1, 9))
    # Friday 26 September + 1 working day lands on the working Sunday
    assert add_working_days(D(2025, 9, 26), 1).due == D(2025, 9, 28)
    # 30 September + 3: 9, 10 and the working Saturday 11 October
    assert add_working_days(D(2025, 9, 30), 3).due == D(2025, 10, 11)
    # the clause-九 deadline (10 working days after handling) across the holiday
    count = add_working_days(D(2025, 9, 30), 10)
    assert count.due == D(2025, 10, 21)
    assert count.calendar_covered
    # weekends-only counting would have said 14 October: the holiday calendar matters
    assert count.due > D(2025, 10, 14)


def test_uncovered_year_falls_back_to_weekends_and_says_so():
    assert not year_covered(2099)
    count = add_working_days(D(2099, 1, 2), 5)  # Friday 2 January 2099
    assert count.due == D(2099, 1, 9)  # Monday to Friday of the next week, no holidays known
    assert not count.calendar_covered
    assert count.uncovered_years == (2099,)
    assert count.note is not None and "2099" in count.note and "Monday to Friday" in count.note


def test_count_that_crosses_into_an_uncovered_year_is_flagged():
    first_uncovered = next(y for y in range(2024, 2100) if not year_covered(y))
    count = add_working_days(D(first_uncovered - 1, 12, 28), 10)
    assert count.due.year == first_uncovered
    assert not count.calendar_covered and count.uncovered_years == (first_uncovered,)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        add_working_days(D(2025, 1, 1), -1)
    with pytest.raises(ValueError):
        add_working_days(D(2025, 1, 1), 10**6)


def test_calendar_days_are_plain_arithmetic():
    assert add_calendar_days(D(2026, 12, 28), -90) == D(2026, 9, 29)
