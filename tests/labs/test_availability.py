"""Tests of labs.availability: opening hours, free/busy, slots, booking rules, week grid."""

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labs.availability import (
    BookingFacts,
    BookingRules,
    CellState,
    ClosedDays,
    RuleViolation,
    ViolationCode,
    availability,
    can_cancel,
    cancellation_deadline,
    check_booking,
    closure_intervals,
    is_aligned,
    local_week,
    may_reschedule,
    opening_intervals,
    slot_starts,
    week_grid,
)
from labs.intervals import Interval, normalize, resolve_local, subtract, total_duration

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
AMS = ZoneInfo("Europe/Amsterdam")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # DST shifts by 30 minutes
PROPERTY = settings(deadline=None, max_examples=60)
MINUTE = timedelta(minutes=1)
HALF_HOUR = timedelta(minutes=30)

OFFICE_HOURS = {day: [(time(8), time(12)), (time(13), time(17))] for day in range(5)}
ALL_DAY = {day: [(time(0), time(0))] for day in range(7)}


def decide(
    rules: BookingRules,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: tzinfo,
    opened: list[Interval],
    blackouts: list[Interval],
    used: int,
    certified: bool = False,
) -> list[RuleViolation]:
    """`check_booking` on facts built from plain arguments."""
    return check_booking(
        BookingFacts(rules, start, end, now, tz, tuple(opened), tuple(blackouts), used, certified)
    )


def at(text: str, tz: tzinfo = HCM) -> datetime:
    """An aware datetime from local ISO wall-clock text (first occurrence if ambiguous)."""
    return resolve_local(datetime.fromisoformat(text), tz)


def local_span(start: str, end: str, tz: tzinfo = HCM) -> Interval:
    """An interval between two local wall-clock times."""
    return Interval(at(start, tz), at(end, tz))


def week_window(monday: str, tz: tzinfo = HCM) -> tuple[datetime, datetime]:
    """Local Monday 00:00 to the next Monday 00:00."""
    start = date.fromisoformat(monday)
    return at(f"{monday}T00:00", tz), at(f"{start + timedelta(days=7)}T00:00", tz)


def as_local(intervals: list[Interval], tz: tzinfo = HCM) -> list[tuple[str, str]]:
    """Intervals as local ISO text pairs, for readable assertions."""
    return [
        (piece.start.astimezone(tz).isoformat(), piece.end.astimezone(tz).isoformat())
        for piece in intervals
    ]


# --- opening hours -------------------------------------------------------------------------


def test_office_week_in_ho_chi_minh() -> None:
    opened = opening_intervals(OFFICE_HOURS, [], HCM, *week_window("2026-06-01"))
    assert len(opened) == 10
    assert opened[0] == local_span("2026-06-01T08:00", "2026-06-01T12:00")
    assert opened[0].start == datetime(2026, 6, 1, 1, tzinfo=UTC)
    assert opened[-1] == local_span("2026-06-05T13:00", "2026-06-05T17:00")
    assert total_duration(opened) == timedelta(hours=40)


def test_touching_ranges_merge_and_midnight_closes_the_day() -> None:
    hours = {0: [(time(8), time(12)), (time(12), time(17))], 1: [(time(18), time(0))]}
    opened = opening_intervals(hours, [], HCM, *week_window("2026-06-01"))
    assert opened == [
        local_span("2026-06-01T08:00", "2026-06-01T17:00"),
        local_span("2026-06-02T18:00", "2026-06-03T00:00"),
    ]


def test_opening_hours_are_clipped_to_the_window() -> None:
    window = (at("2026-06-01T10:00"), at("2026-06-02T09:00"))
    opened = opening_intervals(OFFICE_HOURS, [], HCM, *window)
    assert opened == [
        local_span("2026-06-01T10:00", "2026-06-01T12:00"),
        local_span("2026-06-01T13:00", "2026-06-01T17:00"),
        local_span("2026-06-02T08:00", "2026-06-02T09:00"),
    ]


@pytest.mark.parametrize(
    "hours",
    [
        {0: [(time(12), time(8))]},
        {0: [(time(9), time(9))]},
        {7: [(time(8), time(9))]},
        {0: [(time(8, tzinfo=UTC), time(9))]},
    ],
)
def test_invalid_opening_hours_are_rejected(hours: dict) -> None:
    with pytest.raises(ValueError):
        opening_intervals(hours, [], HCM, *week_window("2026-06-01"))


def test_tet_closure_removes_whole_local_days() -> None:
    # Tết 2026 (Lunar New Year) is Tuesday 17 February; the lab closes Monday to Friday.
    tet = ClosedDays(date(2026, 2, 16), date(2026, 2, 20))
    hours = {day: [(time(8), time(17))] for day in range(6)}  # Monday to Saturday
    opened = opening_intervals(hours, [tet], HCM, *week_window("2026-02-09"))
    opened += opening_intervals(hours, [tet], HCM, *week_window("2026-02-16"))
    open_dates = sorted({piece.start.astimezone(HCM).date() for piece in opened})
    assert date(2026, 2, 14) in open_dates  # Saturday before Tết
    assert not {date(2026, 2, d) for d in range(16, 21)} & set(open_dates)
    assert date(2026, 2, 21) in open_dates  # the lab reopens on Saturday
    assert opened[-1] == local_span("2026-02-21T08:00", "2026-02-21T17:00")


def test_explicit_interval_closure_and_closure_intervals() -> None:
    afternoon = local_span("2026-06-03T13:00", "2026-06-03T15:00")
    opened = opening_intervals(OFFICE_HOURS, [afternoon], HCM, *week_window("2026-06-01"))
    wednesday = [piece for piece in opened if piece.start.astimezone(HCM).day == 3]
    assert wednesday == [
        local_span("2026-06-03T08:00", "2026-06-03T12:00"),
        local_span("2026-06-03T15:00", "2026-06-03T17:00"),
    ]
    mixed = closure_intervals([ClosedDays(date(2026, 6, 3), date(2026, 6, 3)), afternoon], HCM)
    assert mixed == [local_span("2026-06-03T00:00", "2026-06-04T00:00")]
    with pytest.raises(ValueError):
        ClosedDays(date(2026, 6, 3), date(2026, 6, 2))


def test_amsterdam_spring_forward_week_keeps_wall_clock_hours() -> None:
    hours = {day: [(time(8), time(17))] for day in range(7)}
    opened = opening_intervals(hours, [], AMS, *week_window("2026-03-23", AMS))
    assert [piece.start.astimezone(AMS).time() for piece in opened] == [time(8)] * 7
    assert [piece.end.astimezone(AMS).time() for piece in opened] == [time(17)] * 7
    assert opened[5].start == datetime(2026, 3, 28, 7, tzinfo=UTC)  # Saturday, CET
    assert opened[6].start == datetime(2026, 3, 29, 6, tzinfo=UTC)  # Sunday, CEST


def test_amsterdam_dst_days_all_day_and_night_ranges() -> None:
    sunday_spring = {6: [(time(0), time(0))]}
    spring = opening_intervals(sunday_spring, [], AMS, *week_window("2026-03-23", AMS))
    assert [piece.duration for piece in spring] == [timedelta(hours=23)]
    autumn = opening_intervals(sunday_spring, [], AMS, *week_window("2026-10-19", AMS))
    assert [piece.duration for piece in autumn] == [timedelta(hours=25)]

    night = {6: [(time(2), time(4))]}
    # Spring: 02:00-03:00 does not exist, the lab opens at the jump (03:00 CEST).
    spring_night = opening_intervals(night, [], AMS, *week_window("2026-03-23", AMS))
    assert as_local(spring_night, AMS) == [
        ("2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00")
    ]
    # Autumn: 02:00 means its first occurrence, so the range lasts three real hours.
    autumn_night = opening_intervals(night, [], AMS, *week_window("2026-10-19", AMS))
    assert [piece.duration for piece in autumn_night] == [timedelta(hours=3)]

    swallowed = {6: [(time(2, 15), time(2, 45))]}
    assert opening_intervals(swallowed, [], AMS, *week_window("2026-03-23", AMS)) == []


weekly_hours_st = st.dictionaries(
    st.integers(0, 6),
    st.lists(
        st.tuples(st.integers(0, 94), st.integers(1, 96)).map(
            lambda pair: (pair[0], min(96, pair[0] + pair[1]))
        ),
        max_size=3,
    ).map(
        lambda ranges: [
            (time(a // 4, a % 4 * 15), time(0) if b == 96 else time(b // 4, b % 4 * 15))
            for a, b in ranges
        ]
    ),
    max_size=7,
)
zones = st.sampled_from([HCM, AMS, ZoneInfo("UTC"), ZoneInfo("America/New_York")])
mondays = st.sampled_from(["2026-03-23", "2026-10-19", "2026-06-01", "2026-03-02", "2026-10-26"])


def is_ambiguous(moment: datetime, tz: tzinfo) -> bool:
    """True if the local wall time of ``moment`` occurs twice (clocks fell back)."""
    local = moment.astimezone(tz).replace(tzinfo=None)
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return first != second


@PROPERTY
@given(weekly_hours_st, zones, mondays)
def test_open_instants_match_wall_clock_ranges(hours: dict, tz: tzinfo, monday: str) -> None:
    window = week_window(monday, tz)
    opened = opening_intervals(hours, [], tz, *window)
    assert normalize(opened) == opened
    probe = window[0]
    while probe < window[1]:
        if not is_ambiguous(probe, tz):
            local = probe.astimezone(tz)
            ranges = hours.get(local.weekday(), [])
            expected = any(
                opens <= local.time() and (closes == time(0) or local.time() < closes)
                for opens, closes in ranges
            )
            actual = any(piece.start <= probe < piece.end for piece in opened)
            assert actual == expected, probe
        probe += timedelta(minutes=15)


# --- availability --------------------------------------------------------------------------

grid_minutes = st.integers(0, 24 * 60 * 3)
day_intervals = st.lists(
    st.builds(
        lambda start, length: Interval(
            at("2026-06-01T00:00") + timedelta(minutes=start),
            at("2026-06-01T00:00") + timedelta(minutes=start + length),
        ),
        grid_minutes,
        st.integers(1, 600),
    ),
    max_size=10,
)


@PROPERTY
@given(day_intervals, day_intervals, day_intervals, grid_minutes, st.integers(1, 3000))
def test_free_busy_closed_partition_the_window(
    opened: list[Interval],
    blackouts: list[Interval],
    busy: list[Interval],
    window_start: int,
    window_length: int,
) -> None:
    origin = at("2026-06-01T00:00")
    window = Interval(
        origin + timedelta(minutes=window_start),
        origin + timedelta(minutes=window_start + window_length),
    )
    free, taken = availability(opened, blackouts, busy, window)
    closed = subtract([window], free + taken)
    parts = [free, taken, closed]
    assert sum((total_duration(part) for part in parts), timedelta()) == window.duration
    assert normalize(free + taken + closed) == [window]
    for part in parts:
        assert normalize(part) == part
    assert not subtract(free, opened) and subtract(free, blackouts) == free
    assert taken == normalize(
        piece.intersection(window) for piece in busy if piece.overlaps(window)
    )


def test_availability_example() -> None:
    window = local_span("2026-06-01T00:00", "2026-06-02T00:00")
    opened = [local_span("2026-06-01T08:00", "2026-06-01T17:00")]
    blackout = [local_span("2026-06-01T12:00", "2026-06-01T13:00")]
    busy = [
        local_span("2026-06-01T09:00", "2026-06-01T10:00"),
        local_span("2026-06-01T10:00", "2026-06-01T11:00"),
        local_span("2026-06-01T18:00", "2026-06-01T19:00"),
    ]
    free, taken = availability(opened, blackout, busy, window)
    assert free == [
        local_span("2026-06-01T08:00", "2026-06-01T09:00"),
        local_span("2026-06-01T11:00", "2026-06-01T12:00"),
        local_span("2026-06-01T13:00", "2026-06-01T17:00"),
    ]
    assert taken == [
        local_span("2026-06-01T09:00", "2026-06-01T11:00"),
        local_span("2026-06-01T18:00", "2026-06-01T19:00"),
    ]


# --- slots ---------------------------------------------------------------------------------


def test_slot_starts_in_ho_chi_minh() -> None:
    free = [local_span("2026-06-01T08:10", "2026-06-01T10:00")]
    starts = slot_starts(free, HALF_HOUR, timedelta(hours=1), HCM)
    assert [start.astimezone(HCM).strftime("%H:%M") for start in starts] == ["08:30", "09:00"]
    assert all(start.tzinfo is UTC for start in starts)
    assert slot_starts(free, HALF_HOUR, timedelta(hours=2), HCM) == []


def test_slot_starts_across_amsterdam_fall_back() -> None:
    free = [local_span("2026-10-25T01:00", "2026-10-25T04:00", AMS)]  # four real hours
    starts = slot_starts(free, timedelta(hours=1), timedelta(hours=1), AMS)
    shown = [start.astimezone(AMS).isoformat() for start in starts]
    assert shown == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",  # the repeated hour is a distinct instant
        "2026-10-25T03:00:00+01:00",
    ]


def test_slot_starts_realign_after_half_hour_shift() -> None:
    # Lord Howe falls back from +11:00 to +10:30 at 02:00 local on 5 April 2026.
    transition = datetime(2026, 4, 4, 15, tzinfo=UTC)
    free = [Interval(transition - timedelta(hours=2), transition + timedelta(hours=2))]
    starts = slot_starts(free, timedelta(hours=1), timedelta(hours=1), LORD_HOWE)
    assert [start.astimezone(LORD_HOWE).strftime("%H:%M%z") for start in starts] == [
        "00:00+1100",
        "01:00+1100",
        "02:00+1030",
    ]
    assert all(is_aligned(start, timedelta(hours=1), LORD_HOWE) for start in starts)


@pytest.mark.parametrize("step", [timedelta(0), timedelta(minutes=-30), timedelta(minutes=7)])
def test_step_must_divide_a_day(step: timedelta) -> None:
    with pytest.raises(ValueError):
        slot_starts([], step, HALF_HOUR, HCM)
    with pytest.raises(ValueError):
        is_aligned(at("2026-06-01T08:00"), step, HCM)


def test_min_length_must_be_positive() -> None:
    with pytest.raises(ValueError):
        slot_starts([], HALF_HOUR, timedelta(0), HCM)


dst_free = st.lists(
    st.builds(
        lambda start, length: Interval(
            datetime(2026, 10, 24, 22, tzinfo=UTC) + timedelta(minutes=start),
            datetime(2026, 10, 24, 22, tzinfo=UTC) + timedelta(minutes=start + length),
        ),
        st.integers(0, 360),
        st.integers(1, 240),
    ),
    max_size=4,
)


@PROPERTY
@given(
    dst_free,
    st.sampled_from([15, 30, 45, 60, 90]),
    st.integers(1, 120),
    st.sampled_from([AMS, LORD_HOWE, HCM]),
    st.sampled_from(
        [timedelta(0), datetime(2026, 4, 4, 13, tzinfo=UTC) - datetime(2026, 10, 25, tzinfo=UTC)]
    ),
)
def test_slot_starts_match_brute_force(
    free: list[Interval], step_minutes: int, min_minutes: int, tz: tzinfo, shift: timedelta
) -> None:
    free = [Interval(piece.start + shift, piece.end + shift) for piece in free]
    step, min_length = timedelta(minutes=step_minutes), timedelta(minutes=min_minutes)
    merged = normalize(free)
    expected = []
    if merged:
        probe, stop = merged[0].start, merged[-1].end
        while probe < stop:
            fits = any(p.start <= probe and probe + min_length <= p.end for p in merged)
            if fits and is_aligned(probe, step, tz):
                expected.append(probe)
            probe += MINUTE
    assert slot_starts(free, step, min_length, tz) == expected


# --- booking rules -------------------------------------------------------------------------

NOW = at("2026-06-01T08:00")  # Monday
TUESDAY = "2026-06-02"
OPEN_DAYS = opening_intervals(ALL_DAY, [], HCM, at("2026-05-25T00:00"), at("2026-08-01T00:00"))
PERMISSIVE = BookingRules(
    slot_step_minutes=1, min_minutes=1, max_minutes=24 * 60 * 10, notice_minutes=0, horizon_days=60
)


def codes(
    rules: BookingRules,
    start: datetime,
    end: datetime,
    *,
    now: datetime = NOW,
    tz: tzinfo = HCM,
    opened: list[Interval] | None = None,
    blackouts: tuple[Interval, ...] = (),
    used: int = 0,
    certified: bool = False,
) -> list[str]:
    """The violation codes of a booking (open all day unless told otherwise)."""
    opened = OPEN_DAYS if opened is None else opened
    found = decide(rules, start, end, now, tz, opened, blackouts, used, certified)
    return [violation.code for violation in found]


def violation(
    rules: BookingRules, start: datetime, end: datetime, **kwargs: object
) -> RuleViolation:
    """The single violation of a booking."""
    opened = kwargs.pop("opened", OPEN_DAYS)
    found = decide(
        rules,
        start,
        end,
        kwargs.pop("now", NOW),
        HCM,
        opened,
        kwargs.pop("blackouts", ()),
        kwargs.pop("used", 0),
    )
    assert len(found) == 1, found
    return found[0]


def test_a_valid_booking_has_no_violations() -> None:
    rules = BookingRules()
    assert codes(rules, at(f"{TUESDAY}T09:00"), at(f"{TUESDAY}T11:00")) == []


def test_rules_reject_inconsistent_settings() -> None:
    with pytest.raises(ValueError):
        BookingRules(slot_step_minutes=7)
    with pytest.raises(ValueError):
        BookingRules(min_minutes=60, max_minutes=30)
    with pytest.raises(ValueError):
        BookingRules(min_minutes=0)
    with pytest.raises(ValueError):
        BookingRules(notice_minutes=-1)
    with pytest.raises(ValueError):
        BookingRules(weekly_quota_minutes=-1)


def test_violation_codes_are_stable_strings() -> None:
    assert [code.value for code in ViolationCode] == [
        "in_past",
        "too_short",
        "too_long",
        "not_aligned",
        "notice",
        "horizon",
        "outside_opening_hours",
        "blackout",
        "quota",
        "training_required",
    ]
    assert ViolationCode.QUOTA == "quota"


def test_in_past_boundary() -> None:
    start = at(f"{TUESDAY}T09:00")
    end = start + timedelta(hours=1)
    assert codes(PERMISSIVE, start, end, now=start) == []
    late = start + timedelta(microseconds=1)
    assert violation(PERMISSIVE, start, end, now=late) == RuleViolation(
        ViolationCode.IN_PAST, {"now": late}
    )


def test_notice_boundary_and_in_past_supersedes_it() -> None:
    rules = BookingRules(slot_step_minutes=1, min_minutes=1, notice_minutes=60)
    start = NOW + timedelta(minutes=60)
    assert codes(rules, start, start + timedelta(hours=1)) == []
    found = violation(rules, start - MINUTE, start + timedelta(hours=1))
    assert found.code == ViolationCode.NOTICE
    assert found.message_params == {"notice_minutes": 60, "earliest_start": start}
    assert codes(rules, NOW - MINUTE, NOW + timedelta(hours=1)) == ["in_past"]


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(29, ["too_short"]), (30, []), (240, []), (241, ["too_long"])],
)
def test_length_boundaries(minutes: int, expected: list[str]) -> None:
    rules = BookingRules(slot_step_minutes=1, min_minutes=30, max_minutes=240, notice_minutes=0)
    start = at(f"{TUESDAY}T09:00")
    assert codes(rules, start, start + timedelta(minutes=minutes)) == expected


def test_length_params() -> None:
    rules = BookingRules(slot_step_minutes=1, min_minutes=30, max_minutes=240)
    start = at(f"{TUESDAY}T09:00")
    short = violation(rules, start, start + timedelta(minutes=29))
    assert short.message_params == {"min_minutes": 30, "minutes": 29}
    long = violation(rules, start, start + timedelta(minutes=241))
    assert long.message_params == {"max_minutes": 240, "minutes": 241}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("09:00", "10:00", []),
        ("09:30", "10:30", []),
        ("09:01", "10:00", ["not_aligned"]),
        ("09:00", "10:01", ["not_aligned"]),
        ("09:15", "10:15", ["not_aligned"]),
    ],
)
def test_alignment_to_local_step(start: str, end: str, expected: list[str]) -> None:
    rules = BookingRules(slot_step_minutes=30, min_minutes=1, notice_minutes=0)
    found = codes(rules, at(f"{TUESDAY}T{start}"), at(f"{TUESDAY}T{end}"))
    assert found == expected
    if expected:
        params = violation(rules, at(f"{TUESDAY}T{start}"), at(f"{TUESDAY}T{end}")).message_params
        assert params == {"step_minutes": 30}


def test_horizon_boundary_uses_local_dates() -> None:
    rules = BookingRules(slot_step_minutes=30, min_minutes=30, notice_minutes=0, horizon_days=14)
    now = at("2026-06-01T00:30")  # still 31 May in UTC
    last_ok = at("2026-06-15T23:30")
    assert codes(rules, last_ok, last_ok + HALF_HOUR, now=now) == []
    too_far = at("2026-06-16T00:00")
    found = violation(rules, too_far, too_far + HALF_HOUR, now=now)
    assert found == RuleViolation(
        ViolationCode.HORIZON, {"horizon_days": 14, "latest_date": date(2026, 6, 15)}
    )


def test_opening_hours_boundaries_and_merged_ranges() -> None:
    rules = BookingRules(slot_step_minutes=30, min_minutes=30, notice_minutes=0)
    week = week_window("2026-06-01")
    split = opening_intervals(OFFICE_HOURS, [], HCM, *week)
    touching = opening_intervals({1: [(time(8), time(12)), (time(12), time(17))]}, [], HCM, *week)

    def check(start: str, end: str, opened: list[Interval]) -> list[str]:
        return codes(rules, at(f"{TUESDAY}T{start}"), at(f"{TUESDAY}T{end}"), opened=opened)

    assert check("08:00", "12:00", split) == []
    assert check("16:00", "17:00", split) == []
    assert check("16:30", "17:30", split) == ["outside_opening_hours"]
    assert check("07:30", "08:30", split) == ["outside_opening_hours"]
    assert check("11:00", "13:00", split) == ["outside_opening_hours"]
    assert check("11:00", "13:00", touching) == []


def test_tet_closure_makes_booking_outside_opening_hours() -> None:
    rules = BookingRules(notice_minutes=0, horizon_days=30)
    tet = ClosedDays(date(2026, 2, 16), date(2026, 2, 20))
    opened = opening_intervals(OFFICE_HOURS, [tet], HCM, *week_window("2026-02-16"))
    now = at("2026-02-10T08:00")
    start = at("2026-02-17T09:00")
    found = decide(rules, start, start + timedelta(hours=1), now, HCM, opened, [], 0)
    assert found == [RuleViolation(ViolationCode.OUTSIDE_OPENING_HOURS, {})]


def test_blackout_boundary_and_params() -> None:
    blackout = local_span(f"{TUESDAY}T12:00", f"{TUESDAY}T13:00")
    before = at(f"{TUESDAY}T11:00")
    assert codes(PERMISSIVE, before, blackout.start, blackouts=(blackout,)) == []
    assert codes(PERMISSIVE, blackout.end, blackout.end + MINUTE, blackouts=(blackout,)) == []
    found = violation(PERMISSIVE, before, blackout.start + MINUTE, blackouts=(blackout,))
    assert found == RuleViolation(
        ViolationCode.BLACKOUT, {"blackout_start": blackout.start, "blackout_end": blackout.end}
    )


def test_quota_boundary_and_params() -> None:
    rules = BookingRules(notice_minutes=0, weekly_quota_minutes=600)
    start = at(f"{TUESDAY}T09:00")
    end = start + timedelta(hours=2)
    assert codes(rules, start, end, used=480) == []
    found = violation(rules, start, end, used=481)
    assert found == RuleViolation(
        ViolationCode.QUOTA,
        {
            "quota_minutes": 600,
            "used_minutes": 481,
            "requested_minutes": 120,
            "remaining_minutes": 119,
        },
    )
    assert violation(rules, start, end, used=700).message_params["remaining_minutes"] == 0
    unlimited = BookingRules(notice_minutes=0)
    assert codes(unlimited, start, end, used=10**6) == []


def test_all_violations_in_stable_order() -> None:
    rules = BookingRules(
        slot_step_minutes=30, min_minutes=60, horizon_days=1, weekly_quota_minutes=0
    )
    start = at("2026-05-31T03:10")
    blackout = local_span("2026-05-31T03:00", "2026-05-31T04:00")
    found = codes(rules, start, start + timedelta(minutes=20), opened=[], blackouts=(blackout,))
    assert found == [
        "in_past",
        "too_short",
        "not_aligned",
        "outside_opening_hours",
        "blackout",
        "quota",
    ]
    far = at("2026-06-20T03:10")
    found = codes(rules, far, far + timedelta(hours=5), opened=[], now=NOW)
    assert found == ["too_long", "not_aligned", "horizon", "outside_opening_hours", "quota"]


def test_training_is_decided_first_and_only_when_the_machine_needs_it() -> None:
    start = at(f"{TUESDAY}T09:00")
    needs = BookingRules(notice_minutes=0, requires_training=True)
    assert codes(needs, start, start + HALF_HOUR, certified=True) == []
    assert codes(needs, start, start + HALF_HOUR) == ["training_required"]
    found = codes(needs, start, start + timedelta(minutes=20))
    assert found == ["training_required", "too_short", "not_aligned"]
    assert codes(BookingRules(notice_minutes=0), start, start + HALF_HOUR) == []


def test_check_booking_rejects_bad_input() -> None:
    start = at(f"{TUESDAY}T09:00")
    with pytest.raises(ValueError):
        codes(PERMISSIVE, start, start)
    with pytest.raises(ValueError):
        codes(PERMISSIVE, start, start + HALF_HOUR, now=datetime(2026, 6, 1, 8))


def test_rules_across_amsterdam_fall_back() -> None:
    rules = BookingRules(slot_step_minutes=30, min_minutes=30, max_minutes=120, notice_minutes=60)
    opened = opening_intervals(ALL_DAY, [], AMS, *week_window("2026-10-19", AMS))
    now = at("2026-10-25T01:30", AMS)  # CEST
    second_two_thirty = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, 2 h later
    found = decide(rules, second_two_thirty, second_two_thirty + HALF_HOUR, now, AMS, opened, [], 0)
    assert found == []
    # 01:00 to 03:00 on the wall clock is three real hours that day: too long.
    start, end = at("2026-10-25T01:00", AMS), at("2026-10-25T03:00", AMS)
    found = decide(rules, start, end, now - timedelta(days=1), AMS, opened, [], 0)
    assert [v.code for v in found] == ["too_long"]
    assert found[0].message_params == {"max_minutes": 120, "minutes": 180}


def test_rules_across_amsterdam_spring_forward() -> None:
    rules = BookingRules(slot_step_minutes=30, min_minutes=60, notice_minutes=0)
    opened = opening_intervals(ALL_DAY, [], AMS, *week_window("2026-03-23", AMS))
    now = at("2026-03-28T12:00", AMS)
    start, end = at("2026-03-29T01:30", AMS), at("2026-03-29T03:00", AMS)  # 30 real minutes
    found = decide(rules, start, end, now, AMS, opened, [], 0)
    assert [v.code for v in found] == ["too_short"]
    start, end = at("2026-03-29T03:00", AMS), at("2026-03-29T04:00", AMS)
    assert decide(rules, start, end, now, AMS, opened, [], 0) == []


def test_local_week_is_monday_to_sunday_in_the_lab_zone() -> None:
    sunday_night = at("2026-06-07T23:30")
    assert local_week(sunday_night, HCM) == local_span("2026-06-01T00:00", "2026-06-08T00:00")
    monday_early = at("2026-06-08T00:30")  # still Sunday in UTC
    assert local_week(monday_early, HCM) == local_span("2026-06-08T00:00", "2026-06-15T00:00")
    spring = local_week(at("2026-03-25T12:00", AMS), AMS)
    assert spring.duration == timedelta(days=7, hours=-1)
    assert local_week(at("2026-10-25T12:00", AMS), AMS).duration == timedelta(days=7, hours=1)


def test_cancellation_deadline_boundary() -> None:
    rules = BookingRules(cancellation_deadline_hours=24)
    start = at(f"{TUESDAY}T09:00")
    deadline = start - timedelta(hours=24)
    assert cancellation_deadline(rules, start) == deadline
    assert can_cancel(rules, start, deadline)
    assert not can_cancel(rules, start, deadline + timedelta(microseconds=1))
    assert may_reschedule(rules, start, deadline)
    assert not may_reschedule(rules, start, deadline + MINUTE)
    assert can_cancel(BookingRules(cancellation_deadline_hours=0), start, start)
    assert not can_cancel(BookingRules(cancellation_deadline_hours=0), start, start + MINUTE)


# --- week grid -----------------------------------------------------------------------------


def test_week_grid_in_ho_chi_minh() -> None:
    opened = opening_intervals(OFFICE_HOURS, [], HCM, *week_window("2026-06-01"))
    busy = [local_span("2026-06-02T09:00", "2026-06-02T10:15")]
    grid = week_grid(HCM, date(2026, 6, 1), opened, busy, HALF_HOUR)
    assert grid.days == tuple(date(2026, 6, day) for day in range(1, 8))
    assert (grid.rows[0].time, grid.rows[-1].time) == (time(8), time(16, 30))
    assert len(grid.rows) == 18
    states = {row.time: [cell.state for cell in row.cells] for row in grid.rows}
    free, busy_, closed = CellState.FREE, CellState.BUSY, CellState.CLOSED
    assert states[time(8)] == [free] * 5 + [closed] * 2
    assert states[time(9)] == [free, busy_, free, free, free, closed, closed]
    assert states[time(10)][1] == busy_  # partly busy cells are busy
    assert states[time(10, 30)][1] == free
    assert states[time(12)] == [closed] * 7  # lunch
    cell = grid.rows[0].cells[0]
    assert (cell.start, cell.end) == (at("2026-06-01T08:00"), at("2026-06-01T08:30"))
    assert cell.state == "free"


def test_week_grid_without_open_time_is_empty_unless_untrimmed() -> None:
    assert week_grid(HCM, date(2026, 6, 1), [], [], HALF_HOUR).rows == ()
    full = week_grid(HCM, date(2026, 6, 1), [], [], HALF_HOUR, trim_closed=False)
    assert len(full.rows) == 48
    assert all(len(row.cells) == 7 for row in full.rows)


def test_week_grid_shows_busy_outside_opening_hours() -> None:
    busy = [local_span("2026-06-03T20:00", "2026-06-03T21:00")]
    grid = week_grid(HCM, date(2026, 6, 1), [], busy, timedelta(hours=1))
    assert [row.time for row in grid.rows] == [time(20)]
    assert grid.rows[0].cells[2].state == CellState.BUSY


@pytest.mark.parametrize(("monday", "dst_day"), [("2026-03-23", 6), ("2026-10-19", 6)])
def test_week_grid_cells_tile_each_day_across_dst(monday: str, dst_day: int) -> None:
    start = date.fromisoformat(monday)
    opened = opening_intervals(ALL_DAY, [], AMS, *week_window(monday, AMS))
    grid = week_grid(AMS, start, opened, [], HALF_HOUR, trim_closed=False)
    for column, day in enumerate(grid.days):
        cells = [row.cells[column] for row in grid.rows]
        assert cells[0].start == at(f"{day}T00:00", AMS)
        assert cells[-1].end == at(f"{day + timedelta(days=1)}T00:00", AMS)
        assert all(a.end == b.start for a, b in pairwise(cells))
    dst_cells = [row.cells[dst_day] for row in grid.rows]
    lengths = [cell.end - cell.start for cell in dst_cells]
    if monday == "2026-03-23":
        assert lengths[4:6] == [timedelta(0), timedelta(0)]  # 02:00 and 02:30 are skipped
        assert [cell.state for cell in dst_cells[4:6]] == [CellState.CLOSED] * 2
        assert sum(lengths, timedelta()) == timedelta(hours=23)
    else:
        assert lengths[5] == timedelta(hours=1, minutes=30)  # 02:30 first, then repeated hour
        assert sum(lengths, timedelta()) == timedelta(hours=25)
    assert all(cell.state == CellState.FREE for cell in dst_cells if cell.end > cell.start)


@PROPERTY
@given(day_intervals, day_intervals, st.sampled_from([15, 30, 60, 120]))
def test_week_grid_matches_brute_force(
    opened: list[Interval], busy: list[Interval], step_minutes: int
) -> None:
    grid = week_grid(
        HCM, date(2026, 6, 1), opened, busy, timedelta(minutes=step_minutes), trim_closed=False
    )
    merged_open = normalize(opened)
    for row in grid.rows:
        for cell in row.cells:
            slot = Interval(cell.start, cell.end)
            if any(piece.overlaps(slot) for piece in busy):
                expected = CellState.BUSY
            elif any(piece.contains(slot) for piece in merged_open):
                expected = CellState.FREE
            else:
                expected = CellState.CLOSED
            assert cell.state == expected


def test_week_grid_handles_many_machines_worth_of_bookings() -> None:
    origin = at("2026-06-01T08:00")
    busy = [
        Interval(origin + timedelta(minutes=7 * i), origin + timedelta(minutes=7 * i + 5))
        for i in range(20_000)
    ]
    opened = opening_intervals(ALL_DAY, [], HCM, *week_window("2026-06-01"))
    # Its speed (a linear sweep, not cells x bookings) is measured in
    # bench/former_timed_asserts.py, not here: a wall clock fails tests on a busy machine.
    grid = week_grid(HCM, date(2026, 6, 1), opened, busy, timedelta(minutes=15))
    assert grid.rows[32].cells[0].state == CellState.BUSY
