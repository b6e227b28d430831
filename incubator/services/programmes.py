"""Programmes, their roles, cohorts, metrics and report schedule (every rule here)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.content import form_key, tr
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import date_field
from ecosystem.labels import N_
from ecosystem.models import Organisation, Role, User, Verification
from ecosystem.permissions import ensure_verified_identity
from ecosystem.services import audit
from ecosystem.services.accounts import normalise_email, verified_user_by_email
from ecosystem.text import slugify
from incubator import periods
from incubator.models import (
    ApplicationCall,
    Cohort,
    Metric,
    MetricPeriod,
    Programme,
    ProgrammeRole,
    ProgrammeRoleInvitation,
    ProgrammeRoleKind,
    Schedule,
)
from incubator.permissions import (
    ensure_manager,
    managed_programme_ids,
    role_programme_ids,
    user_organisation_roles,
)
from incubator.services import texts
from incubator.services.reports import materialise

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# The metrics every programme starts with (custom ones are added by its managers).
STANDARD_METRICS: list[tuple[str, str, str, bool]] = [
    ("revenue", N_("Revenue"), "VND", True),
    ("users", N_("Active users"), N_("users"), True),
    ("funding", N_("Funding raised"), "VND", True),
    ("headcount", N_("Headcount"), N_("people"), True),
]

SCHEDULE_LABELS = {
    "monthly": N_("Monthly"),
    "quarterly": N_("Quarterly"),
    "one_off": N_("One-off"),
    "milestone": N_("When a milestone is due"),
    "none": N_("No reports"),
}
ROLE_LABELS = {
    "manager": N_("Manager"),
    "mentor": N_("Mentor"),
    "reviewer": N_("Reviewer"),
}


async def get_programme(programme_id: int) -> Programme:
    programme = await Programme.get_or_none(id=programme_id).select_related("organisation")
    if programme is None:
        raise NotFound(_("There is no such programme."))
    return programme


async def list_programmes() -> list[Programme]:
    """Every published programme (its host is verified) with host and cohorts (three queries).
    Programmes of organisations not verified yet are drafts: never listed publicly."""
    return (
        await Programme.filter(organisation__verification=Verification.VERIFIED)
        .select_related("organisation")
        .prefetch_related("cohorts", "organisation__spheres")
        .order_by("name")
    )


async def host_organisations(user: User) -> list[Organisation]:
    """Organisations where the user may create a programme (owner or admin)."""
    roles = await user_organisation_roles(user)
    ids = [org for org, role in roles.items() if role.rank >= Role.ADMIN.rank]
    return await Organisation.filter(id__in=ids).order_by("name") if ids else []


def _int(values: dict[str, Any], name: str, low: int, high: int, errors: dict) -> int:
    raw = str(values.get(name, "")).strip()
    try:
        number = int(raw)
    except ValueError:
        errors[name] = _("Enter a whole number.")
        return low
    if not low <= number <= high:
        errors[name] = _("Enter a number from %(low)d to %(high)d.", low=low, high=high)
    return number


async def create_programme(
    actor: User,
    host_id: int,
    name: str = "",
    description: str = "",
    texts: Mapping[str, Any] | None = None,
    input_keys: Iterable[str] = (),
) -> Programme:
    """A programme of `host_id`: its name and description come in `texts` (a staff form or an
    API body: `content_locale`, `name__vi`, `name__en`, …; see incubator.services.texts), or
    plainly as `name` and `description` in Vietnamese."""
    ensure_verified_identity(actor)
    roles = await user_organisation_roles(actor)
    role = roles.get(host_id)
    if role is None or role.rank < Role.ADMIN.rank:
        raise NotPermitted(_("Only an admin of the host organisation can create a programme."))
    host = await Organisation.get(id=host_id)
    if host.verification == Verification.REJECTED:
        raise NotPermitted(
            _("This needs an organisation that the platform administrators have verified.")
        )
    locale, own, translations = _programme_texts(
        texts if texts is not None else {"name": name, "description": description}, input_keys
    )
    name = own["name"]
    async with atomic():
        base = slugify(name)
        slug, n = base, 1
        while await Programme.exists(slug=slug):
            n += 1
            slug = f"{base}-{n}"
        programme = await Programme.create(
            organisation_id=host_id,
            name=name,
            slug=slug,
            description=own.get("description", ""),
            content_locale=locale,
            translations=translations,
        )
        await ProgrammeRole.create(
            programme=programme, user_id=actor.id, role=ProgrammeRoleKind.MANAGER
        )
        await Metric.bulk_create(
            [
                Metric(
                    programme=programme, key=key, name=label, unit=unit, integer=integer, position=i
                )
                for i, (key, label, unit, integer) in enumerate(STANDARD_METRICS)
            ]
        )
        await audit.record("incubator.programme_created", actor=actor, target=programme)
    return programme


def _programme_texts(
    values: Mapping[str, Any], input_keys: Iterable[str] = ()
) -> tuple[str, dict[str, str], dict[str, dict[str, str]]]:
    locale, own, translations = texts.read_texts(
        values, texts.PROGRAMME_TEXTS, "name", _("Give a name."), input_keys
    )
    if len(own["name"]) < 2:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {form_key("name", locale): _("Give a name.")},
        )
    return locale, own, translations


async def update_programme_texts(
    actor: User, programme: Programme, values: Mapping[str, Any], input_keys: Iterable[str] = ()
) -> Programme:
    """The programme's name and description in its languages (its managers; the slug stays)."""
    await ensure_manager(actor, programme)
    locale, own, translations = _programme_texts(values, input_keys)
    async with atomic():
        await Programme.filter(id=programme.id).update(
            name=own["name"],
            description=own.get("description", ""),
            content_locale=locale,
            translations=translations,
        )
        await audit.record("incubator.programme_texts", actor=actor, target=programme)
    programme.name, programme.description = own["name"], own.get("description", "")
    programme.content_locale, programme.translations = locale, translations
    return programme


async def grant_role(
    actor: User, programme: Programme, email: str, role: str
) -> ProgrammeRole | ProgrammeRoleInvitation:
    """Give the role to the account that verified this address; for an address no verified
    account holds (unknown, or registered but never verified) the role waits as an
    invitation, claimed by whoever verifies that very address."""
    access = await ensure_manager(actor, programme)
    if not access.host_admin and role == ProgrammeRoleKind.MANAGER:
        raise NotPermitted(_("Only an admin of the host organisation can appoint managers."))
    if role not in ProgrammeRoleKind.__members__.values():
        raise Invalid(_("Choose one of the offered values."), {"role": _("Choose a role.")})
    address = normalise_email(email)
    if not EMAIL.match(address) or len(address) > 254:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"email": _("Enter an e-mail address.")},
        )
    user = await verified_user_by_email(address)
    if user is None:
        return await _invite(actor, programme, address, role)
    try:
        async with atomic():
            granted = await ProgrammeRole.create(programme=programme, user=user, role=role)
            await audit.record(
                "incubator.role_granted", actor=actor, target=programme, user=user.id, role=role
            )
    except IntegrityError as exc:
        raise Conflict(_("This person already has this role.")) from exc
    return granted


async def _invite(
    actor: User, programme: Programme, address: str, role: str
) -> ProgrammeRoleInvitation:
    """One pending invitation per (programme, address), held by the database: inviting the
    address again refreshes it (the new role, inviter and date), never a second row."""
    for _attempt in range(2):
        try:
            async with atomic():
                invitation = (
                    await ProgrammeRoleInvitation.filter(programme_id=programme.id, email=address)
                    .select_for_update()
                    .first()
                )
                if invitation is None:
                    invitation = await ProgrammeRoleInvitation.create(
                        programme=programme, email=address, role=role, invited_by_id=actor.id
                    )
                else:
                    await ProgrammeRoleInvitation.filter(id=invitation.id).update(
                        role=ProgrammeRoleKind(role),
                        invited_by_id=actor.id,
                        created_at=timezone.now(),
                    )
                    await invitation.refresh_from_db()
                await audit.record(
                    "incubator.role_invited", actor=actor, target=programme, role=role
                )
            return invitation
        except IntegrityError:
            continue  # invited at the same moment by someone else: refresh that one
    raise Conflict(_("This address has just been invited: try again."))


async def get_role(programme: Programme, role_id: int) -> ProgrammeRole:
    role = await ProgrammeRole.get_or_none(id=role_id, programme_id=programme.id).select_related(
        "user"
    )
    if role is None:
        raise NotFound(_("Not found."))
    return role


async def get_invitation(programme: Programme, invitation_id: int) -> ProgrammeRoleInvitation:
    invitation = await ProgrammeRoleInvitation.get_or_none(
        id=invitation_id, programme_id=programme.id
    )
    if invitation is None:
        raise NotFound(_("Not found."))
    return invitation


async def revoke_role(actor: User, programme: Programme, role_id: int) -> None:
    await ensure_manager(actor, programme)
    deleted = await ProgrammeRole.filter(id=role_id, programme_id=programme.id).delete()
    if not deleted:
        raise NotFound(_("Not found."))
    await audit.record("incubator.role_revoked", actor=actor, target=programme, role=role_id)


async def list_invitations(programme: Programme) -> list[ProgrammeRoleInvitation]:
    return await ProgrammeRoleInvitation.filter(programme_id=programme.id).order_by("role", "email")


async def withdraw_invitation(actor: User, programme: Programme, invitation_id: int) -> None:
    await ensure_manager(actor, programme)
    deleted = await ProgrammeRoleInvitation.filter(
        id=invitation_id, programme_id=programme.id
    ).delete()
    if not deleted:
        raise NotFound(_("Not found."))
    await audit.record(
        "incubator.role_invitation_withdrawn",
        actor=actor,
        target=programme,
        invitation=invitation_id,
    )


async def list_roles(programme: Programme) -> list[ProgrammeRole]:
    return (
        await ProgrammeRole.filter(programme_id=programme.id)
        .select_related("user")
        .order_by("role", "user__full_name")
    )


async def create_cohort(actor: User, programme: Programme, values: dict[str, str]) -> Cohort:
    await ensure_manager(actor, programme)
    errors: dict[str, str] = {}
    name = values.get("name", "").strip()
    if not name:
        errors["name"] = _("Give a name.")
    starts_on = date_field(values, "starts_on", errors)
    ends_on = date_field(values, "ends_on", errors, required=False)
    if starts_on and ends_on and ends_on <= starts_on:
        errors["ends_on"] = _("The end must come after the start.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    return await Cohort.create(programme=programme, name=name, starts_on=starts_on, ends_on=ends_on)


async def get_cohort(cohort_id: int) -> Cohort:
    cohort = await Cohort.get_or_none(id=cohort_id).select_related("programme__organisation")
    if cohort is None:
        raise NotFound(_("There is no such cohort."))
    return cohort


async def add_metric(actor: User, programme: Programme, values: dict[str, str]) -> Metric:
    await ensure_manager(actor, programme)
    errors: dict[str, str] = {}
    name = values.get("name", "").strip()
    key = slugify(values.get("key", "") or name, 40).replace("-", "_")
    if not name:
        errors["name"] = _("Give a name.")
    period = values.get("period") or "month"
    if period not in MetricPeriod.__members__.values():
        errors["period"] = _("Choose one of the offered values.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    position = await Metric.filter(programme_id=programme.id).count()
    try:
        return await Metric.create(
            programme=programme,
            key=key,
            name=name,
            unit=values.get("unit", "").strip()[:20],
            period=period,
            integer=values.get("integer") in ("1", "on", "true", True),
            position=position,
        )
    except IntegrityError as exc:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"key": _("This programme already has a metric with this key.")},
        ) from exc


async def set_required_metrics(actor: User, programme: Programme, keys: list[str]) -> int:
    """Mark exactly these metrics of the programme required (the others optional); reports
    submitted from now on must give each. Returns how many are required."""
    await ensure_manager(actor, programme)
    known = set(await Metric.filter(programme_id=programme.id).values_list("key", flat=True))
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise Invalid(
            _("Choose one of the offered values."),
            {"required": _("Choose one of the offered values.")},
        )
    wanted = sorted(set(keys))
    async with atomic():
        await Metric.filter(programme_id=programme.id).update(required=False)
        if wanted:
            await Metric.filter(programme_id=programme.id, key__in=wanted).update(required=True)
        await audit.record(
            "incubator.required_metrics", actor=actor, target=programme, metrics=wanted
        )
    return len(wanted)


async def metrics_of(programme_ids: list[int]) -> list[Metric]:
    return await Metric.filter(programme_id__in=programme_ids).order_by("programme_id", "position")


async def update_schedule(
    actor: User, programme: Programme, values: dict[str, str], now: datetime | None = None
) -> Programme:
    """Change the report schedule. It takes effect at once: the programme's requests are
    re-materialised now (due dates move, requests no longer asked for are cancelled); the
    reminders follow at the scheduler's next run, never twice for a request and kind."""
    await ensure_manager(actor, programme)
    errors: dict[str, str] = {}
    kind = values.get("schedule", "")
    if kind not in Schedule.__members__.values():
        errors["schedule"] = _("Choose one of the offered values.")
    due_days = _int(values, "due_days", 1, 60, errors)
    before = _int(values, "remind_days_before", 0, 30, errors)
    after = _int(values, "remind_days_after", 1, 30, errors)
    escalate = _int(values, "escalate_days_after", 1, 90, errors)
    one_off_period = values.get("one_off_period", "").strip()
    one_off_due_on = None
    if kind == Schedule.ONE_OFF:
        if not periods.is_period(one_off_period):
            errors["one_off_period"] = _("Give a month (2026-10) or a quarter (2026-Q4).")
        one_off_due_on = date_field(values, "one_off_due_on", errors)
    if not errors and escalate < after:
        errors["escalate_days_after"] = _("Escalate after the overdue reminder, not before.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    programme.schedule = Schedule(kind)
    programme.due_days = due_days
    programme.remind_days_before = before
    programme.remind_days_after = after
    programme.escalate_days_after = escalate
    programme.one_off_period = one_off_period if kind == Schedule.ONE_OFF else ""
    programme.one_off_due_on = one_off_due_on
    async with atomic():
        await programme.save()
        await audit.record(
            "incubator.schedule_changed", actor=actor, target=programme, schedule=kind
        )
    await materialise(now or timezone.now(), programme.id)
    return programme


async def my_programmes(user: User) -> list[Programme]:
    """Programmes where the user has a role or which they manage as host admins."""
    ids = await managed_programme_ids(user)
    ids |= await role_programme_ids(user)
    if not ids:
        return []
    return await Programme.filter(id__in=ids).select_related("organisation").order_by("name")


async def pending_publications(organisation_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """What organisations not verified yet wait to publish here: their programmes and calls
    (drafts seen by their members only until a platform admin verifies the organisation)."""
    found: dict[int, list[tuple[str, str]]] = {}
    ids = list(organisation_ids)
    if not ids:
        return found
    for programme in await Programme.filter(organisation_id__in=ids).order_by("name", "id"):
        found.setdefault(programme.organisation_id, []).append(  # type: ignore[attr-defined]
            (_("Incubator programme"), tr(programme, "name"))
        )
    calls = (
        await ApplicationCall.filter(programme__organisation_id__in=ids)
        .select_related("programme")
        .order_by("title", "id")
    )
    for call in calls:
        found.setdefault(call.programme.organisation_id, []).append(  # type: ignore[attr-defined]
            (_("Call for applications"), tr(call, "title"))
        )
    return found
