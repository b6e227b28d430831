"""Tests of labs.intervals: the interval algebra and local wall-clock resolution."""

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labs.intervals import (
    Interval,
    as_utc,
    clip,
    covers,
    first_overlap,
    intersect,
    local_date_span,
    normalize,
    offset_transitions,
    resolve_local,
    subtract,
    total_duration,
    utc_offset,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
AMS = ZoneInfo("Europe/Amsterdam")
BASE = datetime(2026, 3, 1, tzinfo=UTC)
PROPERTY = settings(deadline=None, max_examples=150)


def minute(n: int) -> datetime:
    """The instant ``n`` minutes after BASE."""
    return BASE + timedelta(minutes=n)


def span(a: int, b: int) -> Interval:
    """Interval from minute ``a`` to minute ``b``."""
    return Interval(minute(a), minute(b))


def minutes_covered(intervals: list[Interval]) -> set[int]:
    """Set model of intervals on the minute grid: the minutes they contain."""
    covered: set[int] = set()
    for piece in intervals:
        first = (piece.start - BASE) // timedelta(minutes=1)
        last = (piece.end - BASE) // timedelta(minutes=1)
        covered.update(range(first, last))
    return covered


def assert_normalized(intervals: list[Interval]) -> None:
    """Sorted, disjoint and not touching."""
    for before, after in pairwise(intervals):
        assert before.end < after.start


intervals_st = st.builds(
    lambda start, length: span(start, start + length),
    st.integers(0, 300),
    st.integers(1, 90),
)
interval_lists = st.lists(intervals_st, max_size=12)


# --- Interval -------------------------------------------------------------------------------


def test_interval_converts_to_utc_and_compares_by_instant() -> None:
    local = Interval(datetime(2026, 1, 5, 9, tzinfo=HCM), datetime(2026, 1, 5, 10, tzinfo=HCM))
    assert local.start == datetime(2026, 1, 5, 2, tzinfo=UTC)
    assert local.start.tzinfo is UTC
    assert local == Interval(
        datetime(2026, 1, 5, 2, tzinfo=UTC), datetime(2026, 1, 5, 3, tzinfo=UTC)
    )
    assert local.duration == timedelta(hours=1)


@pytest.mark.parametrize("length", [0, -1])
def test_interval_rejects_empty_or_reversed(length: int) -> None:
    with pytest.raises(ValueError):
        Interval(minute(10), minute(10 + length))


def test_interval_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        Interval(datetime(2026, 1, 1, 9), datetime(2026, 1, 1, 10, tzinfo=UTC))
    with pytest.raises(ValueError):
        as_utc(datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        as_utc(date(2026, 1, 1))  # type: ignore[arg-type]


def test_interval_is_frozen() -> None:
    with pytest.raises(AttributeError):
        span(0, 1).start = minute(5)  # type: ignore[misc]


def test_adjacent_intervals_do_not_overlap() -> None:
    nine_to_ten, ten_to_eleven = span(540, 600), span(600, 660)
    assert not nine_to_ten.overlaps(ten_to_eleven)
    assert not ten_to_eleven.overlaps(nine_to_ten)
    assert nine_to_ten.intersection(ten_to_eleven) is None
    assert span(540, 601).overlaps(ten_to_eleven)


@PROPERTY
@given(st.integers(0, 500), st.integers(1, 100), st.integers(1, 100))
def test_half_open_adjacency_never_conflicts(start: int, first: int, second: int) -> None:
    left, right = span(start, start + first), span(start + first, start + first + second)
    assert not left.overlaps(right)
    assert normalize([left, right]) == [span(start, start + first + second)]
    assert subtract([left], [right]) == [left]
    assert first_overlap([right], left) is None


@PROPERTY
@given(intervals_st, intervals_st)
def test_overlap_matches_set_model(a: Interval, b: Interval) -> None:
    shared = minutes_covered([a]) & minutes_covered([b])
    assert a.overlaps(b) == bool(shared) == b.overlaps(a)
    common = a.intersection(b)
    assert minutes_covered([common] if common else []) == shared
    assert a.contains(b) == (minutes_covered([b]) <= minutes_covered([a]))


# --- set operations -------------------------------------------------------------------------


@PROPERTY
@given(interval_lists)
def test_normalize_keeps_coverage_and_merges(intervals: list[Interval]) -> None:
    result = normalize(intervals)
    assert_normalized(result)
    assert minutes_covered(result) == minutes_covered(intervals)
    assert normalize(result) == result
    assert total_duration(intervals) == timedelta(minutes=len(minutes_covered(intervals)))


def test_normalize_merges_touching_and_overlapping() -> None:
    assert normalize([span(60, 90), span(0, 30), span(30, 45), span(80, 120)]) == [
        span(0, 45),
        span(60, 120),
    ]
    assert normalize([]) == []


@PROPERTY
@given(interval_lists, interval_lists)
def test_subtract_matches_set_model(base: list[Interval], removed: list[Interval]) -> None:
    result = subtract(base, removed)
    assert_normalized(result)
    assert minutes_covered(result) == minutes_covered(base) - minutes_covered(removed)


@PROPERTY
@given(interval_lists, interval_lists)
def test_intersect_matches_set_model(first: list[Interval], second: list[Interval]) -> None:
    result = intersect(first, second)
    assert_normalized(result)
    assert minutes_covered(result) == minutes_covered(first) & minutes_covered(second)


@PROPERTY
@given(interval_lists, intervals_st)
def test_clip_matches_set_model(intervals: list[Interval], window: Interval) -> None:
    result = clip(intervals, window)
    assert_normalized(result)
    assert all(window.contains(piece) for piece in result)
    assert minutes_covered(result) == minutes_covered(intervals) & minutes_covered([window])


def test_free_time_is_open_minus_closures_blackouts_and_busy() -> None:
    opened = [span(480, 720), span(780, 1020)]
    free = subtract(opened, [span(600, 660), span(700, 800), span(1000, 1100)])
    assert free == [span(480, 600), span(660, 700), span(800, 1000)]


@PROPERTY
@given(interval_lists, intervals_st)
def test_first_overlap_and_covers_match_brute_force(
    intervals: list[Interval], candidate: Interval
) -> None:
    merged = normalize(intervals)
    overlapping = [piece for piece in merged if piece.overlaps(candidate)]
    assert first_overlap(merged, candidate) == (overlapping[0] if overlapping else None)
    expected_cover = minutes_covered([candidate]) <= minutes_covered(intervals)
    assert covers(merged, candidate) == expected_cover


# --- local time -----------------------------------------------------------------------------


def wall(text: str) -> datetime:
    """A naive wall-clock datetime from ISO text."""
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("local", "expected_utc"),
    [
        ("2026-03-29T01:59", "2026-03-29T00:59"),  # just before the jump (CET, +1)
        ("2026-03-29T02:00", "2026-03-29T01:00"),  # skipped: the instant of the jump
        ("2026-03-29T02:30", "2026-03-29T01:00"),  # skipped: the instant of the jump
        ("2026-03-29T03:00", "2026-03-29T01:00"),  # first wall time after the jump (CEST, +2)
        ("2026-10-25T01:59", "2026-10-24T23:59"),
        ("2026-10-25T02:00", "2026-10-25T00:00"),  # ambiguous: first occurrence (CEST)
        ("2026-10-25T02:30", "2026-10-25T00:30"),  # ambiguous: first occurrence (CEST)
        ("2026-10-25T03:00", "2026-10-25T02:00"),  # after the repeated hour (CET)
    ],
)
def test_resolve_local_handles_amsterdam_gap_and_fold(local: str, expected_utc: str) -> None:
    assert resolve_local(wall(local), AMS) == wall(expected_utc).replace(tzinfo=UTC)


def test_resolve_local_in_ho_chi_minh_is_plus_seven() -> None:
    assert resolve_local(wall("2026-02-17T09:00"), HCM) == datetime(2026, 2, 17, 2, tzinfo=UTC)


def test_resolve_local_works_with_fixed_offsets() -> None:
    plus_seven = timezone(timedelta(hours=7))
    assert resolve_local(wall("2026-02-17T09:00"), plus_seven) == datetime(
        2026, 2, 17, 2, tzinfo=UTC
    )


def test_resolve_local_rejects_aware_input() -> None:
    with pytest.raises(ValueError):
        resolve_local(datetime(2026, 1, 1, tzinfo=UTC), HCM)


around_transitions = st.one_of(
    st.datetimes(min_value=wall("2026-03-28T22:00"), max_value=wall("2026-03-29T05:00")),
    st.datetimes(min_value=wall("2026-10-24T22:00"), max_value=wall("2026-10-25T05:00")),
)


@PROPERTY
@given(around_transitions, around_transitions)
def test_resolve_local_is_monotonic(first: datetime, second: datetime) -> None:
    early, late = sorted([first, second])
    assert resolve_local(early, AMS) <= resolve_local(late, AMS)


@PROPERTY
@given(around_transitions)
def test_resolve_local_round_trips_existing_times(local: datetime) -> None:
    instant = resolve_local(local, AMS)
    shown = instant.astimezone(AMS).replace(tzinfo=None)
    assert shown >= local  # the clock shows the wall time, or the jump over it
    assert shown == local or shown.hour == 3 and local.hour == 2  # only the skipped hour moves


def test_offset_transitions_of_amsterdam_2026() -> None:
    year = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    changes = offset_transitions(*year, AMS)
    assert changes == [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]
    assert [utc_offset(change, AMS) for change in changes] == [
        timedelta(hours=2),
        timedelta(hours=1),
    ]
    assert offset_transitions(*year, HCM) == []


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)],
)
def test_local_day_length_under_dst(day: date, hours: int) -> None:
    assert local_date_span(day, day, AMS).duration == timedelta(hours=hours)


def test_local_date_span_covers_tet_days_in_ho_chi_minh() -> None:
    tet = local_date_span(date(2026, 2, 16), date(2026, 2, 20), HCM)
    assert tet.start == datetime(2026, 2, 15, 17, tzinfo=UTC)
    assert tet.duration == timedelta(days=5)
    with pytest.raises(ValueError):
        local_date_span(date(2026, 2, 20), date(2026, 2, 16), HCM)
