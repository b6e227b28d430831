"""The kernel described as a package, mounted first by the app factory."""

from __future__ import annotations

from pathlib import Path

from ecosystem import api, mail
from ecosystem.packages import DomainPackage
from ecosystem.routes import account, admin, auth, organisations, pages


async def _seed_demo() -> None:
    from ecosystem.seed import seed_kernel

    await seed_kernel()


package = DomainPackage(
    name="ecosystem",
    models="ecosystem.models",
    routes=[*pages.routes, *auth.routes, *account.routes, *organisations.routes, *admin.routes],
    api_routes=api.routes,
    jobs=[mail.deliver_mail],
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=_seed_demo,
    nav_links=(("Partners", "/organisations"),),
)
