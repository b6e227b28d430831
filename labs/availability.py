"""Opening hours, free/busy availability, slot start times, booking rules and the week grid.

`check_booking` is the one place where the booking rules are decided: step 2 of every
booking, between gathering the facts (`labs.services.facts`) and writing under the machine's
lock (`labs.services.lock`); see `labs.services.bookings`.

All datetimes passed in must be timezone-aware; all datetimes returned are UTC. Intervals are
half-open (see :mod:`labs.intervals`). Local wall-clock times are resolved with
:func:`labs.intervals.resolve_local`: an ambiguous time (clocks fall back) means its first
occurrence, a skipped time (clocks spring forward) means the instant of the jump.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from itertools import pairwise

from labs.intervals import (
    Interval,
    as_utc,
    clip,
    covers,
    first_overlap,
    local_date_span,
    normalize,
    offset_transitions,
    resolve_local,
    subtract,
)

WeeklyHours = Mapping[int, Sequence[tuple[time, time]]]
"""Opening hours per weekday (Monday = 0): ``{0: [(time(8), time(12)), (time(13), time(17))]}``."""

_DAY = timedelta(days=1)
_WALL_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


# --- opening hours -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosedDays:
    """Whole local days on which a lab is closed, ``first`` to ``last`` inclusive (e.g. Tết)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"closure ends {self.last} before it starts {self.first}")

    def interval(self, tz: tzinfo) -> Interval:
        """The closed days as one UTC interval, local midnight to local midnight."""
        return local_date_span(self.first, self.last, tz)


Closure = ClosedDays | Interval
"""A closure is either whole local days or an explicit interval (e.g. an afternoon)."""


def closure_intervals(closures: Iterable[Closure], tz: tzinfo) -> list[Interval]:
    """All closures as one normalised list of UTC intervals."""
    return normalize(
        closure.interval(tz) if isinstance(closure, ClosedDays) else closure for closure in closures
    )


def _check_opening_range(weekday: int, opens: time, closes: time) -> None:
    """Reject ranges a lab administrator cannot have meant."""
    if weekday not in range(7):
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
    if opens.tzinfo is not None or closes.tzinfo is not None:
        raise ValueError("opening hours are naive local wall-clock times")
    if closes <= opens and closes != time(0):
        raise ValueError(f"closing time {closes} must be after opening time {opens}")


def _opening_span(day: date, opens: time, closes: time, tz: tzinfo) -> Interval | None:
    """One opening range of a local day in UTC; ``None`` if a DST gap swallows it entirely."""
    closing_day = day + _DAY if closes == time(0) else day
    start = resolve_local(datetime.combine(day, opens), tz)
    end = resolve_local(datetime.combine(closing_day, closes), tz)
    return Interval(start, end) if start < end else None


def _local_dates(first: date, last: date) -> Iterator[date]:
    """Every date from ``first`` to ``last`` inclusive."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def opening_intervals(
    weekly_hours: WeeklyHours,
    closures: Iterable[Closure],
    tz: tzinfo,
    window_start: datetime,
    window_end: datetime,
) -> list[Interval]:
    """Weekly opening hours expanded to UTC intervals over ``[window_start, window_end)``.

    Each range ``(opens, closes)`` is local wall-clock time on its weekday; ``closes`` must be
    later than ``opens`` except that ``time(0)`` as closing time means midnight at the end of the
    day (so ``(time(0), time(0))`` is open all day). Ranges are resolved on each date separately,
    so they keep their wall-clock times across DST changes; a range partly inside a DST gap
    starts or ends at the jump. Closures (whole local days or explicit intervals) are removed.

    Returns a normalised list clipped to the window (touching ranges such as 08–12 and 12–17 are
    merged into one interval).
    """
    window = Interval(window_start, window_end)
    for weekday, ranges in weekly_hours.items():
        for opens, closes in ranges:
            _check_opening_range(weekday, opens, closes)
    first_day = window.start.astimezone(tz).date() - _DAY
    last_day = window.end.astimezone(tz).date()
    spans = (
        _opening_span(day, opens, closes, tz)
        for day in _local_dates(first_day, last_day)
        for opens, closes in weekly_hours.get(day.weekday(), ())
    )
    opened = clip((span for span in spans if span is not None), window)
    return subtract(opened, closure_intervals(closures, tz))


# --- availability and slots ----------------------------------------------------------------


def availability(
    open_intervals: Iterable[Interval],
    blackouts: Iterable[Interval],
    busy: Iterable[Interval],
    window: Interval,
) -> tuple[list[Interval], list[Interval]]:
    """Split a window into free and busy time: returns ``(free, busy)``, both normalised.

    ``busy`` is clipped to the window and merged (it is shown even outside opening hours);
    ``free`` is open time in the window minus blackouts and busy time. Together with
    ``closed = subtract([window], free + busy)`` they partition the window without overlaps.
    """
    busy_in_window = clip(busy, window)
    free = subtract(clip(open_intervals, window), [*blackouts, *busy_in_window])
    return free, busy_in_window


def _check_step(step: timedelta) -> None:
    """A step must be positive and divide a day, so alignment restarts at every midnight."""
    if step <= timedelta(0) or _DAY % step:
        raise ValueError(f"step {step} must be positive and divide 24 hours evenly")


def _wall_since_epoch(moment: datetime, tz: tzinfo) -> timedelta:
    """Local wall-clock reading of ``moment`` as time since 1970-01-01 00:00 (wall)."""
    return moment.astimezone(tz).replace(tzinfo=None) - _WALL_EPOCH


def is_aligned(moment: datetime, step: timedelta, tz: tzinfo) -> bool:
    """True if the local wall-clock time of ``moment`` is a whole number of steps after midnight.

    ``step`` must divide 24 hours (e.g. 15, 30 or 60 minutes).
    """
    _check_step(step)
    return _wall_since_epoch(moment, tz) % step == timedelta(0)


def _aligned_instants(
    start: datetime, stop: datetime, step: timedelta, tz: tzinfo
) -> Iterator[datetime]:
    """Aligned instants in ``[start, stop)``, given that the offset of ``tz`` is constant there."""
    moment = start + (-_wall_since_epoch(start, tz)) % step
    while moment < stop:
        yield moment
        moment += step


def slot_starts(
    free: Iterable[Interval], step: timedelta, min_length: timedelta, tz: tzinfo
) -> list[datetime]:
    """Sorted UTC instants at which a booking of ``min_length`` fits into ``free`` time.

    Every returned start is aligned to ``step`` in local wall-clock time (see
    :func:`is_aligned`) and ``[start, start + min_length)`` lies inside one free interval.
    Correct across DST changes, including offsets that change by less than the step.
    """
    _check_step(step)
    if min_length <= timedelta(0):
        raise ValueError("min_length must be positive")
    starts: list[datetime] = []
    for gap in normalize(free):
        latest = gap.end - min_length
        if latest < gap.start:
            continue
        transitions = offset_transitions(gap.start, latest, tz)
        bounds = zip([gap.start, *transitions], [*transitions, latest + _MICROSECOND], strict=True)
        for segment_start, segment_stop in bounds:
            starts.extend(_aligned_instants(segment_start, segment_stop, step, tz))
    return starts


# --- booking rules -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookingRules:
    """Booking rules of a machine (or lab); all numbers are whole minutes, hours or days.

    ``slot_step_minutes`` must divide 24 hours; ``weekly_quota_minutes`` of ``None`` means
    unlimited. ``requires_training`` asks for a valid certification (see
    :attr:`BookingFacts.certified`). ``requires_approval`` is not checked here: the web layer
    stores such bookings as pending.
    """

    slot_step_minutes: int = 30
    min_minutes: int = 30
    max_minutes: int = 240
    notice_minutes: int = 60
    horizon_days: int = 30
    weekly_quota_minutes: int | None = None
    cancellation_deadline_hours: int = 24
    requires_approval: bool = False
    requires_training: bool = False

    def __post_init__(self) -> None:
        _check_step(self.step)
        if not 0 < self.min_minutes <= self.max_minutes:
            raise ValueError("need 0 < min_minutes <= max_minutes")
        if min(self.notice_minutes, self.horizon_days, self.cancellation_deadline_hours) < 0:
            raise ValueError("notice, horizon and cancellation deadline cannot be negative")
        if self.weekly_quota_minutes is not None and self.weekly_quota_minutes < 0:
            raise ValueError("weekly quota cannot be negative")

    @property
    def step(self) -> timedelta:
        """The slot step as a duration."""
        return timedelta(minutes=self.slot_step_minutes)


class ViolationCode(StrEnum):
    """Stable identifiers of broken booking rules (the web layer translates them)."""

    IN_PAST = "in_past"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_ALIGNED = "not_aligned"
    NOTICE = "notice"
    HORIZON = "horizon"
    OUTSIDE_OPENING_HOURS = "outside_opening_hours"
    BLACKOUT = "blackout"
    QUOTA = "quota"
    TRAINING = "training_required"


@dataclass(frozen=True, slots=True)
class RuleViolation:
    """One broken rule: a stable ``code`` and the numbers a message needs."""

    code: ViolationCode
    message_params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """Everything :func:`check_booking` decides on, gathered beforehand (no I/O here).

    ``open_intervals`` is the lab's open time around the booking with closures already
    removed, ``blackouts`` the machine's, ``used_minutes`` the person's other minutes in the
    :func:`local_week` of ``start``, ``certified`` whether they hold a valid certification
    for the machine's category (read only when ``rules.requires_training``).
    """

    rules: BookingRules
    start: datetime
    end: datetime
    now: datetime
    tz: tzinfo
    open_intervals: tuple[Interval, ...] = ()
    blackouts: tuple[Interval, ...] = ()
    used_minutes: int = 0
    certified: bool = False


def whole_minutes(duration: timedelta) -> int:
    """A duration in minutes, rounded up (a started minute counts)."""
    return -(-duration // timedelta(minutes=1))


def local_week(moment: datetime, tz: tzinfo) -> Interval:
    """The local ISO week (Monday 00:00 to next Monday 00:00 in ``tz``) containing ``moment``.

    Use it to sum a user's minutes for the weekly quota: add the durations of their
    non-cancelled bookings whose *start* lies in this interval.
    """
    day = as_utc(moment, "moment").astimezone(tz).date()
    monday = day - timedelta(days=day.weekday())
    return local_date_span(monday, monday + timedelta(days=6), tz)


def _past_or_notice(rules: BookingRules, booking: Interval, now: datetime) -> RuleViolation | None:
    """``in_past`` if the start has passed, else ``notice`` if it is too soon."""
    if booking.start < now:
        return RuleViolation(ViolationCode.IN_PAST, {"now": now})
    earliest = now + timedelta(minutes=rules.notice_minutes)
    if booking.start < earliest:
        params = {"notice_minutes": rules.notice_minutes, "earliest_start": earliest}
        return RuleViolation(ViolationCode.NOTICE, params)
    return None


def _length(rules: BookingRules, booking: Interval) -> RuleViolation | None:
    """``too_short`` / ``too_long`` against the minimum and maximum length."""
    minutes = whole_minutes(booking.duration)
    if booking.duration < timedelta(minutes=rules.min_minutes):
        params = {"min_minutes": rules.min_minutes, "minutes": minutes}
        return RuleViolation(ViolationCode.TOO_SHORT, params)
    if booking.duration > timedelta(minutes=rules.max_minutes):
        params = {"max_minutes": rules.max_minutes, "minutes": minutes}
        return RuleViolation(ViolationCode.TOO_LONG, params)
    return None


def _alignment(rules: BookingRules, booking: Interval, tz: tzinfo) -> RuleViolation | None:
    """``not_aligned`` unless start and end fall on the local slot grid."""
    if is_aligned(booking.start, rules.step, tz) and is_aligned(booking.end, rules.step, tz):
        return None
    return RuleViolation(ViolationCode.NOT_ALIGNED, {"step_minutes": rules.slot_step_minutes})


def _horizon(
    rules: BookingRules, booking: Interval, now: datetime, tz: tzinfo
) -> RuleViolation | None:
    """``horizon`` if the local start date is after today + ``horizon_days``."""
    latest_date = now.astimezone(tz).date() + timedelta(days=rules.horizon_days)
    if booking.start.astimezone(tz).date() <= latest_date:
        return None
    params = {"horizon_days": rules.horizon_days, "latest_date": latest_date}
    return RuleViolation(ViolationCode.HORIZON, params)


def _opening(booking: Interval, open_intervals: Iterable[Interval]) -> RuleViolation | None:
    """``outside_opening_hours`` unless the whole booking lies in open time."""
    if covers(normalize(open_intervals), booking):
        return None
    return RuleViolation(ViolationCode.OUTSIDE_OPENING_HOURS, {})


def _blackout(booking: Interval, blackouts: Iterable[Interval]) -> RuleViolation | None:
    """``blackout`` if the booking overlaps a (merged) blackout period."""
    hit = first_overlap(normalize(blackouts), booking)
    if hit is None:
        return None
    return RuleViolation(
        ViolationCode.BLACKOUT, {"blackout_start": hit.start, "blackout_end": hit.end}
    )


def _quota(rules: BookingRules, booking: Interval, used_minutes: int) -> RuleViolation | None:
    """``quota`` if the booking would push the user's week over the weekly quota."""
    quota = rules.weekly_quota_minutes
    requested = whole_minutes(booking.duration)
    if quota is None or used_minutes + requested <= quota:
        return None
    params = {
        "quota_minutes": quota,
        "used_minutes": used_minutes,
        "requested_minutes": requested,
        "remaining_minutes": max(0, quota - used_minutes),
    }
    return RuleViolation(ViolationCode.QUOTA, params)


def _training(rules: BookingRules, certified: bool) -> RuleViolation | None:
    """``training_required`` if the machine needs a certification the person lacks."""
    if rules.requires_training and not certified:
        return RuleViolation(ViolationCode.TRAINING, {})
    return None


def check_booking(facts: BookingFacts) -> list[RuleViolation]:
    """Every rule the booking ``[facts.start, facts.end)`` breaks; empty means it is allowed.

    The one place where the booking rules are decided. Violations come in this order, each
    at most once: ``training_required`` (the machine needs a certification the person lacks),
    ``in_past`` (start < now) or else ``notice`` (start < now + notice), ``too_short``,
    ``too_long``, ``not_aligned`` (start or end off the local step grid), ``horizon`` (local
    start date after local today + horizon_days), ``outside_opening_hours`` (not entirely
    inside ``open_intervals``, which must already exclude closures), ``blackout``, ``quota``
    (``used_minutes`` plus this booking exceeds the weekly quota). Boundaries are inclusive
    for the booking: exactly the maximum length, notice or quota passes.
    Overlaps with other bookings are not checked here. Raises ``ValueError`` if
    ``end <= start`` or a datetime is naive.
    """
    rules, tz = facts.rules, facts.tz
    booking = Interval(facts.start, facts.end)
    now = as_utc(facts.now, "now")
    found = [
        _training(rules, facts.certified),
        _past_or_notice(rules, booking, now),
        _length(rules, booking),
        _alignment(rules, booking, tz),
        _horizon(rules, booking, now, tz),
        _opening(booking, facts.open_intervals),
        _blackout(booking, facts.blackouts),
        _quota(rules, booking, facts.used_minutes),
    ]
    return [violation for violation in found if violation is not None]


def cancellation_deadline(rules: BookingRules, start: datetime) -> datetime:
    """The last instant (UTC) at which a booking starting at ``start`` may be cancelled."""
    return as_utc(start, "start") - timedelta(hours=rules.cancellation_deadline_hours)


def can_cancel(rules: BookingRules, start: datetime, now: datetime) -> bool:
    """True while ``now`` is at or before the :func:`cancellation_deadline`."""
    return as_utc(now, "now") <= cancellation_deadline(rules, start)


def may_reschedule(rules: BookingRules, current_start: datetime, now: datetime) -> bool:
    """True if a booking starting at ``current_start`` may still be moved.

    Moving is cancelling and re-booking, so the cancellation deadline applies; the new slot
    must then pass :func:`check_booking` (with the old booking left out of the quota minutes).
    """
    return can_cancel(rules, current_start, now)


# --- week grid -----------------------------------------------------------------------------


class CellState(StrEnum):
    """State of one grid cell: bookable, taken, or not bookable."""

    FREE = "free"
    BUSY = "busy"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class GridCell:
    """One cell: UTC ``[start, end)`` of a step on one local day, and its state.

    ``start == end`` for a cell whose wall-clock time is skipped by a DST jump (always closed).
    """

    start: datetime
    end: datetime
    state: CellState


@dataclass(frozen=True, slots=True)
class GridRow:
    """A row of the grid: its local wall-clock time and one cell per day (7 cells)."""

    time: time
    cells: tuple[GridCell, ...]


@dataclass(frozen=True, slots=True)
class WeekGrid:
    """Seven local days (column headers) and the time rows of a week view."""

    days: tuple[date, ...]
    rows: tuple[GridRow, ...]


class _CellClassifier:
    """Classifies cells visited in chronological order with two advancing pointers."""

    def __init__(self, opened: list[Interval], taken: list[Interval]) -> None:
        self._opened, self._taken = opened, taken
        self._open_index = self._busy_index = 0

    def classify(self, start: datetime, end: datetime) -> CellState:
        """Busy if any booking overlaps; free if open time covers it all; otherwise closed."""
        if start >= end:
            return CellState.CLOSED
        taken, opened = self._taken, self._opened
        while self._busy_index < len(taken) and taken[self._busy_index].end <= start:
            self._busy_index += 1
        if self._busy_index < len(taken) and taken[self._busy_index].start < end:
            return CellState.BUSY
        while self._open_index < len(opened) and opened[self._open_index].end <= start:
            self._open_index += 1
        if self._open_index < len(opened):
            candidate = opened[self._open_index]
            if candidate.start <= start and end <= candidate.end:
                return CellState.FREE
        return CellState.CLOSED


def _day_edges(day: date, step: timedelta, tz: tzinfo) -> list[datetime]:
    """UTC boundaries of the step cells of a local day: midnight, midnight + step, ... midnight."""
    midnight = datetime.combine(day, time())
    return [resolve_local(midnight + index * step, tz) for index in range(_DAY // step + 1)]


def _trim_closed(rows: list[GridRow]) -> list[GridRow]:
    """Drop leading and trailing rows whose seven cells are all closed."""
    open_rows = [
        index
        for index, row in enumerate(rows)
        if any(cell.state != CellState.CLOSED for cell in row.cells)
    ]
    return rows[open_rows[0] : open_rows[-1] + 1] if open_rows else []


def week_grid(
    tz: tzinfo,
    week_start_local_date: date,
    open_intervals: Iterable[Interval],
    busy: Iterable[Interval],
    step: timedelta,
    *,
    trim_closed: bool = True,
) -> WeekGrid:
    """A 7-day × time-row grid of free, busy and closed cells for a week view.

    Rows are local wall-clock times every ``step`` (which must divide 24 hours) from midnight;
    with ``trim_closed`` the leading and trailing rows closed on all seven days are dropped.
    A cell is busy if any busy interval overlaps it, free if open time covers all of it,
    closed otherwise. Pass open time already minus blackouts if those should show closed.
    The cells of a day tile the local day without gaps or overlaps: on a fall-back day the cell
    holding the repeated hour is longer, on a spring-forward day skipped cells are empty.
    Runs in O(cells + n) after sorting the n intervals.
    """
    _check_step(step)
    days = tuple(week_start_local_date + timedelta(days=offset) for offset in range(7))
    classifier = _CellClassifier(normalize(open_intervals), normalize(busy))
    columns = []
    for day in days:
        edges = _day_edges(day, step, tz)
        columns.append([GridCell(a, b, classifier.classify(a, b)) for a, b in pairwise(edges)])
    row_times = [(datetime.min + index * step).time() for index in range(_DAY // step)]
    rows = [
        GridRow(row_time, tuple(column[index] for column in columns))
        for index, row_time in enumerate(row_times)
    ]
    return WeekGrid(days, tuple(_trim_closed(rows) if trim_closed else rows))
