"""The public vote, a separate prize: verified accounts only, one vote per user per contest
(a unique constraint), suspicious patterns flagged for the organiser.

Suspicious: a vote from an account created less than NEW_ACCOUNT before it, when at least
BURST_SIZE votes from new accounts reach the same entry within BURST_WINDOW (every vote of
the burst is flagged), or when BURST_SIZE votes came from one address within the window.
Flagged votes stay counted in the log but not in the public-vote prize.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.db import atomic
from ecosystem.errors import Conflict, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import User
from hackathon import permissions
from hackathon.models import Contest, ContestRole, Submission, Vote

NEW_ACCOUNT = timedelta(days=2)
BURST_WINDOW = timedelta(minutes=10)
BURST_SIZE = 5


async def cast_vote(user: User, contest: Contest, submission_id: int, ip: str = "") -> Vote:
    if user.email_verified_at is None:
        raise NotPermitted(_("Verify your email address before voting."))
    if not contest.public_vote:
        raise Conflict(_("This contest has no public vote."))
    if contest.results_published_at is not None:
        raise Conflict(_("The vote is closed."))
    if await permissions.is_organiser(user, contest) or await ContestRole.exists(
        contest_id=contest.id, user_id=user.id
    ):
        raise NotPermitted(_("Judges and organisers of a contest cannot vote in its public vote."))
    submission = await Submission.get_or_none(id=submission_id, contest_id=contest.id)
    if submission is None:
        raise NotFound(_("This entry does not exist."))
    now = timezone.now()
    new_account = now - user.created_at < NEW_ACCOUNT
    try:
        async with atomic():
            vote = await Vote.create(
                contest_id=contest.id,
                user_id=user.id,
                submission_id=submission.id,
                ip=ip[:45],
                suspicious=False,
            )
            await _flag_bursts(contest, vote, new_account, now)
    except IntegrityError as exc:
        raise Conflict(_("You have already voted in this contest."), code="already_voted") from exc
    return vote


async def _flag_bursts(contest: Contest, vote: Vote, new_account: bool, now) -> None:
    since = now - BURST_WINDOW
    recent = await Vote.filter(contest_id=contest.id, created_at__gte=since).select_related("user")
    young = [
        v
        for v in recent
        if v.submission_id == vote.submission_id  # type: ignore[attr-defined]
        and v.created_at - v.user.created_at < NEW_ACCOUNT
    ]
    same_ip = [v for v in recent if vote.ip and v.ip == vote.ip]
    flagged: dict[int, str] = {}
    if new_account and len(young) >= BURST_SIZE:
        for v in young:
            flagged[v.id] = "burst of votes from new accounts"
    if len(same_ip) >= BURST_SIZE:
        for v in same_ip:
            flagged.setdefault(v.id, "many votes from one address")
    for vote_id, reason in flagged.items():
        await Vote.filter(id=vote_id).update(suspicious=True, reason=reason)


async def my_vote(user: User | None, contest: Contest) -> Vote | None:
    if user is None:
        return None
    return await Vote.get_or_none(contest_id=contest.id, user_id=user.id)


async def suspicious_votes(actor: User, contest: Contest) -> list[Vote]:
    await permissions.ensure(actor, "contest.manage", contest)
    return (
        await Vote.filter(contest_id=contest.id, suspicious=True)
        .select_related("user", "submission")
        .order_by("-created_at")
    )


async def tally(contest: Contest) -> dict[int, int]:
    counts: dict[int, int] = {}
    for submission_id in await Vote.filter(contest_id=contest.id, suspicious=False).values_list(
        "submission_id", flat=True
    ):
        counts[submission_id] = counts.get(submission_id, 0) + 1
    return counts
