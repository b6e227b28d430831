"""The organiser's dashboard, CSV exports, the personal dashboard panels and indicators."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from tortoise import timezone

from ecosystem.disclosure import round_count, rounded_table
from ecosystem.i18n import _
from ecosystem.labels import N_
from ecosystem.models import User
from ecosystem.packages import DashboardPanel
from ecosystem.permissions import has_verified_identity
from ecosystem.tabular import Table
from hackathon import permissions
from hackathon.models import (
    Contest,
    ContestRole,
    ContestRoleKind,
    JudgeAssignment,
    MemberStatus,
    Site,
    Submission,
    Team,
    TeamMember,
    Track,
)
from hackathon.services import judging, results
from hackathon.services.contests import ContestView, contest_view, phase_of, public_contests
from hackathon.services.teams import submission_deadline


@dataclass
class Overview:
    by_site: list[tuple[Site, int, int]]  # site, teams, submissions
    by_track: list[tuple[Track, int, int]]
    teams: int
    submissions: int
    coverage: judging.Coverage


async def overview(
    actor: User,
    contest: Contest,
    *,
    view: ContestView | None = None,
    coverage: judging.Coverage | None = None,
    teams: list[dict[str, Any]] | None = None,
) -> Overview:
    """Teams and entries per site and track, and the judging coverage.

    A constant number of queries: one list of plain team rows (or the caller's
    `teams`), the entries' team ids, and the coverage's own (`judging.coverage`, or
    the caller's when it has it already)."""
    await permissions.ensure(actor, "contest.see_ranking", contest)
    view = view or await contest_view(contest)
    if teams is None:
        teams = await team_rows(contest)
    submitted = set(
        await Submission.filter(contest_id=contest.id).values_list("team_id", flat=True)
    )
    site_teams = Counter(t["site_id"] for t in teams)
    site_subs = Counter(t["site_id"] for t in teams if t["id"] in submitted)
    track_teams = Counter(t["track_id"] for t in teams)
    track_subs = Counter(t["track_id"] for t in teams if t["id"] in submitted)
    return Overview(
        [(s, site_teams[s.id], site_subs[s.id]) for s in view.sites],
        [(t, track_teams[t.id], track_subs[t.id]) for t in view.tracks],
        len(teams),
        len(submitted),
        coverage or await judging.coverage(actor, contest),
    )


async def team_rows(contest: Contest) -> list[dict[str, Any]]:
    """The contest's teams as plain rows (id, name, site_id, track_id), by name: for the
    dashboard's counts and its team pickers, without an ORM object per team."""
    return (
        await Team.filter(contest_id=contest.id)
        .order_by("name", "id")
        .values("id", "name", "site_id", "track_id")
    )


def _table(what: str, header: list[str], rows: list[list[Any]]) -> Table:
    return Table(columns=header, rows=rows, sheet=what)


async def export(actor: User, contest: Contest, what: str) -> Table:
    """The table of `teams`, `scores` (the append-only log), `comments` (for the team and
    private) or `ranking`, for CSV or .xlsx (ecosystem.tabular)."""
    await permissions.ensure(actor, "contest.see_ranking", contest)
    if what == "teams":
        teams = (
            await Team.filter(contest_id=contest.id).select_related("site", "track").order_by("id")
        )
        members = Counter(
            await TeamMember.filter(
                team__contest_id=contest.id, status=MemberStatus.ACTIVE
            ).values_list("team_id", flat=True)
        )
        subs = {
            s["team_id"]: s
            for s in await Submission.filter(contest_id=contest.id).values(
                "id", "team_id", "title", "version"
            )
        }
        rows = [
            [
                t.id,
                t.name,
                t.site.code,
                t.track.code,
                members[t.id],
                subs.get(t.id, {}).get("id"),
                subs.get(t.id, {}).get("title"),
                subs.get(t.id, {}).get("version"),
            ]
            for t in teams
        ]
        return _table(
            what,
            ["team_id", "team", "site", "track", "members", "submission_id", "title", "version"],
            rows,
        )
    if what == "scores":
        round_ = await judging.current_round(contest)
        log = await results.score_log(round_)
        keys = [
            "id",
            "judge_id",
            "submission_id",
            "criterion_id",
            "value",
            "previous",
            "batch",
            "undoes",
        ]
        return _table(what, keys, [[row[k] for k in keys] for row in log])
    if what == "comments":
        round_ = await judging.current_round(contest)
        rows = (
            await JudgeAssignment.filter(round_id=round_.id)
            .select_related("judge", "submission__team")
            .order_by("submission_id", "id")
        )
        return _table(
            what,
            ["submission_id", "title", "team", "judge", "comment_for_team", "private_comment"],
            [
                [
                    a.submission.id,
                    a.submission.title,
                    a.submission.team.name,
                    a.judge.email,
                    a.comment_team,
                    a.comment_private,
                ]
                for a in rows
                if a.comment_team or a.comment_private
            ],
        )
    if what == "ranking":
        ranking = await results.compute(contest)
        keys = [
            "rank",
            "submission_id",
            "title",
            "team",
            "track",
            "site",
            "calibrated",
            "low",
            "high",
            "plain_mean",
            "n_scores",
            "tied_with_next",
        ]
        return _table(what, keys, [[line.as_dict()[k] for k in keys] for line in ranking.overall])
    from ecosystem.errors import NotFound

    raise NotFound(_("This export does not exist."))


# --- personal dashboard panels (ecosystem.packages.DashboardPanel) ---------------------------


async def judge_panel(user: User) -> DashboardPanel | None:
    if not has_verified_identity(user):  # a role of an unverified account is not in effect
        return None
    queues = [q for q in await judging.all_queues(user) if q.total]
    if not queues:
        return None
    items = [
        {
            "contest": q.contest,
            "done": q.done,
            "total": q.total,
            "deadline": q.contest.judging_closes_at,
            "url": f"/contests/{q.contest.slug}/judge",
        }
        for q in queues
    ]
    urgent = any(i["done"] < i["total"] for i in items)
    return DashboardPanel(
        _("Judging"),
        "hackathon/_dashboard.html",
        {"kind": "judge", "items": items},
        urgent=urgent,
        order=30,
    )


async def organiser_panel(user: User) -> DashboardPanel | None:
    if not has_verified_identity(user):  # a role of an unverified account is not in effect
        return None
    contest_ids = await ContestRole.filter(
        user_id=user.id, role=ContestRoleKind.ORGANISER
    ).values_list("contest_id", flat=True)
    contests = await Contest.filter(id__in=list(contest_ids), results_published_at=None)
    if not contests:
        return None
    items = []
    for contest in contests:
        cover = await judging.coverage(user, contest)
        items.append(
            {
                "contest": contest,
                "entries": len(cover.rows),
                "short": cover.short,
                "k": cover.round.judges_per_entry,
                "url": f"/contests/{contest.slug}/manage",
            }
        )
    return DashboardPanel(
        _("Contests you organise"),
        "hackathon/_dashboard.html",
        {"kind": "organiser", "items": items},
        urgent=any(i["short"] for i in items),
        order=31,
    )


async def participant_panel(user: User) -> DashboardPanel | None:
    members = await TeamMember.filter(user_id=user.id, status=MemberStatus.ACTIVE).select_related(
        "team__contest", "team__site", "team__track"
    )
    if not members:
        return None
    now = timezone.now()
    items = []
    for member in members:
        team = member.team
        contest = team.contest
        sites = await Site.filter(contest_id=contest.id)
        deadline = submission_deadline(contest, team)
        items.append(
            {
                "contest": contest,
                "team": team,
                "deadline": deadline,
                "open": now < deadline,
                "phase": phase_of(contest, sites, now).value,
                "url": f"/contests/{contest.slug}",
            }
        )
    return DashboardPanel(
        _("Your contest teams"),
        "hackathon/_dashboard.html",
        {"kind": "participant", "items": items},
        urgent=any(i["open"] for i in items),
        order=32,
    )


# --- open indicators -----------------------------------------------------------------------

INDICATOR_TITLES = {
    "contests": N_("Contests closed in the period"),
    "teams": N_("Teams"),
    "teams_by_site": N_("Teams by site"),
    "teams_by_track": N_("Teams by track"),
    "entries": N_("Entries"),
    "participants": N_("Participants"),
}


async def indicators(start: date, end: date) -> dict[str, Any]:
    """Teams and entries per site and track of contests whose submissions closed in
    [start, end) (local dates), public contests only; counts rounded to five, each breakdown
    adding up to its total (ecosystem.disclosure)."""
    low = datetime.combine(start, time(0), tzinfo=UTC)
    high = datetime.combine(end, time(0), tzinfo=UTC)
    contests = await Contest.filter(
        public_contests(), submission_closes_at__gte=low, submission_closes_at__lt=high
    )
    ids = [c.id for c in contests]
    if not ids:
        return {
            "contests": 0,
            "teams": 0,
            "teams_by_site": {},
            "teams_by_track": {},
            "entries": 0,
            "participants": 0,
        }
    teams = await Team.filter(contest_id__in=ids).select_related("site", "track")
    # Every site and track of these (public) contests, empty ones too.
    by_site = Counter(
        {name: 0 for name in await Site.filter(contest_id__in=ids).values_list("name", flat=True)}
    )
    by_track = Counter(
        {name: 0 for name in await Track.filter(contest_id__in=ids).values_list("name", flat=True)}
    )
    by_site.update(t.site.name for t in teams)
    by_track.update(t.track.name for t in teams)
    entries = await Submission.filter(contest_id__in=ids).count()
    people = await TeamMember.filter(team__contest_id__in=ids, status=MemberStatus.ACTIVE).count()
    teams_count, teams_per_site, teams_per_track = rounded_table(
        len(teams), dict(sorted(by_site.items())), dict(sorted(by_track.items()))
    )
    return {
        "contests": len(ids),
        "teams": teams_count,
        "teams_by_site": teams_per_site,
        "teams_by_track": teams_per_track,
        "entries": round_count(entries),
        "participants": round_count(people),
    }
