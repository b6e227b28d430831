"""The lab network described as a domain package, mounted by the app factory.

Contributions by dotted name (see `ecosystem.packages`): importing this imports no route,
job or service.
"""

from __future__ import annotations

from pathlib import Path

from ecosystem.labels import N_
from ecosystem.packages import DomainPackage, Hook

package = DomainPackage(
    name="labs",
    models="labs.models",
    routes=(  # /labs/new before /labs/{slug}
        "labs.routes.staff:routes",
        "labs.routes.photos:routes",
        "labs.routes.payments:routes",
        "labs.routes.grid:routes",  # /labs/{slug}/day and /week before /labs/{slug}
        "labs.routes.public:routes",
        "labs.routes.training:routes",
    ),
    api_routes=("labs.api:routes",),
    jobs=("labs.jobs:JOBS",),
    cron_jobs=("labs.jobs:CRON_JOBS",),
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=Hook("labs.seed:seed_labs"),
    nav_links=(
        (N_("Labs"), "/labs"),
        (N_("Trainings"), "/trainings"),
        (N_("My bookings"), "/bookings"),
        (N_("My waitlist"), "/waitlist"),
    ),
    # The key is labs.services.payments.SUBJECT_KIND.
    payment_handlers={
        "labs.booking": "labs.services.payments:HANDLER",
        "labs.basket": "labs.services.basket:HANDLER",  # labs.services.basket.SUBJECT_KIND
    },
    credit_issuers=Hook("labs.services.payments:credit_issuers"),
    dashboard_panels=(Hook("labs.dashboard:labs_panel"),),
    indicators=Hook("labs.dashboard:labs_indicators"),
    indicator_titles=("labs.dashboard:INDICATOR_TITLES", "labs.routes.public:CATEGORY_LABELS"),
    pending_publications=Hook("labs.services.staff:pending_publications"),
)
