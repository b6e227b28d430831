"""The lab network described as a domain package, mounted by the app factory."""

from __future__ import annotations

from pathlib import Path

from ecosystem.labels import N_
from ecosystem.packages import DomainPackage
from labs import api, dashboard, jobs
from labs.routes import payments as payment_routes
from labs.routes import public, staff, training
from labs.services import payments
from labs.services import staff as staff_services


async def _seed_demo() -> None:
    from labs.seed import seed_labs

    await seed_labs()


package = DomainPackage(
    name="labs",
    models="labs.models",
    routes=[
        *staff.routes,
        *payment_routes.routes,
        *public.routes,
        *training.routes,
    ],  # /labs/new before /labs/{slug}
    api_routes=api.routes,
    jobs=jobs.JOBS,
    cron_jobs=jobs.CRON_JOBS,
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=_seed_demo,
    nav_links=((N_("Labs"), "/labs"),),
    payment_handlers={payments.SUBJECT_KIND: payments.HANDLER},
    credit_issuers=payments.credit_issuers,
    dashboard_panels=(dashboard.labs_panel,),
    indicators=dashboard.labs_indicators,
    indicator_titles={**dashboard.INDICATOR_TITLES, **public.CATEGORY_LABELS},
    pending_publications=staff_services.pending_publications,
)
