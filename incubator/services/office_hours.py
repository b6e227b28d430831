"""Mentor office hours: a mentor of a programme publishes weekly slots; founders of startups
enrolled in that programme book one; either side cancels (the other hears of it by mail); the
mentor logs the meeting as a mentoring session linked to the booking.

The guarantee: one slot, one booking. A slot is named by its start (`office_slots`), one
mentor's live series never overlap (`publish` refuses it), and the database holds the rest:
`OfficeHourBooking` is unique on (mentor, live_start), where `live_start` is the slot's start
while the booking holds and NULL once cancelled. Two founders racing for one slot both pass
the checks; only one INSERT commits, the other gets `IntegrityError` and a 409 – on SQLite
and PostgreSQL alike, and across processes, without a lock of our own.

Who may do what (DESIGN §3): every power needs a verified identity and a published programme
(its host verified); a mentor publishes while holding the programme's mentor role; a founder
books for a startup they are an active member of, whose enrolment in a cohort of that
programme the startup accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import date_field, has_control, whole_number
from ecosystem.models import Membership, MembershipStatus, User
from ecosystem.permissions import has_verified_identity
from ecosystem.services import audit
from ecosystem.settings import get_settings
from incubator import office_slots
from incubator.models import (
    Enrolment,
    EnrolmentStatus,
    MentoringSession,
    OfficeBookingStatus,
    OfficeHourBooking,
    OfficeHours,
    Programme,
    ProgrammeRole,
    ProgrammeRoleKind,
)
from incubator.permissions import ProgrammeAccess, ensure_visible, programme_access

SLOT_MINUTES = (15, 20, 30, 45, 60, 90)
MAX_SLOTS = 12
MAX_WEEKS = 52
HORIZON_DAYS = 28  # the board shows four weeks ahead
MAX_UPCOMING = 3  # upcoming bookings one startup may hold with one mentor


def _verify_first() -> NotPermitted:
    return NotPermitted(_("Verify your e-mail address first: this needs a verified account."))


def pattern_of(series: OfficeHours) -> office_slots.Pattern:
    return office_slots.Pattern(
        weekday=series.weekday,
        start_minute=series.start_minute,
        slot_minutes=series.slot_minutes,
        slots=series.slots,
        first_day=series.first_day,
        last_day=series.last_day,
        zone=series.timezone,
        skipped=frozenset(date.fromisoformat(day) for day in series.skipped or []),
    )


def local_today(zone: str | None = None) -> date:
    return timezone.now().astimezone(ZoneInfo(zone or get_settings().default_timezone)).date()


async def founder_enrolments(user: User | None, programme_id: int) -> list[Enrolment]:
    """The accepted enrolments in the programme of startups the (verified) user is an active
    member of: the startups the user may book office hours for."""
    if not has_verified_identity(user):
        return []
    startup_ids = await Membership.filter(
        user_id=user.id,  # type: ignore[union-attr]
        status=MembershipStatus.ACTIVE,
    ).values_list("organisation_id", flat=True)
    if not startup_ids:
        return []
    return (
        await Enrolment.filter(
            startup_id__in=list(startup_ids),
            cohort__programme_id=programme_id,
            status=EnrolmentStatus.ACCEPTED,
            active=True,
        )
        .select_related("startup")
        .order_by("startup__name")
    )


@dataclass
class Board:
    """A programme's office hours as one person sees them."""

    programme: Programme
    access: ProgrammeAccess
    enrolments: list[Enrolment]  # the startups the person may book for
    series: list[OfficeHours]
    days: list[tuple[date, list[tuple[OfficeHours, office_slots.Slot, Any]]]] = field(
        default_factory=list
    )  # per day: (series, slot, booking or None)

    @property
    def can_publish(self) -> bool:
        return self.access.mentor and self.access.published

    @property
    def can_book(self) -> bool:
        return bool(self.enrolments) and self.access.published

    @property
    def sees_bookers(self) -> bool:
        return self.access.staff


async def _programme(programme_id: int) -> Programme:
    programme = (
        await Programme.get_or_none(id=programme_id).select_related("organisation")
        if programme_id < 2**31
        else None
    )
    if programme is None:
        raise NotFound(_("There is no such programme."))
    return programme


async def board(user: User | None, programme_id: int) -> Board:
    """The programme's office hours for the next four weeks: who may see them are its staff
    (managers, mentors) and the founders of its enrolled startups."""
    programme = await _programme(programme_id)
    access = await ensure_visible(user, programme)
    if not has_verified_identity(user):
        raise _verify_first()
    enrolments = await founder_enrolments(user, programme.id)
    if not (access.staff or enrolments or access.platform_admin):
        raise NotPermitted(
            _("Office hours are open to the programme's mentors and its enrolled startups.")
        )
    today = local_today()
    horizon = today + timedelta(days=HORIZON_DAYS)
    series = (
        await OfficeHours.filter(
            programme_id=programme.id, withdrawn_at__isnull=True, last_day__gte=today
        )
        .select_related("mentor")
        .order_by("weekday", "start_minute", "id")
    )
    now = timezone.now()
    bookings = {}
    if series:
        found = await OfficeHourBooking.filter(
            office_hours_id__in=[s.id for s in series],
            status=OfficeBookingStatus.BOOKED,
            starts_at__gte=now,
            starts_at__lt=now + timedelta(days=HORIZON_DAYS + 2),
        ).select_related("startup")
        bookings = {(b.mentor_id, b.starts_at): b for b in found}  # type: ignore[attr-defined]
    per_day: dict[date, list] = {}
    for s in series:
        for slot in office_slots.slots(pattern_of(s), today, horizon):
            if slot.start <= now:
                continue
            day = slot.start.astimezone(ZoneInfo(s.timezone)).date()
            booking = bookings.get((s.mentor_id, slot.start))  # type: ignore[attr-defined]
            per_day.setdefault(day, []).append((s, slot, booking))
    result = Board(programme, access, enrolments, list(series))
    result.days = [
        (day, sorted(per_day[day], key=lambda row: (row[1].start, row[0].id)))
        for day in sorted(per_day)
    ]
    return result


# --- the mentor: publish, skip a day, withdraw -------------------------------------------------


def _parse_start(raw: str) -> int | None:
    """ "HH:MM" → minutes after midnight, or None."""
    parts = raw.strip().split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        return None
    hours, minutes = int(parts[0]), int(parts[1])
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


async def publish(actor: User, programme_id: int, values: dict[str, Any]) -> OfficeHours:
    """A mentor of the programme publishes weekly office hours.

    Raises NotFound (404) for an unknown programme, NotPermitted (403) unless the actor is a
    verified mentor of a published programme, Invalid (422, naming each field) for a bad
    form, Conflict (409) when the new hours overlap the mentor's own live hours."""
    programme = await _programme(programme_id)
    access = await ensure_visible(actor, programme)
    if not has_verified_identity(actor):
        raise _verify_first()
    if not access.mentor:
        raise NotPermitted(_("Only the programme's mentors may publish office hours."))
    if not access.published:
        raise NotPermitted(
            _("The programme is a draft until its organisation is verified: no office hours yet.")
        )
    errors: dict[str, str] = {}
    weekday = whole_number(values.get("weekday"), 0, 6)
    if weekday is None:
        errors["weekday"] = _("Choose a day of the week.")
    start_minute = _parse_start(str(values.get("start") or ""))
    if start_minute is None:
        errors["start"] = _("Give a time as HH:MM.")
    slot_minutes = whole_number(values.get("slot_minutes"), 1, 1440)
    if slot_minutes not in SLOT_MINUTES:
        errors["slot_minutes"] = _("Choose the length of a slot.")
    slots = whole_number(values.get("slots"), 1, MAX_SLOTS)
    if slots is None:
        errors["slots"] = _("Give a number of slots from 1 to %(most)s.", most=MAX_SLOTS)
    weeks = whole_number(values.get("weeks"), 1, MAX_WEEKS)
    if weeks is None:
        errors["weeks"] = _("Give a number of weeks from 1 to %(most)s.", most=MAX_WEEKS)
    first_day = date_field(values, "first_day", errors)
    if first_day is not None and first_day < local_today():
        errors["first_day"] = _("Start today or later.")
    place = str(values.get("place") or "").strip()
    if len(place) > 200:
        errors["place"] = _("At most %(count)s characters.", count=200)
    elif has_control(place, multiline=False):
        errors["place"] = _("This text contains control characters that are not allowed.")
    if (
        start_minute is not None
        and slot_minutes in SLOT_MINUTES
        and slots is not None
        and start_minute + slot_minutes * slots > office_slots.DAY_MINUTES  # type: ignore[operator]
    ):
        errors["slots"] = _("The slots must end by midnight.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    assert first_day is not None and weeks is not None and weekday is not None
    # The first day is the first chosen weekday on or after the given day.
    first_day += timedelta(days=(weekday - first_day.weekday()) % 7)
    series = OfficeHours(
        programme_id=programme.id,
        mentor_id=actor.id,
        weekday=weekday,
        start_minute=start_minute,
        slot_minutes=slot_minutes,
        slots=slots,
        first_day=first_day,
        last_day=first_day + timedelta(weeks=weeks - 1),
        timezone=get_settings().default_timezone,
        place=place,
        skipped=[],
    )
    async with atomic():
        mine = await OfficeHours.filter(
            mentor_id=actor.id, withdrawn_at__isnull=True, last_day__gte=local_today()
        )
        for other in mine:
            if office_slots.overlaps(pattern_of(series), pattern_of(other)):
                raise Conflict(
                    _("These hours overlap office hours you have already published."),
                    {"start": _("These hours overlap office hours you have already published.")},
                )
        await series.save()
        await audit.record("incubator.office_hours_published", actor=actor, target=series)
    return series


async def _own_series(actor: User, series_id: int) -> OfficeHours:
    series = (
        await OfficeHours.get_or_none(id=series_id).select_related("programme")
        if series_id < 2**31
        else None
    )
    if series is None or series.withdrawn_at is not None:
        raise NotFound(_("There are no such office hours."))
    if not has_verified_identity(actor):
        raise _verify_first()
    if series.mentor_id != actor.id:  # type: ignore[attr-defined]
        access = await programme_access(actor, series.programme)
        if not access.manager:
            raise NotPermitted(_("Only the mentor or the programme's managers may change these."))
    return series


async def skip_day(actor: User, series_id: int, raw_day: str) -> tuple[OfficeHours, int]:
    """Leave one day out of the hours (an exception); bookings on it are cancelled and their
    founders told. Returns the series and the number of bookings cancelled."""
    series = await _own_series(actor, series_id)
    errors: dict[str, str] = {}
    day = date_field({"day": raw_day}, "day", errors)
    if day is not None and not office_slots.days(pattern_of(series), day, day):
        errors["day"] = _("The office hours do not take place on that day.")
    elif day is not None and day < local_today(series.timezone):
        errors["day"] = _("That day is past.")
    if errors:
        raise Invalid(errors["day"], errors)
    assert day is not None
    zone = ZoneInfo(series.timezone)
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    async with atomic():
        series.skipped = sorted({*series.skipped, day.isoformat()})
        await series.save(update_fields=["skipped"])
        cancelled = await _cancel_all(
            actor,
            OfficeHourBooking.filter(
                office_hours_id=series.id,
                starts_at__gte=max(start, timezone.now()),
                starts_at__lt=start + timedelta(days=1),
            ),
            _("The mentor is not available that day."),
        )
    return series, cancelled


async def withdraw(actor: User, series_id: int) -> tuple[OfficeHours, int]:
    """Withdraw the hours: no new booking; upcoming bookings are cancelled, founders told."""
    series = await _own_series(actor, series_id)
    async with atomic():
        updated = await OfficeHours.filter(id=series.id, withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now()
        )
        if not updated:
            raise NotFound(_("There are no such office hours."))
        cancelled = await _cancel_all(
            actor,
            OfficeHourBooking.filter(office_hours_id=series.id, starts_at__gte=timezone.now()),
            _("The mentor has withdrawn these office hours."),
        )
        await audit.record("incubator.office_hours_withdrawn", actor=actor, target=series)
    return series, cancelled


async def _cancel_all(actor: User, query, reason: str) -> int:
    count = 0
    # Prefetched, not joined: PostgreSQL cuts column aliases at 63 characters.
    for booking in (
        await query.filter(status=OfficeBookingStatus.BOOKED)
        .select_related("startup", "mentor")
        .prefetch_related("office_hours__programme")
    ):
        if await _mark_cancelled(actor, booking, reason):
            await _tell_founders(booking, actor, reason)
            count += 1
    return count


# --- the founder: book ------------------------------------------------------------------------


def _parse_moment(raw: str) -> datetime | None:
    text = raw.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or not (2000 <= moment.year <= 2200):
        return None
    return moment.astimezone(UTC)


async def book(actor: User, series_id: int, values: dict[str, Any]) -> OfficeHourBooking:
    """A founder books one slot of a mentor's office hours for their startup.

    Raises NotFound (404) for unknown or withdrawn hours, NotPermitted (403) for an
    unverified account or one that is no founder of a startup enrolled in the programme,
    Invalid (422) for a start that is no slot of these hours or already past, and Conflict
    (409) when the slot is taken (also when another founder took it a moment earlier: the
    database's unique (mentor, live_start) decides) or the startup already holds
    MAX_UPCOMING slots with this mentor."""
    series = (
        # Prefetched, not joined: PostgreSQL cuts column aliases at 63 characters.
        await OfficeHours.get_or_none(id=series_id)
        .select_related("mentor")
        .prefetch_related("programme__organisation")
        if series_id < 2**31
        else None
    )
    if series is None or series.withdrawn_at is not None:
        raise NotFound(_("There are no such office hours."))
    access = await ensure_visible(actor, series.programme)
    if not has_verified_identity(actor):
        raise _verify_first()
    if not access.published:
        raise NotPermitted(_("The programme is a draft: its office hours cannot be booked."))
    enrolments = {e.startup_id: e for e in await founder_enrolments(actor, series.programme.id)}  # type: ignore[attr-defined]
    if not enrolments:
        raise NotPermitted(
            _("Only founders of startups enrolled in this programme may book office hours.")
        )
    startup_id = whole_number(values.get("startup_id"), 1)
    if startup_id is None and len(enrolments) == 1:
        startup_id = next(iter(enrolments))
    if startup_id not in enrolments:
        raise Invalid(
            _("Choose one of your startups enrolled in this programme."),
            {"startup_id": _("Choose one of your startups enrolled in this programme.")},
        )
    enrolment = enrolments[startup_id]
    moment = _parse_moment(str(values.get("start") or ""))
    slot = office_slots.slot_at(pattern_of(series), moment) if moment else None
    if slot is None:
        raise Invalid(
            _("Choose one of the slots offered."), {"start": _("Choose one of the slots offered.")}
        )
    if slot.start <= timezone.now():
        raise Invalid(
            _("This slot has already begun."), {"start": _("This slot has already begun.")}
        )
    topic = str(values.get("topic") or "").strip()
    if len(topic) > 500:
        raise Invalid(
            _("At most %(count)s characters.", count=500),
            {"topic": _("At most %(count)s characters.", count=500)},
        )
    if has_control(topic):
        raise Invalid(_("This text contains control characters that are not allowed."))
    if not await ProgrammeRole.exists(
        programme_id=series.programme.id, user_id=series.mentor.id, role=ProgrammeRoleKind.MENTOR
    ):
        raise Conflict(_("This mentor no longer mentors in the programme."))
    upcoming = await OfficeHourBooking.filter(
        startup_id=startup_id,
        mentor_id=series.mentor.id,
        status=OfficeBookingStatus.BOOKED,
        starts_at__gt=timezone.now(),
    ).count()
    if upcoming >= MAX_UPCOMING:
        raise Conflict(
            _(
                "Your startup already holds %(count)s upcoming slots with this mentor.",
                count=upcoming,
            )
        )
    try:
        async with atomic():
            booking = await OfficeHourBooking.create(
                office_hours_id=series.id,
                mentor_id=series.mentor.id,
                starts_at=slot.start,
                ends_at=slot.end,
                live_start=slot.start,  # unique per mentor while booked: the guarantee
                enrolment_id=enrolment.id,
                startup_id=startup_id,
                booked_by_id=actor.id,
                topic=topic,
            )
            booking.office_hours = series
            booking.startup = enrolment.startup
            booking.mentor = series.mentor
            await audit.record("incubator.office_hour_booked", actor=actor, target=booking)
            if has_verified_identity(series.mentor) and series.mentor.is_active:
                await mail.send_mail(
                    series.mentor.email,
                    "incubator_office_booked",
                    {
                        "booking": booking,
                        "startup": enrolment.startup,
                        "programme": series.programme,
                        "founder": actor,
                        "zone": series.timezone,
                    },
                    series.mentor.locale,
                    timezone=series.mentor.timezone,
                )
    except IntegrityError:
        raise Conflict(
            _("Someone booked this slot a moment ago. Please choose another one."),
            {"start": _("Someone booked this slot a moment ago. Please choose another one.")},
        ) from None
    return booking


# --- one booking: see, cancel, log the session -------------------------------------------------


@dataclass
class BookingView:
    booking: OfficeHourBooking
    mentor_side: bool  # the mentor (or a manager of the programme)
    founder_side: bool  # an active member of the startup
    session: MentoringSession | None
    viewer_id: int = 0

    @property
    def upcoming(self) -> bool:
        return self.booking.starts_at > timezone.now()

    @property
    def live(self) -> bool:
        return self.booking.status == OfficeBookingStatus.BOOKED

    @property
    def can_cancel(self) -> bool:
        return self.live and self.upcoming

    @property
    def can_log(self) -> bool:
        return (
            self.live
            and not self.upcoming
            and self.session is None
            and self.booking.mentor_id == self.viewer_id  # type: ignore[attr-defined]
        )


async def booking_view(actor: User | None, booking_id: int) -> BookingView:
    """The booking as the mentor, a manager of the programme or a founder sees it; 404 for
    anyone else (it says who meets whom)."""
    booking = (
        await OfficeHourBooking.get_or_none(id=booking_id)
        .select_related("startup", "mentor", "booked_by", "cancelled_by", "session")
        .prefetch_related("office_hours__programme")
        if booking_id < 2**31
        else None
    )
    if booking is None or actor is None or not actor.is_active:
        raise NotFound(_("There is no such booking."))
    if not has_verified_identity(actor):
        raise _verify_first()
    mentor_side = booking.mentor_id == actor.id  # type: ignore[attr-defined]
    founder_side = await Membership.exists(
        user_id=actor.id,
        organisation_id=booking.startup_id,  # type: ignore[attr-defined]
        status=MembershipStatus.ACTIVE,
    )
    if not (mentor_side or founder_side):
        access = await programme_access(actor, booking.office_hours.programme)
        mentor_side = access.manager
    if not (mentor_side or founder_side):
        raise NotFound(_("There is no such booking."))
    return BookingView(booking, mentor_side, founder_side, booking.session, actor.id)


async def _mark_cancelled(actor: User, booking: OfficeHourBooking, reason: str) -> bool:
    """Cancel once: frees the slot (live_start NULL). False if it was cancelled already."""
    now = timezone.now()
    updated = await OfficeHourBooking.filter(
        id=booking.id, status=OfficeBookingStatus.BOOKED
    ).update(
        status=OfficeBookingStatus.CANCELLED,
        live_start=None,
        cancelled_at=now,
        cancelled_by_id=actor.id,
        cancel_reason=reason[:500],
    )
    booking.status = OfficeBookingStatus.CANCELLED
    booking.cancelled_at = now
    booking.cancel_reason = reason[:500]
    return bool(updated)


async def _tell_founders(booking: OfficeHourBooking, actor: User, reason: str) -> int:
    rows = await Membership.filter(
        organisation_id=booking.startup_id,  # type: ignore[attr-defined]
        status=MembershipStatus.ACTIVE,
        user__is_active=True,
        user__email_verified_at__isnull=False,
    ).select_related("user")
    for membership in rows:
        await _cancel_mail(booking, membership.user, actor, reason)
    return len(rows)


async def _cancel_mail(booking: OfficeHourBooking, to: User, actor: User, reason: str) -> None:
    await mail.send_mail(
        to.email,
        "incubator_office_cancelled",
        {
            "booking": booking,
            "startup": booking.startup,
            "mentor": booking.mentor,
            "programme": booking.office_hours.programme,
            "by": actor,
            "reason": reason,
            "zone": booking.office_hours.timezone,
        },
        to.locale,
        timezone=to.timezone,
    )


async def cancel(actor: User, booking_id: int, reason: str = "") -> OfficeHourBooking:
    """Either side cancels an upcoming booking; the other side gets a mail. The slot is free
    again at once. 409 if it was cancelled already or has begun."""
    view = await booking_view(actor, booking_id)
    booking = view.booking
    reason = reason.strip()
    if len(reason) > 500 or has_control(reason):
        raise Invalid(
            _("Give a short reason (at most 500 characters)."),
            {"reason": _("Give a short reason (at most 500 characters).")},
        )
    if not view.live:
        raise Conflict(_("This booking has already been cancelled."))
    if not view.upcoming:
        raise Conflict(_("This meeting has begun: it can no longer be cancelled."))
    async with atomic():
        if not await _mark_cancelled(actor, booking, reason):
            raise Conflict(_("This booking has already been cancelled."))
        await audit.record("incubator.office_hour_cancelled", actor=actor, target=booking)
        if view.founder_side and booking.mentor_id != actor.id:  # type: ignore[attr-defined]
            mentor = booking.mentor
            if mentor.is_active and has_verified_identity(mentor):
                await _cancel_mail(booking, mentor, actor, reason)
        else:
            await _tell_founders(booking, actor, reason)
    return booking


async def log_session(actor: User, booking_id: int, values: dict[str, Any]) -> MentoringSession:
    """The mentor logs the meeting that took place: a mentoring session of the startup's
    enrolment, linked to the booking (once)."""
    view = await booking_view(actor, booking_id)
    booking = view.booking
    if booking.mentor_id != actor.id:  # type: ignore[attr-defined]
        raise NotPermitted(_("Only the mentor who met the startup may log this session."))
    if not view.live:
        raise Conflict(_("This booking was cancelled."))
    if view.upcoming:
        raise Conflict(_("A session is logged after it took place."))
    if view.session is not None:
        raise Conflict(_("This session has already been logged."))
    topics = str(values.get("topics") or "").strip()
    actions = str(values.get("actions") or "").strip()
    errors: dict[str, str] = {}
    if not topics:
        errors["topics"] = _("Say what you talked about.")
    for name, text in (("topics", topics), ("actions", actions)):
        if has_control(text):
            errors[name] = _("This text contains control characters that are not allowed.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    held_on = booking.starts_at.astimezone(ZoneInfo(booking.office_hours.timezone)).date()
    async with atomic():
        session = await MentoringSession.create(
            enrolment_id=booking.enrolment_id,  # type: ignore[attr-defined]
            mentor_id=actor.id,
            held_on=held_on,
            topics=topics[:4000],
            actions=actions[:4000],
        )
        updated = await OfficeHourBooking.filter(id=booking.id, session_id__isnull=True).update(
            session_id=session.id
        )
        if not updated:
            raise Conflict(_("This session has already been logged."))
    return session


@dataclass
class MyBookings:
    as_mentor: list[OfficeHourBooking]
    as_founder: list[OfficeHourBooking]
    series: list[OfficeHours]
    programmes: list[Programme]  # where the person may see office hours


async def my_bookings(actor: User) -> MyBookings:
    """The person's upcoming bookings, as a mentor and as a founder, and their own hours."""
    if not has_verified_identity(actor):
        raise _verify_first()
    since = timezone.now() - timedelta(hours=12)
    startup_ids = list(
        await Membership.filter(user_id=actor.id, status=MembershipStatus.ACTIVE).values_list(
            "organisation_id", flat=True
        )
    )
    related = ("startup", "mentor", "session")
    as_mentor = (
        await OfficeHourBooking.filter(
            mentor_id=actor.id, status=OfficeBookingStatus.BOOKED, starts_at__gte=since
        )
        .select_related(*related)
        .prefetch_related("office_hours__programme")
        .order_by("starts_at")
    )
    as_founder = (
        await OfficeHourBooking.filter(
            startup_id__in=startup_ids or [0],
            status=OfficeBookingStatus.BOOKED,
            starts_at__gte=since,
        )
        .select_related(*related)
        .prefetch_related("office_hours__programme")
        .order_by("starts_at")
    )
    series = (
        await OfficeHours.filter(
            mentor_id=actor.id, withdrawn_at__isnull=True, last_day__gte=local_today()
        )
        .select_related("programme")
        .order_by("programme_id", "weekday", "start_minute")
    )
    mentor_of = await ProgrammeRole.filter(
        user_id=actor.id, role=ProgrammeRoleKind.MENTOR
    ).values_list("programme_id", flat=True)
    enrolled_in = await Enrolment.filter(
        startup_id__in=startup_ids or [0], status=EnrolmentStatus.ACCEPTED, active=True
    ).values_list("cohort__programme_id", flat=True)
    programmes = await Programme.filter(id__in=list({*mentor_of, *enrolled_in}) or [0]).order_by(
        "name"
    )
    return MyBookings(list(as_mentor), list(as_founder), list(series), list(programmes))
