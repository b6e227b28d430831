"""Announcements from the organisers to the participants, by site or track (or all).

Two steps, like publishing the results: `preview` shows the message, its audience and every
recipient, with a confirmation code that names exactly that content; `send` with that code
records the announcement (shown on the contest page) and queues one e-mail per recipient in
their own language, in one transaction (delivery starts after the commit). A changed text or
audience changes the code, so nothing is sent that was not previewed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.errors import Invalid
from ecosystem.i18n import _
from ecosystem.inputs import has_control
from ecosystem.models import User
from ecosystem.services import audit
from hackathon import permissions
from hackathon.models import Announcement, Contest, MemberStatus, Site, TeamMember, Track

TITLE_MAX = 200
BODY_MAX = 5000


@dataclass
class Draft:
    contest: Contest
    title: str
    body: str
    site: Site | None
    track: Track | None
    recipients: list[User]
    confirm: str


async def _audience(contest: Contest, site_code: str, track_code: str):
    site = track = None
    if site_code:
        site = await Site.get_or_none(contest_id=contest.id, code=site_code[:16])
        if site is None:
            raise Invalid(_("Unknown site."), fields={"site": _("Unknown site.")})
    if track_code:
        track = await Track.get_or_none(contest_id=contest.id, code=track_code[:32])
        if track is None:
            message = _("Unknown track.")
            raise Invalid(message, fields={"track": message})
    return site, track


async def _recipients(contest: Contest, site: Site | None, track: Track | None) -> list[User]:
    """Active members of the contest's teams in that site and track (one query)."""
    query = TeamMember.filter(
        team__contest_id=contest.id, status=MemberStatus.ACTIVE, user_id__isnull=False
    )
    if site is not None:
        query = query.filter(team__site_id=site.id)
    if track is not None:
        query = query.filter(team__track_id=track.id)
    seen: dict[int, User] = {}
    for member in await query.select_related("user").order_by("user__email"):
        seen.setdefault(member.user.id, member.user)
    return list(seen.values())


def _code(contest: Contest, title: str, body: str, site: Site | None, track: Track | None) -> str:
    content = [contest.id, title, body, site.id if site else None, track.id if track else None]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()[:16]


async def preview(
    actor: User, contest: Contest, title: str, body: str, site_code: str, track_code: str
) -> Draft:
    """The announcement as it will go out, with its recipients (403 for non-organisers; 422
    for an empty or too long text, an unknown site or track, or nobody to send it to)."""
    await permissions.ensure(actor, "contest.manage", contest)
    title, body = title.strip(), body.strip()
    errors = {}
    if not title or len(title) > TITLE_MAX or has_control(title, multiline=False):
        errors["title"] = _("Between 1 and %(n)d characters on one line.", n=TITLE_MAX)
    if not body or len(body) > BODY_MAX or has_control(body):
        errors["body"] = _("Between 1 and %(n)d characters.", n=BODY_MAX)
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), fields=errors)
    site, track = await _audience(contest, site_code, track_code)
    recipients = await _recipients(contest, site, track)
    if not recipients:
        message = _("No participant of this site and track has joined a team yet.")
        raise Invalid(message, fields={"site": message})
    return Draft(
        contest, title, body, site, track, recipients, _code(contest, title, body, site, track)
    )


async def send(
    actor: User,
    contest: Contest,
    title: str,
    body: str,
    site_code: str,
    track_code: str,
    confirm: str,
) -> Announcement:
    """Send what `preview` showed: 422 when `confirm` is not that preview's code."""
    draft = await preview(actor, contest, title, body, site_code, track_code)
    if confirm != draft.confirm:
        raise Invalid(
            _("The announcement changed since its preview: check it again before sending."),
            fields={"confirm": _("Preview again.")},
        )
    async with atomic():
        announcement = await Announcement.create(
            contest_id=contest.id,
            site_id=draft.site.id if draft.site else None,
            track_id=draft.track.id if draft.track else None,
            title=draft.title,
            body=draft.body,
            author_id=actor.id,
            recipients=len(draft.recipients),
        )
        for user in draft.recipients:
            await mail.send_mail(
                user.email,
                "hackathon_announcement",
                {"contest": contest, "announcement": announcement, "site": draft.site}
                | {"track": draft.track},
                user.locale,
                timezone=user.timezone,
            )
        await audit.record(
            "contest.announcement",
            actor=actor,
            target=contest,
            announcement=announcement.id,
            recipients=len(draft.recipients),
        )
    return announcement


async def announcements_of(contest: Contest) -> list[Announcement]:
    """The contest's announcements, newest first, with their audience (one query)."""
    return (
        await Announcement.filter(contest_id=contest.id)
        .select_related("site", "track")
        .order_by("-created_at", "-id")
    )
