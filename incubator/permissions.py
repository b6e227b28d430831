"""May this actor do this to that programme or startup? The one place incubator roles are
answered.

The trust model (DESIGN.md §3) as the incubator applies it:
- Every power needs a verified identity: an account that has not verified its e-mail address
  holds no programme role, no host admin power, reads no grant and answers no offer. A role
  named for an e-mail address reaches only the account that verified that address
  (`ProgrammeRoleInvitation`, claimed when the account's roles are looked up).
- A programme (and its calls) is published only when its host organisation is verified; until
  then it is a draft seen by the host's members, its role holders and platform admins only,
  and it reaches no startup (no offer, no data). A share grant to an organisation that is not
  verified gives nothing.
- A programme reads a startup's figures only through an enrolment the startup accepted, only
  the metrics and months it accepted; after the startup left, only what was submitted before
  it left. An offered or declined enrolment shows the programme the public profile only.

Handlers and templates never check roles themselves: they ask `programme_access` /
`startup_access` and read the answer's flags, or call `ensure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from tortoise import timezone

from ecosystem.errors import NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Membership, MembershipStatus, Organisation, Role, User, Verification
from ecosystem.permissions import has_verified_identity, is_verified_organisation
from ecosystem.services.accounts import normalise_email
from incubator.models import (
    Enrolment,
    EnrolmentStatus,
    MentorAssignment,
    Programme,
    ProgrammeRole,
    ProgrammeRoleInvitation,
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


async def claim_role_invitations(user: User | None) -> bool:
    """Turn the programme roles waiting for the user's e-mail address into roles, if the user
    has verified that address. Returns whether the user may hold roles at all."""
    if not has_verified_identity(user):
        return False
    email = normalise_email(user.email)  # type: ignore[union-attr]
    waiting = await ProgrammeRoleInvitation.filter(email=email)
    for invitation in waiting:
        await ProgrammeRole.get_or_create(  # already held: nothing to do
            programme_id=invitation.programme_id,  # type: ignore[attr-defined]
            user_id=user.id,  # type: ignore[union-attr]
            role=invitation.role,
        )
        await ProgrammeRoleInvitation.filter(id=invitation.id).delete()
    return True


async def _host(programme: Programme) -> Organisation:
    host = programme.organisation if isinstance(programme.organisation, Organisation) else None
    if host is None:
        host = await Organisation.get(id=programme.organisation_id)  # type: ignore[attr-defined]
    return host


@dataclass
class ProgrammeAccess:
    programme: Programme
    roles: set[str] = field(default_factory=set)
    host_admin: bool = False
    host_member: bool = False
    platform_admin: bool = False
    published: bool = False  # the host organisation is verified

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

    @property
    def can_see(self) -> bool:
        """A published programme is public; a draft (host not verified) is seen by the
        host's members, the programme's role holders and platform admins only."""
        return (
            self.published
            or self.host_member
            or bool(self.roles)
            or self.host_admin
            or self.platform_admin
        )

    @property
    def can_offer(self) -> bool:
        """May offer enrolments to startups (and so, once accepted, read their figures)."""
        return self.manager and self.published


async def programme_access(user: User | None, programme: Programme) -> ProgrammeAccess:
    access = ProgrammeAccess(programme)
    access.published = is_verified_organisation(await _host(programme))
    if not _active(user):
        return access
    role = (await user_organisation_roles(user)).get(programme.organisation_id)  # type: ignore[attr-defined]
    access.host_member = role is not None
    if not await claim_role_invitations(user):
        return access  # no power without a verified identity
    access.platform_admin = bool(user.is_platform_admin)  # type: ignore[union-attr]
    access.roles = set(
        await ProgrammeRole.filter(programme_id=programme.id, user_id=user.id).values_list(  # type: ignore[union-attr]
            "role", flat=True
        )
    )
    access.host_admin = role is not None and role.rank >= Role.ADMIN.rank
    return access


async def ensure_visible(user: User | None, programme: Programme) -> ProgrammeAccess:
    """The programme's access, or 404 for a draft the user may not see."""
    access = await programme_access(user, programme)
    if not access.can_see:
        raise NotFound(_("There is no such programme."))
    return access


async def role_programme_ids(user: User | None, *roles: str) -> set[int]:
    """Programmes where the (verified) user holds one of these roles (any role if none)."""
    if not await claim_role_invitations(user):
        return set()
    query = ProgrammeRole.filter(user_id=user.id)  # type: ignore[union-attr]
    if roles:
        query = query.filter(role__in=list(roles))
    return set(await query.values_list("programme_id", flat=True))


async def managed_programme_ids(user: User | None) -> set[int]:
    """Programmes the verified user manages (by role, or as an admin of the host)."""
    if not _active(user) or not has_verified_identity(user):
        return set()
    ids = await role_programme_ids(user, ProgrammeRoleKind.MANAGER)
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
        if not has_verified_identity(user):
            raise NotPermitted(
                _("Verify your e-mail address first: this needs a verified account.")
            )
        raise NotPermitted(_("Only the programme's managers may do this."))
    return access


@dataclass
class ProgrammeView:
    """One enrolment of the startup seen by the user as staff of its programme."""

    enrolment_id: int
    programme_id: int
    status: str
    metrics: list[str]
    metrics_from: date | None
    left_at: datetime | None
    manager: bool = False
    mentor: bool = False
    assigned_mentor: bool = False

    @property
    def current(self) -> bool:
        return self.status == EnrolmentStatus.ACCEPTED

    def covers(self, key: str, period_start: date, submitted_at: datetime | None) -> bool:
        """May the programme read this value: an accepted metric of an accepted month, and
        after the startup left only what it had submitted before."""
        if key not in self.metrics:
            return False
        if self.metrics_from is not None and period_start < self.metrics_from:
            return False
        if self.status == EnrolmentStatus.LEFT:
            return (
                submitted_at is not None
                and self.left_at is not None
                and submitted_at <= self.left_at
            )
        return self.current


def enrolment_covers(
    enrolment: Enrolment, key: str, period_start: date, submitted_at: datetime | None
) -> bool:
    """May the enrolment's programme read this value of the startup (see ProgrammeView)?"""
    view = ProgrammeView(
        enrolment.id,
        0,
        enrolment.status,
        list(enrolment.metrics or []),
        enrolment.metrics_from,
        enrolment.left_at,
    )
    return view.covers(key, period_start, submitted_at)


@dataclass
class StartupAccess:
    """What one person may see and do on one startup's pages."""

    startup: Organisation
    profile: StartupProfile | None
    member_role: Role | None = None
    verified: bool = False  # the person's identity
    platform_admin: bool = False
    views: list[ProgrammeView] = field(default_factory=list)  # accepted or left enrolments
    grants: list[ShareGrant] = field(default_factory=list)  # live grants to verified orgs

    @property
    def member(self) -> bool:
        return self.member_role is not None

    @property
    def admin(self) -> bool:
        return self.member_role is not None and self.member_role.rank >= Role.ADMIN.rank

    @property
    def manager(self) -> bool:
        """Manager of a programme whose enrolment the startup accepted (and has not left)."""
        return any(v.manager and v.current for v in self.views)

    @property
    def mentor(self) -> bool:
        return any(v.mentor and v.current for v in self.views)

    @property
    def assigned_mentor(self) -> bool:
        return any(v.assigned_mentor and v.current for v in self.views)

    @property
    def public(self) -> bool:
        return bool(self.profile and self.profile.in_directory)

    @property
    def insider(self) -> bool:
        """Member, or manager or mentor of a programme it accepted: sees plans and reports."""
        return self.member or self.manager or self.mentor

    @property
    def can_view(self) -> bool:
        return (
            self.insider
            or self.public
            or bool(self.grants)
            or bool(self.views)
            or self.can_answer_offers
        )

    @property
    def can_edit_profile(self) -> bool:
        return self.member

    @property
    def can_report(self) -> bool:
        return self.member

    @property
    def can_share(self) -> bool:
        return self.admin and self.verified

    @property
    def can_answer_offers(self) -> bool:
        """Accept or decline an enrolment offer, or leave a programme: the startup's owners
        and admins (or a platform admin), with a verified identity."""
        return (self.admin and self.verified) or self.platform_admin

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
        return self.member or bool(self.views) or bool(self.grants)

    def staff_on(self, enrolment_id: int, *, mentor: bool = False, assigned: bool = False) -> bool:
        """Is the person a manager (or, if asked, a mentor / the assigned mentor) of this very
        enrolment, which the startup accepted?"""
        return any(
            v.enrolment_id == enrolment_id
            and v.current
            and (v.manager or (mentor and v.mentor) or (assigned and v.assigned_mentor))
            for v in self.views
        )


def grant_is_live(grant: ShareGrant, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return grant.revoked_at is None and grant.expires_at > now


async def startup_access(user: User | None, startup: Organisation) -> StartupAccess:
    """Everything about one person and one startup, in a handful of queries."""
    profile = await StartupProfile.get_or_none(organisation_id=startup.id)
    access = StartupAccess(startup, profile)
    if not _active(user):
        return access
    org_roles = await user_organisation_roles(user)
    access.member_role = org_roles.get(startup.id)
    access.verified = await claim_role_invitations(user)
    if not access.verified:
        return access  # reads the startup as its member at most
    access.platform_admin = bool(user.is_platform_admin)  # type: ignore[union-attr]
    enrolments = await Enrolment.filter(
        startup_id=startup.id,
        status__in=[EnrolmentStatus.ACCEPTED, EnrolmentStatus.LEFT],
        cohort__programme__organisation__verification=Verification.VERIFIED,
    ).values_list(
        "id",
        "status",
        "metrics",
        "metrics_from",
        "left_at",
        "cohort__programme_id",
        "cohort__programme__organisation_id",
    )
    if enrolments:
        programme_ids = {row[5] for row in enrolments}
        roles: dict[int, set[str]] = {}
        for programme_id, role in await ProgrammeRole.filter(
            user_id=user.id,  # type: ignore[union-attr]
            programme_id__in=programme_ids,
        ).values_list("programme_id", "role"):
            roles.setdefault(programme_id, set()).add(role)
        assigned = set(
            await MentorAssignment.filter(
                enrolment_id__in=[row[0] for row in enrolments],
                mentor_id=user.id,  # type: ignore[union-attr]
            ).values_list("enrolment_id", flat=True)
        )
        for enrolment_id, status, metrics, metrics_from, left_at, programme_id, host in enrolments:
            held = roles.get(programme_id, set())
            host_role = org_roles.get(host)
            manager = ProgrammeRoleKind.MANAGER in held or (
                host_role is not None and host_role.rank >= Role.ADMIN.rank
            )
            mentor = ProgrammeRoleKind.MENTOR in held
            if not (manager or mentor):
                continue
            access.views.append(
                ProgrammeView(
                    enrolment_id,
                    programme_id,
                    status,
                    list(metrics or []),
                    metrics_from,
                    left_at,
                    manager=manager,
                    mentor=mentor,
                    assigned_mentor=mentor and enrolment_id in assigned,
                )
            )
    if org_roles and not access.member:
        grants = await ShareGrant.filter(
            startup_id=startup.id,
            grantee_id__in=list(org_roles),
            grantee__verification=Verification.VERIFIED,
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
