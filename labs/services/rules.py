"""Step 2 of a booking: decide, and say why not.

The rules themselves are decided in one pure function, `labs.availability.check_booking`,
on the facts gathered in step 1 (`labs.services.facts`). This module turns its verdict into
the typed errors of the edges, in the order a person should hear them: the machine out of
service (422), a certification missing (403), the machine not offered to them (403), a move
that would change the price (422), then every broken booking rule at once (422). Step 3,
the write under the machine's lock, is `labs.services.lock` and the services that call it.
"""

from __future__ import annotations

from ecosystem.errors import Invalid, NotPermitted
from ecosystem.i18n import _, format_day, format_dt, format_money
from ecosystem.models import User
from ecosystem.permissions import has_verified_identity
from labs.availability import RuleViolation, ViolationCode, check_booking
from labs.intervals import Interval
from labs.labels import category_label
from labs.models import Equipment, EquipmentStatus
from labs.services import prices
from labs.services.facts import BookingCase, SeriesFacts


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


def ensure_in_service(equipment: Equipment) -> None:
    """Invalid (422) for a machine under maintenance or retired."""
    if equipment.status == EquipmentStatus.MAINTENANCE:
        raise Invalid(
            _("This machine is under maintenance and cannot be booked."),
            code="equipment_maintenance",
        )
    if equipment.status == EquipmentStatus.RETIRED:
        raise Invalid(_("This machine is retired and cannot be booked."), code="equipment_retired")


def ensure_verified_booker(person: User) -> None:
    """A booking (or a place in a waitlist) takes a machine from everyone else: an account
    whose e-mail address is not verified may look and prepare, not book (DESIGN.md §3)."""
    if not has_verified_identity(person):
        raise NotPermitted(
            _("Verify your e-mail address first (follow the link we sent you), then book."),
            code="email_not_verified",
        )


def _refuse_untrained(violations: list[RuleViolation], equipment: Equipment) -> None:
    if any(v.code == ViolationCode.TRAINING for v in violations):
        raise NotPermitted(
            _(
                "This machine needs a certification for %(category)s: book a place in a "
                "training session first.",
                category=category_label(equipment.category),
            ),
            code="training_required",
        )


def _refuse_price_change(price: prices.Price, keep_price: prices.Price) -> None:
    """A move keeps its price: a longer or dearer slot is cancelled and booked again."""
    if price.amount == keep_price.amount:
        return
    message = _(
        "The new slot costs %(new)s instead of %(old)s: cancel this booking and book again.",
        new=format_money(price.amount, price.currency),
        old=format_money(keep_price.amount, keep_price.currency),
    )
    raise Invalid(message, fields={"end": message}, code="price_changed")


def raise_violations(violations: list[RuleViolation], equipment: Equipment) -> None:
    """RuleBroken (422) naming every broken booking rule, if any."""
    if violations:
        tz_name = equipment.lab.timezone
        raise RuleBroken(violations, [violation_message(v, tz_name) for v in violations])


def decide(case: BookingCase, keep_price: prices.Price | None = None) -> prices.Price:
    """Step 2: the price of an allowed booking, or raise why it is not allowed.

    `keep_price` (a move) must equal the new slot's price. Pure: reads only the case, so
    step 3 calls it again under the machine's lock with the quota re-read.
    """
    ensure_verified_booker(case.person)
    ensure_in_service(case.equipment)
    violations = check_booking(case.facts)
    _refuse_untrained(violations, case.equipment)
    if case.price is None:
        raise prices.not_offered()
    if keep_price is not None:
        _refuse_price_change(case.price, keep_price)
    raise_violations(violations, case.equipment)
    return case.price


def split_series(series: SeriesFacts, sessions: list[Interval]) -> tuple[list, list]:
    """Step 2 for a staff series: `(ok, conflicting)` sessions, in their order. A session
    conflicts when `check_booking` refuses it under the staff's rules (past, opening hours,
    closure, blackout) or an active booking overlaps it."""
    ok: list[Interval] = []
    conflicting: list[Interval] = []
    for session in sessions:
        refused = check_booking(series.session_facts(session)) or series.taken(session)
        (conflicting if refused else ok).append(session)
    return ok, conflicting
