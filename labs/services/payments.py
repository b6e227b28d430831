"""Paying for lab time: how bookings plug into the kernel's payments and credits.

The booking service (`labs.services.bookings`) calls this module, never the other way round;
what both need (the machine's rules, its lock) lives in `labs.services.facts` and
`labs.services.lock`.

- A priced booking gets a payment (`start_payment`, through
  `ecosystem.payments.services.checkout.create_payment`) inside its own transaction. Paid by card,
  it starts as a `pending_payment` hold, which blocks the slot like any active booking (the
  PostgreSQL exclusion constraint counts it, migration 0003).
- The kernel calls the hooks below in the transaction that changes the payment: `paid`
  confirms the hold (or re-books a released one if the slot is still free), `released`
  frees the slot of an unpaid hold.
- Cancelling refunds in full before the machine's cancellation deadline (and whenever staff
  cancel), and the lab's `late_cancellation_refund_percent` after it.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import timezone

from ecosystem.content import tr
from ecosystem.i18n import format_dt
from ecosystem.inputs import whole_dong, whole_number
from ecosystem.models import Organisation, User
from ecosystem.packages import PaymentHandler
from ecosystem.payments.models import Payment
from ecosystem.payments.services import billing, checkout, common, ledger, refunds
from ecosystem.payments.services.checkout import Subject
from labs import permissions
from labs.availability import can_cancel
from labs.intervals import Interval
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus, Equipment, Lab
from labs.services import lock, notices
from labs.services.facts import rules_of
from labs.services.prices import Price
from labs.services.schedule import lab_timezone

SUBJECT_KIND = "labs.booking"
ISSUER_PREFIX = "labs.lab"


def issuer_key(lab_id: int) -> str:
    return f"{ISSUER_PREFIX}:{lab_id}"


def lab_id_of(key: str) -> int | None:
    prefix, _sep, raw = key.partition(":")
    return whole_number(raw) if prefix == ISSUER_PREFIX else None


def subject_of(booking: Booking, equipment: Equipment, host: Organisation) -> Subject:
    lab: Lab = equipment.lab
    tz = lab_timezone(lab)
    start = booking.starts_at.astimezone(tz)
    end = booking.ends_at.astimezone(tz)
    description = (
        f"{tr(equipment, 'name')}, {tr(lab, 'name')}: {format_dt(start, 'short', lab.timezone)}"
    )
    description += f"–{end:%H:%M}"
    return Subject(
        kind=SUBJECT_KIND,
        id=booking.id,
        description=description,
        issuer_key=issuer_key(lab.id),
        issuer={
            "name": tr(lab, "name"),
            "host": host.name,
            "address": lab.address,
            "email": lab.contact_email,
            "phone": lab.contact_phone,
        },
        period=f"{start:%Y-%m}",
        return_path="/bookings",
    )


def refund_percent(booking: Booking, by_staff: bool, now: datetime) -> int:
    """How much of a paid booking goes back when it is cancelled now."""
    if by_staff or can_cancel(rules_of(booking.equipment), booking.starts_at, now):
        return 100
    return max(0, min(100, booking.equipment.lab.late_cancellation_refund_percent))


# --- the booking service's calls ------------------------------------------------------------


async def start_payment(
    actor: User,
    booking: Booking,
    equipment: Equipment,
    price: Price,
    payer: str,
    organisation_id: int | None,
) -> Payment:
    """The booking's payment, inside its transaction; a card payment makes it a hold."""
    host = await equipment.lab.organisation  # type: ignore[attr-defined]
    payment = await checkout.create_payment(
        actor,
        subject_of(booking, equipment, host),
        price.amount,
        price.currency,
        payer,
        organisation_id,
    )
    changes: dict = {"payment_id": payment.id}
    if payment.method == "card" and payment.state == "pending":
        changes["status"] = BookingStatus.PENDING_PAYMENT
    await Booking.filter(id=booking.id).update(**changes)
    booking.payment = payment
    booking.status = changes.get("status", booking.status)
    return payment


async def start_checkout(payment: Payment, actor: User) -> str:
    """After the commit: where a held booking's online part is paid (Stripe or VNPay)."""
    url = await checkout.start_checkout(payment, actor.email, actor.locale or "vi")
    payment.checkout_url = url  # type: ignore[attr-defined]
    return url


async def cancel_payment(booking: Booking, by_staff: bool, by_owner: bool, now: datetime) -> None:
    """A paid booking was cancelled (in its transaction): refund what the policy gives back.

    A booking of a basket (several bookings, one payment; `labs.services.basket`) gets back
    its own price's share when paid; while the basket is unpaid, cancelling one of its holds
    ends the payment and frees the basket's other holds too (a basket is all or nothing).
    """
    payment_id = booking.payment_id  # type: ignore[attr-defined]
    reason = "cancelled" if by_owner else "cancelled_by_staff"
    percent = refund_percent(booking, by_staff, now)
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or payment.subject_kind == SUBJECT_KIND:
        await refunds.cancel_payment(payment_id, percent, reason)
        return
    if payment.state == "pending":
        others = await Booking.filter(
            payment_id=payment_id, status__in=list(ACTIVE_BOOKING_STATUSES)
        ).exclude(id=booking.id)
        if payment.method == "at_lab" and others:
            # Still to collect at the lab for the others: this booking's price is no longer due.
            due = payment.amount - payment.credit_amount
            await Payment.filter(id=payment_id, state="pending").update(
                amount=payment.amount - min(booking.price_amount, due), updated_at=now
            )
            return
        await Booking.filter(payment_id=payment_id, status=BookingStatus.PENDING_PAYMENT).update(
            status=BookingStatus.CANCELLED, cancelled_at=now, updated_at=now
        )
        await refunds.cancel_payment(payment_id, percent, reason)
        return
    await refunds.cancel_payment(payment_id, percent, reason, share=booking.price_amount)


# --- the kernel's hooks ------------------------------------------------------------------------


async def _paid(payment: Payment) -> bool:
    booking = await Booking.get_or_none(id=payment.subject_id).select_related("equipment__lab")
    if booking is None:
        return False
    confirmed = (
        BookingStatus.PENDING if booking.equipment.requires_approval else BookingStatus.CONFIRMED
    )
    now = timezone.now()
    if booking.status == BookingStatus.PENDING_PAYMENT:
        held = await Booking.filter(id=booking.id, status=BookingStatus.PENDING_PAYMENT).update(
            status=confirmed, updated_at=now
        )
        if held:  # the booking stands now: the booker's mail, with the .ics
            booking.status, booking.updated_at = confirmed, now
            await notices.booking_paid(booking)
        return True
    if booking.status in (BookingStatus.CONFIRMED, BookingStatus.PENDING):
        return True
    if booking.status != BookingStatus.CANCELLED or booking.ends_at <= now:
        return False
    # The hold was released: take the slot back only if nobody booked it meanwhile.
    if not await lock.lock_machine(booking.equipment_id):  # type: ignore[attr-defined]
        return False
    slot = Interval(booking.starts_at, booking.ends_at)
    if await lock.slot_taken(booking.equipment_id, slot):  # type: ignore[attr-defined]
        return False
    await Booking.filter(id=booking.id, status=BookingStatus.CANCELLED).update(
        status=confirmed, cancelled_at=None, updated_at=now
    )
    booking.status, booking.cancelled_at, booking.updated_at = confirmed, None, now
    await notices.booking_paid(booking)
    return True


async def _released(payment: Payment) -> None:
    now = timezone.now()
    freed = await Booking.filter(
        id=payment.subject_id, status=BookingStatus.PENDING_PAYMENT
    ).update(status=BookingStatus.CANCELLED, cancelled_at=now, updated_at=now)
    if freed:  # the slot may be offered to the waitlist at once
        await lock.offer_freed_slot(f"waitlist-after-release:{payment.subject_id}")


async def _manages(user: User | None, key: str) -> bool:
    lab_id = lab_id_of(key)
    return lab_id is not None and await permissions.allowed(user, "lab.manage_bookings", lab_id)


HANDLER = PaymentHandler(
    issuer_prefix=ISSUER_PREFIX, paid=_paid, released=_released, manages=_manages
)


# --- reading ----------------------------------------------------------------------------------


async def attach_payments(found: list[Booking]) -> list[Booking]:
    """Load the payments of these bookings in one query (`booking.payment`)."""
    ids = {b.payment_id for b in found if b.payment_id is not None}  # type: ignore[attr-defined]
    by_id = {p.id: p for p in await Payment.filter(id__in=list(ids))} if ids else {}
    for booking in found:
        booking.payment = by_id.get(booking.payment_id)  # type: ignore[attr-defined,assignment]
    return found


async def booking_for(actor: User, booking_id: int) -> Booking:
    """One booking with machine, lab, payment and refunds: its owner or the lab's staff."""
    from ecosystem.errors import NotFound
    from ecosystem.i18n import _

    booking = await Booking.get_or_none(id=booking_id).select_related("equipment__lab")
    if booking is None or not (
        booking.user_id == actor.id  # type: ignore[attr-defined]
        or await permissions.allowed(actor, "lab.manage_bookings", booking.equipment.lab)
    ):
        raise NotFound(_("No such booking."))
    await attach_payments([booking])
    payment = booking.payment
    if isinstance(payment, Payment):
        payment._api_refunds = await payment.refunds.all().order_by("id")  # type: ignore[attr-defined]
    return booking


async def payment_options(user: User | None, equipment: Equipment) -> dict:
    """What the booking form offers for a machine: empty for a free one."""
    from labs.models import EquipmentRate

    if user is None or not await EquipmentRate.exists(equipment_id=equipment.id):
        return {}
    providers = await common.accepted_providers(issuer_key(equipment.lab_id))  # type: ignore[attr-defined]
    return {
        "priced": True,
        "online": bool(providers),
        "providers": providers,
        "credit": await ledger.balance(user=user),
        "organisations": await billing.billable_organisations(user),
    }


def parse_payer(raw: str) -> tuple[str, int | None]:
    """The booking form's payer choice: `auto`, `stripe`, `vnpay`, `credit` or
    `organisation:<id>`."""
    kind, _sep, org = raw.partition(":")
    if kind == "organisation" and (org_id := whole_number(org)) is not None:
        return "organisation", org_id
    known = ("auto", "card", "stripe", "vnpay", "credit")
    return (kind if kind in known else "auto"), None


# --- the lab staff's payments page ----------------------------------------------------------------


async def staff_lab(actor: User, slug: str) -> Lab:
    """The lab whose payments the actor settles (404 for anybody but its staff)."""
    from ecosystem.errors import NotFound
    from ecosystem.i18n import _

    lab = await Lab.get_or_none(slug=slug)
    if lab is None or not await permissions.allowed(actor, "lab.manage_bookings", lab):
        raise NotFound(_("This page does not exist."))
    return lab


async def grant_lab_credit(
    actor: User, lab: Lab, recipient: str, amount_raw: str, reason: str, nonce: str = ""
):
    """Lab staff grant credit out of the lab's budget to a person (by the e-mail address that
    person has verified) or a verified organisation (by its web address name, the slug).

    Needs a verified account on the lab's staff and a verified host organisation (403);
    an unknown or unverified recipient is 422; past the lab's budget 409 (budget_exceeded).
    `nonce` makes a resubmitted form grant once. Returns the recipient's new entry.
    """
    from ecosystem.errors import Invalid
    from ecosystem.i18n import _
    from ecosystem.permissions import ensure_verified_identity, ensure_verified_organisation
    from ecosystem.services.accounts import verified_user_by_email

    await permissions.ensure(actor, "lab.manage_bookings", lab)
    ensure_verified_identity(actor)
    ensure_verified_organisation(await Organisation.get_or_none(id=lab.organisation_id))  # type: ignore[attr-defined]
    recipient = recipient.strip()
    user = await verified_user_by_email(recipient) if "@" in recipient else None
    organisation = None
    if user is None and "@" not in recipient:
        organisation = await Organisation.get_or_none(slug=recipient.lower())
    if user is None and organisation is None:
        message = _(
            "Give the verified email of a registered person or the short name of an organisation."
        )
        raise Invalid(message, fields={"recipient": message})
    amount = whole_dong(amount_raw, 1)
    if amount is None:
        message = _("Give a whole amount of dong greater than zero.")
        raise Invalid(message, fields={"amount": message})
    moved = await ledger.grant_credit(
        actor=actor,
        amount=amount,
        reason=reason,
        source=issuer_key(lab.id),
        user=user,
        organisation=organisation,
        reference=f"grant:{nonce}" if nonce else "",
    )
    return await ledger.entry_of(moved, moved.credit_account_id)  # type: ignore[attr-defined]


async def credit_issuers() -> list:
    """Every lab, as an issuer of credit (for the platform admins' budgets page)."""
    from ecosystem.packages import CreditIssuer
    from ecosystem.permissions import is_verified_organisation

    labs = await Lab.all().select_related("organisation").order_by("name")
    return [
        CreditIssuer(
            key=issuer_key(lab.id),
            name=tr(lab, "name"),
            organisation_name=lab.organisation.name,
            organisation_verified=is_verified_organisation(lab.organisation),
        )
        for lab in labs
    ]


async def lab_budget(lab: Lab) -> int:
    """What is left in the lab's credit budget."""
    return await ledger.budget_balance(issuer_key(lab.id))


async def providers_of(lab: Lab) -> dict:
    """The lab's online payment providers: configured ones, and which of them it accepts."""
    return {
        "configured": common.configured_providers(),
        "accepted": await common.accepted_providers(issuer_key(lab.id)),
        "names": common.PROVIDER_NAMES,
    }


async def set_providers(actor: User, lab: Lab, chosen: list[str]) -> tuple[str, ...]:
    """The lab's managers choose which configured providers its payers may use (none: paid
    at the lab). Needs a verified identity and a verified host organisation."""
    from ecosystem.errors import Invalid
    from ecosystem.i18n import _
    from ecosystem.permissions import ensure_verified_identity, ensure_verified_organisation

    await permissions.ensure(actor, "lab.manage", lab)
    ensure_verified_identity(actor)
    ensure_verified_organisation(await Organisation.get_or_none(id=lab.organisation_id))  # type: ignore[attr-defined]
    configured = common.configured_providers()
    if any(p not in configured for p in chosen):
        message = _("Choose among the payment services this platform offers.")
        raise Invalid(message, fields={"providers": message})
    return await common.set_providers(issuer_key(lab.id), chosen)


async def set_refund_policy(actor: User, lab: Lab, percent_raw: str) -> Lab:
    from ecosystem.errors import Invalid
    from ecosystem.i18n import _

    await permissions.ensure(actor, "lab.manage", lab)
    raw = percent_raw.strip().rstrip("%")
    percent = whole_number(raw, 0, 100)
    if percent is None:
        message = _("Give a percentage from 0 to 100.")
        raise Invalid(message, fields={"percent": message})
    lab.late_cancellation_refund_percent = percent
    await lab.save(update_fields=["late_cancellation_refund_percent"])
    return lab
