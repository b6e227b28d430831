"""Tests of labs.recurrence: weekly course sessions and the conflict preview."""

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labs.availability import ClosedDays
from labs.intervals import Interval, resolve_local
from labs.recurrence import MAX_OCCURRENCES, split_conflicts, weekly_occurrences

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
AMS = ZoneInfo("Europe/Amsterdam")
PROPERTY = settings(deadline=None, max_examples=80)
TUESDAY, THURSDAY = 1, 3


def at(text: str, tz: tzinfo = HCM) -> datetime:
    """An aware datetime from local ISO wall-clock text."""
    return resolve_local(datetime.fromisoformat(text), tz)


def local_texts(sessions: list[Interval], tz: tzinfo = HCM) -> list[str]:
    """Sessions as 'YYYY-MM-DD HH:MM-HH:MM' in local time."""
    return [
        f"{s.start.astimezone(tz):%Y-%m-%d %H:%M}-{s.end.astimezone(tz):%H:%M}" for s in sessions
    ]


def test_count_of_sessions_on_two_weekdays() -> None:
    sessions = weekly_occurrences(
        date(2026, 6, 1), time(14), timedelta(hours=2), [TUESDAY, THURSDAY], HCM, count=5
    )
    assert local_texts(sessions) == [
        "2026-06-02 14:00-16:00",
        "2026-06-04 14:00-16:00",
        "2026-06-09 14:00-16:00",
        "2026-06-11 14:00-16:00",
        "2026-06-16 14:00-16:00",
    ]
    assert sessions[0] == Interval(
        datetime(2026, 6, 2, 7, tzinfo=UTC), datetime(2026, 6, 2, 9, tzinfo=UTC)
    )


def test_until_is_inclusive() -> None:
    sessions = weekly_occurrences(
        date(2026, 6, 2), time(9), timedelta(hours=1), [TUESDAY], HCM, until=date(2026, 6, 16)
    )
    assert len(sessions) == 3
    assert sessions[-1].start == at("2026-06-16T09:00")
    none = weekly_occurrences(
        date(2026, 6, 3), time(9), timedelta(hours=1), [TUESDAY], HCM, until=date(2026, 6, 8)
    )
    assert none == []


def test_sessions_keep_wall_clock_time_across_amsterdam_dst() -> None:
    sessions = weekly_occurrences(date(2026, 3, 16), time(9), timedelta(hours=2), [0], AMS, count=4)
    assert local_texts(sessions, AMS) == [
        "2026-03-16 09:00-11:00",
        "2026-03-23 09:00-11:00",
        "2026-03-30 09:00-11:00",
        "2026-04-06 09:00-11:00",
    ]
    assert [s.start.hour for s in sessions] == [8, 8, 7, 7]  # UTC hour shifts with DST
    autumn = weekly_occurrences(date(2026, 10, 19), time(9), timedelta(hours=2), [0], AMS, count=2)
    assert [s.start.hour for s in autumn] == [7, 8]


def test_sessions_inside_a_dst_gap() -> None:
    sundays_at_two = weekly_occurrences(
        date(2026, 3, 22), time(2, 15), timedelta(minutes=30), [6], AMS, count=2
    )
    assert local_texts(sundays_at_two, AMS) == ["2026-03-22 02:15-02:45", "2026-04-05 02:15-02:45"]
    shortened = weekly_occurrences(
        date(2026, 3, 29), time(1, 30), timedelta(hours=1, minutes=30), [6], AMS, count=1
    )
    assert shortened[0].duration == timedelta(minutes=30)  # 01:30 CET to 03:00 CEST
    assert local_texts(shortened, AMS) == ["2026-03-29 01:30-03:00"]


def test_sessions_keep_wall_clock_end_on_fall_back_night() -> None:
    sessions = weekly_occurrences(
        date(2026, 10, 25), time(1, 30), timedelta(hours=2), [6], AMS, count=1
    )
    assert sessions[0].duration == timedelta(hours=3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"until": None, "count": None},
        {"until": date(2026, 7, 1), "count": 3},
        {"count": 0},
        {"count": 3, "weekdays": []},
        {"count": 3, "weekdays": [7]},
        {"count": 3, "duration": timedelta(0)},
        {"count": 3, "start_time": time(9, tzinfo=UTC)},
        {"count": MAX_OCCURRENCES + 1},
        {"until": date(2040, 1, 1), "weekdays": range(7)},
    ],
)
def test_invalid_patterns_are_rejected(kwargs: dict) -> None:
    arguments = {
        "first_date": date(2026, 6, 1),
        "start_time": time(9),
        "duration": timedelta(hours=1),
        "weekdays": [TUESDAY],
        "tz": HCM,
        "until": None,
        "count": None,
    } | kwargs
    with pytest.raises(ValueError):
        weekly_occurrences(**arguments)


@PROPERTY
@given(
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    st.sets(st.integers(0, 6), min_size=1),
    st.integers(1, 40),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.integers(1, 300),
    st.sampled_from([HCM, AMS]),
)
def test_sessions_fall_on_requested_local_days_and_times(
    first: date, weekdays: set[int], count: int, start: time, minutes: int, tz: tzinfo
) -> None:
    sessions = weekly_occurrences(
        first, start, timedelta(minutes=minutes), weekdays, tz, count=count
    )
    assert sorted(sessions) == sessions
    assert all(a.start < b.start for a, b in pairwise(sessions))
    for session in sessions:
        local = session.start.astimezone(tz)
        assert local.weekday() in weekdays
        assert local.date() >= first
        if tz is HCM:
            assert local.time() == start
            assert session.duration == timedelta(minutes=minutes)
    assert len(sessions) <= count
    if tz is HCM:
        assert len(sessions) == count


def test_split_conflicts_skips_tet_and_booked_dates() -> None:
    sessions = weekly_occurrences(
        date(2026, 2, 2), time(9), timedelta(hours=2), [TUESDAY], HCM, count=5
    )
    tet = ClosedDays(date(2026, 2, 16), date(2026, 2, 20)).interval(HCM)
    other_course = Interval(at("2026-02-24T10:00"), at("2026-02-24T12:00"))
    adjacent = Interval(at("2026-02-03T11:00"), at("2026-02-03T12:00"))
    ok, conflicting = split_conflicts(sessions, [tet, other_course, adjacent])
    assert local_texts(ok) == [
        "2026-02-03 09:00-11:00",
        "2026-02-10 09:00-11:00",
        "2026-03-03 09:00-11:00",
    ]
    assert local_texts(conflicting) == ["2026-02-17 09:00-11:00", "2026-02-24 09:00-11:00"]


minute_intervals = st.builds(
    lambda start, length: Interval(
        datetime(2026, 6, 1, tzinfo=UTC) + timedelta(minutes=start),
        datetime(2026, 6, 1, tzinfo=UTC) + timedelta(minutes=start + length),
    ),
    st.integers(0, 500),
    st.integers(1, 120),
)


@PROPERTY
@given(st.lists(minute_intervals, max_size=15), st.lists(minute_intervals, max_size=15))
def test_split_conflicts_matches_brute_force(
    candidates: list[Interval], blocked: list[Interval]
) -> None:
    ok, conflicting = split_conflicts(candidates, blocked)
    assert ok == [c for c in candidates if not any(c.overlaps(b) for b in blocked)]
    assert conflicting == [c for c in candidates if any(c.overlaps(b) for b in blocked)]
