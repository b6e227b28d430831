"""The kernel described as a package, mounted first by the app factory."""

from __future__ import annotations

from pathlib import Path

from ecosystem import api, jobs, mail, media
from ecosystem.labels import N_
from ecosystem.packages import DomainPackage
from ecosystem.routes import account, admin, auth, organisations, pages
from ecosystem.routes import media as media_routes


async def _seed_demo() -> None:
    from ecosystem.seed import seed_kernel

    await seed_kernel()


package = DomainPackage(
    name="ecosystem",
    models="ecosystem.models",
    routes=[
        *pages.routes,
        *auth.routes,
        *account.routes,
        *organisations.routes,
        *admin.routes,
        *media_routes.routes,
    ],
    api_routes=api.routes,
    jobs=[mail.deliver_mail, mail.redeliver_stalled_mail, media.make_variants],
    cron_jobs=[jobs.cron(mail.redeliver_stalled_mail, minute={5, 20, 35, 50}, second=0)],
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=_seed_demo,
    nav_links=((N_("Partners"), "/organisations"),),
)
