"""Contests described as a domain package, mounted by the app factory."""

from __future__ import annotations

from pathlib import Path

from ecosystem.labels import N_
from ecosystem.packages import DomainPackage
from hackathon import api, jobs
from hackathon.routes import judge, manage, public
from hackathon.services import contests, dashboard


async def _seed_demo() -> None:
    from hackathon.seed import seed_contests

    await seed_contests()


package = DomainPackage(
    name="hackathon",
    models="hackathon.models",
    routes=[*manage.routes, *judge.routes, *public.routes],  # /contests/new before /{slug}
    api_routes=api.routes,
    jobs=jobs.JOBS,
    cron_jobs=jobs.CRON_JOBS,
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=_seed_demo,
    nav_links=((N_("Contests"), "/contests"),),
    dashboard_panels=(
        dashboard.judge_panel,
        dashboard.organiser_panel,
        dashboard.participant_panel,
    ),
    indicators=dashboard.indicators,
    pending_publications=contests.pending_publications,
)
