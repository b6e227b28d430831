"""Milestone plans of enrolled startups, their comments, and mentors' session logs."""

from __future__ import annotations

from datetime import date
from typing import Any

from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import date_field
from ecosystem.labels import N_
from ecosystem.models import Membership, MembershipStatus, User
from ecosystem.services import audit
from incubator import periods
from incubator.forms import as_id
from incubator.models import (
    Enrolment,
    EnrolmentStatus,
    MentorAssignment,
    MentoringSession,
    MentorProfile,
    Milestone,
    MilestoneComment,
    MilestoneStatus,
    ProgrammeRole,
    ProgrammeRoleKind,
)
from incubator.permissions import StartupAccess, ensure_manager, role_programme_ids
from incubator.services.reports import local_today

STATUS_LABELS = {
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "dropped": N_("Dropped"),
}


def is_late(milestone: Milestone, today: date) -> bool:
    if milestone.status == MilestoneStatus.DROPPED:
        return False
    return periods.is_late(milestone.due_on, today, milestone.completed_on)


async def _enrolment_of(
    access: StartupAccess, enrolment_id: int, *, mentor: bool = False, assigned: bool = False
) -> Enrolment:
    """One enrolment of the startup the actor may act on: any of its own for a member;
    for programme staff, only an accepted enrolment of their programme."""
    enrolment = await Enrolment.get_or_none(id=enrolment_id, startup_id=access.startup.id)
    if enrolment is None:
        raise NotFound(_("Not found."))
    if not access.member and not access.staff_on(enrolment.id, mentor=mentor, assigned=assigned):
        raise NotPermitted(
            _("The programme may act only while the startup has accepted its enrolment.")
        )
    return enrolment


def _parse(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    title = str(values.get("title", "")).strip()
    if not title:
        errors["title"] = _("Give a title.")
    due_on = date_field(values, "due_on", errors)
    status = str(values.get("status", "planned") or "planned")
    if status not in MilestoneStatus.__members__.values():
        errors["status"] = _("Choose one of the offered values.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    return {
        "title": title[:200],
        "due_on": due_on,
        "status": MilestoneStatus(status),
        "definition_of_done": str(values.get("definition_of_done", "")).strip()[:4000],
    }


async def _owner(access: StartupAccess, raw: Any) -> int | None:
    if not raw:
        return None
    owner_id = as_id(raw)
    if not await Membership.exists(
        user_id=owner_id, organisation_id=access.startup.id, status=MembershipStatus.ACTIVE
    ):
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"owner_id": _("The owner must be a member of the startup.")},
        )
    return owner_id


async def add_milestone(
    actor: User, access: StartupAccess, enrolment_id: int, values: dict[str, Any]
) -> Milestone:
    if not access.can_plan_milestones:
        raise NotPermitted(_("You do not have permission to do this."))
    enrolment = await _enrolment_of(access, enrolment_id)
    data = _parse(values)
    owner_id = await _owner(access, values.get("owner_id"))
    completed = local_today() if data["status"] == MilestoneStatus.DONE else None
    milestone = await Milestone.create(
        enrolment=enrolment, owner_id=owner_id, completed_on=completed, **data
    )
    return milestone


async def get_milestone(access: StartupAccess, milestone_id: int) -> Milestone:
    milestone = await Milestone.get_or_none(
        id=milestone_id, enrolment__startup_id=access.startup.id
    ).select_related("owner")
    if milestone is None:
        raise NotFound(_("Not found."))
    return milestone


async def update_milestone(
    actor: User, access: StartupAccess, milestone_id: int, values: dict[str, Any]
) -> Milestone:
    if not access.can_plan_milestones:
        raise NotPermitted(_("You do not have permission to do this."))
    milestone = await get_milestone(access, milestone_id)
    await _enrolment_of(access, milestone.enrolment_id)  # type: ignore[attr-defined]
    data = _parse(values)
    milestone.owner_id = await _owner(access, values.get("owner_id"))  # type: ignore[attr-defined]
    if data["status"] == MilestoneStatus.DONE and milestone.status != MilestoneStatus.DONE:
        milestone.completed_on = local_today()
    elif data["status"] != MilestoneStatus.DONE:
        milestone.completed_on = None
    for key, value in data.items():
        setattr(milestone, key, value)
    await milestone.save()
    return milestone


async def comment(
    actor: User, access: StartupAccess, milestone_id: int, body: str
) -> MilestoneComment:
    if not access.can_comment:
        raise NotPermitted(_("You do not have permission to do this."))
    body = body.strip()
    if not body:
        raise Invalid(_("Please correct the highlighted fields."), {"body": _("Write a comment.")})
    milestone = await get_milestone(access, milestone_id)
    await _enrolment_of(access, milestone.enrolment_id, mentor=True)  # type: ignore[attr-defined]
    return await MilestoneComment.create(milestone=milestone, author=actor, body=body[:4000])


async def plan_of(startup_id: int, enrolment_ids: list[int] | None = None) -> list[Milestone]:
    """Every milestone of the startup (of these enrolments, if given), with owner, comments
    and programme (three queries)."""
    query = Milestone.filter(enrolment__startup_id=startup_id)
    if enrolment_ids is not None:
        query = query.filter(enrolment_id__in=enrolment_ids or [0])
    return (
        await query.select_related("owner")
        # Prefetched, not joined: PostgreSQL cuts column aliases at 63 characters.
        .prefetch_related("enrolment__cohort__programme", "comments__author")
        .order_by("due_on", "id")
    )


# --- mentors ---------------------------------------------------------------------------------


async def save_mentor_profile(user: User, values: dict[str, Any]) -> MentorProfile:
    profile, _created = await MentorProfile.get_or_create(user_id=user.id)
    profile.headline = str(values.get("headline", "")).strip()[:200]
    profile.expertise = str(values.get("expertise", "")).strip()[:300]
    profile.bio = str(values.get("bio", "")).strip()[:4000]
    await profile.save()
    return profile


async def mentors_of_programme(programme_id: int) -> list[ProgrammeRole]:
    """The programme's mentors, each with `.profile` (a MentorProfile or None)."""
    roles = (
        await ProgrammeRole.filter(programme_id=programme_id, role=ProgrammeRoleKind.MENTOR)
        .select_related("user")
        .order_by("user__full_name")
    )
    profiles = {
        p.user_id: p  # type: ignore[attr-defined]
        for p in await MentorProfile.filter(user_id__in=[r.user_id for r in roles])  # type: ignore[attr-defined]
    }
    for role in roles:
        role.profile = profiles.get(role.user_id)  # type: ignore[attr-defined]
    return roles


async def assign_mentor(actor: User, enrolment: Enrolment, mentor_id: int) -> MentorAssignment:
    await ensure_manager(actor, enrolment.cohort.programme)
    if not await ProgrammeRole.exists(
        programme_id=enrolment.cohort.programme_id,  # type: ignore[attr-defined]
        user_id=mentor_id,
        role=ProgrammeRoleKind.MENTOR,
    ):
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"mentor_id": _("Choose a mentor of this programme.")},
        )
    if enrolment.status != EnrolmentStatus.ACCEPTED:
        raise Conflict(_("The startup has not accepted this enrolment."))
    assignment, created = await MentorAssignment.get_or_create(
        enrolment_id=enrolment.id, mentor_id=mentor_id
    )
    if not created:
        raise Conflict(_("This mentor already follows this startup."))
    await audit.record("incubator.mentor_assigned", actor=actor, target=enrolment, mentor=mentor_id)
    return assignment


async def log_session(
    actor: User, access: StartupAccess, enrolment_id: int, values: dict[str, Any]
) -> MentoringSession:
    if not access.can_log_session:
        raise NotPermitted(_("Only the startup's mentors and managers may log sessions."))
    enrolment = await _enrolment_of(access, enrolment_id, assigned=True)
    errors: dict[str, str] = {}
    held_on = date_field(values, "held_on", errors)
    if held_on and held_on > local_today():
        errors["held_on"] = _("A session is logged after it took place.")
    topics = str(values.get("topics", "")).strip()
    if not topics:
        errors["topics"] = _("Say what you talked about.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    return await MentoringSession.create(
        enrolment=enrolment,
        mentor=actor,
        held_on=held_on,
        topics=topics[:4000],
        actions=str(values.get("actions", "")).strip()[:4000],
    )


async def sessions_of(
    startup_id: int, enrolment_ids: list[int] | None = None
) -> list[MentoringSession]:
    query = MentoringSession.filter(enrolment__startup_id=startup_id)
    if enrolment_ids is not None:
        query = query.filter(enrolment_id__in=enrolment_ids or [0])
    # With the office hours booking each session was logged from, if any.
    return (
        await query.select_related("mentor")
        .prefetch_related("office_hour_bookings")
        .order_by("-held_on", "-id")
    )


async def mentees(user: User) -> list[Enrolment]:
    """Accepted enrolments the (verified) mentor follows, in programmes where they still
    hold the mentor role."""
    programme_ids = await role_programme_ids(user, ProgrammeRoleKind.MENTOR)
    if not programme_ids:
        return []
    return (
        await Enrolment.filter(
            mentors__mentor_id=user.id,
            active=True,
            status=EnrolmentStatus.ACCEPTED,
            cohort__programme_id__in=list(programme_ids),
        )
        .select_related("startup", "cohort__programme")
        .order_by("startup__name")
    )
