"""Teams and entries: forming a team, inviting members, submitting and editing an entry.

Deadlines are enforced here, in each site's own time zone (see `contests.site_deadline`):
a team may create or change its entry until its site's submission deadline, or until the
late window an organiser granted it. Every save is kept as a new `SubmissionVersion`.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, format_dt, zone_label
from ecosystem.mail import send_mail
from ecosystem.models import Membership, MembershipStatus, User, Verification
from ecosystem.permissions import ensure_verified_identity, has_verified_identity
from ecosystem.services import audit
from ecosystem.services.accounts import verified_user_by_email
from hackathon import permissions
from hackathon.models import (
    Contest,
    MemberStatus,
    Site,
    Submission,
    SubmissionVersion,
    Team,
    TeamMember,
    Track,
)
from hackathon.schemas import SubmissionIn, TeamIn
from hackathon.services.contests import site_deadline

MAX_IMAGES = 8
SUBMISSION_FIELDS = (
    "title",
    "summary",
    "problem",
    "solution",
    "repository_url",
    "demo_url",
    "video_url",
    "attachments",
)


async def team_of(user: User | None, contest: Contest) -> Team | None:
    """The user's team in this contest (active member), with site and track."""
    if user is None:
        return None
    member = (
        await TeamMember.filter(
            team__contest_id=contest.id, user_id=user.id, status=MemberStatus.ACTIVE
        )
        .select_related("team__site", "team__track")
        .first()
    )
    return member.team if member else None


async def pending_invitations(user: User, contest: Contest) -> list[TeamMember]:
    return await TeamMember.filter(
        team__contest_id=contest.id, email=user.email, status=MemberStatus.INVITED
    ).select_related("team")


def registration_deadline(contest: Contest, site: Site) -> datetime:
    return site_deadline(contest, site, contest.registration_closes_at)


def submission_deadline(contest: Contest, team: Team) -> datetime:
    """The team's site deadline, or its late window if an organiser granted a later one."""
    deadline = site_deadline(contest, team.site, contest.submission_closes_at)
    if team.late_until is not None and team.late_until > deadline:
        return team.late_until
    return deadline


def entry_open(contest: Contest, team: Team, now: datetime | None = None) -> bool:
    """May the team still change its entry and its members? Until its site's submission
    deadline (or its late window), and never once the results are published."""
    if contest.results_published_at is not None:
        return False
    return (now or timezone.now()) < submission_deadline(contest, team)


def ensure_entry_open(contest: Contest, team: Team) -> None:
    """409 once the team's entry is frozen (deadline passed, or results published)."""
    if contest.results_published_at is not None:
        raise Conflict(
            _("The results are published: entries and teams can no longer change."),
            code="contest_over",
        )
    deadline = submission_deadline(contest, team)
    if timezone.now() >= deadline:
        raise Conflict(
            _(
                "Submissions closed on %(when)s (%(zone)s).",
                when=format_dt(deadline, "short", team.site.timezone),
                zone=zone_label(team.site.timezone),
            ),
            code="deadline_passed",
        )


async def create_team(actor: User, contest: Contest, data: TeamIn) -> Team:
    """A team at a site and in a track; its creator is its first member and lead.

    Only a verified account registers, and a team represents only a verified organisation
    the creator is an active member of (its name is shown on the contest's public pages).
    """
    ensure_verified_identity(actor)
    site = await Site.get_or_none(contest_id=contest.id, code=data.site)
    track = await Track.get_or_none(contest_id=contest.id, code=data.track)
    fields = {}
    if site is None:
        fields["site"] = _("Choose one of the contest's sites.")
    if track is None:
        fields["track"] = _("Choose one of the contest's tracks.")
    if fields:
        raise Invalid(_("Please correct the highlighted fields."), fields=fields)
    assert site is not None and track is not None
    if timezone.now() >= registration_deadline(contest, site):
        raise Conflict(
            _(
                "Registration at this site closed on %(when)s.",
                when=format_dt(registration_deadline(contest, site), "short", site.timezone),
            ),
            code="registration_closed",
        )
    if contest.results_published_at is not None:
        raise Conflict(_("This contest is over."), code="contest_over")
    if await team_of(actor, contest) is not None:
        raise Conflict(_("You are already in a team of this contest."), code="already_in_team")
    if data.organisation_id is not None and not await Membership.exists(
        user_id=actor.id,
        organisation_id=data.organisation_id,
        status=MembershipStatus.ACTIVE,
        organisation__verification=Verification.VERIFIED,
    ):
        raise Invalid(
            _("A team can only represent an organisation you belong to."),
            fields={"organisation_id": _("Not one of your organisations.")},
        )
    try:
        async with atomic():
            team = await Team.create(
                contest_id=contest.id,
                name=data.name,
                site_id=site.id,
                track_id=track.id,
                organisation_id=data.organisation_id,
            )
            await TeamMember.create(
                team_id=team.id,
                user_id=actor.id,
                email=actor.email,
                status=MemberStatus.ACTIVE,
                is_lead=True,
            )
    except IntegrityError as exc:
        raise Conflict(
            _("Another team of this contest already has this name."), fields={"name": data.name}
        ) from exc
    team.site, team.track = site, track
    return team


async def _load_team(team_id: int) -> Team:
    team = await Team.get_or_none(id=team_id).select_related("contest", "site", "track")
    if team is None:
        raise NotFound(_("This team does not exist."))
    return team


async def invite_member(actor: User, team_id: int, email: str) -> TeamMember:
    """Invite someone by email (they join from the contest page once signed in)."""
    team = await _load_team(team_id)
    await permissions.ensure(actor, "team.edit", team)
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or " " in email:
        raise Invalid(_("Enter a valid email address."), fields={"email": _("Not an email.")})
    contest = team.contest
    ensure_entry_open(contest, team)  # no member change once the entry is frozen
    taken = await TeamMember.filter(team_id=team.id).count()
    if taken >= contest.team_max:
        raise Conflict(_("A team has at most %(n)d members.", n=contest.team_max), code="team_full")
    try:
        async with atomic():
            member = await TeamMember.create(
                team_id=team.id, email=email, status=MemberStatus.INVITED
            )
            invited = await verified_user_by_email(email)
            await send_mail(
                email,
                "hackathon_team_invitation",
                {"team": team, "contest": contest, "inviter": actor},
                invited.locale if invited else "vi",
                timezone=invited.timezone if invited else None,
            )
    except IntegrityError as exc:
        raise Conflict(_("This person is already invited."), fields={"email": email}) from exc
    return member


async def accept_invitation(actor: User, member_id: int) -> Team:
    """Only the account that verified the invited address joins: one that merely registered it
    (never verified) is refused and told to verify first."""
    member = await TeamMember.get_or_none(
        id=member_id, email=actor.email.lower(), status=MemberStatus.INVITED
    ).select_related("team__contest", "team__site")
    if member is None:
        raise NotFound(_("This invitation does not exist."))
    ensure_entry_open(member.team.contest, member.team)
    if not has_verified_identity(actor):
        raise NotPermitted(
            _(
                "Verify your e-mail address %(email)s first (follow the link we sent you), "
                "then accept the invitation.",
                email=member.email,
            )
        )
    if await team_of(actor, member.team.contest) is not None:
        raise Conflict(_("You are already in a team of this contest."), code="already_in_team")
    member.user_id = actor.id  # type: ignore[attr-defined]
    member.status = MemberStatus.ACTIVE
    await member.save(update_fields=["user_id", "status"])
    return member.team


async def members_of(team: Team) -> list[TeamMember]:
    return await TeamMember.filter(team_id=team.id).select_related("user").order_by("id")


def _snapshot(submission: Submission) -> dict:
    return {name: getattr(submission, name) for name in SUBMISSION_FIELDS}


async def save_submission(actor: User, contest: Contest, data: SubmissionIn) -> Submission:
    """Create or update the actor's team entry; refused after the team's deadline.

    Returns the entry with `created` set on it (True for a new entry).
    """
    team = await team_of(actor, contest)
    if data.team_id is not None and (team is None or team.id != data.team_id):
        raise NotPermitted(_("Only a member of the team may submit its entry."))
    if team is None:
        raise NotPermitted(_("Only a member of the team may submit its entry."))
    ensure_entry_open(contest, team)
    active = await TeamMember.filter(team_id=team.id, status=MemberStatus.ACTIVE).count()
    if active < contest.team_min:
        raise Invalid(
            _("A team needs at least %(n)d members to submit.", n=contest.team_min),
            code="team_too_small",
        )
    values = {
        "title": data.title,
        "summary": data.summary,
        "problem": data.problem,
        "solution": data.solution,
        "repository_url": str(data.repository_url or ""),
        "demo_url": str(data.demo_url or ""),
        "video_url": str(data.video_url or ""),
        "attachments": [{"name": a.name, "url": str(a.url)} for a in data.attachments],
    }
    async with atomic():
        submission = await Submission.get_or_none(team_id=team.id)
        created = submission is None
        if submission is None:
            submission = await Submission.create(
                contest_id=contest.id, team_id=team.id, version=1, **values
            )
        else:
            for name, value in values.items():
                setattr(submission, name, value)
            submission.version += 1
            await submission.save()
        await SubmissionVersion.create(
            submission_id=submission.id,
            version=submission.version,
            data=_snapshot(submission),
            author_id=actor.id,
        )
    submission.created = created  # type: ignore[attr-defined]
    return submission


async def _open_entry(actor: User, contest: Contest) -> tuple[Team, Submission]:
    """The actor's team entry while it may still change (403 / 404 / 409 otherwise)."""
    team = await team_of(actor, contest)
    if team is None:
        raise NotPermitted(_("Only a member of the team may submit its entry."))
    submission = await Submission.get_or_none(team_id=team.id)
    if submission is None:
        raise NotFound(_("Save your entry first, then add images."))
    ensure_entry_open(contest, team)
    return team, submission


async def add_image(actor: User, contest: Contest, data: bytes) -> Submission:
    """Store an image (cleaned, WebP, see ecosystem.media) and keep it in a new version."""
    from ecosystem import media

    _team, submission = await _open_entry(actor, contest)
    if len(submission.images) >= MAX_IMAGES:
        raise Conflict(_("An entry has at most %(n)d images.", n=MAX_IMAGES), code="too_many")
    stored = await media.store_image(data, "contest_entry")
    async with atomic():
        submission.images = [*submission.images, str(stored.id)]
        submission.version += 1
        await submission.save(update_fields=["images", "version", "updated_at"])
        await SubmissionVersion.create(
            submission_id=submission.id,
            version=submission.version,
            data={**_snapshot(submission), "images": submission.images},
            author_id=actor.id,
        )
    return submission


async def feedback_for(submission: Submission, contest: Contest) -> list[str]:
    """The judges' comments for the team (never who wrote them), once results are out."""
    from hackathon.models import JudgeAssignment

    if contest.results_published_at is None:
        return []
    comments = await JudgeAssignment.filter(submission_id=submission.id).values_list(
        "comment_team", flat=True
    )
    return [comment for comment in comments if comment]


async def versions_of(submission: Submission) -> list[SubmissionVersion]:
    return await SubmissionVersion.filter(submission_id=submission.id).order_by("-version")


async def grant_late_window(actor: User, team_id: int, until: datetime) -> Team:
    team = await _load_team(team_id)
    await permissions.ensure(actor, "contest.manage", team.contest)
    if until <= timezone.now():
        message = _("A late window must end in the future.")
        raise Invalid(message, fields={"until": message})
    team.late_until = until
    await team.save(update_fields=["late_until"])
    await audit.record("contest.late_window", actor=actor, target=team, until=until.isoformat())
    return team
