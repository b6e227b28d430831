"""The pure slot computations of office hours (`incubator.office_slots`): days from the
weekly rule with exceptions, slots as half-open UTC intervals in the programme's zone, a
slot found by its start, and overlap of two patterns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from incubator.office_slots import Pattern, days, overlaps, slot_at, slots

MONDAY = date(2027, 3, 1)  # a Monday


def pattern(**fields) -> Pattern:
    values = {
        "weekday": 0,
        "start_minute": 9 * 60,
        "slot_minutes": 30,
        "slots": 2,
        "first_day": MONDAY,
        "last_day": MONDAY + timedelta(weeks=3),
    }
    values.update(fields)
    return Pattern(**values)


def test_days_follow_the_weekday_within_the_range_and_leave_out_skipped_days():
    p = pattern(skipped=frozenset({MONDAY + timedelta(weeks=1)}))
    assert days(p, MONDAY - timedelta(days=30), MONDAY + timedelta(days=60)) == [
        MONDAY,
        MONDAY + timedelta(weeks=2),
        MONDAY + timedelta(weeks=3),
    ]
    assert days(p, MONDAY + timedelta(days=1), MONDAY + timedelta(days=6)) == []
    wednesday = pattern(weekday=2, first_day=MONDAY)  # the first Wednesday on or after
    assert days(wednesday, MONDAY, MONDAY + timedelta(days=9)) == [
        MONDAY + timedelta(days=2),
        MONDAY + timedelta(days=9),
    ]


def test_slots_are_half_open_utc_intervals_in_the_zone():
    found = slots(pattern(), MONDAY, MONDAY)
    # 09:00 in Ho Chi Minh City (UTC+7) is 02:00 UTC.
    assert [(s.start, s.end) for s in found] == [
        (datetime(2027, 3, 1, 2, 0, tzinfo=UTC), datetime(2027, 3, 1, 2, 30, tzinfo=UTC)),
        (datetime(2027, 3, 1, 2, 30, tzinfo=UTC), datetime(2027, 3, 1, 3, 0, tzinfo=UTC)),
    ]
    assert found[0].key == "2027-03-01T02:00Z"
    seoul = slots(pattern(zone="Asia/Seoul"), MONDAY, MONDAY)
    assert seoul[0].start == datetime(2027, 3, 1, 0, 0, tzinfo=UTC)


def test_a_slot_is_found_by_its_exact_start_only():
    p = pattern(skipped=frozenset({MONDAY + timedelta(weeks=1)}))
    start = datetime(2027, 3, 1, 2, 30, tzinfo=UTC)
    assert slot_at(p, start).start == start  # type: ignore[union-attr]
    assert slot_at(p, start + timedelta(minutes=1)) is None  # not a slot boundary
    assert slot_at(p, start + timedelta(minutes=30)) is None  # after the last slot
    assert slot_at(p, start + timedelta(weeks=1)) is None  # a skipped day
    assert slot_at(p, start + timedelta(weeks=4)) is None  # after the last day
    assert slot_at(p, start - timedelta(weeks=1)) is None  # before the first day


def test_overlap_needs_a_shared_weekday_range_and_stretch_of_the_clock():
    a = pattern()  # Mondays 09:00–10:00
    assert overlaps(a, pattern(start_minute=9 * 60 + 45, slots=1))
    assert not overlaps(a, pattern(start_minute=10 * 60))  # touching is fine
    assert not overlaps(a, pattern(weekday=1))
    later = MONDAY + timedelta(weeks=4)
    assert not overlaps(a, pattern(first_day=later, last_day=later + timedelta(weeks=2)))
    # The same moments written in another zone still overlap.
    assert overlaps(a, pattern(zone="Asia/Seoul", start_minute=11 * 60, slots=1))
    assert not overlaps(a, pattern(zone="Asia/Seoul", start_minute=9 * 60, slots=1))
