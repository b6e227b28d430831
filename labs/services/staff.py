"""The staff side of a lab: creating and editing labs, machines, hours, closures, blackouts,
granting the staff role, approving bookings, the daily agenda and recurring course bookings.

Every function takes the acting user first and checks `labs.permissions` itself. Input comes as
plain strings (from a form); a broken field raises `Invalid` with `fields` naming every broken
field, before anything is written.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.content import form_values
from ecosystem.db import atomic, on_commit
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import iso_date, iso_datetime, known_zone, whole_number, zone_message
from ecosystem.labels import N_, label_in
from ecosystem.models import Organisation, Role, User, Verification
from ecosystem.payments.services import refunds
from ecosystem.permissions import (
    ensure_verified_identity,
    has_verified_identity,
    is_verified_organisation,
)
from ecosystem.services import audit
from ecosystem.services.accounts import verified_account_for_role
from labs import permissions
from labs.availability import check_booking
from labs.intervals import Interval, local_date_span, resolve_local
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    MINUTES_PER_DAY,
    Blackout,
    Booking,
    BookingSeries,
    BookingStatus,
    Closure,
    Equipment,
    EquipmentCategory,
    EquipmentRate,
    EquipmentStatus,
    Lab,
    LabKind,
    LabStaff,
    OpeningHours,
)
from labs.pricing import DEFAULT_CATEGORY_RULES
from labs.recurrence import (
    FREQUENCIES,
    MAX_OCCURRENCES,
    MONTHLY,
    NTH_WEEKDAYS,
    WEEKLY,
    Pattern,
    pattern_occurrences,
)
from labs.services import disruptions, facts, lock, notices, schedule, texts

RATE_CATEGORIES = tuple(rule.code for rule in DEFAULT_CATEGORY_RULES)
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WEEKDAYS = range(7)


CHOICE_LABELS = {
    "fablab": N_("FabLab"),
    "techlab": N_("TechLab"),
    "livinglab": N_("Living Lab"),
    "3d_printer": N_("3D printer"),
    "laser_cutter": N_("Laser cutter"),
    "cnc": N_("CNC machine"),
    "pcb_mill": N_("PCB mill"),
    "electronics_bench": N_("Electronics bench"),
    "biotech_instrument": N_("Biotech instrument"),
    "test_bed": N_("Test bed"),
    "other": N_("Other"),
    "available": N_("Available"),
    "maintenance": N_("Under maintenance"),
    "retired": N_("Retired"),
    "pending": N_("Awaiting approval"),
    "pending_payment": N_("Waiting for payment"),
    "confirmed": N_("Confirmed"),
    "cancelled": N_("Cancelled"),
    "declined": N_("Declined"),
    "no_show": N_("No-show"),
    "completed": N_("Completed"),
    "student_host": N_("Student of the host"),
    "student": N_("Student"),
    "startup": N_("Startup"),
    "enterprise": N_("Enterprise"),
    "public": N_("Public"),
}


def choice_label(value) -> str:
    """The display name of a stored value of the lab network (translated)."""
    return label_in(CHOICE_LABELS, value)


# --- loading ------------------------------------------------------------------------------


async def get_lab(slug: str) -> Lab:
    lab = await Lab.get_or_none(slug=slug).select_related("organisation")
    if lab is None:
        raise NotFound(_("No such lab."))
    return lab


async def managed_lab(actor: User, slug: str, action: str = "lab.manage") -> Lab:
    """The lab, if the actor may do `action` on it (404 unknown, 403 not permitted)."""
    lab = await get_lab(slug)
    await permissions.ensure(actor, action, lab)
    return lab


async def lab_equipment(lab: Lab, equipment_id: int) -> Equipment:
    equipment = await Equipment.get_or_none(id=equipment_id, lab_id=lab.id).prefetch_related(
        "rates"
    )
    if equipment is None:
        raise NotFound(_("No such machine."))
    equipment.lab = lab
    return equipment


# --- small parsers that collect field errors ----------------------------------------------


class Errors(dict):
    def raise_if_any(self) -> None:
        if self:
            raise Invalid(_("Please correct the marked fields."), fields=dict(self))


def _int(values: dict, name: str, errors: Errors, low: int, high: int, optional=False):
    raw = str(values.get(name, "")).strip()
    if raw == "" and optional:
        return None
    try:
        number = int(raw)
    except ValueError:
        errors[name] = _("Enter a whole number.")
        return None
    if not low <= number <= high:
        errors[name] = _("Enter a number from %(low)d to %(high)d.", low=low, high=high)
        return None
    return number


def _text(values: dict, name: str, errors: Errors, max_length: int, required=False) -> str:
    text = str(values.get(name, "")).strip()
    if required and not text:
        errors[name] = _("This field is required.")
    elif len(text) > max_length:
        errors[name] = _("At most %(n)d characters.", n=max_length)
    return text


def _choice(values: dict, name: str, errors: Errors, enum):
    try:
        return enum(str(values.get(name, "")).strip())
    except ValueError:
        errors[name] = _("Choose one of the offered values.")
        return None


def _flag(values: dict, name: str) -> bool:
    return str(values.get(name, "")).strip().lower() in ("1", "on", "true", "yes")


def _date(values: dict, name: str, errors: Errors, optional=False) -> date | None:
    raw = str(values.get(name, "")).strip()
    if raw == "" and optional:
        return None
    try:
        return iso_date(raw)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def _time(values: dict, name: str, errors: Errors) -> time | None:
    raw = str(values.get(name, "")).strip()
    try:
        parsed = time.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Enter a time as HH:MM.")
        return None
    return parsed.replace(second=0, microsecond=0, tzinfo=None)


def _local_datetime(values: dict, name: str, errors: Errors, lab: Lab) -> datetime | None:
    raw = str(values.get(name, "")).strip()
    try:
        parsed = iso_datetime(raw)
    except ValueError:
        errors[name] = _("Enter a date and time as YYYY-MM-DD HH:MM.")
        return None
    if parsed.tzinfo is not None:
        return parsed
    return resolve_local(parsed.replace(second=0, microsecond=0), schedule.lab_timezone(lab))


# --- labs and staff -----------------------------------------------------------------------


async def creatable_hosts(actor: User) -> list[Organisation]:
    """Organisations in which the (verified) actor is an admin or owner: verified ones host
    labs, pending ones may prepare an unpublished draft that only their members see."""
    from ecosystem.models import Membership, MembershipStatus

    if not has_verified_identity(actor):
        return []
    memberships = await Membership.filter(
        user_id=actor.id,
        status=MembershipStatus.ACTIVE,
        role__in=[Role.ADMIN, Role.OWNER],
        organisation__verification__in=[Verification.VERIFIED, Verification.PENDING],
    ).select_related("organisation")
    return sorted((m.organisation for m in memberships), key=lambda o: o.name)


def _ensure_may_publish(organisation: Organisation, fields: dict) -> None:
    """A lab goes public only when its host organisation is verified (DESIGN.md §3)."""
    if fields.get("is_published") and not is_verified_organisation(organisation):
        message = _(
            "The lab can be published once the platform administrators have verified "
            "%(name)s. Until then it stays a draft that only the organisation's members see.",
            name=organisation.name,
        )
        raise Invalid(message, fields={"is_published": message})


# The texts of labs and machines that staff type in several languages, and their lengths.
TEXT_LIMITS = {"name": 200, "description": 5000}


def lab_texts_values(obj: Lab | Equipment | None) -> dict[str, str]:
    """The language tabs of a lab's or a machine's form, filled (a new one: the staff
    member's language first)."""
    if obj is None:
        return {"content_locale": texts.default_locale()}
    return form_values(obj, TEXT_LIMITS)


def _lab_values(values: dict, errors: Errors) -> dict:
    kind = _choice(values, "kind", errors, LabKind)
    email = _text(values, "contact_email", errors, 254)
    if email and "@" not in email:
        errors["contact_email"] = _("Enter an email address.")
    tz_name = _text(values, "timezone", errors, 64) or "Asia/Ho_Chi_Minh"
    if known_zone(tz_name) is None:
        errors["timezone"] = zone_message()
    return {
        **texts.read_texts(values, errors, TEXT_LIMITS, {"name": _("This field is required.")}),
        "kind": kind,
        "address": _text(values, "address", errors, 300),
        "contact_email": email,
        "contact_phone": _text(values, "contact_phone", errors, 40),
        "timezone": tz_name,
        "is_published": _flag(values, "is_published"),
    }


async def create_lab(actor: User, values: dict) -> Lab:
    """An admin of a verified organisation creates a lab hosted by it (and becomes its staff)."""
    ensure_verified_identity(actor)
    hosts = {org.id: org for org in await creatable_hosts(actor)}
    if not hosts:
        raise NotPermitted(_("Only an admin of a verified organisation can create a lab."))
    errors = Errors()
    try:
        host_id = int(str(values.get("organisation_id", "")))
    except ValueError:
        host_id = 0
    if host_id not in hosts:
        errors["organisation_id"] = _("Choose one of the offered values.")
    fields = _lab_values(values, errors)
    slug = _text(values, "slug", errors, 80, required=True).lower()
    if slug and not SLUG.match(slug):
        errors["slug"] = _("Use lower-case letters, digits and dashes.")
    elif slug and (slug in ("new", "checkin", "search") or await Lab.exists(slug=slug)):
        errors["slug"] = _("This address is taken.")
    errors.raise_if_any()
    _ensure_may_publish(hosts[host_id], fields)
    async with atomic():
        lab = await Lab.create(organisation_id=host_id, slug=slug, **fields)
        await LabStaff.create(lab=lab, user_id=actor.id)
        await audit.record("lab.created", actor=actor, target=lab)
    return lab


async def pending_publications(organisation_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """The labs that organisations not verified yet wait to publish (the admin's verification
    page): every lab they host is a draft until then (one query)."""
    found: dict[int, list[tuple[str, str]]] = {}
    rows = (
        await Lab.filter(organisation_id__in=list(organisation_ids))
        .order_by("name", "id")
        .values_list("organisation_id", "name")
    )
    for organisation_id, name in rows:
        found.setdefault(organisation_id, []).append((_("Lab"), name))
    return found


async def update_lab(actor: User, lab: Lab, values: dict) -> Lab:
    await permissions.ensure(actor, "lab.manage", lab)
    errors = Errors()
    fields = _lab_values(values, errors)
    errors.raise_if_any()
    if fields["is_published"] and not lab.is_published:
        _ensure_may_publish(await Organisation.get(id=lab.organisation_id), fields)  # type: ignore[attr-defined]
    lab.update_from_dict(fields)
    await lab.save(update_fields=list(fields))
    return lab


async def list_staff(actor: User, lab: Lab) -> list[LabStaff]:
    await permissions.ensure(actor, "lab.grant_staff", lab)
    return await LabStaff.filter(lab_id=lab.id).select_related("user").order_by("created_at")


async def grant_staff(actor: User, lab: Lab, email: str) -> LabStaff:
    await permissions.ensure(actor, "lab.grant_staff", lab)
    # Only the account that verified this very address: someone who merely registered it
    # must not receive a role meant for its owner.
    user = await verified_account_for_role(email)
    staff, created = await LabStaff.get_or_create(lab_id=lab.id, user_id=user.id)
    if not created:
        message = _("This person is already staff of the lab.")
        raise Conflict(message, fields={"email": message})
    await audit.record("lab.staff_granted", actor=actor, target=lab, user_id=user.id)
    return staff


async def revoke_staff(actor: User, lab: Lab, staff_id: int) -> None:
    await permissions.ensure(actor, "lab.grant_staff", lab)
    deleted = await LabStaff.filter(id=staff_id, lab_id=lab.id).delete()
    if not deleted:
        raise NotFound(_("No such staff member."))
    await audit.record("lab.staff_revoked", actor=actor, target=lab, staff_id=staff_id)


# --- equipment ----------------------------------------------------------------------------


def parse_specifications(text: str, errors: Errors) -> dict[str, str]:
    """`key: value` lines (or `key = value`) as a dict; blank lines are skipped."""
    specs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            errors["specifications"] = _(
                "Line %(n)d: write one specification per line as “name: value”.", n=number
            )
            return {}
        specs[key.strip()[:100]] = value.strip()[:300]
    if len(specs) > 50:
        errors["specifications"] = _("At most %(n)d specifications.", n=50)
    return specs


def specifications_text(specs: dict) -> str:
    return "\n".join(f"{key}: {value}" for key, value in (specs or {}).items())


def equipment_values(equipment: Equipment | None) -> dict:
    """The form's initial values for a machine (defaults for a new one)."""
    source = equipment or Equipment(
        name="", category=EquipmentCategory.OTHER, status=EquipmentStatus.AVAILABLE
    )
    values = {
        **lab_texts_values(equipment),
        "category": str(source.category.value if source.category else ""),
        "specifications": specifications_text(source.specifications or {}),
        "status": str(source.status.value if source.status else "available"),
        "requires_training": source.requires_training,
        "requires_approval": source.requires_approval,
    }
    for name in RULE_FIELDS:
        value = getattr(source, name)
        if value is None and equipment is None:
            value = Equipment._meta.fields_map[name].default
        values[name] = "" if value is None else str(value)
    rates = {rate.category: rate.rate_per_hour for rate in (equipment.rates if equipment else [])}
    for code in RATE_CATEGORIES:
        values[f"rate_{code}"] = str(rates[code]) if code in rates else ""
    return values


RULE_FIELDS = (
    "slot_step_minutes",
    "min_minutes",
    "max_minutes",
    "notice_minutes",
    "horizon_days",
    "weekly_quota_minutes",
    "cancellation_deadline_hours",
)


def _equipment_fields(values: dict, errors: Errors) -> tuple[dict, dict[str, int]]:
    fields = {
        **texts.read_texts(values, errors, TEXT_LIMITS, {"name": _("This field is required.")}),
        "category": _choice(values, "category", errors, EquipmentCategory),
        "specifications": parse_specifications(str(values.get("specifications", "")), errors),
        "status": _choice(values, "status", errors, EquipmentStatus),
        "requires_training": _flag(values, "requires_training"),
        "requires_approval": _flag(values, "requires_approval"),
    }
    step = _int(values, "slot_step_minutes", errors, 5, MINUTES_PER_DAY)
    if step is not None and MINUTES_PER_DAY % step:
        errors["slot_step_minutes"] = _(
            "The slot step must divide a day evenly (5, 10, 15, 20, 30, 60, 120… minutes)."
        )
    low = _int(values, "min_minutes", errors, 5, 7 * MINUTES_PER_DAY)
    high = _int(values, "max_minutes", errors, 5, 7 * MINUTES_PER_DAY)
    if step and not errors.get("slot_step_minutes"):
        for name, value in (("min_minutes", low), ("max_minutes", high)):
            if value is not None and value % step:
                errors[name] = _("Use a multiple of the slot step (%(n)d minutes).", n=step)
    if low is not None and high is not None and high < low and "max_minutes" not in errors:
        errors["max_minutes"] = _("The maximum must be at least the minimum.")
    fields.update(
        slot_step_minutes=step,
        min_minutes=low,
        max_minutes=high,
        notice_minutes=_int(values, "notice_minutes", errors, 0, 60 * 24 * 90),
        horizon_days=_int(values, "horizon_days", errors, 1, 730),
        weekly_quota_minutes=_int(
            values, "weekly_quota_minutes", errors, 5, 7 * MINUTES_PER_DAY, optional=True
        ),
        cancellation_deadline_hours=_int(values, "cancellation_deadline_hours", errors, 0, 720),
    )
    rates: dict[str, int] = {}
    for code in RATE_CATEGORIES:
        amount = _int(values, f"rate_{code}", errors, 0, 1_000_000_000, optional=True)
        if amount is not None:
            rates[code] = amount
    return fields, rates


async def save_equipment(
    actor: User, lab: Lab, values: dict, equipment: Equipment | None = None
) -> Equipment:
    """Create (no `equipment`) or update a machine with its rules and rates, all or nothing."""
    await permissions.ensure(actor, "lab.manage", lab)
    errors = Errors()
    fields, rates = _equipment_fields(values, errors)
    errors.raise_if_any()
    async with atomic():
        if equipment is None:
            equipment = await Equipment.create(lab_id=lab.id, **fields)
        else:
            equipment.update_from_dict(fields)
            await equipment.save(update_fields=list(fields))
        await (
            EquipmentRate.filter(equipment_id=equipment.id)
            .exclude(category__in=list(rates))
            .delete()
        )
        existing = {
            rate.category: rate for rate in await EquipmentRate.filter(equipment_id=equipment.id)
        }
        for code, amount in rates.items():
            if code in existing:
                if existing[code].rate_per_hour != amount:
                    existing[code].rate_per_hour = amount
                    await existing[code].save(update_fields=["rate_per_hour"])
            else:
                await EquipmentRate.create(
                    equipment_id=equipment.id, category=code, rate_per_hour=amount
                )
        await audit.record("equipment.saved", actor=actor, target=equipment)
    return equipment


# --- opening hours, closures, blackouts ---------------------------------------------------


def hours_text(rows: list[OpeningHours]) -> dict[str, str]:
    """Form values: `hours_<weekday>` as "08:00-12:00, 13:00-17:00"."""
    by_day: dict[int, list[str]] = {day: [] for day in WEEKDAYS}
    for row in sorted(rows, key=lambda r: (r.weekday, r.opens_minute)):
        closes = "24:00" if row.closes_minute == MINUTES_PER_DAY else row.closes.strftime("%H:%M")
        by_day.setdefault(row.weekday, []).append(f"{row.opens.strftime('%H:%M')}-{closes}")
    return {f"hours_{day}": ", ".join(ranges) for day, ranges in by_day.items()}


def _minute(text: str) -> int:
    hour, _sep, minute = text.strip().partition(":")
    value = int(hour) * 60 + int(minute or 0)
    if not 0 <= int(minute or 0) < 60 or not 0 <= value <= MINUTES_PER_DAY:
        raise ValueError(text)
    return value


async def set_opening_hours(actor: User, lab: Lab, values: dict) -> None:
    """Replace the weekly hours: per weekday, comma-separated `HH:MM-HH:MM` ranges."""
    await permissions.ensure(actor, "lab.manage", lab)
    errors = Errors()
    rows: list[OpeningHours] = []
    for day in WEEKDAYS:
        name = f"hours_{day}"
        ranges: list[tuple[int, int]] = []
        for part in str(values.get(name, "")).split(","):
            if not part.strip():
                continue
            opens, sep, closes = part.partition("-")
            try:
                if not sep:
                    raise ValueError(part)
                span = (_minute(opens), _minute(closes))
            except ValueError:
                errors[name] = _("Write ranges like 08:00-12:00, 13:00-17:00.")
                break
            if span[0] >= span[1]:
                errors[name] = _("A range must close after it opens.")
                break
            ranges.append(span)
        ranges.sort()
        if any(a[1] > b[0] for a, b in zip(ranges, ranges[1:], strict=False)):
            errors[name] = _("The ranges of one day must not overlap.")
        rows.extend(
            OpeningHours(lab_id=lab.id, weekday=day, opens_minute=o, closes_minute=c)
            for o, c in ranges
        )
    errors.raise_if_any()
    async with atomic():
        await OpeningHours.filter(lab_id=lab.id).delete()
        if rows:
            await OpeningHours.bulk_create(rows)
        await audit.record("lab.hours_changed", actor=actor, target=lab)
        await on_commit(lambda: schedule.calendar_changed(lab.id))


def _closure(lab: Lab, values: dict) -> disruptions.Disruption:
    errors = Errors()
    first = _date(values, "first_day", errors)
    last = _date(values, "last_day", errors, optional=True) or first
    reason = _text(values, "reason", errors, 200)
    if first and last and last < first:
        errors["last_day"] = _("The last day cannot be before the first day.")
    elif first and last and (last - first).days > 366:
        errors["last_day"] = _("A closure lasts at most a year.")
    errors.raise_if_any()
    assert first is not None and last is not None
    span = local_date_span(first, last, schedule.lab_timezone(lab))
    return disruptions.Disruption("closure", lab, span, reason, values, closure_days=(first, last))


async def preview_closure(actor: User, lab: Lab, values: dict) -> disruptions.Plan:
    """The active bookings a closure would hit, each with its first free slot (nothing written)."""
    await permissions.ensure(actor, "lab.manage", lab)
    return await disruptions.plan(_closure(lab, values))


async def add_closure(
    actor: User,
    lab: Lab,
    values: dict,
    confirmed_ids: Sequence[int] | None = None,
    choices: dict[int, str] | None = None,
) -> Closure:
    """Close the lab on some days. Over active bookings: `disruptions.BookingsAffected` until
    the staff confirm those bookings (`confirmed_ids`) and choose to cancel or move each."""
    await permissions.ensure(actor, "lab.manage", lab)
    disruption = _closure(lab, values)
    closure, _outcomes = await disruptions.apply(actor, disruption, confirmed_ids, choices)
    return closure  # type: ignore[return-value]


async def delete_closure(actor: User, lab: Lab, closure_id: int) -> None:
    await permissions.ensure(actor, "lab.manage", lab)
    if not await Closure.filter(id=closure_id, lab_id=lab.id).delete():
        raise NotFound(_("No such closure."))
    await on_commit(lambda: schedule.calendar_changed(lab.id))


def _blackout(lab: Lab, equipment: Equipment, values: dict) -> disruptions.Disruption:
    errors = Errors()
    start = _local_datetime(values, "starts_at", errors, lab)
    end = _local_datetime(values, "ends_at", errors, lab)
    reason = _text(values, "reason", errors, 200)
    if start and end and end <= start:
        errors["ends_at"] = _("The end must be after the start.")
    elif start and end and end - start > timedelta(days=366):
        errors["ends_at"] = _("A blackout lasts at most a year.")
    errors.raise_if_any()
    assert start is not None and end is not None
    return disruptions.Disruption(
        "blackout", lab, Interval(start, end), reason, values, equipment=equipment
    )


async def preview_blackout(
    actor: User, lab: Lab, equipment: Equipment, values: dict
) -> disruptions.Plan:
    """The active bookings a blackout would hit, each with its first free slot (nothing
    written)."""
    await permissions.ensure(actor, "lab.manage", lab)
    return await disruptions.plan(_blackout(lab, equipment, values))


async def add_blackout(
    actor: User,
    lab: Lab,
    equipment: Equipment,
    values: dict,
    confirmed_ids: Sequence[int] | None = None,
    choices: dict[int, str] | None = None,
) -> Blackout:
    """Take a machine out of use for a while. Over active bookings: `disruptions.
    BookingsAffected` until the staff confirm those bookings and choose to cancel or move each."""
    await permissions.ensure(actor, "lab.manage", lab)
    disruption = _blackout(lab, equipment, values)
    blackout, _outcomes = await disruptions.apply(actor, disruption, confirmed_ids, choices)
    return blackout  # type: ignore[return-value]


async def delete_blackout(actor: User, lab: Lab, blackout_id: int) -> None:
    await permissions.ensure(actor, "lab.manage", lab)
    if not await Blackout.filter(id=blackout_id, equipment__lab_id=lab.id).delete():
        raise NotFound(_("No such blackout."))


@dataclass
class ManageView:
    equipment: list[Equipment]
    hours: dict[str, str]
    closures: list[Closure]
    blackouts: list[Blackout]


async def manage_view(lab: Lab) -> ManageView:
    today = timezone.now().date() - timedelta(days=1)
    return ManageView(
        equipment=await Equipment.filter(lab_id=lab.id).order_by("name", "id"),
        hours=hours_text(await OpeningHours.filter(lab_id=lab.id)),
        closures=await Closure.filter(lab_id=lab.id, last_day__gte=today).order_by("first_day"),
        blackouts=await Blackout.filter(equipment__lab_id=lab.id, ends_at__gt=timezone.now())
        .select_related("equipment")
        .order_by("starts_at"),
    )


# --- approvals ----------------------------------------------------------------------------


async def pending_bookings(actor: User, lab: Lab) -> list[Booking]:
    await permissions.ensure(actor, "lab.manage_bookings", lab)
    return (
        await Booking.filter(equipment__lab_id=lab.id, status=BookingStatus.PENDING)
        .select_related("equipment", "user")
        .order_by("starts_at", "id")
    )


async def decide_booking(
    actor: User, lab: Lab, booking_id: int, approve: bool, reason: str = ""
) -> Booking:
    """Approve or decline a pending booking of the lab; the booker is told by email."""
    await permissions.ensure(actor, "lab.manage_bookings", lab)
    booking = await Booking.get_or_none(id=booking_id, equipment__lab_id=lab.id).select_related(
        "equipment", "user"
    )
    if booking is None:
        raise NotFound(_("No such booking."))
    reason = reason.strip()
    if not approve and not reason:
        message = _("Give the booker a reason for declining.")
        raise Invalid(message, fields={"reason": message})
    if len(reason) > 500:
        message = _("At most %(n)d characters.", n=500)
        raise Invalid(message, fields={"reason": message})
    status = BookingStatus.CONFIRMED if approve else BookingStatus.DECLINED
    now = timezone.now()
    async with atomic():
        updated = await Booking.filter(id=booking.id, status=BookingStatus.PENDING).update(
            status=status, decided_by_id=actor.id, decision_reason=reason, updated_at=now
        )
        if not updated:
            raise Conflict(_("This booking is no longer pending."), code="not_pending")
        booking.status, booking.decision_reason, booking.decided_by_id = status, reason, actor.id
        booking.updated_at = now
        booking.equipment.lab = lab
        await audit.record(
            "booking.approved" if approve else "booking.declined", actor=actor, target=booking
        )
        if not approve and booking.payment_id is not None:  # type: ignore[attr-defined]
            # A declined booking costs nothing: whatever was paid goes back in full.
            await refunds.cancel_payment(booking.payment_id, 100, "declined")  # type: ignore[attr-defined]
        await notices.booking_decided(booking, booking.user, approved=approve)
    return booking


# --- the daily agenda ---------------------------------------------------------------------


@dataclass
class AgendaRow:
    equipment: Equipment
    bookings: list[Booking]


async def agenda(actor: User, lab: Lab, day: date) -> list[AgendaRow]:
    """Every machine of the lab with the day's bookings (cancelled ones left out): 2 queries."""
    await permissions.ensure(actor, "lab.manage_bookings", lab)
    span = local_date_span(day, day, schedule.lab_timezone(lab))
    machines = await Equipment.filter(lab_id=lab.id).order_by("name", "id")
    rows = {machine.id: AgendaRow(machine, []) for machine in machines}
    day_bookings = (
        await Booking.filter(
            equipment__lab_id=lab.id,
            starts_at__lt=span.end,
            ends_at__gt=span.start,
        )
        .exclude(status__in=[BookingStatus.CANCELLED, BookingStatus.DECLINED])
        .select_related("user")
        .order_by("starts_at", "id")
    )
    for booking in day_bookings:
        row = rows.get(booking.equipment_id)  # type: ignore[attr-defined]
        if row is not None:
            booking.equipment = row.equipment
            row.equipment.lab = lab
            row.bookings.append(booking)
    return list(rows.values())


# --- recurring bookings for a course ------------------------------------------------------

FREQUENCY_LABELS = {
    "weekly": N_("Every week"),
    "biweekly": N_("Every other week"),
    "monthly": N_("Every month, on a given weekday"),
}
NTH_LABELS = {
    "1": N_("the first"),
    "2": N_("the second"),
    "3": N_("the third"),
    "4": N_("the fourth"),
    "-1": N_("the last"),
}

SKIP_REASONS = {
    "exception": N_("exception date"),
    "in_past": N_("in the past"),
    "closed": N_("the lab is closed that day"),
    "outside_opening_hours": N_("outside the opening hours"),
    "blackout": N_("maintenance blackout"),
    "taken": N_("the machine is already booked"),
    "clock_gap": N_("this time does not exist that day (clock change)"),
    "other": N_("a booking rule refuses it"),
}


def skip_reason(code: str) -> str:
    """Why a date of a series is skipped, in the viewer's language."""
    return label_in(SKIP_REASONS, code)


@dataclass(frozen=True)
class Skipped:
    day: date
    session: Interval | None
    code: str
    detail: str = ""  # e.g. the closure's reason


@dataclass
class RecurringPlan:
    title: str
    ok: list[Interval]
    skipped: list[Skipped]
    pattern: Pattern | None = None

    @property
    def conflicting(self) -> list[Interval]:
        return [s.session for s in self.skipped if s.session is not None]

    def rows(self, tz) -> list[Skipped]:
        """Every date in order: a bookable one has the code "" (the preview's list)."""
        rows = [Skipped(session.start.astimezone(tz).date(), session, "") for session in self.ok]
        return sorted([*rows, *self.skipped], key=lambda row: row.day)


def _recurring_pattern(values: dict, errors: Errors):
    title = _text(values, "title", errors, 200, required=True)
    first = _date(values, "first_date", errors)
    start = _time(values, "start_time", errors)
    duration = _int(values, "duration_minutes", errors, 5, MINUTES_PER_DAY)
    weekdays = set()
    for raw in values.get("weekdays", []) or []:
        if (weekday := whole_number(raw)) in WEEKDAYS:
            weekdays.add(weekday)
    if not weekdays:
        errors["weekdays"] = _("Choose at least one weekday.")
    frequency = str(values.get("frequency", "") or WEEKLY).strip()
    if frequency not in FREQUENCIES:
        errors["frequency"] = _("Choose one of the offered values.")
    nth = None
    if frequency == MONTHLY:
        raw_nth = str(values.get("nth", "")).strip()
        nth = int(raw_nth) if raw_nth in {str(n) for n in NTH_WEEKDAYS} else None
        if nth is None:
            errors["nth"] = _("Choose which weekday of the month.")
    exceptions: set[date] = set()
    for raw in re.split(r"[\s,;]+", str(values.get("exceptions", "")).strip()):
        if not raw:
            continue
        try:
            exceptions.add(iso_date(raw))
        except ValueError:
            errors["exceptions"] = _("Write dates as YYYY-MM-DD, separated by commas.")
            break
    until = _date(values, "until", errors, optional=True)
    count = _int(values, "count", errors, 1, MAX_OCCURRENCES, optional=True)
    if "until" not in errors and "count" not in errors and (until is None) == (count is None):
        errors["until"] = _("Give either a last date or a number of sessions, not both.")
    if first and until and until < first:
        errors["until"] = _("The last date cannot be before the first date.")
    if first and until and (until - first).days > 3 * 365:
        errors["until"] = _("A series lasts at most three years.")
    errors.raise_if_any()
    pattern = Pattern(
        first_date=first,  # type: ignore[arg-type]
        start_time=start,  # type: ignore[arg-type]
        duration=timedelta(minutes=duration),  # type: ignore[arg-type]
        weekdays=frozenset(weekdays),
        frequency=frequency,
        nth=nth,
        until=until,
        count=count,
        exceptions=frozenset(exceptions),
    )
    return title, pattern


def _why_refused(session: Interval, series, closures: list[Closure]) -> tuple[str, str]:
    """The first reason `check_booking` (or another booking) refuses a session, as a code."""
    violations = check_booking(series.session_facts(session))
    codes = [str(v.code) for v in violations]
    if "in_past" in codes:
        return "in_past", ""
    if "outside_opening_hours" in codes:
        local_day = session.start.astimezone(series.tz).date()
        for closure in closures:
            if closure.first_day <= local_day <= closure.last_day:
                return "closed", closure.reason
        return "outside_opening_hours", ""
    if "blackout" in codes:
        return "blackout", ""
    if codes:
        return "other", ""
    return ("taken", "") if series.taken(session) else ("", "")


async def plan_recurring(
    actor: User, lab: Lab, equipment: Equipment, values: dict
) -> RecurringPlan:
    """The sessions of the pattern: bookable ones, and skipped ones with their reason, in
    date order (exception date, past, closure, opening hours, blackout, another booking)."""
    await permissions.ensure(actor, "lab.manage_bookings", lab)
    errors = Errors()
    title, pattern = _recurring_pattern(values, errors)
    tz = schedule.lab_timezone(lab)
    try:
        occurrences = pattern_occurrences(pattern, tz)
    except ValueError as exc:
        raise Invalid(
            _("The series is too long: at most %(n)d sessions.", n=MAX_OCCURRENCES),
            fields={"until": _("Shorten the series.")},
        ) from exc
    sessions = [o.session for o in occurrences if o.session is not None]
    if not occurrences:
        raise Invalid(
            _("The pattern gives no session."), fields={"weekdays": _("No date matches.")}
        )
    ok: list[Interval] = []
    skipped: list[Skipped] = []
    if sessions:
        span = Interval(sessions[0].start, sessions[-1].end)
        series = await facts.series_facts(lab, equipment, span)  # 1. gather
        closures = await Closure.filter(
            lab_id=lab.id,
            first_day__lte=occurrences[-1].day,
            last_day__gte=occurrences[0].day,
        )
    for occurrence in occurrences:  # 2. decide, date by date
        if occurrence.excepted:
            skipped.append(Skipped(occurrence.day, occurrence.session, "exception"))
        elif occurrence.session is None:
            skipped.append(Skipped(occurrence.day, None, "clock_gap"))
        else:
            code, detail = _why_refused(occurrence.session, series, closures)
            if code:
                skipped.append(Skipped(occurrence.day, occurrence.session, code, detail))
            else:
                ok.append(occurrence.session)
    return RecurringPlan(title, ok, skipped, pattern)


async def _book_for_series(
    actor: User, equipment: Equipment, series: BookingSeries, session: Interval
) -> Booking | None:
    """One session, under the machine's lock in its own transaction; None if taken meanwhile."""
    import secrets

    async with atomic():
        if not await lock.lock_machine(equipment.id):
            raise Invalid(
                _("This machine is not in service and cannot be booked."),
                code="equipment_unavailable",
            )
        if await lock.slot_taken(equipment.id, session):
            return None
        return await Booking.create(
            equipment_id=equipment.id,
            user_id=actor.id,
            series_id=series.id,
            starts_at=session.start,
            ends_at=session.end,
            status=BookingStatus.CONFIRMED,
            purpose=series.title,
            check_in_code=secrets.token_urlsafe(12),
        )


async def create_recurring(
    actor: User, lab: Lab, equipment: Equipment, values: dict
) -> tuple[BookingSeries, list[Booking], list[Skipped]]:
    """Create the non-conflicting sessions as one series; returns it, its bookings and the
    skipped dates with their reason (in date order).

    Staff bookings skip the booker's rules (notice, horizon, length, quota) but never the
    opening hours, closures, blackouts or another booking. Each session takes the machine's
    lock in its own transaction (the booking service's no-double-booking path).
    """
    plan = await plan_recurring(actor, lab, equipment, values)
    if equipment.status != EquipmentStatus.AVAILABLE:
        raise Invalid(
            _("This machine is not in service and cannot be booked."),
            code="equipment_unavailable",
        )
    if not plan.ok:
        raise Conflict(_("Every session of this series conflicts: nothing was booked."))
    series = await BookingSeries.create(
        equipment_id=equipment.id, created_by_id=actor.id, title=plan.title
    )
    created: list[Booking] = []
    skipped = list(plan.skipped)
    tz = schedule.lab_timezone(lab)
    for session in plan.ok:
        try:
            booking = await _book_for_series(actor, equipment, series, session)
        except IntegrityError as exc:  # the PostgreSQL exclusion constraint
            if not lock.is_overlap_violation(exc):
                raise
            booking = None
        if booking is None:  # taken meanwhile
            skipped.append(Skipped(session.start.astimezone(tz).date(), session, "taken"))
        else:
            created.append(booking)
    skipped.sort(key=lambda s: s.day)
    await audit.record("booking_series.created", actor=actor, target=series, created=len(created))
    return series, created, skipped


# --- a series afterwards: edit or cancel all of it or the rest ----------------------------


async def get_series(actor: User, lab: Lab, series_id: int) -> tuple[BookingSeries, list[Booking]]:
    """The lab's series and its bookings in order (404 for another lab's series): 2 queries."""
    await permissions.ensure(actor, "lab.manage_bookings", lab)
    series = await BookingSeries.get_or_none(id=series_id, equipment__lab_id=lab.id)
    if series is None:
        raise NotFound(_("No such series."))
    bookings = await Booking.filter(series_id=series.id).order_by("starts_at", "id")
    return series, bookings


def _series_scope(lab: Lab, values: dict, errors: Errors) -> datetime:
    """`scope` = all (every booking not started yet) or rest (from `from_day` on): the first
    start concerned."""
    now = timezone.now()
    scope = str(values.get("scope", "")).strip()
    if scope == "all":
        return now
    if scope != "rest":
        errors["scope"] = _("Choose one of the offered values.")
        return now
    day = _date(values, "from_day", errors)
    if day is None:
        return now
    return max(now, local_date_span(day, day, schedule.lab_timezone(lab)).start)


async def cancel_series(actor: User, lab: Lab, series_id: int, values: dict) -> int:
    """Cancel the series' active bookings not started yet (all, or from a date on) in one
    transaction; a paid one is refunded in full. Returns how many were cancelled."""
    series, _bookings = await get_series(actor, lab, series_id)
    errors = Errors()
    since = _series_scope(lab, values, errors)
    errors.raise_if_any()
    now = timezone.now()
    async with atomic():
        targets = await Booking.filter(
            series_id=series.id,
            status__in=list(ACTIVE_BOOKING_STATUSES),
            starts_at__gte=since,
        )
        if not targets:
            return 0
        await Booking.filter(id__in=[b.id for b in targets]).update(
            status=BookingStatus.CANCELLED, cancelled_at=now, updated_at=now, decided_by_id=actor.id
        )
        for booking in targets:
            if booking.payment_id is not None:  # type: ignore[attr-defined]
                await refunds.cancel_payment(booking.payment_id, 100, "series_cancelled")  # type: ignore[attr-defined]
        await audit.record(
            "booking_series.cancelled",
            actor=actor,
            target=series,
            cancelled=len(targets),
            since=since.isoformat(),
        )
        await lock.offer_freed_slot(f"waitlist-after-series:{series.id}:{now.timestamp()}")
    return len(targets)


async def edit_series(actor: User, lab: Lab, series_id: int, values: dict) -> int:
    """Rename the series and retitle its bookings not started yet (all, or from a date on).
    Returns how many bookings changed."""
    series, _bookings = await get_series(actor, lab, series_id)
    errors = Errors()
    title = _text(values, "title", errors, 200, required=True)
    since = _series_scope(lab, values, errors)
    errors.raise_if_any()
    async with atomic():
        if values.get("scope") == "all":
            series.title = title
            await series.save(update_fields=["title"])
        changed = await Booking.filter(
            series_id=series.id,
            status__in=list(ACTIVE_BOOKING_STATUSES),
            starts_at__gte=since,
        ).update(purpose=title[:500], updated_at=timezone.now())
        await audit.record("booking_series.edited", actor=actor, target=series, changed=changed)
    return changed


# --- walk-ins: staff book on behalf of a person or a guest --------------------------------

WALK_IN_LATE = timedelta(minutes=15)  # a walk-in may start this much before now
WALK_IN_SEARCH_LIMIT = 20


async def walk_in_people(actor: User, lab: Lab, query: str) -> list[User]:
    """Verified accounts of the lab's host organisation whose name or e-mail contains `query`
    (at least 2 characters; 20 at most, by name): one query."""
    from ecosystem.models import Membership, MembershipStatus

    await permissions.ensure(actor, "lab.manage_bookings", lab)
    query = query.strip()
    if len(query) < 2:
        return []
    members = Membership.filter(
        organisation_id=lab.organisation_id,  # type: ignore[attr-defined]
        status=MembershipStatus.ACTIVE,
    ).values_list("user_id", flat=True)
    from tortoise.expressions import Q, Subquery

    return (
        await User.filter(
            Q(full_name__icontains=query) | Q(email__icontains=query),
            id__in=Subquery(members),
            email_verified_at__isnull=False,
        )
        .order_by("full_name", "id")
        .limit(WALK_IN_SEARCH_LIMIT)
    )


async def lab_machines(lab: Lab) -> list[Equipment]:
    return await Equipment.filter(lab_id=lab.id).order_by("name", "id")


async def _walk_in_person(lab: Lab, person_id: int) -> User | None:
    """The account, if it is a verified, active member of the lab's host organisation."""
    from ecosystem.models import Membership, MembershipStatus

    member = await Membership.exists(
        organisation_id=lab.organisation_id,  # type: ignore[attr-defined]
        user_id=person_id,
        status=MembershipStatus.ACTIVE,
    )
    if not member:
        return None
    return await User.get_or_none(id=person_id, email_verified_at__isnull=False)


async def book_walk_in(actor: User, lab: Lab, equipment: Equipment, values: dict) -> Booking:
    """Staff book a machine for someone at the desk: an account of the lab's host organisation
    (`person_id`) or a guest (`guest_name`, `guest_phone`).

    What staff may override: the booker's notice, horizon, slot grid, length limits and weekly
    quota, and the start may lie up to 15 minutes in the past (the person is at the desk).
    What still holds: the opening hours, closures, blackouts, the machine being in service, no
    overlap with another booking (under the machine's lock, as every booking), and training:
    an account needs its certification for a machine that requires one, and a guest cannot
    book such a machine. A walk-in is confirmed at once; payment is settled at the desk.
    """
    await permissions.ensure(actor, "lab.manage_bookings", lab)
    errors = Errors()
    start = _local_datetime(values, "starts_at", errors, lab)
    end = _local_datetime(values, "ends_at", errors, lab)
    purpose = _text(values, "purpose", errors, 500)
    guest_name = _text(values, "guest_name", errors, 200)
    guest_phone = _text(values, "guest_phone", errors, 40)
    raw_person = str(values.get("person_id", "")).strip()
    person = None
    if raw_person:
        person_id = whole_number(raw_person)
        person = await _walk_in_person(lab, person_id) if person_id else None
        if person is None:
            errors["person_id"] = _("Choose a person from the search results.")
    elif not guest_name:
        errors["guest_name"] = _("Choose a person or write the guest's name.")
    if guest_phone and not re.fullmatch(r"[0-9 +().-]{6,40}", guest_phone):
        errors["guest_phone"] = _("Enter a phone number.")
    if start and end and end <= start:
        errors["ends_at"] = _("The end must be after the start.")
    elif start and end and end - start > timedelta(days=7):
        errors["ends_at"] = _("A booking lasts at most a week.")
    errors.raise_if_any()
    assert start is not None and end is not None
    if equipment.status != EquipmentStatus.AVAILABLE:
        raise Invalid(
            _("This machine is not in service and cannot be booked."),
            code="equipment_unavailable",
        )
    window = Interval(start, end)
    if equipment.requires_training:
        certified = person is not None and await facts.has_certification(person, equipment, start)
        if not certified:
            message = _(
                "This machine needs a training: only a certified person can use it, "
                "also as a walk-in."
            )
            raise Invalid(message, code="training_required")
    series = await facts.series_facts(lab, equipment, window)
    series = dataclasses.replace(series, now=series.now - WALK_IN_LATE)
    closures = await Closure.filter(
        lab_id=lab.id,
        first_day__lte=(end + timedelta(days=1)).date(),
        last_day__gte=(start - timedelta(days=1)).date(),
    )
    code, detail = _why_refused(window, series, closures)
    if code == "taken":
        raise lock.conflict()
    if code:
        reason = skip_reason(code) + (f" ({detail})" if detail else "")
        message = _("This time cannot be booked: %(reason)s.", reason=reason)
        raise Invalid(message, code=code, fields={"starts_at": message})
    import secrets

    try:
        async with atomic():
            await lock.lock_in_service(equipment.id)
            if await lock.slot_taken(equipment.id, window):
                raise lock.conflict()
            booking = await Booking.create(
                equipment_id=equipment.id,
                user_id=person.id if person else actor.id,
                starts_at=window.start,
                ends_at=window.end,
                status=BookingStatus.CONFIRMED,
                purpose=purpose,
                decided_by_id=actor.id,
                guest_name="" if person else guest_name,
                guest_phone="" if person else guest_phone,
                check_in_code=secrets.token_urlsafe(12),
            )
            await audit.record("booking.walk_in", actor=actor, target=booking, guest=person is None)
    except IntegrityError as exc:
        if lock.is_overlap_violation(exc):
            raise lock.conflict() from exc
        raise
    booking.equipment = equipment
    equipment.lab = lab
    return booking
