"""The phases of a contest, enforced per site: registration → submission → judging → results.

An entry is judged (scored in a rubric round, compared in pairwise mode) only once its own
site's submission deadline – or the late window an organiser granted its team – has passed,
and until the results are published. Before that the entry may still change, so a score
would judge something the team can rewrite; after it the published ranking is fixed.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import timezone

from ecosystem.errors import Conflict
from ecosystem.i18n import _, format_dt, zone_label
from hackathon.models import Contest, Team
from hackathon.services.teams import submission_deadline


def judging_open(contest: Contest, team: Team, now: datetime | None = None) -> bool:
    """Is this team's entry in its judging phase? (the team needs its site loaded)"""
    if contest.results_published_at is not None:
        return False
    return (now or timezone.now()) >= submission_deadline(contest, team)


def ensure_judging_open(contest: Contest, team: Team) -> None:
    """409 with the reason when a score or a comparison of this entry is not accepted now."""
    if contest.results_published_at is not None:
        raise Conflict(
            _("The results are published: scores can no longer change."), code="results_published"
        )
    deadline = submission_deadline(contest, team)
    if timezone.now() < deadline:
        raise Conflict(
            _(
                "Judging of this entry starts when submissions close at its site, "
                "on %(when)s (%(zone)s).",
                when=format_dt(deadline, "short", team.site.timezone),
                zone=zone_label(team.site.timezone),
            ),
            code="not_judging",
        )
