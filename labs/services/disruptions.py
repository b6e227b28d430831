"""A blackout (one machine) or a closure (the whole lab) placed over existing bookings.

Staff never put one over an active booking by accident: `staff.add_blackout` and
`staff.add_closure` go through `apply`, which, if active bookings overlap and the staff have
not confirmed them, raises `BookingsAffected` carrying the list, with, for each booking, the
first free slot of the same length on the same machine after the disruption (within
`MOVE_SEARCH_DAYS`). The staff then
confirm, per booking or for all, to cancel (full refund) or move; `apply` does it in ONE
transaction:

1. lock every machine concerned (the booking lock's first write, `labs.services.lock`);
2. re-read the affected bookings: if they are not exactly the ones the staff saw, Conflict
   `bookings_changed` (nothing written, the staff look again);
3. write the blackout or closure;
4. each booking: cancelled (its payment voided or refunded in full through
   `ecosystem.payments.services.refunds.cancel_payment`) or moved to its free slot (same
   length, same price; its calendar SEQUENCE raised);
5. the booker's mail is queued in the same transaction (sent after commit, never on
   rollback), and each change is in the audit log.

A free slot keeps the lab's calendar: opening hours, closures, blackouts (the new one
included) and every other active booking, and it starts after the disruption ends and after
now. It skips the booker's own rules (notice, horizon, length, quota, grid): the staff move
the booking, not the booker (the same staff override as a course series).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise import timezone
from tortoise.expressions import F

from ecosystem import mail
from ecosystem.db import atomic, on_commit
from ecosystem.errors import Conflict, Invalid
from ecosystem.i18n import _
from ecosystem.models import User
from ecosystem.payments.services import refunds
from ecosystem.services import audit
from labs.intervals import Interval, normalize, subtract
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    Blackout,
    Booking,
    BookingStatus,
    Closure,
    Equipment,
    EquipmentStatus,
    Lab,
)
from labs.services import schedule

MOVE_SEARCH_DAYS = 14
CANCEL, MOVE = "cancel", "move"
CHOICES = (CANCEL, MOVE)


@dataclass
class Disruption:
    """What the staff want to add: a blackout of one machine or a closure of the lab."""

    kind: str  # "blackout" | "closure"
    lab: Lab
    span: Interval  # UTC; a closure covers its local days
    reason: str
    values: dict  # what was typed, to send again with the confirmation
    equipment: Equipment | None = None
    closure_days: tuple = ()  # (first_day, last_day) for a closure


@dataclass
class Affected:
    booking: Booking
    move_to: Interval | None  # the first free slot, None if there is none


@dataclass
class Plan:
    disruption: Disruption
    affected: list[Affected] = field(default_factory=list)

    @property
    def booking_ids(self) -> list[int]:
        return [row.booking.id for row in self.affected]

    @property
    def movable(self) -> int:
        return sum(1 for row in self.affected if row.move_to is not None)


class BookingsAffected(Conflict):
    """The blackout or closure overlaps active bookings: confirm what happens to each."""

    def __init__(self, plan: Plan):
        super().__init__(
            _(
                "Active bookings fall in this period. Choose for each one whether to cancel it "
                "with a full refund or move it; the bookers are told by e-mail."
            ),
            code="bookings_affected",
        )
        self.plan = plan


@dataclass
class Outcome:
    booking: Booking
    action: str  # CANCEL | MOVE
    refunded: int = 0


# --- pure: the first free slot ------------------------------------------------------------


def first_free_slot(
    free: Sequence[Interval], duration: timedelta, not_before: datetime
) -> Interval | None:
    """The earliest `[start, start + duration)` inside one free interval, starting no earlier
    than `not_before` (free intervals normalised, in order)."""
    for gap in free:
        start = max(gap.start, not_before)
        if start + duration <= gap.end:
            return Interval(start, start + duration)
    return None


def propose_moves(
    bookings: Iterable[Booking],
    open_time: Sequence[Interval],
    blocked: Sequence[Interval],
    busy: dict[int, Interval],
    not_before: datetime,
) -> dict[int, Interval | None]:
    """A free slot per booking of ONE machine, in start order, none overlapping another's old
    or new time: `busy` maps every active booking id of the machine to its time."""
    found: dict[int, Interval | None] = {}
    for booking in sorted(bookings, key=lambda b: (b.starts_at, b.id)):
        others = [span for bid, span in busy.items() if bid != booking.id]
        others += [slot for slot in found.values() if slot is not None]
        free = subtract(normalize(open_time), normalize([*blocked, *others]))
        slot = first_free_slot(free, booking.ends_at - booking.starts_at, not_before)
        found[booking.id] = slot
    return found


# --- reading -----------------------------------------------------------------------------


async def _machines(disruption: Disruption) -> list[Equipment]:
    if disruption.equipment is not None:
        return [disruption.equipment]
    return await Equipment.filter(lab_id=disruption.lab.id).order_by("id")


async def _affected_bookings(disruption: Disruption, now: datetime) -> list[Booking]:
    """Active bookings of the machine(s) that overlap the span and have not ended."""
    query = Booking.filter(
        status__in=list(ACTIVE_BOOKING_STATUSES),
        starts_at__lt=disruption.span.end,
        ends_at__gt=max(disruption.span.start, now),
    )
    if disruption.equipment is not None:
        query = query.filter(equipment_id=disruption.equipment.id)
    else:
        query = query.filter(equipment__lab_id=disruption.lab.id)
    found = await query.select_related("equipment", "user").order_by("starts_at", "id")
    for booking in found:
        booking.equipment.lab = disruption.lab
    return found


async def _proposals(
    disruption: Disruption, bookings: list[Booking], now: datetime
) -> dict[int, Interval | None]:
    """The first free slot of each booking: four queries, whatever the number of machines."""
    not_before = max(disruption.span.end, now)
    window = Interval(not_before, not_before + timedelta(days=MOVE_SEARCH_DAYS))
    open_time = await schedule.lab_open_time(disruption.lab, window)  # 2 queries
    by_machine: dict[int, list[Booking]] = {}
    for booking in bookings:
        by_machine.setdefault(booking.equipment_id, []).append(booking)  # type: ignore[attr-defined]
    machine_ids = list(by_machine)
    blackouts = await schedule.blackouts_by_machine(machine_ids, window)  # 1 query
    rows = await Booking.filter(  # 1 query: every active booking that may be in the way
        equipment_id__in=machine_ids,
        status__in=list(ACTIVE_BOOKING_STATUSES),
        starts_at__lt=window.end,
        ends_at__gt=min(window.start, *(b.starts_at for b in bookings)),
    ).values_list("id", "equipment_id", "starts_at", "ends_at")
    busy_of: dict[int, dict[int, Interval]] = {machine_id: {} for machine_id in machine_ids}
    for booking_id, machine_id, start, end in rows:
        if start < end:
            busy_of[machine_id][booking_id] = Interval(start, end)
    found: dict[int, Interval | None] = {}
    for machine_id, own in by_machine.items():
        if own[0].equipment.status != EquipmentStatus.AVAILABLE:
            found.update({booking.id: None for booking in own})
            continue
        blocked = [disruption.span, *blackouts.get(machine_id, [])]
        found.update(propose_moves(own, open_time, blocked, busy_of[machine_id], not_before))
    return found


async def plan(disruption: Disruption) -> Plan:
    """The active bookings the disruption would hit, each with its first free slot."""
    now = timezone.now()
    bookings = await _affected_bookings(disruption, now)
    proposals = await _proposals(disruption, bookings, now) if bookings else {}
    return Plan(disruption, [Affected(b, proposals.get(b.id)) for b in bookings])


def parse_choices(form_values: dict[str, str], booking_ids: Sequence[int]) -> dict[int, str]:
    """`all` (cancel/move) for every booking, else `choice_<id>` per booking (Invalid if one is
    missing or unknown)."""
    every = form_values.get("all", "")
    if every in CHOICES:
        return {booking_id: every for booking_id in booking_ids}
    choices: dict[int, str] = {}
    fields: dict[str, str] = {}
    for booking_id in booking_ids:
        value = form_values.get(f"choice_{booking_id}", "")
        if value not in CHOICES:
            fields[f"choice_{booking_id}"] = _("Choose to cancel or to move this booking.")
        choices[booking_id] = value
    if fields:
        raise Invalid(_("Choose what happens to each booking."), fields=fields)
    return choices


# --- writing -----------------------------------------------------------------------------


async def _lock(machines: list[Equipment]) -> None:
    """The first write of the transaction: every machine's booking lock (whatever its status,
    so an out-of-service machine is locked too)."""
    await Equipment.filter(id__in=[m.id for m in machines]).update(
        booking_version=F("booking_version") + 1
    )


async def _create(disruption: Disruption) -> Blackout | Closure:
    if disruption.kind == "blackout":
        assert disruption.equipment is not None
        return await Blackout.create(
            equipment_id=disruption.equipment.id,
            starts_at=disruption.span.start,
            ends_at=disruption.span.end,
            reason=disruption.reason,
        )
    first, last = disruption.closure_days
    return await Closure.create(
        lab_id=disruption.lab.id, first_day=first, last_day=last, reason=disruption.reason
    )


def _changed() -> Conflict:
    return Conflict(
        _("The bookings in this period changed meanwhile: check the list again."),
        code="bookings_changed",
    )


async def apply(
    actor: User,
    disruption: Disruption,
    confirmed_ids: Sequence[int] | None = None,
    choices: dict[int, str] | None = None,
) -> tuple[Blackout | Closure, list[Outcome]]:
    """Add the blackout or closure and settle the bookings it hits, all in one transaction.

    `confirmed_ids` are the bookings the staff saw (None: they saw none). BookingsAffected if
    bookings overlap and nobody confirmed; Conflict `bookings_changed` if the overlapping
    bookings are not the confirmed ones; Conflict `no_free_slot` if a booking to move has no
    free slot any more. The caller checked the permission.
    """
    choices = choices or {}
    machines = await _machines(disruption)
    now = timezone.now()
    async with atomic():
        await _lock(machines)  # 1. FIRST: the machines' booking lock
        bookings = await _affected_bookings(disruption, now)  # 2. under the lock
        if bookings and confirmed_ids is None:
            proposals = await _proposals(disruption, bookings, now)
            raise BookingsAffected(
                Plan(disruption, [Affected(b, proposals.get(b.id)) for b in bookings])
            )
        if sorted(b.id for b in bookings) != sorted(confirmed_ids or []):
            raise _changed()
        proposals = await _proposals(disruption, bookings, now) if bookings else {}
        record = await _create(disruption)  # 3.
        outcomes = [
            await _settle(actor, disruption, booking, choices.get(booking.id), proposals, now)
            for booking in bookings
        ]  # 4. and 5.
        await audit.record(
            f"lab.{disruption.kind}_added",
            actor=actor,
            target=disruption.lab,
            cancelled=sum(1 for o in outcomes if o.action == CANCEL),
            moved=sum(1 for o in outcomes if o.action == MOVE),
        )
        if disruption.kind == "closure":
            lab_id = disruption.lab.id
            await on_commit(lambda: schedule.calendar_changed(lab_id))
    return record, outcomes


async def _settle(
    actor: User,
    disruption: Disruption,
    booking: Booking,
    choice: str | None,
    proposals: dict[int, Interval | None],
    now: datetime,
) -> Outcome:
    previous = Interval(booking.starts_at, booking.ends_at)
    slot = proposals.get(booking.id)
    if choice == MOVE and slot is not None:
        moved = await Booking.filter(
            id=booking.id, status__in=list(ACTIVE_BOOKING_STATUSES)
        ).update(
            starts_at=slot.start,
            ends_at=slot.end,
            updated_at=now,
            sequence=F("sequence") + 1,
        )
        if not moved:
            raise _changed()
        booking.starts_at, booking.ends_at = slot.start, slot.end
        outcome = Outcome(booking, MOVE)
    elif choice == MOVE:
        raise Conflict(
            _("No free slot is left for one of the bookings to move: check the list again."),
            code="no_free_slot",
        )
    elif choice == CANCEL:
        cancelled = await Booking.filter(
            id=booking.id, status__in=list(ACTIVE_BOOKING_STATUSES)
        ).update(
            status=BookingStatus.CANCELLED,
            cancelled_at=now,
            updated_at=now,
            decided_by_id=actor.id,
            decision_reason=disruption.reason[:500],
        )
        if not cancelled:
            raise _changed()
        booking.status = BookingStatus.CANCELLED
        outcome = Outcome(booking, CANCEL)
        if booking.payment_id is not None:  # type: ignore[attr-defined]
            # The lab cancels: whatever was paid goes back in full (a hold is voided).
            refund = await refunds.cancel_payment(
                booking.payment_id,  # type: ignore[attr-defined]
                100,
                disruption.kind,
            )
            outcome.refunded = refund.amount if refund is not None else 0
    else:
        raise Invalid(
            _("Choose what happens to each booking."),
            fields={f"choice_{booking.id}": _("Choose to cancel or to move this booking.")},
        )
    await audit.record(
        "booking.moved" if outcome.action == MOVE else "booking.cancelled",
        actor=actor,
        target=booking,
        by_staff=True,
        cause=disruption.kind,
        previous_start=previous.start.isoformat(),
        previous_end=previous.end.isoformat(),
    )
    owner = booking.user
    await mail.send_mail(
        owner.email,
        "labs_staff_disruption",
        {
            "booking": booking,
            "lab": disruption.lab,
            "user": owner,
            "kind": disruption.kind,
            "moved": outcome.action == MOVE,
            "previous": previous,
            "reason": disruption.reason,
            "refunded": outcome.refunded,
        },
        owner.locale,
        timezone=owner.timezone,
    )
    return outcome
