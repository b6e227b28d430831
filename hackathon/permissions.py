"""May this actor do this to that contest? The one place contest roles are answered.

Organisers and judges are `ContestRole` rows on one contest; the owners and administrators
of the organising organisation are organisers too. Team members act on their own team.
Handlers and templates never check roles themselves: they call `ensure` (raises
NotPermitted) or `allowed` (a boolean for showing or hiding a control).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ecosystem.errors import NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Role, User
from ecosystem.permissions import has_verified_identity, role_in
from hackathon.models import Contest, ContestRole, ContestRoleKind, MemberStatus, Team, TeamMember


def _active(user: User | None) -> bool:
    # A contest role (organiser, judge, team member) takes effect only for an account that has
    # verified its e-mail address (DESIGN.md §3).
    return has_verified_identity(user)


async def is_organiser(user: User | None, contest: Contest) -> bool:
    if not _active(user):
        return False
    if await ContestRole.exists(
        contest_id=contest.id,
        user_id=user.id,
        role=ContestRoleKind.ORGANISER,  # type: ignore[union-attr]
    ):
        return True
    organisation_id = contest.organisation_id  # type: ignore[attr-defined]
    if organisation_id is None:
        return False
    role = await role_in(user, organisation_id)
    return role is not None and role.rank >= Role.ADMIN.rank


async def is_judge(user: User | None, contest: Contest) -> bool:
    """An active judge of the contest (one who dropped out is not)."""
    if not _active(user):
        return False
    return await ContestRole.exists(
        contest_id=contest.id,
        user_id=user.id,  # type: ignore[union-attr]
        role=ContestRoleKind.JUDGE,
        active=True,
    )


async def is_team_member(user: User | None, team: Team) -> bool:
    if not _active(user):
        return False
    return await TeamMember.exists(
        team_id=team.id,
        user_id=user.id,  # type: ignore[union-attr]
        status=MemberStatus.ACTIVE,
    )


Rule = Callable[[User | None, object], Awaitable[bool]]

RULES: dict[str, Rule] = {
    # Edit the contest: sites, tracks, prizes, rubric, rounds, judges, assignment, results.
    "contest.manage": is_organiser,  # type: ignore[dict-item]
    # Read the running ranking, private comments, coverage and exports.
    "contest.see_ranking": is_organiser,  # type: ignore[dict-item]
    # Score entries (each entry still needs an assignment and no conflict).
    "contest.judge": is_judge,  # type: ignore[dict-item]
    # Edit a team's entry and invite members.
    "team.edit": is_team_member,  # type: ignore[dict-item]
}


async def allowed(actor: User | None, action: str, target: object) -> bool:
    return await RULES[action](actor, target)


async def ensure(actor: User | None, action: str, target: object) -> None:
    if not await allowed(actor, action, target):
        raise NotPermitted(_("You do not have permission to do this."))
