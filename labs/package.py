"""The lab network described as a domain package, mounted by the app factory."""

from __future__ import annotations

from pathlib import Path

from ecosystem.packages import DomainPackage
from labs import api

package = DomainPackage(
    name="labs",
    models="labs.models",
    api_routes=api.routes,
    jobs=(),  # reminders, no-shows and waitlist offers come with the HTML session
    locale_dir=Path(__file__).parent / "locale",
)
