"""The personal dashboard: every package's panel for one signed-in user, and the kernel's own.

A package contributes `DomainPackage.dashboard_panels`: async callables returning a
`DashboardPanel` (or None when it has nothing for that user). Panels that need the user's
attention come first. One broken panel is logged and left out, never a failed page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

from tortoise import timezone
from tortoise.functions import Count

from ecosystem.i18n import _
from ecosystem.indicators import suppress_counts
from ecosystem.models import (
    Invitation,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationSphere,
    Role,
    Sphere,
    User,
    Verification,
)
from ecosystem.packages import DashboardPanel, DomainPackage

logger = logging.getLogger("ecosystem.dashboard")
MAX_ROWS = 10


async def panels_for(user: User, packages: Sequence[DomainPackage]) -> list[DashboardPanel]:
    panels: list[DashboardPanel] = []
    for package in packages:
        for provider in package.dashboard_panels:
            try:
                panel = await provider(user)
            except Exception:  # a package's bug must not take the whole dashboard down
                logger.exception("dashboard panel of %s failed", package.name)
                continue
            if panel is not None:
                panels.append(panel)
    return sorted(panels, key=lambda panel: (not panel.urgent, panel.order))


async def organisations_panel(user: User) -> DashboardPanel | None:
    """Invitations waiting for the user; join requests and open invitations to answer."""
    now = timezone.now()
    invitations = await (
        Invitation.filter(
            email__iexact=user.email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        )
        .select_related("organisation")
        .order_by("-created_at")
        .limit(MAX_ROWS)
    )
    administered = await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,
        role__in=[role for role in Role if role.rank >= Role.ADMIN.rank],
    ).values_list("organisation_id", flat=True)
    requests = []
    sent = []
    if administered:
        requests = await (
            Membership.filter(organisation_id__in=administered, status=MembershipStatus.REQUESTED)
            .select_related("user", "organisation")
            .order_by("created_at")
            .limit(MAX_ROWS)
        )
        sent = await (
            Invitation.filter(
                organisation_id__in=administered,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
            )
            .select_related("organisation")
            .order_by("expires_at")
            .limit(MAX_ROWS)
        )
    if not (invitations or requests or sent):
        return None
    return DashboardPanel(
        title=_("Organisations"),
        template="ecosystem/_dashboard_organisations.html",
        context={"invitations": invitations, "requests": requests, "sent": sent},
        urgent=bool(invitations or requests),
        order=90,
    )


async def government_panel(user: User) -> DashboardPanel | None:
    """Members of a government organisation: the ecosystem's figures, one click away."""
    is_government = await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,
        organisation__spheres__sphere=Sphere.GOVERNMENT,
    ).exists()
    if not is_government:
        return None
    return DashboardPanel(
        title=_("Ecosystem in figures"),
        template="ecosystem/_dashboard_government.html",
        order=50,
    )


async def kernel_indicators(start: date, end: date) -> dict:
    """Verified partner organisations by sphere of the triple helix (public data)."""
    rows = (
        await OrganisationSphere.filter(organisation__verification=Verification.VERIFIED)
        .group_by("sphere")
        .annotate(count=Count("id"))
        .values_list("sphere", "count")
    )
    by_sphere = {str(getattr(sphere, "value", sphere)): count for sphere, count in rows}
    total = await Organisation.filter(verification=Verification.VERIFIED).count()
    return {
        "verified_organisations": total,
        "organisations_by_sphere": suppress_counts(by_sphere, minimum=1),
    }
