"""Booking machines in three steps, and cancelling them.

`create_booking` (and the waitlist, which calls it) reads as the three steps every booking
takes – the same as a move (`labs.services.reschedule`):

1. **gather the facts** – `labs.services.facts.booking_facts`: the machine with its lab and
   rules, the person's certification, price and quota usage, the lab's calendar, `now`;
2. **decide** – `labs.services.rules.decide`, around the one pure decision function
   `labs.availability.check_booking`: every rule at once, or the typed error saying why not;
3. **write under the machine's lock** – `labs.services.lock`: lock the machine first, decide
   again with the quota re-read, refuse an overlapping active booking, insert, and start the
   payment (`labs.services.payments`) in the same transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound
from ecosystem.i18n import _, format_dt
from ecosystem.models import User
from ecosystem.payments.models import Payment
from ecosystem.services import audit
from labs import permissions
from labs.availability import can_cancel, cancellation_deadline
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus, Lab
from labs.services import facts, lock, notices, rules
from labs.services import payments as booking_payments
from labs.services.facts import BookingCase


async def create_booking(
    actor: User,
    equipment_id: int,
    start: datetime,
    end: datetime,
    purpose: str = "",
    payer: str = "auto",
    organisation_id: int | None = None,
) -> Booking:
    """Book `[start, end)` of a machine for the actor, or raise why not.

    A priced booking is paid by `payer` (see ecosystem.services.payments.create_payment):
    credit first, then the card (the booking is a `pending_payment` hold and
    `booking.checkout_url` the Stripe Checkout page), an organisation's statement, or at the
    lab when no online payment is configured.

    NotFound (404); NotPermitted `training_required` / `not_offered` (403); Invalid (422) for
    a machine out of service or a broken rule (the code names the rule); Conflict `conflict`
    (409) if an active booking overlaps. Pending if the machine needs staff approval.
    Opens its own transaction: do not call it inside another one (see `lock.lock_machine`).
    """
    window = facts.check_times(start, end)
    equipment = await facts.get_bookable_equipment(actor, equipment_id)
    case = await facts.booking_facts(actor, equipment, window)  # 1. gather
    rules.decide(case)  # 2. decide (every rule; outside the lock, nobody else's bookings)
    booking, payment = await _insert_under_lock(case, purpose.strip()[:500], payer, organisation_id)
    booking.equipment = equipment
    booking.checkout_url = ""  # type: ignore[attr-defined]
    if payment is not None and booking.status == BookingStatus.PENDING_PAYMENT:
        # After the commit: the hold exists, Stripe is asked for the Checkout page.
        booking.checkout_url = await booking_payments.start_checkout(payment, actor)  # type: ignore[attr-defined]
    return booking


async def _insert_under_lock(
    case: BookingCase, purpose: str, payer: str, organisation_id: int | None
):
    """3. Write under the machine's lock: the booking and its payment, or raise why not."""
    equipment, window = case.equipment, case.window
    # On PostgreSQL with nothing to read again under the lock, the lock is the INSERT's own
    # first step (one statement); otherwise it is the transaction's first statement.
    lock_with_insert = lock.insert_refuses_overlaps() and not facts.reads_under_lock(case)
    try:
        async with atomic():
            if not lock_with_insert:
                await lock.lock_in_service(equipment.id)
            # The same decision with fresh facts: the person's own bookings may have changed.
            price = rules.decide(await facts.with_fresh_quota(case))
            if not lock.insert_refuses_overlaps() and await lock.slot_taken(equipment.id, window):
                raise lock.conflict()
            booking = Booking(
                equipment_id=equipment.id,
                user_id=case.person.id,
                starts_at=window.start,
                ends_at=window.end,
                status=BookingStatus.PENDING
                if equipment.requires_approval
                else BookingStatus.CONFIRMED,
                purpose=purpose,
                price_amount=price.amount,
                price_currency=price.currency,
                price_category=price.category,
                check_in_code=secrets.token_urlsafe(12),
            )
            await lock.insert_booking(booking, locking=lock_with_insert)
            payment = None
            if price.amount > 0:
                payment = await booking_payments.start_payment(
                    case.person, booking, equipment, price, payer, organisation_id
                )
            booking.equipment = equipment
            # Confirmed or waiting for approval: the booker's mail, with the .ics.
            await notices.booking_made(booking, case.person)
    except IntegrityError as exc:
        if lock.is_overlap_violation(exc):
            raise lock.conflict() from exc
        raise
    return booking, payment


def cancellable_until(booking: Booking) -> datetime | None:
    """The last moment the booker may cancel (None once the booking is not active)."""
    if booking.status not in ACTIVE_BOOKING_STATUSES:
        return None
    return cancellation_deadline(facts.rules_of(booking.equipment), booking.starts_at)


async def cancel_booking(actor: User, booking_id: int, ip: str = "") -> Booking:
    """Cancel a booking: its owner until the cancellation deadline, the lab's staff any time.

    Cancelling a cancelled booking returns it unchanged. NotFound for anybody else's booking;
    Invalid `cancellation_deadline` past the deadline; Conflict `not_cancellable` for a
    booking that is no longer pending or confirmed (declined, completed, no-show).
    """
    booking = await Booking.get_or_none(id=booking_id).select_related("equipment__lab")
    if booking is None:
        raise NotFound(_("No such booking."))
    is_owner = booking.user_id == actor.id  # type: ignore[attr-defined]
    is_staff = await permissions.allowed(actor, "lab.manage_bookings", booking.equipment.lab)
    if not (is_owner or is_staff):
        raise NotFound(_("No such booking."))
    if booking.status == BookingStatus.CANCELLED:
        return booking
    if booking.status not in ACTIVE_BOOKING_STATUSES:
        raise Conflict(
            _("Only pending or confirmed bookings can be cancelled."), code="not_cancellable"
        )
    now = timezone.now()
    machine_rules = facts.rules_of(booking.equipment)
    # A paid booking may still be cancelled by its owner after the deadline (until it starts):
    # the lab's late-cancellation policy decides the refund. An unpaid hold may always go.
    late_but_paid = booking.payment_id is not None and (  # type: ignore[attr-defined]
        booking.status == BookingStatus.PENDING_PAYMENT or booking.starts_at > now
    )
    if not is_staff and not late_but_paid and not can_cancel(machine_rules, booking.starts_at, now):
        deadline = cancellation_deadline(machine_rules, booking.starts_at)
        message = _(
            "Bookings on this machine can be cancelled until %(n)d hours before the start "
            "(here until %(at)s). Ask the lab's staff.",
            n=machine_rules.cancellation_deadline_hours,
            at=format_dt(deadline, "short", booking.equipment.lab.timezone),
        )
        raise Invalid(message, code="cancellation_deadline")
    changes = {"status": BookingStatus.CANCELLED, "cancelled_at": now, "updated_at": now}
    if not is_owner:
        changes["decided_by_id"] = actor.id
    async with atomic():
        updated = await Booking.filter(
            id=booking.id, status__in=list(ACTIVE_BOOKING_STATUSES)
        ).update(**changes)
        if updated:
            await audit.record(
                "booking.cancelled", actor=actor, target=booking, ip=ip, by_staff=not is_owner
            )
            if booking.payment_id is not None:  # type: ignore[attr-defined]
                await booking_payments.cancel_payment(booking, is_staff, is_owner, now)
            if booking.status != BookingStatus.PENDING_PAYMENT:  # a hold was never announced
                owner = actor if is_owner else await User.get(id=booking.user_id)  # type: ignore[attr-defined]
                booking.cancelled_at = now
                await notices.booking_cancelled(booking, owner, by_staff=not is_owner)
            # The freed slot goes to the waitlist now, not at the next minute's cron run.
            await lock.offer_freed_slot(f"waitlist-after-cancel:{booking.id}")
    await booking.refresh_from_db()
    if booking.status != BookingStatus.CANCELLED:  # declined or completed meanwhile
        raise Conflict(
            _("Only pending or confirmed bookings can be cancelled."), code="not_cancellable"
        )
    return booking


async def list_bookings(
    user: User,
    status: BookingStatus | None = None,
    upcoming: bool = False,
    page: int = 1,
    page_size: int = 100,
) -> list[Booking]:
    """The user's own bookings, latest start first, with machine and lab (one query)."""
    query = Booking.filter(user_id=user.id).select_related("equipment__lab")
    if status is not None:
        query = query.filter(status=status)
    if upcoming:
        query = query.filter(ends_at__gt=timezone.now()).order_by("starts_at", "id")
    else:
        query = query.order_by("-starts_at", "-id")
    return await query.offset((page - 1) * page_size).limit(page_size)


@dataclass(frozen=True)
class Outcome:
    """What a booking request ended in, for the page to say exactly that.

    `kind`: `confirmed`, `pending_approval` (the staff decide; never called confirmed) or
    `waiting_for_payment` (a hold until the online payment arrives). `due` is what is left
    to pay after credit, and `pay`: `""` (nothing due), `at_lab`, `card`, `statement`.
    """

    kind: str
    due: int = 0
    currency: str = "VND"
    pay: str = ""
    from_credit: int = 0


def outcome_of(booking: Booking) -> Outcome:
    """The outcome of a booking just made (its payment attached, if any)."""
    if booking.status == BookingStatus.PENDING_PAYMENT:
        kind = "waiting_for_payment"
    elif booking.status == BookingStatus.PENDING:
        kind = "pending_approval"
    else:
        kind = "confirmed"
    payment = booking.payment if booking.payment_id else None  # type: ignore[attr-defined]
    if not isinstance(payment, Payment):  # free, or the payment not loaded
        return Outcome(kind)
    from_credit = int(payment.credit_amount or 0)
    due = max(int(payment.amount) - from_credit, 0)
    method = str(getattr(payment.method, "value", payment.method))
    state = str(getattr(payment.state, "value", payment.state))
    pay = {"at_lab": "at_lab", "card": "card", "organisation": "statement"}.get(method, "")
    if state == "paid" or due == 0:
        pay, due = "", 0
    return Outcome(kind, due, payment.currency, pay, from_credit)


MY_BOOKINGS_PAGE_SIZE = 20


@dataclass
class MyBookings:
    """One page of a person's bookings: `when` is `upcoming` (soonest first) or `past`
    (latest first), optionally in one lab; `labs` are the labs they have booked in."""

    bookings: list[Booking]
    when: str
    lab: Lab | None
    labs: list[Lab]
    page: int
    has_next: bool


async def my_bookings_page(
    user: User, when: str = "upcoming", lab_slug: str = "", page: int = 1
) -> MyBookings:
    """A page of the user's own bookings with machine, lab and payment: three queries
    whatever the page holds (bookings, payments, the labs for the filter)."""
    when = when if when in ("upcoming", "past") else "upcoming"
    page = max(1, min(page, 10_000))
    labs = await Lab.filter(equipment__bookings__user_id=user.id).distinct().order_by("name", "id")
    lab = next((candidate for candidate in labs if candidate.slug == lab_slug), None)
    query = Booking.filter(user_id=user.id).select_related("equipment__lab")
    if lab is not None:
        query = query.filter(equipment__lab_id=lab.id)
    now = timezone.now()
    if when == "upcoming":
        query = query.filter(ends_at__gt=now).order_by("starts_at", "id")
    else:
        query = query.filter(ends_at__lte=now).order_by("-starts_at", "-id")
    size = MY_BOOKINGS_PAGE_SIZE
    found = await query.offset((page - 1) * size).limit(size + 1)
    shown = await booking_payments.attach_payments(found[:size])
    return MyBookings(shown, when, lab, list(labs), page, len(found) > size)
