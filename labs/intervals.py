"""Half-open intervals ``[start, end)`` of aware datetimes, and local wall-clock resolution.

Guarantees shared by every function here:

* an :class:`Interval` is never empty and always stores UTC datetimes;
* intervals are half-open, so ``[9:00, 10:00)`` and ``[10:00, 11:00)`` touch but never overlap;
* every function returning ``list[Interval]`` returns a *normalised* list: sorted, pairwise
  disjoint and non-touching (touching or overlapping inputs are merged).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_PROBE_SPAN = timedelta(hours=6)


def as_utc(moment: datetime, name: str = "datetime") -> datetime:
    """Return ``moment`` converted to UTC; raise ``ValueError`` if it is naive."""
    if type(moment) is datetime and moment.tzinfo is UTC:
        return moment  # already UTC (every database read): nothing to check or convert
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


@dataclass(frozen=True, order=True, slots=True)
class Interval:
    """A non-empty half-open interval ``[start, end)``; both ends are stored in UTC.

    Construction converts aware datetimes of any zone to UTC (so equality and ordering are by
    instant) and raises ``ValueError`` for naive datetimes or ``start >= end``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = as_utc(self.start, "start")
        end = as_utc(self.end, "end")
        if not start < end:
            raise ValueError(f"interval start {start} must be before end {end}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def duration(self) -> timedelta:
        """Elapsed (real) time between start and end."""
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        """True if the intervals share at least one instant (touching ends do not count)."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        """True if ``other`` lies entirely inside this interval."""
        return self.start <= other.start and other.end <= self.end

    def intersection(self, other: Interval) -> Interval | None:
        """The common part of both intervals, or ``None`` if they do not overlap."""
        if not self.overlaps(other):
            return None
        if other.start <= self.start and self.end <= other.end:
            return self  # intervals are immutable: the common part is this one
        if self.start <= other.start and other.end <= self.end:
            return other
        return Interval(max(self.start, other.start), min(self.end, other.end))


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals into a normalised list.

    O(n log n), or O(n) when the input is already sorted.
    """
    merged: list[Interval] = []
    for current in sorted(intervals):
        if merged and current.start <= merged[-1].end:
            if current.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, current.end)
        else:
            merged.append(current)
    return merged


def subtract(base: Iterable[Interval], removed: Iterable[Interval]) -> list[Interval]:
    """Instants of ``base`` that lie in no interval of ``removed`` (set difference).

    Example: ``free = subtract(open_hours, [*closures, *blackouts, *busy])``.
    """
    cuts = normalize(removed)
    result: list[Interval] = []
    index = 0
    for piece in normalize(base):
        cursor = piece.start
        while index < len(cuts) and cuts[index].end <= cursor:
            index += 1
        scan = index
        while scan < len(cuts) and cuts[scan].start < piece.end:
            if cuts[scan].start > cursor:
                result.append(Interval(cursor, cuts[scan].start))
            cursor = max(cursor, cuts[scan].end)
            scan += 1
        if cursor < piece.end:
            result.append(Interval(cursor, piece.end))
    return result


def intersect(first: Iterable[Interval], second: Iterable[Interval]) -> list[Interval]:
    """Instants lying in both sets of intervals (set intersection), in O(n + m) after sorting."""
    left, right = normalize(first), normalize(second)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        common = left[i].intersection(right[j])
        if common is not None:
            result.append(common)
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return result


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The parts of ``intervals`` inside ``window``, normalised."""
    return intersect(intervals, [window])


def total_duration(intervals: Iterable[Interval]) -> timedelta:
    """Total time covered by ``intervals``; overlapping parts are counted once."""
    return sum((piece.duration for piece in normalize(intervals)), timedelta())


def first_overlap(normalized: Sequence[Interval], candidate: Interval) -> Interval | None:
    """The first interval of a *normalised* list that overlaps ``candidate``, or ``None``.

    O(log n) thanks to binary search; pass the result of :func:`normalize`.
    """
    index = bisect_right(normalized, candidate.start, key=lambda piece: piece.end)
    if index < len(normalized) and normalized[index].start < candidate.end:
        return normalized[index]
    return None


def covers(normalized: Sequence[Interval], candidate: Interval) -> bool:
    """True if ``candidate`` lies entirely inside the union of a *normalised* list.

    Because a normalised list has merged touching intervals, a single element must contain it.
    """
    found = first_overlap(normalized, candidate)
    return found is not None and found.contains(candidate)


def utc_offset(moment: datetime, tz: tzinfo) -> timedelta:
    """UTC offset of zone ``tz`` at instant ``moment``."""
    offset = moment.astimezone(tz).utcoffset()
    return offset if offset is not None else timedelta()


def _first_offset_change(low: datetime, high: datetime, tz: tzinfo) -> datetime:
    """First instant in ``(low, high]`` whose offset differs from the offset at ``low``.

    Precondition: the offsets at ``low`` and ``high`` differ and change once in between.
    Binary search to the microsecond.
    """
    before = utc_offset(low, tz)
    lo_us, hi_us = 0, (high - low) // timedelta(microseconds=1)
    while hi_us - lo_us > 1:
        mid_us = (lo_us + hi_us) // 2
        if utc_offset(low + timedelta(microseconds=mid_us), tz) == before:
            lo_us = mid_us
        else:
            hi_us = mid_us
    return low + timedelta(microseconds=hi_us)


def offset_transitions(start: datetime, end: datetime, tz: tzinfo) -> list[datetime]:
    """Instants in ``(start, end]`` at which the UTC offset of ``tz`` changes (DST and the like).

    Each returned instant is the first one carrying the new offset. The zone is probed every six
    hours, which finds every transition of the IANA database (they are months apart).
    """
    transitions: list[datetime] = []
    probe = as_utc(start, "start")
    end = as_utc(end, "end")
    while probe < end:
        following = min(probe + _PROBE_SPAN, end)
        if utc_offset(probe, tz) != utc_offset(following, tz):
            transitions.append(_first_offset_change(probe, following, tz))
        probe = following
    return transitions


def resolve_local(wall: datetime, tz: tzinfo) -> datetime:
    """Convert a naive local wall-clock time in zone ``tz`` to an aware UTC instant.

    Reads the wall clock like a person would, which is the earliest instant at which the clock
    shows ``wall`` or a later time:

    * ambiguous time (clocks fall back, the time occurs twice): its *first* occurrence;
    * non-existent time (clocks spring forward over it): the instant of the jump.

    The mapping is monotonic: a later wall time never resolves to an earlier instant.
    """
    if wall.tzinfo is not None:
        raise ValueError("wall-clock time must be naive")
    with_fold0 = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if with_fold0.astimezone(tz).replace(tzinfo=None) == wall:
        return with_fold0  # PEP 495: fold=0 is the first occurrence of an ambiguous time
    # A gap: fold=0 reads the wall with the offset before the jump (an instant after the jump),
    # fold=1 with the offset after it (an instant before the jump); the jump lies in between.
    with_fold1 = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(with_fold0, with_fold1), max(with_fold0, with_fold1)
    if utc_offset(low, tz) == utc_offset(high, tz):
        return with_fold0
    return _first_offset_change(low, high, tz)


def local_date_span(first_day: date, last_day: date, tz: tzinfo) -> Interval:
    """The whole local days ``first_day`` to ``last_day`` (inclusive) as one UTC interval.

    Runs from local midnight starting ``first_day`` to local midnight ending ``last_day``,
    each resolved with :func:`resolve_local`, so a day is 23, 24 or 25 hours long under DST.
    """
    if last_day < first_day:
        raise ValueError(f"last day {last_day} is before first day {first_day}")
    start = resolve_local(datetime.combine(first_day, time()), tz)
    end = resolve_local(datetime.combine(last_day + timedelta(days=1), time()), tz)
    return Interval(start, end)
