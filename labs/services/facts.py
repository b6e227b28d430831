"""Step 1 of a booking: gather the facts, in one place.

A booking (new, moved, or taken from the waitlist) is made in three steps:

1. **gather the facts** – `booking_facts` reads the machine with its lab and rules, the
   person's price, certification and quota usage, the lab's calendar around the window
   (opening hours minus closures, the machine's blackouts) and `now`, into one frozen
   `BookingCase`;
2. **decide** – `labs.services.rules.decide` asks the one pure decision function
   `labs.availability.check_booking` and raises why not, in the order people hear it;
3. **write under the machine's lock** – `labs.services.lock`: the quota is re-read with
   `with_fresh_quota` and decided again by the same function, the slot is checked against
   the other active bookings, then the row is written.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from tortoise import timezone
from tortoise.expressions import Q

from ecosystem import rawsql
from ecosystem.errors import Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.models import User, Verification
from labs import permissions
from labs.availability import BookingFacts, BookingRules, local_week, whole_minutes
from labs.intervals import Interval, first_overlap, normalize
from labs.models import Booking, BookingStatus, Certification, Equipment, Lab
from labs.services import prices, schedule

# Bookings that count against the weekly quota: everything but the cancelled and declined.
QUOTA_STATUSES = (
    BookingStatus.PENDING,
    BookingStatus.CONFIRMED,
    BookingStatus.PENDING_PAYMENT,
    BookingStatus.COMPLETED,
    BookingStatus.NO_SHOW,
)


def rules_of(equipment: Equipment) -> BookingRules:
    """The machine's booking rules as the pure computations take them."""
    return BookingRules(
        slot_step_minutes=equipment.slot_step_minutes,
        min_minutes=equipment.min_minutes,
        max_minutes=equipment.max_minutes,
        notice_minutes=equipment.notice_minutes,
        horizon_days=equipment.horizon_days,
        weekly_quota_minutes=equipment.weekly_quota_minutes,
        cancellation_deadline_hours=equipment.cancellation_deadline_hours,
        requires_approval=equipment.requires_approval,
        requires_training=equipment.requires_training,
    )


def check_times(start: datetime, end: datetime) -> Interval:
    """The window asked for, in UTC; Invalid for a naive, empty or overlong one."""
    if start.tzinfo is None or end.tzinfo is None:
        message = _("Give a date and time with its UTC offset, e.g. 2026-03-02T09:00:00+07:00.")
        raise Invalid(message, fields={"start" if start.tzinfo is None else "end": message})
    if end <= start:
        message = _("The end must be after the start.")
        raise Invalid(message, fields={"end": message})
    if end - start > schedule.MAX_BOOKING_SPAN:
        message = _("A booking lasts at most %(days)d days.", days=schedule.MAX_BOOKING_SPAN.days)
        raise Invalid(message, fields={"end": message}, code="too_long")
    return schedule.utc_window(start, end)


async def equipment_with_lab(equipment_id: int) -> Equipment | None:
    """The machine with its lab loaded, as `select_related("lab")` (plain SQL: a hot read)."""
    found = await rawsql.select(Equipment, "WHERE m.id = ?", (equipment_id,), related="lab")
    return found[0] if found else None


# The machine with its lab, found only when the lab's host organisation is verified: a
# public machine (nearly every request) is read and checked in one statement.
_WITH_VERIFIED_HOST = (
    'WHERE m.id = ? AND EXISTS (SELECT 1 FROM "organisation" o'
    " WHERE o.id = r.organisation_id AND o.verification = ?)"
)


async def get_bookable_equipment(actor: User | None, equipment_id: int) -> Equipment:
    """The machine with its lab; 404 if unknown or its lab is not public – unpublished, or its
    host organisation not (or no longer) verified – unless the actor is the lab's staff.

    One query for a public machine; otherwise the machine is read again without the host's
    condition and the staff rule decides."""
    verified = Verification.VERIFIED.value  # type: ignore[attr-defined]
    found = await rawsql.select(
        Equipment, _WITH_VERIFIED_HOST, (equipment_id, verified), related="lab", small=True
    )
    if found and found[0].lab.is_published:
        return found[0]
    equipment = found[0] if found else await equipment_with_lab(equipment_id)
    if equipment is None:
        raise NotFound(_("No such machine."))
    if not await _host_is_public(equipment.lab) and not await permissions.is_lab_staff(
        actor, equipment.lab
    ):
        raise NotFound(_("No such machine."))
    return equipment


async def _host_is_public(lab: Lab) -> bool:
    if not lab.is_published:
        return False
    rows = await rawsql.fetch(
        'SELECT 1 FROM "organisation" WHERE id = ? AND verification = ?',
        (lab.organisation_id, Verification.VERIFIED.value),  # type: ignore[attr-defined]
    )
    return bool(rows)


async def has_certification(user: User, equipment: Equipment, at: datetime) -> bool:
    """A certification for the machine's category, not revoked and not expired at `at`."""
    return await (
        Certification.filter(user_id=user.id, category=equipment.category, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        .exists()
    )


async def minutes_in_week(user: User, equipment: Equipment, start: datetime) -> int:
    """The user's booked minutes on this machine in the lab's local week of `start`."""
    if equipment.weekly_quota_minutes is None:
        return 0
    week = local_week(start, schedule.lab_timezone(equipment.lab))
    rows = await Booking.filter(
        user_id=user.id,
        equipment_id=equipment.id,
        status__in=list(QUOTA_STATUSES),
        starts_at__gte=week.start,
        starts_at__lt=week.end,
    ).values_list("starts_at", "ends_at")
    return sum(whole_minutes(end - begin) for begin, end in rows)


@dataclass(frozen=True)
class BookingCase:
    """What step 1 gathered: who books which machine (with its lab) when, at what price
    (None: not offered to this person), the booking being moved if any, and the pure
    `facts` that `check_booking` decides on."""

    person: User
    equipment: Equipment
    window: Interval
    price: prices.Price | None
    facts: BookingFacts
    moving: Booking | None = None


async def _used_minutes(
    person: User, equipment: Equipment, window: Interval, moving: Booking | None
) -> int:
    """The person's other minutes in the week of the window (a moved booking's own left out)."""
    used = await minutes_in_week(person, equipment, window.start)
    if moving is None:
        return used
    tz = schedule.lab_timezone(equipment.lab)
    if local_week(moving.starts_at, tz) == local_week(window.start, tz):
        used -= whole_minutes(moving.ends_at - moving.starts_at)
    return max(used, 0)


async def _certified(
    person: User, equipment: Equipment, window: Interval, moving: Booking | None
) -> bool:
    """Read only when the machine asks for training, and not for a move: the booking
    being moved was decided with its person's certification when it was made."""
    if not equipment.requires_training or moving is not None:
        return True
    return await has_certification(person, equipment, window.start)


async def booking_facts(
    person: User,
    equipment: Equipment,
    window: Interval,
    *,
    moving: Booking | None = None,
    now: datetime | None = None,
) -> BookingCase:
    """Step 1: everything the decision needs about `person` booking `[window)` of the machine
    (loaded with its lab). With `moving`, the facts of moving that booking to the window.
    A constant number of queries: certification, price category, the machine's calendar and
    rates (opening hours, closures, blackouts, rates in one), quota usage (each only when the
    machine needs it)."""
    certified = await _certified(person, equipment, window, moving)
    calendar = await schedule.machine_calendar(equipment.lab, equipment.id, window)
    price = await prices.quote(person, equipment, window.start, window.end, rates=calendar.rates)
    facts = BookingFacts(
        rules=rules_of(equipment),
        start=window.start,
        end=window.end,
        now=now or timezone.now(),
        tz=schedule.lab_timezone(equipment.lab),
        open_intervals=tuple(calendar.open_time),
        blackouts=tuple(calendar.blackouts),
        used_minutes=await _used_minutes(person, equipment, window, moving),
        certified=certified,
    )
    return BookingCase(person, equipment, window, price, facts, moving)


def reads_under_lock(case: BookingCase) -> bool:
    """`with_fresh_quota` reads the database: the machine has a weekly quota."""
    return case.equipment.weekly_quota_minutes is not None


async def with_fresh_quota(case: BookingCase) -> BookingCase:
    """The case with the quota usage read again (under the machine's lock: the person's own
    bookings may have changed since step 1); unchanged when the machine has no quota."""
    if not reads_under_lock(case):
        return case
    used = await _used_minutes(case.person, case.equipment, case.window, case.moving)
    return dataclasses.replace(case, facts=dataclasses.replace(case.facts, used_minutes=used))


# --- a staff series: the calendar's rules, not the booker's ----------------------------------

# Staff book a course series outside the booker's rules (notice, horizon, length, grid, quota,
# training): what still holds is the past, the opening hours, closures and blackouts.
STAFF_SERIES_RULES = BookingRules(
    slot_step_minutes=1,
    min_minutes=1,
    max_minutes=int(schedule.MAX_BOOKING_SPAN.total_seconds()) // 60,
    notice_minutes=0,
    horizon_days=100 * 366,
)


def _around(normalized: Sequence[Interval], window: Interval) -> tuple[Interval, ...]:
    """The intervals of a normalised list that overlap the window (binary search)."""
    index = bisect_right(normalized, window.start, key=lambda piece: piece.end)
    found = []
    while index < len(normalized) and normalized[index].start < window.end:
        found.append(normalized[index])
        index += 1
    return tuple(found)


@dataclass(frozen=True)
class SeriesFacts:
    """Step 1 for a staff series: the machine's calendar over the whole span, read once."""

    open_time: tuple[Interval, ...]
    blackouts: tuple[Interval, ...]
    busy: tuple[Interval, ...]
    now: datetime
    tz: tzinfo

    def session_facts(self, session: Interval) -> BookingFacts:
        """The facts `check_booking` decides one session on (its part of the calendar)."""
        return BookingFacts(
            rules=STAFF_SERIES_RULES,
            start=session.start,
            end=session.end,
            now=self.now,
            tz=self.tz,
            open_intervals=_around(self.open_time, session),
            blackouts=_around(self.blackouts, session),
        )

    def taken(self, session: Interval) -> bool:
        """An active booking overlaps the session (re-checked under the lock when booked)."""
        return first_overlap(self.busy, session) is not None


async def series_facts(lab: Lab, equipment: Equipment, span: Interval) -> SeriesFacts:
    """Step 1 for a staff series over `span`: open time, blackouts, active bookings, `now`
    (three queries whatever the number of sessions)."""
    open_time = await schedule.lab_open_time(lab, span)
    taken = await schedule.machine_taken(equipment.id, span)
    return SeriesFacts(
        open_time=tuple(normalize(open_time)),
        blackouts=tuple(normalize(taken.blackouts)),
        busy=tuple(normalize(taken.busy)),
        now=timezone.now(),
        tz=schedule.lab_timezone(lab),
    )
