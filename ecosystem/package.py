"""The kernel described as a package, mounted first by the app factory.

Contributions by dotted name (see `ecosystem.packages`): importing this imports no route,
job or service.
"""

from __future__ import annotations

from pathlib import Path

from ecosystem.labels import N_
from ecosystem.packages import DomainPackage, Hook

package = DomainPackage(
    name="ecosystem",
    models=("ecosystem.models", "ecosystem.payments.models"),
    routes=(
        "ecosystem.routes.pages:routes",
        "ecosystem.routes.auth:routes",
        "ecosystem.routes.oidc:routes",
        "ecosystem.routes.account:routes",
        "ecosystem.routes.security:routes",
        "ecosystem.routes.organisations:routes",
        "ecosystem.routes.admin:routes",
        "ecosystem.routes.media:routes",
        "ecosystem.payments.routes:routes",
        "ecosystem.routes.dashboard:routes",
        "ecosystem.routes.open_data:routes",
    ),
    api_routes=("ecosystem.api:routes", "ecosystem.payments.api:api_routes"),
    jobs=("ecosystem.tasks:jobs", "ecosystem.payments.jobs:jobs"),
    cron_jobs=("ecosystem.tasks:cron_jobs", "ecosystem.payments.jobs:cron_jobs"),
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=Hook("ecosystem.seed:seed_kernel"),
    nav_links=((N_("Partners"), "/organisations"),),
    dashboard_panels=(
        Hook("ecosystem.services.dashboard:organisations_panel"),
        Hook("ecosystem.services.dashboard:government_panel"),
    ),
    indicators=Hook("ecosystem.services.dashboard:kernel_indicators"),
    indicator_titles={
        "verified_organisations": N_("Verified partner organisations"),
        "organisations_by_sphere": N_("Partner organisations by sphere"),
    },
    # Stripe signs its webhook; it cannot send our CSRF token.
    csrf_exempt_prefixes=("/payments/stripe/",),
)
