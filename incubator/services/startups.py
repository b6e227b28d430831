"""Startups: organisations with the startup sphere and their incubator profile."""

from __future__ import annotations

from typing import Any

from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import date_field
from ecosystem.labels import N_
from ecosystem.models import Organisation, OrganisationSphere, Sphere, User
from ecosystem.services import audit
from incubator.documents import store_pdf
from incubator.models import Enrolment, EnrolmentStatus, Sector, Stage, StartupProfile
from incubator.permissions import StartupAccess, user_organisation_roles

STAGE_LABELS = {
    "idea": N_("Idea"),
    "prototype": N_("Prototype"),
    "mvp": N_("Minimum viable product"),
    "early_revenue": N_("Early revenue"),
    "growth": N_("Growth"),
}
SECTOR_LABELS = {
    "smart_city": N_("Smart city"),
    "manufacturing": N_("Manufacturing"),
    "agritech": N_("Agriculture technology"),
    "health": N_("Health"),
    "education": N_("Education"),
    "fintech": N_("Financial technology"),
    "logistics": N_("Logistics"),
    "energy": N_("Energy"),
    "software": N_("Software"),
    "other": N_("Other"),
}
MAX_LINKS = 5


async def is_startup_organisation(organisation_id: int) -> bool:
    return await OrganisationSphere.exists(organisation_id=organisation_id, sphere=Sphere.STARTUP)


async def ensure_profile(organisation: Organisation) -> StartupProfile:
    """The profile of an organisation with the startup sphere, made on first use."""
    if not await is_startup_organisation(organisation.id):
        raise Invalid(_("This organisation is not a startup (it lacks the startup sphere)."))
    profile, _created = await StartupProfile.get_or_create(organisation_id=organisation.id)
    return profile


async def my_startups(user: User) -> list[Organisation]:
    """The user's organisations with the startup sphere (one founder, several startups)."""
    ids = list(await user_organisation_roles(user))
    if not ids:
        return []
    startup_ids = await OrganisationSphere.filter(
        organisation_id__in=ids, sphere=Sphere.STARTUP
    ).values_list("organisation_id", flat=True)
    return await Organisation.filter(id__in=startup_ids).order_by("name")


def _links(raw: str) -> list[str]:
    links = [line.strip() for line in raw.splitlines() if line.strip()][:MAX_LINKS]
    for link in links:
        if not link.startswith(("https://", "http://")) or len(link) > 300:
            raise Invalid(
                _("Please correct the highlighted fields."),
                {"links": _("One web address per line, starting with https://.")},
            )
    return links


async def update_profile(
    actor: User, access: StartupAccess, values: dict[str, Any], pitch_upload: object = None
) -> StartupProfile:
    if not access.can_edit_profile:
        raise NotPermitted(_("Only the startup's members may edit its profile."))
    profile = access.profile or await ensure_profile(access.startup)
    errors: dict[str, str] = {}
    sector, stage = values.get("sector", ""), values.get("stage", "")
    if sector not in Sector.__members__.values():
        errors["sector"] = _("Choose one of the offered values.")
    if stage not in Stage.__members__.values():
        errors["stage"] = _("Choose one of the offered values.")
    founded_on = date_field(values, "founded_on", errors, required=False)
    try:
        team_size = int(str(values.get("team_size", "1")).strip() or "1")
        if not 1 <= team_size <= 10000:
            raise ValueError
    except ValueError:
        errors["team_size"] = _("Enter a whole number.")
        team_size = 1
    try:
        links = _links(str(values.get("links", "")))
    except Invalid as exc:
        errors.update(exc.fields)
        links = []
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    async with atomic():
        if pitch_upload is not None and getattr(pitch_upload, "filename", ""):
            document = await store_pdf(pitch_upload, "pitch", access.startup.id, actor, "pitch")
            profile.pitch_id = document.id  # type: ignore[attr-defined]
        profile.sector = Sector(sector)
        profile.stage = Stage(stage)
        profile.founded_on = founded_on
        profile.team = str(values.get("team", "")).strip()[:5000]
        profile.team_size = team_size
        profile.links = links
        profile.in_directory = values.get("in_directory") in ("1", "on", "true", True)
        await profile.save()
        await audit.record("incubator.profile_updated", actor=actor, target=access.startup)
    return profile


async def directory(programme_id: int | None = None, include_private: bool = False) -> list[Any]:
    """Startups as (organisation, profile) pairs: the public directory, or every enrolled
    startup of the programme for its managers (`include_private`)."""
    query = StartupProfile.all().select_related("organisation")
    if programme_id is not None:
        startup_ids = await Enrolment.filter(
            cohort__programme_id=programme_id, status=EnrolmentStatus.ACCEPTED
        ).values_list("startup_id", flat=True)
        query = query.filter(organisation_id__in=list(startup_ids))
    if not include_private:
        query = query.filter(in_directory=True)
    profiles = await query.order_by("organisation__name")
    return profiles


async def enrolments_of(startup: Organisation) -> list[Enrolment]:
    """The programmes the startup belongs to (accepted enrolments)."""
    return (
        await Enrolment.filter(startup_id=startup.id, status=EnrolmentStatus.ACCEPTED)
        .prefetch_related("cohort__programme__organisation")
        .order_by("-enrolled_on")
    )


async def get_enrolment(enrolment_id: int) -> Enrolment:
    enrolment = (
        await Enrolment.get_or_none(id=enrolment_id)
        .select_related("startup")
        .prefetch_related("cohort__programme__organisation")
    )
    if enrolment is None:
        raise NotFound(_("Not found."))
    return enrolment
