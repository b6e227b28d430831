"""Tests of labs.stats: booked versus open time, utilisation, no-shows and spheres."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from labs.intervals import Interval
from labs.stats import UNKNOWN_SPHERE, BookingRecord, UsageStats, usage_stats

DAY = datetime(2026, 6, 1, tzinfo=UTC)
PROPERTY = settings(deadline=None, max_examples=100)
HOUR = timedelta(hours=1)


def hours(start: float, end: float, day: int = 0) -> Interval:
    """Interval between two hours of a day counted from DAY."""
    origin = DAY + timedelta(days=day)
    return Interval(origin + timedelta(hours=start), origin + timedelta(hours=end))


WEEK = Interval(DAY, DAY + timedelta(days=7))
OPEN = [hours(1, 10, day) for day in range(5)]  # 9 hours on five days
NOW = DAY + timedelta(days=2, hours=12)


def test_example_week() -> None:
    bookings = [
        BookingRecord(hours(2, 4), "confirmed", "university", checked_in=True),
        BookingRecord(hours(5, 6), "confirmed", "startup", checked_in=False),  # no-show
        BookingRecord(hours(6, 9), "cancelled", "startup"),  # never counts
        BookingRecord(hours(2, 3, day=1), "declined", "enterprise"),  # never counts
        BookingRecord(hours(9, 12, day=1), "confirmed", None, checked_in=True),  # 2 h after close
        BookingRecord(hours(2, 4, day=4), "confirmed", "enterprise"),  # future, not a no-show
        BookingRecord(hours(-2, 2), "confirmed", "university", checked_in=True),  # half outside
        BookingRecord(hours(2, 3, day=9), "confirmed", "university"),  # outside the window
    ]
    stats = usage_stats(OPEN, bookings, WEEK, NOW)
    assert stats.open_time == 45 * HOUR
    assert stats.bookings == 5
    assert stats.booked_time == (2 + 1 + 3 + 2 + 2) * HOUR
    assert stats.booked_open_time == (2 + 1 + 1 + 2 + 1) * HOUR
    assert stats.utilisation == 7 / 45
    assert stats.no_shows == 1 and stats.no_show_time == HOUR
    assert stats.time_by_sphere == {
        "university": 4 * HOUR,
        "startup": HOUR,
        UNKNOWN_SPHERE: 3 * HOUR,
        "enterprise": 2 * HOUR,
    }
    assert stats.open_hours == 45.0 and stats.booked_hours == 10.0


def test_no_open_time_means_zero_utilisation() -> None:
    stats = usage_stats([], [BookingRecord(hours(1, 2), "confirmed")], WEEK, NOW)
    assert stats.utilisation == 0.0
    assert stats.booked_time == HOUR
    assert usage_stats([], [], WEEK, NOW) == UsageStats()


def test_no_show_boundary_is_the_booking_end() -> None:
    booking = BookingRecord(hours(2, 4), "confirmed")
    assert usage_stats(OPEN, [booking], WEEK, DAY + timedelta(hours=4)).no_shows == 1
    assert (
        usage_stats(OPEN, [booking], WEEK, DAY + timedelta(hours=4) - timedelta.resolution).no_shows
        == 0
    )


def test_custom_not_counted_statuses() -> None:
    bookings = [BookingRecord(hours(2, 4), "pending"), BookingRecord(hours(5, 6), "cancelled")]
    stats = usage_stats(OPEN, bookings, WEEK, NOW, not_counted_statuses={"pending"})
    assert stats.booked_time == HOUR


def test_stats_add_up_across_machines() -> None:
    first = usage_stats(OPEN, [BookingRecord(hours(2, 4), "confirmed", "startup")], WEEK, NOW)
    second = usage_stats(
        OPEN[:1],
        [
            BookingRecord(hours(2, 3), "confirmed", "startup", checked_in=True),
            BookingRecord(hours(3, 4), "confirmed", "university", checked_in=True),
        ],
        WEEK,
        NOW,
    )
    total = first + second
    assert total.open_time == 54 * HOUR
    assert total.booked_time == total.booked_open_time == 4 * HOUR
    assert total.bookings == 3 and total.no_shows == 1
    assert total.time_by_sphere == {"startup": 3 * HOUR, "university": HOUR}
    assert total.utilisation == 4 / 54
    assert sum([first, second], UsageStats()) == total


booking_st = st.builds(
    lambda start, length, status, sphere, checked_in: BookingRecord(
        hours(start / 4, (start + length) / 4), status, sphere, checked_in
    ),
    st.integers(-40, 24 * 4 * 8),
    st.integers(1, 40),
    st.sampled_from(["confirmed", "pending", "completed"]),
    st.sampled_from([None, "university", "startup"]),
    st.booleans(),
)


@PROPERTY
@given(st.lists(booking_st, max_size=20), st.lists(booking_st, max_size=10))
def test_cancelled_bookings_never_count(
    bookings: list[BookingRecord], cancelled: list[BookingRecord]
) -> None:
    ignored = [BookingRecord(b.interval, "cancelled", b.sphere, b.checked_in) for b in cancelled]
    assert usage_stats(OPEN, bookings + ignored, WEEK, NOW) == usage_stats(
        OPEN, bookings, WEEK, NOW
    )


@PROPERTY
@given(st.lists(booking_st, max_size=20))
def test_utilisation_is_a_ratio_and_spheres_sum_to_booked_time(
    bookings: list[BookingRecord],
) -> None:
    stats = usage_stats(OPEN, bookings, WEEK, NOW)
    assert 0.0 <= stats.utilisation <= 1.0
    assert stats.booked_open_time <= min(stats.open_time, stats.booked_time)
    assert sum(stats.time_by_sphere.values(), timedelta()) == stats.booked_time
    assert stats.no_shows <= stats.bookings
    assert stats.no_show_time <= stats.booked_time
