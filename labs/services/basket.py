"""Several slots at once: a basket of bookings made together, all or nothing, one payment.

Like Fab Manager's cart: a person ticks several free cells of a lab's grid (several slots,
several machines of one lab) and books them in one step. The guarantee:

- **all or nothing** – every slot is decided first (the same three steps as one booking,
  `labs.services.bookings`); then ONE transaction locks every machine of the basket (in
  machine-id order, so two baskets never wait on each other in a circle), decides each slot
  again with fresh facts, refuses an overlapping active booking and inserts. Any refusal
  rolls the whole transaction back: no booking, no payment. PostgreSQL's exclusion constraint
  holds as for a single booking.
- **a refusal names its slot** – `SlotRefused` says which machine and time, and why (the
  rule's own message and status: 403, 409 or 422).
- **one payment** – a priced basket gets one payment for the total, subject `labs.basket`
  (its id is the basket's first booking; every booking of it carries the payment). When it
  is paid, `HANDLER.paid` confirms every booking of the basket; when an unpaid hold is
  released, every booking of it is freed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.content import tr
from ecosystem.db import atomic
from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _, format_dt
from ecosystem.inputs import iso_datetime, whole_number
from ecosystem.models import User
from ecosystem.packages import PaymentHandler
from ecosystem.payments.models import Payment
from ecosystem.payments.services import checkout
from ecosystem.payments.services.checkout import Subject
from labs.intervals import Interval
from labs.models import Booking, BookingStatus, Equipment, Lab
from labs.services import facts, lock, rules
from labs.services import payments as booking_payments
from labs.services.facts import BookingCase
from labs.services.schedule import lab_timezone

SUBJECT_KIND = "labs.basket"
MAX_SLOTS = 20


@dataclass(frozen=True)
class Slot:
    equipment_id: int
    start: datetime
    end: datetime


class SlotRefused(DomainError):
    """One slot of the basket cannot be booked: nothing was booked. `slot` is its position."""

    def __init__(self, slot: int, label: str, cause: DomainError) -> None:
        super().__init__(
            _("%(slot)s: %(reason)s", slot=label, reason=cause.message),
            fields={"slot": label, **cause.fields},
            code=cause.code,
        )
        self.status_code = cause.status_code
        self.slot = slot
        self.label = label


@dataclass
class BasketResult:
    bookings: list[Booking]
    payment: Payment | None = None
    checkout_url: str = ""
    outcome: str = "confirmed"  # confirmed | pending_approval | waiting_for_payment | pay_at_lab
    lab: Lab | None = None
    machines: dict[int, Equipment] = field(default_factory=dict)


def ticks_of(values: list) -> list[str]:
    """The ticked cells as sent (a form or an address), bounded: one more than a basket holds,
    so that `parse_slots` can still say "too many", each cut to a cell's length."""
    return [str(value)[:120] for value in values[: MAX_SLOTS + 1]]


def parse_slots(raw: list[str]) -> list[Slot]:
    """Ticked cells (`<machine id>|<start>|<end>`), without repeats, in time order."""
    message = _("Tick at least one free slot.")
    if not raw:
        raise Invalid(message, fields={"slot": message})
    if len(raw) > MAX_SLOTS:
        message = _("A basket holds at most %(n)d slots.", n=MAX_SLOTS)
        raise Invalid(message, fields={"slot": message}, code="too_many")
    found: set[Slot] = set()
    for value in raw:
        parts = value.split("|")
        equipment_id = whole_number(parts[0]) if len(parts) == 3 else None
        try:
            start, end = iso_datetime(parts[1]), iso_datetime(parts[2])
        except (ValueError, IndexError):
            start = end = None
        if equipment_id is None or start is None or end is None:
            bad = _("Pick the slots on the lab's grid.")
            raise Invalid(bad, fields={"slot": bad})
        found.add(Slot(equipment_id, start, end))
    return sorted(found, key=lambda s: (s.start, s.equipment_id))


def slot_label(equipment: Equipment | None, slot: Slot, timezone_name: str) -> str:
    name = tr(equipment, "name") if equipment is not None else f"#{slot.equipment_id}"
    start = format_dt(slot.start, "short", timezone_name)
    end = format_dt(slot.end, "HH:mm", timezone_name)
    return f"{name}, {start}–{end}"


async def book_basket(
    actor: User,
    lab_slug: str,
    slots: list[Slot],
    purpose: str = "",
    payer: str = "auto",
    organisation_id: int | None = None,
) -> BasketResult:
    """Book every slot of the basket for the actor in one transaction, or none of them.

    NotFound (404) for an unknown or hidden lab; SlotRefused naming the first slot refused,
    with the status of the reason (403 training, 409 taken, 422 a rule); Invalid for a basket
    of slots in another lab or in several currencies. Opens its own transaction.
    """
    lab = await Lab.get_or_none(slug=lab_slug)
    if lab is None:
        raise NotFound(_("No such lab."))
    zone = lab.timezone
    cases: list[BookingCase] = []
    machines: dict[int, Equipment] = {}
    # 1. and 2. for every slot: gather and decide, outside the lock.
    for index, slot in enumerate(slots):
        equipment = machines.get(slot.equipment_id)
        try:
            window = facts.check_times(slot.start, slot.end)
            if equipment is None:
                equipment = await facts.get_bookable_equipment(actor, slot.equipment_id)
                if equipment.lab_id != lab.id:  # type: ignore[attr-defined]
                    raise NotFound(_("No such machine."))
                machines[equipment.id] = equipment
            case = await facts.booking_facts(actor, equipment, window)
            rules.decide(case)
        except DomainError as exc:
            raise SlotRefused(index, slot_label(equipment, slot, zone), exc) from exc
        cases.append(case)
    bookings, payment = await _insert_all_under_lock(
        actor, lab, cases, slots, purpose.strip()[:500], payer, organisation_id
    )
    result = BasketResult(bookings, payment, lab=lab, machines=machines)
    if payment is not None and any(b.status == BookingStatus.PENDING_PAYMENT for b in bookings):
        result.checkout_url = await booking_payments.start_checkout(payment, actor)
        result.outcome = "waiting_for_payment"
    elif any(b.status == BookingStatus.PENDING for b in bookings):
        result.outcome = "pending_approval"
    elif payment is not None and payment.method == "at_lab":
        result.outcome = "pay_at_lab"
    return result


async def _insert_all_under_lock(
    actor: User,
    lab: Lab,
    cases: list[BookingCase],
    slots: list[Slot],
    purpose: str,
    payer: str,
    organisation_id: int | None,
) -> tuple[list[Booking], Payment | None]:
    """3. One transaction: lock every machine, decide again, insert every booking, one payment."""
    zone = lab.timezone
    bookings: list[Booking] = []
    try:
        async with atomic():
            # The locks are the first statements (see `labs.services.lock`), in id order.
            for equipment_id in sorted({case.equipment.id for case in cases}):
                await lock.lock_in_service(equipment_id)
            total, currency = 0, ""
            for index, (case, slot) in enumerate(zip(cases, slots, strict=True)):
                label = slot_label(case.equipment, slot, zone)
                try:
                    # Fresh facts: this basket's own earlier slots count against the quota.
                    price = rules.decide(await facts.with_fresh_quota(case))
                    if await lock.slot_taken(case.equipment.id, case.window):
                        raise lock.conflict()
                    if currency and price.amount and price.currency != currency:
                        message = _("A basket is paid in one currency: book these separately.")
                        raise Invalid(message, code="currencies")
                except DomainError as exc:
                    raise SlotRefused(index, label, exc) from exc
                if price.amount:
                    currency = price.currency
                total += price.amount
                bookings.append(await _insert(case, price, purpose))
            payment = None
            if total > 0:
                payment = await _start_payment(
                    actor, lab, bookings, total, currency, payer, organisation_id
                )
    except IntegrityError as exc:
        if lock.is_overlap_violation(exc):
            raise SlotRefused(0, _("One of the slots"), lock.conflict()) from exc
        raise
    return bookings, payment


async def _insert(case: BookingCase, price, purpose: str) -> Booking:
    equipment, window = case.equipment, case.window
    return await Booking.create(
        equipment_id=equipment.id,
        user_id=case.person.id,
        starts_at=window.start,
        ends_at=window.end,
        status=BookingStatus.PENDING if equipment.requires_approval else BookingStatus.CONFIRMED,
        purpose=purpose,
        price_amount=price.amount,
        price_currency=price.currency,
        price_category=price.category,
        check_in_code=secrets.token_urlsafe(12),
    )


def _subject(lab: Lab, host, bookings: list[Booking]) -> Subject:
    tz = lab_timezone(lab)
    first = min(b.starts_at for b in bookings).astimezone(tz)
    description = _(
        "%(n)d bookings at %(lab)s from %(start)s",
        n=len(bookings),
        lab=tr(lab, "name"),
        start=format_dt(first, "short", lab.timezone),
    )
    return Subject(
        kind=SUBJECT_KIND,
        id=bookings[0].id,
        description=description,
        issuer_key=booking_payments.issuer_key(lab.id),
        issuer={
            "name": tr(lab, "name"),
            "host": host.name,
            "address": lab.address,
            "email": lab.contact_email,
            "phone": lab.contact_phone,
        },
        period=f"{first:%Y-%m}",
        return_path="/bookings",
    )


async def _start_payment(
    actor: User,
    lab: Lab,
    bookings: list[Booking],
    total: int,
    currency: str,
    payer: str,
    organisation_id: int | None,
) -> Payment:
    """The basket's one payment, inside its transaction; a card payment makes holds of all."""
    host = await lab.organisation  # type: ignore[attr-defined]
    payment = await checkout.create_payment(
        actor, _subject(lab, host, bookings), total, currency, payer, organisation_id
    )
    changes: dict = {"payment_id": payment.id}
    if payment.method == "card" and payment.state == "pending":
        changes["status"] = BookingStatus.PENDING_PAYMENT
    await Booking.filter(id__in=[b.id for b in bookings]).update(**changes)
    for booking in bookings:
        booking.payment = payment
        booking.status = changes.get("status", booking.status)
    return payment


# --- reading: the confirmation page ------------------------------------------------------------


def parse_ids(raw: str) -> list[int]:
    ids = [whole_number(part) for part in raw.split(",")[:MAX_SLOTS]]
    return [i for i in ids if i is not None]


async def basket_of(actor: User, lab_slug: str, ids: list[int]) -> BasketResult:
    """The actor's own bookings of a basket at this lab, in time order (one query)."""
    found = await (
        Booking.filter(id__in=ids, user_id=actor.id, equipment__lab__slug=lab_slug)
        .select_related("equipment__lab")
        .order_by("starts_at", "id")
    )
    if not ids or not found:
        raise NotFound(_("No such booking."))
    await booking_payments.attach_payments(found)
    lab = found[0].equipment.lab
    return BasketResult(found, found[0].payment, lab=lab)  # type: ignore[arg-type]


def first_day(result: BasketResult) -> str:
    """The lab's local date of the basket's first booking (ISO), for the way back."""
    first = result.bookings[0].starts_at.astimezone(lab_timezone(result.lab))  # type: ignore[arg-type]
    return first.date().isoformat()


# --- the kernel's hooks --------------------------------------------------------------------------


async def _paid(payment: Payment) -> bool:
    """The basket's money arrived: confirm every booking of it (or take every slot back if
    the hold was released and all are still free; otherwise False, and it is refunded)."""
    held = await Booking.filter(payment_id=payment.id).select_related("equipment")
    if not held:
        return False
    now = timezone.now()
    if any(b.status == BookingStatus.CANCELLED for b in held):
        if any(b.ends_at <= now for b in held):
            return False
        for equipment_id in sorted({b.equipment_id for b in held}):  # type: ignore[attr-defined]
            if not await lock.lock_machine(equipment_id):
                return False
        for booking in held:
            if booking.status == BookingStatus.CANCELLED and await lock.slot_taken(
                booking.equipment_id,  # type: ignore[attr-defined]
                Interval(booking.starts_at, booking.ends_at),
            ):
                return False
    elif any(b.status not in _PAYABLE for b in held):
        return False
    for booking in held:
        confirmed = (
            BookingStatus.PENDING
            if booking.equipment.requires_approval
            else BookingStatus.CONFIRMED
        )
        await Booking.filter(
            id=booking.id, status__in=[BookingStatus.PENDING_PAYMENT, BookingStatus.CANCELLED]
        ).update(status=confirmed, cancelled_at=None, updated_at=now)
    return True


_PAYABLE = (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED, BookingStatus.PENDING)


async def _released(payment: Payment) -> None:
    """An unpaid hold ended: free every slot of the basket."""
    now = timezone.now()
    freed = await Booking.filter(
        payment_id=payment.id, status=BookingStatus.PENDING_PAYMENT
    ).update(status=BookingStatus.CANCELLED, cancelled_at=now, updated_at=now)
    if freed:
        await lock.offer_freed_slot(f"waitlist-after-basket-release:{payment.id}")


HANDLER = PaymentHandler(
    issuer_prefix=booking_payments.ISSUER_PREFIX,
    paid=_paid,
    released=_released,
    manages=booking_payments.HANDLER.manages,
)
