"""Booking machines: every rule the server enforces, and no double booking ever.

No double booking: `create_booking` runs one `atomic()` transaction that FIRST writes the
machine's row (`booking_version + 1`), THEN looks for an overlapping active booking, THEN
inserts. The first write serialises every booking of one machine:

- SQLite: the write takes the database write lock before the overlap check, so another
  process (or connection) cannot insert between the check and the insert; it waits on
  `busy_timeout` and then sees the committed booking.
- PostgreSQL: the UPDATE row-locks the machine. A second transaction waits for it and, under
  READ COMMITTED, its overlap check (a new statement) sees the committed booking. The
  exclusion constraint `labs_booking_no_overlap` (migration 0002) holds even for writers that
  skip this service; its violation is reported as the same 409.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from ecosystem import jobs, rawsql
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, format_day, format_dt
from ecosystem.models import (
    Membership,
    MembershipStatus,
    OrganisationSphere,
    Role,
    Sphere,
    User,
    Verification,
)
from ecosystem.payments.services import checkout, refunds
from ecosystem.services import audit
from labs import permissions
from labs.availability import (
    BookingRules,
    RuleViolation,
    ViolationCode,
    can_cancel,
    cancellation_deadline,
    check_booking,
    local_week,
    whole_minutes,
)
from labs.intervals import Interval
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    BookingStatus,
    Certification,
    Equipment,
    EquipmentRate,
    EquipmentStatus,
)
from labs.pricing import (
    CURRENCY,
    DEFAULT_CATEGORY_RULES,
    UserFacts,
    choose_category,
    price_for,
)
from labs.pricing import Membership as PricingMembership
from labs.services import notices, schedule
from labs.services import payments as booking_payments

# Bookings that count against the weekly quota: everything but the cancelled and declined.
QUOTA_STATUSES = (
    BookingStatus.PENDING,
    BookingStatus.CONFIRMED,
    BookingStatus.PENDING_PAYMENT,
    BookingStatus.COMPLETED,
    BookingStatus.NO_SHOW,
)
EXCLUSION_VIOLATION = "23P01"
WAITLIST_JOB = "labs.jobs.waitlist_offers"  # by name: the jobs module imports this one


class RuleBroken(Invalid):
    """A booking breaks one or more booking rules (422).

    `code` is the first broken rule (e.g. `outside_opening_hours`); `fields` maps every
    broken rule's code to its explanation; `violations` keeps the rules for the HTML edge.
    """

    def __init__(self, violations: list[RuleViolation], messages: list[str]) -> None:
        super().__init__(
            " ".join(messages),
            fields={v.code.value: m for v, m in zip(violations, messages, strict=True)},
            code=violations[0].code.value,
        )
        self.violations = violations


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
    )


def violation_message(violation: RuleViolation, timezone_name: str) -> str:
    """A translated sentence naming the broken rule and why."""
    p = violation.message_params
    code = violation.code
    if code == ViolationCode.IN_PAST:
        return _("This time is in the past.")
    if code == ViolationCode.NOTICE:
        return _(
            "Bookings on this machine need %(n)d minutes' notice: the earliest start is %(at)s.",
            n=p["notice_minutes"],
            at=format_dt(p["earliest_start"], "short", timezone_name),  # type: ignore[arg-type]
        )
    if code == ViolationCode.TOO_SHORT:
        return _("Bookings on this machine are at least %(n)d minutes.", n=p["min_minutes"])
    if code == ViolationCode.TOO_LONG:
        return _("Bookings on this machine are at most %(n)d minutes.", n=p["max_minutes"])
    if code == ViolationCode.NOT_ALIGNED:
        return _(
            "Bookings on this machine start and end on the lab's %(n)d-minute grid.",
            n=p["step_minutes"],
        )
    if code == ViolationCode.HORIZON:
        return _(
            "Bookings on this machine can be made at most %(n)d days ahead (until %(day)s).",
            n=p["horizon_days"],
            day=format_day(p["latest_date"]),  # type: ignore[arg-type]
        )
    if code == ViolationCode.OUTSIDE_OPENING_HOURS:
        return _("The lab is not open for the whole of this time (opening hours or a closure).")
    if code == ViolationCode.BLACKOUT:
        return _(
            "The machine is unavailable (maintenance) from %(start)s to %(end)s.",
            start=format_dt(p["blackout_start"], "short", timezone_name),  # type: ignore[arg-type]
            end=format_dt(p["blackout_end"], "short", timezone_name),  # type: ignore[arg-type]
        )
    if code == ViolationCode.QUOTA:
        return _(
            "This would exceed your weekly quota of %(quota)d minutes on this machine "
            "(%(left)d minutes left this week).",
            quota=p["quota_minutes"],
            left=p["remaining_minutes"],
        )
    return _("This booking breaks a rule of this machine.")


def raise_violations(violations: list[RuleViolation], equipment: Equipment) -> None:
    if violations:
        tz_name = equipment.lab.timezone
        raise RuleBroken(violations, [violation_message(v, tz_name) for v in violations])


# --- loading and checks --------------------------------------------------------------------


async def equipment_with_lab(equipment_id: int) -> Equipment | None:
    """The machine with its lab loaded, as `select_related("lab")` (plain SQL: a hot read)."""
    found = await rawsql.select(Equipment, "WHERE m.id = ?", (equipment_id,), related="lab")
    return found[0] if found else None


async def get_bookable_equipment(actor: User | None, equipment_id: int) -> Equipment:
    """The machine with its lab; 404 if unknown or its lab is unpublished (staff still see it)."""
    equipment = await equipment_with_lab(equipment_id)
    if equipment is None:
        raise NotFound(_("No such machine."))
    if not equipment.lab.is_published and not await permissions.is_lab_staff(actor, equipment.lab):
        raise NotFound(_("No such machine."))
    return equipment


def ensure_in_service(equipment: Equipment) -> None:
    if equipment.status == EquipmentStatus.MAINTENANCE:
        raise Invalid(
            _("This machine is under maintenance and cannot be booked."),
            code="equipment_maintenance",
        )
    if equipment.status == EquipmentStatus.RETIRED:
        raise Invalid(_("This machine is retired and cannot be booked."), code="equipment_retired")


async def has_certification(user: User, equipment: Equipment, at: datetime) -> bool:
    """A certification for the machine's category, not revoked and not expired at `at`."""
    return await (
        Certification.filter(user_id=user.id, category=equipment.category, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        .exists()
    )


async def _ensure_trained(user: User, equipment: Equipment, start: datetime) -> None:
    if equipment.requires_training and not await has_certification(user, equipment, start):
        raise NotPermitted(
            _(
                "This machine needs a certification for %(category)s: book a place in a "
                "training session first.",
                category=equipment.category.value,
            ),
            code="training_required",
        )


async def user_facts(user: User) -> UserFacts:
    """What decides a user's price category: their active organisations and spheres.

    A plain member (not an admin or owner) of a university counts as a student.
    """
    # Only organisations a platform admin has verified count: a self-made pending
    # "university" must not buy anyone a student's price.
    memberships = await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,
        organisation__verification=Verification.VERIFIED,
    ).values_list("organisation_id", "role")
    if not memberships:
        return UserFacts()
    roles = dict(memberships)
    spheres = await OrganisationSphere.filter(organisation_id__in=list(roles)).values_list(
        "organisation_id", "sphere"
    )
    facts = tuple(PricingMembership(org_id, str(sphere)) for org_id, sphere in spheres)
    is_student = any(
        str(sphere) == Sphere.UNIVERSITY and roles[org_id] == Role.MEMBER
        for org_id, sphere in spheres
    )
    return UserFacts(memberships=facts, is_student=is_student)


@dataclass(frozen=True)
class Price:
    amount: int
    currency: str
    category: str


async def equipment_rates(equipment_id: int) -> list[EquipmentRate]:
    """The machine's rates, cheapest first (plain SQL: every machine page reads them)."""
    where = "WHERE m.equipment_id = ? ORDER BY m.rate_per_hour, m.id"
    return await rawsql.select(EquipmentRate, where, (equipment_id,))


async def price_quote(user: User, equipment: Equipment, start: datetime, end: datetime) -> Price:
    """The price of `[start, end)` for this user: the cheapest category they qualify for.

    A machine without rates is free. NotPermitted (`not_offered`) if it has rates but none
    for any category of this user.
    """
    rates = await equipment_rates(equipment.id)
    if not rates:
        return Price(0, CURRENCY, "")
    by_category = {rate.category: rate for rate in rates}
    chosen = choose_category(
        DEFAULT_CATEGORY_RULES,
        {code: rate.rate_per_hour for code, rate in by_category.items()},
        await user_facts(user),
        equipment.lab.organisation_id,  # type: ignore[attr-defined]
    )
    if chosen is None:
        raise NotPermitted(
            _("This machine is not offered to your user category."), code="not_offered"
        )
    amount = price_for(chosen.rate_per_hour_vnd, start, end)
    return Price(amount, by_category[chosen.code].currency, chosen.code)


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


def check_times(start: datetime, end: datetime) -> Interval:
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


def is_overlap_violation(exc: IntegrityError) -> bool:
    """The PostgreSQL exclusion constraint refused the row (SQLSTATE 23P01)."""
    cause = exc.args[0] if exc.args else exc.__cause__
    if getattr(cause, "sqlstate", None) == EXCLUSION_VIOLATION:
        return True
    return "labs_booking_no_overlap" in str(exc)


def conflict() -> Conflict:
    return Conflict(_("This machine is already booked at that time."), code="conflict")


# --- the service -------------------------------------------------------------------------


async def lock_machine(equipment_id: int) -> bool:
    """Serialise bookings of one machine until the surrounding transaction ends.

    Call it FIRST inside `atomic()`, before reading any booking: on SQLite this write takes
    the database write lock (a read first would pin a snapshot another process can make
    stale), on PostgreSQL it row-locks the machine. False if the machine is not in service.
    """
    updated = await Equipment.filter(id=equipment_id, status=EquipmentStatus.AVAILABLE).update(
        booking_version=F("booking_version") + 1
    )
    return bool(updated)


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

    A priced booking is paid by `payer` (see payments.services.checkout.create_payment):
    credit first, then the card (the booking is a `pending_payment` hold and
    `booking.checkout_url` the Stripe Checkout page), an organisation's statement, or at the
    lab when no online payment is configured.

    NotFound (404); NotPermitted `training_required` / `not_offered` (403); Invalid (422) for
    a machine out of service or a broken rule (the code names the rule); Conflict `conflict`
    (409) if an active booking overlaps. Pending if the machine needs staff approval.
    Opens its own transaction: do not call it inside another one (see `lock_machine`).
    """
    window = check_times(start, end)
    purpose = purpose.strip()[:500]
    equipment = await get_bookable_equipment(actor, equipment_id)
    ensure_in_service(equipment)
    await _ensure_trained(actor, equipment, window.start)
    price = await price_quote(actor, equipment, window.start, window.end)

    rules = rules_of(equipment)
    tz = schedule.lab_timezone(equipment.lab)
    now = timezone.now()
    open_time = await schedule.lab_open_time(equipment.lab, window)
    blackouts = await schedule.blackouts_of(equipment.id, window)
    used = await minutes_in_week(actor, equipment, window.start)
    # Every rule first, outside the lock (they do not depend on other people's bookings).
    raise_violations(
        check_booking(rules, window.start, window.end, now, tz, open_time, blackouts, used),
        equipment,
    )

    status = BookingStatus.PENDING if equipment.requires_approval else BookingStatus.CONFIRMED
    try:
        async with atomic():
            # 1. Lock the machine: the first statement of the transaction is this write.
            if not await lock_machine(equipment.id):  # out of service (or gone) since loaded
                current = await Equipment.filter(id=equipment.id).first()
                if current is None:
                    raise NotFound(_("No such machine."))
                ensure_in_service(current)
            # 2. Under the lock: the quota (the user's own bookings may have just changed) …
            if equipment.weekly_quota_minutes is not None:
                used = await minutes_in_week(actor, equipment, window.start)
                quota = check_booking(
                    rules, window.start, window.end, now, tz, open_time, blackouts, used
                )
                raise_violations([v for v in quota if v.code == ViolationCode.QUOTA], equipment)
            # … and the overlap with every active booking (half-open: touching is fine).
            overlapping = await Booking.filter(
                equipment_id=equipment.id,
                status__in=list(ACTIVE_BOOKING_STATUSES),
                starts_at__lt=window.end,
                ends_at__gt=window.start,
            ).exists()
            if overlapping:
                raise conflict()
            # 3. Insert.
            booking = await Booking.create(
                equipment_id=equipment.id,
                user_id=actor.id,
                starts_at=window.start,
                ends_at=window.end,
                status=status,
                purpose=purpose,
                price_amount=price.amount,
                price_currency=price.currency,
                price_category=price.category,
                check_in_code=secrets.token_urlsafe(12),
            )
            payment = None
            if price.amount > 0:
                payment = await _start_payment(
                    actor, booking, equipment, price, payer, organisation_id
                )
    except IntegrityError as exc:
        if is_overlap_violation(exc):
            raise conflict() from exc
        raise
    booking.equipment = equipment
    booking.checkout_url = ""  # type: ignore[attr-defined]
    if payment is not None and booking.status == BookingStatus.PENDING_PAYMENT:
        # After the commit: the hold exists, Stripe is asked for the Checkout page.
        booking.checkout_url = await checkout.start_checkout(payment, actor.email)  # type: ignore[attr-defined]
        payment.checkout_url = booking.checkout_url  # type: ignore[attr-defined]
    return booking


async def _start_payment(
    actor: User,
    booking: Booking,
    equipment: Equipment,
    price: Price,
    payer: str,
    organisation_id: int | None,
):
    """The booking's payment, inside its transaction; a card payment makes it a hold."""
    host = await equipment.lab.organisation  # type: ignore[attr-defined]
    payment = await checkout.create_payment(
        actor,
        booking_payments.subject_of(booking, equipment, host),
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


def cancellable_until(booking: Booking) -> datetime | None:
    """The last moment the booker may cancel (None once the booking is not active)."""
    if booking.status not in ACTIVE_BOOKING_STATUSES:
        return None
    return cancellation_deadline(rules_of(booking.equipment), booking.starts_at)


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
    rules = rules_of(booking.equipment)
    # A paid booking may still be cancelled by its owner after the deadline (until it starts):
    # the lab's late-cancellation policy decides the refund. An unpaid hold may always go.
    late_but_paid = booking.payment_id is not None and (  # type: ignore[attr-defined]
        booking.status == BookingStatus.PENDING_PAYMENT or booking.starts_at > now
    )
    if not is_staff and not late_but_paid and not can_cancel(rules, booking.starts_at, now):
        deadline = cancellation_deadline(rules, booking.starts_at)
        message = _(
            "Bookings on this machine can be cancelled until %(n)d hours before the start "
            "(here until %(at)s). Ask the lab's staff.",
            n=rules.cancellation_deadline_hours,
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
                await refunds.cancel_payment(
                    booking.payment_id,  # type: ignore[attr-defined]
                    booking_payments.refund_percent(booking, is_staff, now),
                    "cancelled_by_staff" if not is_owner else "cancelled",
                )
            if not is_owner:
                owner = await User.get(id=booking.user_id)  # type: ignore[attr-defined]
                await notices.booking_changed_by_staff(booking, owner, cancelled=True)
            # The freed slot goes to the waitlist now, not at the next minute's cron run.
            await jobs.enqueue(WAITLIST_JOB, job_id=f"waitlist-after-cancel:{booking.id}")
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
