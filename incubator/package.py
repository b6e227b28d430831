"""The incubator described as a domain package, mounted by the app factory."""

from __future__ import annotations

from pathlib import Path

from ecosystem.labels import N_
from ecosystem.packages import DomainPackage
from incubator import api, dashboard, jobs
from incubator.routes import manage, public, startup
from incubator.services import portfolio, programmes, startups


async def _seed_demo() -> None:
    from incubator.seed import seed_demo_perks, seed_incubator

    await seed_incubator()
    await seed_demo_perks()


package = DomainPackage(
    name="incubator",
    models="incubator.models",
    # /incubator/programmes/new before /incubator/programmes/{id}/{what}
    routes=[*public.routes, *manage.routes, *startup.routes],
    api_routes=api.routes,
    jobs=jobs.JOBS,
    cron_jobs=jobs.CRON_JOBS,
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=_seed_demo,
    nav_links=((N_("Incubator"), "/incubator"),),
    dashboard_panels=(dashboard.panel,),
    credit_issuers=portfolio.credit_issuers,
    indicators=dashboard.indicators,
    pending_publications=programmes.pending_publications,
    # The keys' titles, and the stage and sector codes of the grouped indicators.
    indicator_titles={
        **dashboard.INDICATOR_TITLES,
        **startups.STAGE_LABELS,
        **startups.SECTOR_LABELS,
    },
)
