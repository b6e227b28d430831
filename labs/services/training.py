"""Training sessions and certifications: staff plan sessions, people book a place, staff mark
attendance and grant the certification (valid across the network for one equipment category).

No overbooking: `enrol` runs one `atomic()` transaction that FIRST writes the session's row
(a no-op UPDATE), THEN counts the places taken, THEN inserts. The write takes the SQLite
write lock, or the PostgreSQL row lock, before the count, so two people can never both take
the last place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.models import User
from ecosystem.services import audit
from labs import permissions
from labs.models import (
    Certification,
    EquipmentCategory,
    Lab,
    TrainingEnrolment,
    TrainingSession,
)
from labs.services import texts

MAX_CAPACITY = 200


@dataclass
class SessionView:
    """A session with its lab and the number of places taken (and the viewer's place)."""

    session: TrainingSession
    taken: int
    enrolled: bool = False

    @property
    def free(self) -> int:
        return max(0, self.session.capacity - self.taken)


async def get_lab(slug: str) -> Lab:
    lab = await Lab.get_or_none(slug=slug)
    if lab is None:
        raise NotFound(_("No such lab."))
    return lab


def _category(value: str) -> EquipmentCategory:
    try:
        return EquipmentCategory(value)
    except ValueError:
        message = _("Choose an equipment category.")
        raise Invalid(message, fields={"category": message}) from None


TITLE_LIMITS = {"title": 200}


async def create_session(
    actor: User,
    lab: Lab,
    category: str,
    title: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    capacity: int | None,
    titles: Mapping[str, str] | None = None,
) -> TrainingSession:
    """Plan a training session in the lab (its staff only). `titles` are the inputs of the
    form's language tabs (`title__vi`, …, `content_locale`); `title` is the main language's
    title when they are not given."""
    await permissions.ensure(actor, "lab.manage", lab)
    errors: dict[str, str] = {}
    texts_in = {"title": title, **(titles or {})}
    content = texts.read_texts(
        texts_in, errors, TITLE_LIMITS, {"title": _("Give the session a title.")}
    )
    try:
        chosen = _category(category)
    except Invalid as exc:
        errors.update(exc.fields)
        chosen = None
    if starts_at is None or starts_at.tzinfo is None:
        errors["starts_at"] = _("Give the start date and time.")
    elif starts_at <= timezone.now():
        errors["starts_at"] = _("The session must start in the future.")
    if ends_at is None or ends_at.tzinfo is None:
        errors["ends_at"] = _("Give the end date and time.")
    elif starts_at is not None and starts_at.tzinfo is not None and ends_at <= starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    if capacity is None or not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = _("The capacity is between 1 and %(n)d places.", n=MAX_CAPACITY)
    if errors:
        raise Invalid(next(iter(errors.values())), fields=errors)
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)  # type: ignore[union-attr]
    async with atomic():
        session = await TrainingSession.create(
            lab=lab,
            category=chosen,
            **content,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
        )
        await audit.record("training.session_created", actor=actor, target=session)
    return session


async def _taken(session_ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = dict.fromkeys(session_ids, 0)
    if session_ids:
        rows = await TrainingEnrolment.filter(session_id__in=session_ids).values_list(
            "session_id", flat=True
        )
        for session_id in rows:
            counts[session_id] += 1
    return counts


async def upcoming_sessions(viewer: User | None, now: datetime | None = None) -> list[SessionView]:
    """Sessions not yet started across the network, soonest first (three queries)."""
    now = now or timezone.now()
    sessions = (
        await TrainingSession.filter(starts_at__gt=now, **permissions.public_labs("lab__"))
        .select_related("lab")
        .order_by("starts_at", "id")
        .limit(200)
    )
    ids = [s.id for s in sessions]
    taken = await _taken(ids)
    mine: set[int] = set()
    if viewer is not None and ids:
        mine = set(
            await TrainingEnrolment.filter(user_id=viewer.id, session_id__in=ids).values_list(
                "session_id", flat=True
            )
        )
    return [SessionView(s, taken[s.id], s.id in mine) for s in sessions]


async def lab_sessions(actor: User, lab: Lab) -> list[tuple[TrainingSession, list]]:
    """The lab's sessions (latest first) with their enrolments and people (staff only)."""
    await permissions.ensure(actor, "lab.manage", lab)
    sessions = await TrainingSession.filter(lab_id=lab.id).order_by("-starts_at", "-id").limit(100)
    ids = [s.id for s in sessions]
    enrolments = (
        await TrainingEnrolment.filter(session_id__in=ids)
        .select_related("user")
        .order_by("created_at", "id")
        if ids
        else []
    )
    by_session: dict[int, list] = {s.id: [] for s in sessions}
    for enrolment in enrolments:
        by_session[enrolment.session_id].append(enrolment)  # type: ignore[attr-defined]
    certified = await _certified_pairs(
        [e.user_id for e in enrolments],  # type: ignore[attr-defined]
        {s.category for s in sessions},
    )
    for enrolment in enrolments:
        session = next(s for s in sessions if s.id == enrolment.session_id)  # type: ignore[attr-defined]
        enrolment.certified = (enrolment.user_id, session.category) in certified  # type: ignore[attr-defined]
    return [(s, by_session[s.id]) for s in sessions]


async def _certified_pairs(user_ids: list[int], categories: set) -> set[tuple[int, str]]:
    if not user_ids or not categories:
        return set()
    now = timezone.now()
    rows = (
        await Certification.filter(
            user_id__in=list(set(user_ids)),
            category__in=list(categories),
            revoked_at__isnull=True,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("user_id", "category")
    )
    return {(user_id, EquipmentCategory(category)) for user_id, category in rows}


async def enrol(actor: User, session_id: int, now: datetime | None = None) -> TrainingEnrolment:
    """Book a place in a session. Conflict `session_full` / `already_enrolled`; Invalid
    `session_started` once it has begun."""
    now = now or timezone.now()
    session = await TrainingSession.get_or_none(id=session_id).select_related("lab")
    if session is None or not session.lab.is_published:
        raise NotFound(_("No such training session."))
    if session.starts_at <= now:
        raise Invalid(_("This session has already started."), code="session_started")
    try:
        async with atomic():
            # 1. Lock the session row first (SQLite write lock / PostgreSQL row lock) …
            await TrainingSession.filter(id=session.id).update(capacity=F("capacity"))
            # 2. … then count under the lock …
            if await TrainingEnrolment.exists(session_id=session.id, user_id=actor.id):
                raise Conflict(
                    _("You already have a place in this session."), code="already_enrolled"
                )
            taken = await TrainingEnrolment.filter(session_id=session.id).count()
            if taken >= session.capacity:
                raise Conflict(_("This session is full."), code="session_full")
            # 3. … and insert.
            enrolment = await TrainingEnrolment.create(session_id=session.id, user_id=actor.id)
    except IntegrityError as exc:  # the same person twice at once (unique session, user)
        raise Conflict(
            _("You already have a place in this session."), code="already_enrolled"
        ) from exc
    enrolment.session = session
    return enrolment


async def cancel_enrolment(actor: User, session_id: int, now: datetime | None = None) -> None:
    """Give back one's place before the session starts (nothing to do without a place)."""
    now = now or timezone.now()
    session = await TrainingSession.get_or_none(id=session_id)
    if session is None:
        raise NotFound(_("No such training session."))
    if session.starts_at <= now:
        raise Invalid(
            _("This session has already started: your place can no longer be cancelled."),
            code="session_started",
        )
    await TrainingEnrolment.filter(session_id=session.id, user_id=actor.id).delete()


async def _staff_enrolment(actor: User, enrolment_id: int) -> TrainingEnrolment:
    enrolment = await TrainingEnrolment.get_or_none(id=enrolment_id).select_related(
        "session__lab", "user"
    )
    if enrolment is None:
        raise NotFound(_("No such enrolment."))
    await permissions.ensure(actor, "lab.manage", enrolment.session.lab)
    return enrolment


async def mark_attendance(actor: User, enrolment_id: int, attended: bool) -> TrainingEnrolment:
    enrolment = await _staff_enrolment(actor, enrolment_id)
    enrolment.attended = attended
    await enrolment.save(update_fields=["attended"])
    return enrolment


async def grant_certification(
    actor: User, enrolment_id: int, expires_at: datetime | None = None
) -> Certification:
    """Certify a participant who attended, for the session's category, network-wide.

    A still valid certification of that category is replaced (its expiry renewed).
    """
    enrolment = await _staff_enrolment(actor, enrolment_id)
    if not enrolment.attended:
        raise Invalid(
            _("Mark the participant as present before granting the certification."),
            code="not_attended",
        )
    now = timezone.now()
    if expires_at is not None:
        expires_at = expires_at.astimezone(UTC)
    if expires_at is not None and expires_at <= now:
        message = _("The expiry date must be in the future.")
        raise Invalid(message, fields={"expires_at": message})
    category = enrolment.session.category
    async with atomic():
        await Certification.filter(
            user_id=enrolment.user_id,  # type: ignore[attr-defined]
            category=category,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        certification = await Certification.create(
            user_id=enrolment.user_id,  # type: ignore[attr-defined]
            category=category,
            granted_by_id=actor.id,
            expires_at=expires_at,
        )
        await audit.record(
            "training.certified", actor=actor, target=certification, category=category.value
        )
    return certification


async def my_certifications(user: User) -> list[Certification]:
    """The user's certifications that are not revoked (expired ones included, marked)."""
    return await Certification.filter(user_id=user.id, revoked_at__isnull=True).order_by(
        "category", "-granted_at"
    )


async def my_enrolments(user: User) -> list[TrainingEnrolment]:
    return (
        await TrainingEnrolment.filter(user_id=user.id)
        .select_related("session__lab")
        .order_by("-session__starts_at")
        .limit(100)
    )
