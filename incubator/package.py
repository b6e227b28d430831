"""The incubator described as a domain package, mounted by the app factory.

Contributions by dotted name (see `ecosystem.packages`): importing this imports no route,
job or service.
"""

from __future__ import annotations

from pathlib import Path

from ecosystem.labels import N_
from ecosystem.packages import DomainPackage, Hook

_seed_incubator = Hook("incubator.seed:seed_incubator")
_seed_demo_perks = Hook("incubator.seed:seed_demo_perks")


async def _seed_demo() -> None:
    await _seed_incubator()
    await _seed_demo_perks()


package = DomainPackage(
    name="incubator",
    models="incubator.models",
    # /incubator/programmes/new before /incubator/programmes/{id}/{what}
    routes=(
        # Office hours and investor updates first: POST /incubator/programmes/{id}/{what}
        # of `manage` would take /incubator/programmes/{id}/office-hours.
        "incubator.routes.office_hours:routes",
        "incubator.routes.updates:routes",
        "incubator.routes.public:routes",
        "incubator.routes.manage:routes",
        "incubator.routes.startup:routes",
    ),
    api_routes=("incubator.api:routes",),
    jobs=("incubator.jobs:JOBS",),
    cron_jobs=("incubator.jobs:CRON_JOBS",),
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=_seed_demo,
    nav_links=((N_("Incubator"), "/incubator"),),
    dashboard_panels=(Hook("incubator.dashboard:panel"),),
    credit_issuers=Hook("incubator.services.portfolio:credit_issuers"),
    indicators=Hook("incubator.dashboard:indicators"),
    pending_publications=Hook("incubator.services.programmes:pending_publications"),
    # The keys' titles, and the stage and sector codes of the grouped indicators.
    indicator_titles=(
        "incubator.dashboard:INDICATOR_TITLES",
        "incubator.services.startups:STAGE_LABELS",
        "incubator.services.startups:SECTOR_LABELS",
    ),
)
