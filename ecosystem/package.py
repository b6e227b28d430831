"""The kernel described as a package, mounted first by the app factory."""

from __future__ import annotations

from pathlib import Path

from ecosystem import api, jobs, mail, media
from ecosystem.labels import N_
from ecosystem.packages import DomainPackage
from ecosystem.payments import api as payment_api
from ecosystem.payments import jobs as payment_jobs
from ecosystem.payments import routes as payment_routes
from ecosystem.routes import account, admin, auth, dashboard, organisations, pages
from ecosystem.routes import media as media_routes
from ecosystem.services import dashboard as dashboard_service
from ecosystem.services import indicators, sessions


async def _seed_demo() -> None:
    from ecosystem.seed import seed_kernel

    await seed_kernel()


package = DomainPackage(
    name="ecosystem",
    models=("ecosystem.models", "ecosystem.payments.models"),
    routes=[
        *pages.routes,
        *auth.routes,
        *account.routes,
        *organisations.routes,
        *admin.routes,
        *media_routes.routes,
        *payment_routes.routes,
        *dashboard.routes,
    ],
    api_routes=[*api.routes, *payment_api.api_routes],
    jobs=[
        mail.deliver_mail,
        mail.redeliver_stalled_mail,
        media.make_variants,
        *payment_jobs.jobs,
        indicators.refresh_indicators,
        sessions.purge_ended_sessions,
    ],
    cron_jobs=[
        jobs.cron(mail.redeliver_stalled_mail, minute={5, 20, 35, 50}, second=0),
        *payment_jobs.cron_jobs,  # holds every minute, stalled refunds every 5 minutes
        jobs.cron(indicators.refresh_indicators, minute={7}, second=0),  # hourly
        jobs.cron(sessions.purge_ended_sessions, hour={3}, minute={17}, second=0),  # daily
    ],
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=_seed_demo,
    nav_links=((N_("Partners"), "/organisations"),),
    dashboard_panels=(dashboard_service.organisations_panel, dashboard_service.government_panel),
    indicators=dashboard_service.kernel_indicators,
    indicator_titles={
        "verified_organisations": N_("Verified partner organisations"),
        "organisations_by_sphere": N_("Partner organisations by sphere"),
    },
    # Stripe signs its webhook; it cannot send our CSRF token.
    csrf_exempt_prefixes=("/payments/stripe/",),
)
