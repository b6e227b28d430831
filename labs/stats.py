"""Usage statistics of a machine (or, summed, of a lab) over a reporting window."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from labs.intervals import Interval, as_utc, clip, intersect, total_duration

NOT_COUNTED_STATUSES: frozenset[str] = frozenset({"cancelled", "declined"})
"""Booking statuses that never count in statistics."""

UNKNOWN_SPHERE = "unknown"
"""Key used in ``time_by_sphere`` for bookings whose user has no sphere."""


@dataclass(frozen=True, slots=True)
class BookingRecord:
    """A booking as statistics see it: when, its status, the user's sphere, and check-in."""

    interval: Interval
    status: str
    sphere: str | None = None
    checked_in: bool = False


@dataclass(frozen=True, slots=True)
class UsageStats:
    """Usage figures; add two with ``+`` to aggregate machines (sums every field).

    * ``open_time``: opening time inside the window;
    * ``booked_time``: counted bookings' time inside the window (outside opening hours too);
    * ``booked_open_time``: booked time that falls in opening hours (never above ``open_time``
      for one machine, overlapping bookings counted once);
    * ``bookings``: counted bookings overlapping the window;
    * ``no_shows`` / ``no_show_time``: counted bookings that have ended, without check-in;
    * ``time_by_sphere``: ``booked_time`` split by the user's sphere.
    """

    open_time: timedelta = timedelta()
    booked_time: timedelta = timedelta()
    booked_open_time: timedelta = timedelta()
    bookings: int = 0
    no_shows: int = 0
    no_show_time: timedelta = timedelta()
    time_by_sphere: Mapping[str, timedelta] = field(default_factory=dict)

    @property
    def utilisation(self) -> float:
        """``booked_open_time / open_time`` in [0, 1] for one machine; 0.0 without open time."""
        if not self.open_time:
            return 0.0
        return self.booked_open_time / self.open_time

    @property
    def open_hours(self) -> float:
        """``open_time`` in hours, for display."""
        return self.open_time / timedelta(hours=1)

    @property
    def booked_hours(self) -> float:
        """``booked_time`` in hours, for display."""
        return self.booked_time / timedelta(hours=1)

    def __add__(self, other: UsageStats) -> UsageStats:
        spheres = dict(self.time_by_sphere)
        for sphere, time in other.time_by_sphere.items():
            spheres[sphere] = spheres.get(sphere, timedelta()) + time
        return UsageStats(
            open_time=self.open_time + other.open_time,
            booked_time=self.booked_time + other.booked_time,
            booked_open_time=self.booked_open_time + other.booked_open_time,
            bookings=self.bookings + other.bookings,
            no_shows=self.no_shows + other.no_shows,
            no_show_time=self.no_show_time + other.no_show_time,
            time_by_sphere=spheres,
        )


def _is_no_show(booking: BookingRecord, now: datetime) -> bool:
    """A booking that has ended without the user checking in."""
    return not booking.checked_in and booking.interval.end <= now


def usage_stats(
    open_intervals: Iterable[Interval],
    bookings: Iterable[BookingRecord],
    window: Interval,
    now: datetime,
    *,
    not_counted_statuses: Collection[str] = NOT_COUNTED_STATUSES,
) -> UsageStats:
    """Usage of one machine over ``window``, as of ``now`` (for no-shows).

    Bookings whose status is in ``not_counted_statuses`` (cancelled, declined) are ignored
    entirely; the others are clipped to the window and those not overlapping it are ignored.
    """
    now = as_utc(now, "now")
    open_in_window = clip(open_intervals, window)
    counted: list[tuple[BookingRecord, Interval]] = []
    for booking in bookings:
        if booking.status in not_counted_statuses:
            continue
        inside = booking.interval.intersection(window)
        if inside is not None:
            counted.append((booking, inside))
    by_sphere: dict[str, timedelta] = {}
    for booking, inside in counted:
        sphere = booking.sphere or UNKNOWN_SPHERE
        by_sphere[sphere] = by_sphere.get(sphere, timedelta()) + inside.duration
    no_shows = [inside for booking, inside in counted if _is_no_show(booking, now)]
    booked = [inside for _, inside in counted]
    return UsageStats(
        open_time=total_duration(open_in_window),
        booked_time=sum((inside.duration for inside in booked), timedelta()),
        booked_open_time=total_duration(intersect(booked, open_in_window)),
        bookings=len(counted),
        no_shows=len(no_shows),
        no_show_time=sum((inside.duration for inside in no_shows), timedelta()),
        time_by_sphere=by_sphere,
    )
