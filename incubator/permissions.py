"""May this actor do this to that programme or startup? The one place incubator roles are
answered.

- A programme's managers, mentors and reviewers hold a `ProgrammeRole`, granted by the admins
  of the host organisation (who may also manage the programme themselves).
- A startup's members are the active members of its organisation (one person may belong to
  several startups); its owners and admins decide what it shares.
- A grantee is a member of an organisation holding a live `ShareGrant` of the startup: it
  reads only the granted metrics and periods, until the grant expires or is revoked.

Handlers and templates never check roles themselves: they ask `programme_access` /
`startup_access` and read the answer's flags, or call `ensure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise import timezone

from ecosystem.errors import NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Membership, MembershipStatus, Organisation, Role, User
from incubator.models import (
    Enrolment,
    MentorAssignment,
    Programme,
    ProgrammeRole,
    ProgrammeRoleKind,
    ShareGrant,
    StartupProfile,
)


def _active(user: User | None) -> bool:
    return bool(user and user.is_active)


async def user_organisation_roles(user: User | None) -> dict[int, Role]:
    """{organisation id: role} of the user's active memberships (one query)."""
    if not _active(user):
        return {}
    rows = await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,  # type: ignore[union-attr]
    ).values_list("organisation_id", "role")
    return {org_id: Role(role) for org_id, role in rows}


@dataclass
class ProgrammeAccess:
    programme: Programme
    roles: set[str] = field(default_factory=set)
    host_admin: bool = False

    @property
    def manager(self) -> bool:
        return self.host_admin or ProgrammeRoleKind.MANAGER in self.roles

    @property
    def mentor(self) -> bool:
        return ProgrammeRoleKind.MENTOR in self.roles

    @property
    def reviewer(self) -> bool:
        return ProgrammeRoleKind.REVIEWER in self.roles

    @property
    def staff(self) -> bool:
        """Sees the programme's internal pages (cohorts, startups, dashboards)."""
        return self.manager or self.mentor


async def programme_access(user: User | None, programme: Programme) -> ProgrammeAccess:
    access = ProgrammeAccess(programme)
    if not _active(user):
        return access
    access.roles = set(
        await ProgrammeRole.filter(programme_id=programme.id, user_id=user.id).values_list(  # type: ignore[union-attr]
            "role", flat=True
        )
    )
    role = (await user_organisation_roles(user)).get(programme.organisation_id)  # type: ignore[attr-defined]
    access.host_admin = role is not None and role.rank >= Role.ADMIN.rank
    return access


async def managed_programme_ids(user: User | None) -> set[int]:
    """Programmes the user manages (by role, or as an admin of the host organisation)."""
    if not _active(user):
        return set()
    ids = set(
        await ProgrammeRole.filter(user_id=user.id, role=ProgrammeRoleKind.MANAGER).values_list(  # type: ignore[union-attr]
            "programme_id", flat=True
        )
    )
    roles = await user_organisation_roles(user)
    admin_orgs = [org for org, role in roles.items() if role.rank >= Role.ADMIN.rank]
    if admin_orgs:
        ids |= set(
            await Programme.filter(organisation_id__in=admin_orgs).values_list("id", flat=True)
        )
    return ids


async def ensure_manager(user: User | None, programme: Programme) -> ProgrammeAccess:
    access = await programme_access(user, programme)
    if not access.manager:
        raise NotPermitted(_("Only the programme's managers may do this."))
    return access


@dataclass
class StartupAccess:
    """What one person may see and do on one startup's pages."""

    startup: Organisation
    profile: StartupProfile | None
    member_role: Role | None = None
    manager: bool = False  # of a programme the startup is enrolled in
    mentor: bool = False  # of a programme the startup is enrolled in
    assigned_mentor: bool = False
    grants: list[ShareGrant] = field(default_factory=list)  # live grants to the user's orgs

    @property
    def member(self) -> bool:
        return self.member_role is not None

    @property
    def admin(self) -> bool:
        return self.member_role is not None and self.member_role.rank >= Role.ADMIN.rank

    @property
    def public(self) -> bool:
        return bool(self.profile and self.profile.in_directory)

    @property
    def insider(self) -> bool:
        """Member, or manager or mentor of a programme it is enrolled in: sees everything."""
        return self.member or self.manager or self.mentor

    @property
    def can_view(self) -> bool:
        return self.insider or self.public or bool(self.grants)

    @property
    def can_edit_profile(self) -> bool:
        return self.member

    @property
    def can_report(self) -> bool:
        return self.member

    @property
    def can_share(self) -> bool:
        return self.admin

    @property
    def can_plan_milestones(self) -> bool:
        return self.member or self.manager

    @property
    def can_comment(self) -> bool:
        return self.insider

    @property
    def can_log_session(self) -> bool:
        return self.manager or self.assigned_mentor

    @property
    def can_view_metrics(self) -> bool:
        return self.insider or bool(self.grants)


def grant_is_live(grant: ShareGrant, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return grant.revoked_at is None and grant.expires_at > now


async def startup_access(user: User | None, startup: Organisation) -> StartupAccess:
    """Everything about one person and one startup, in at most five queries."""
    profile = await StartupProfile.get_or_none(organisation_id=startup.id)
    access = StartupAccess(startup, profile)
    if not _active(user):
        return access
    org_roles = await user_organisation_roles(user)
    access.member_role = org_roles.get(startup.id)
    enrolments = await Enrolment.filter(startup_id=startup.id).values_list(
        "id", "cohort__programme_id", "cohort__programme__organisation_id"
    )
    programme_ids = {programme_id for _e, programme_id, _o in enrolments}
    if programme_ids:
        roles = await ProgrammeRole.filter(
            user_id=user.id,
            programme_id__in=programme_ids,  # type: ignore[union-attr]
        ).values_list("role", flat=True)
        host_admin = any(
            (role := org_roles.get(host)) is not None and role.rank >= Role.ADMIN.rank
            for _e, _p, host in enrolments
        )
        access.manager = host_admin or ProgrammeRoleKind.MANAGER in roles
        access.mentor = ProgrammeRoleKind.MENTOR in roles
        if access.mentor:
            access.assigned_mentor = await MentorAssignment.exists(
                enrolment_id__in=[e for e, _p, _o in enrolments],
                mentor_id=user.id,  # type: ignore[union-attr]
            )
    if org_roles and not access.member:
        grants = await ShareGrant.filter(
            startup_id=startup.id,
            grantee_id__in=list(org_roles),
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).order_by("id")
        access.grants = list(grants)
    return access


async def get_startup(startup_id: int) -> Organisation:
    """The organisation behind a startup id (404 if there is no startup profile)."""
    startup = await Organisation.get_or_none(id=startup_id) if startup_id < 2**31 else None
    if startup is None or not await StartupProfile.exists(organisation_id=startup_id):
        raise NotFound(_("There is no such startup."))
    return startup


async def ensure_startup(user: User | None, startup_id: int, flag: str) -> StartupAccess:
    """The startup and the actor's access; 404 when there is no such startup, or when the
    actor may not even see its public profile and `flag` is "can_view"; else 403 without
    `flag`."""
    startup = await get_startup(startup_id)
    access = await startup_access(user, startup)
    if flag == "can_view" and not access.can_view:
        raise NotFound(_("There is no such startup."))
    if not getattr(access, flag):
        raise NotPermitted(_("You do not have permission to do this."))
    return access
