"""Contests described as a domain package, mounted by the app factory.

Contributions by dotted name (see `ecosystem.packages`): importing this imports no route,
job or service.
"""

from __future__ import annotations

from pathlib import Path

from ecosystem.labels import N_
from ecosystem.packages import DomainPackage, Hook

package = DomainPackage(
    name="hackathon",
    models="hackathon.models",
    routes=(  # /contests/new before /{slug}
        "hackathon.routes.editing:routes",  # /manage/edit before /manage/{action}
        "hackathon.routes.manage:routes",
        "hackathon.routes.preferences:routes",
        "hackathon.routes.judge:routes",
        "hackathon.routes.public:routes",
    ),
    api_routes=("hackathon.api:routes",),
    jobs=("hackathon.jobs:JOBS",),
    cron_jobs=("hackathon.jobs:CRON_JOBS",),
    locale_dir=Path(__file__).parent / "locale",
    seed_demo=Hook("hackathon.seed:seed_contests"),
    nav_links=((N_("Contests"), "/contests"),),
    dashboard_panels=(
        Hook("hackathon.services.dashboard:judge_panel"),
        Hook("hackathon.services.dashboard:organiser_panel"),
        Hook("hackathon.services.dashboard:participant_panel"),
    ),
    indicators=Hook("hackathon.services.dashboard:indicators"),
    indicator_titles=("hackathon.services.dashboard:INDICATOR_TITLES",),
    pending_publications=Hook("hackathon.services.contests:pending_publications"),
)
