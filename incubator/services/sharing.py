"""Consented sharing: a startup lets an organisation read chosen metrics and periods until
an expiry; it may revoke at any time (the next read is refused); every read is logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import timezone

from ecosystem.content import tr
from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import date_field
from ecosystem.models import Organisation, User, Verification
from ecosystem.permissions import is_verified_organisation
from ecosystem.services import audit
from ecosystem.settings import get_settings
from incubator import periods
from incubator.forms import as_id
from incubator.models import (
    Enrolment,
    EnrolmentRead,
    EnrolmentStatus,
    Metric,
    ShareAccess,
    ShareGrant,
)
from incubator.permissions import StartupAccess

MAX_DAYS = 3 * 366


async def metric_choices(startup: Organisation) -> list[Metric]:
    programme_ids = await Enrolment.filter(
        startup_id=startup.id, status__in=[EnrolmentStatus.ACCEPTED, EnrolmentStatus.LEFT]
    ).values_list("cohort__programme_id", flat=True)
    seen: dict[str, Metric] = {}
    for metric in await Metric.filter(programme_id__in=list(programme_ids)).order_by("position"):
        seen.setdefault(metric.key, metric)
    return list(seen.values())


async def create_grant(
    actor: User, access: StartupAccess, values: dict[str, Any], metric_keys: list[str]
) -> ShareGrant:
    if not access.can_share:
        raise NotPermitted(_("Only the startup's owners and admins may share its data."))
    errors: dict[str, str] = {}
    raw = str(values.get("grantee_id") or "")
    grantee = await Organisation.get_or_none(id=as_id(raw))
    if grantee is None or grantee.id == access.startup.id or not is_verified_organisation(grantee):
        errors["grantee_id"] = _("Choose an organisation.")
    known = {m.key for m in await metric_choices(access.startup)}
    keys = [key for key in dict.fromkeys(metric_keys) if key]
    if not keys or not set(keys) <= known:
        errors["metrics"] = _("Choose at least one of the startup's metrics.")
    period_from = str(values.get("period_from", "")).strip()
    period_to = str(values.get("period_to", "")).strip()
    if not periods.MONTH.match(period_from):
        errors["period_from"] = _("Give a month as YYYY-MM.")
    if not periods.MONTH.match(period_to):
        errors["period_to"] = _("Give a month as YYYY-MM.")
    elif period_from > period_to:
        errors["period_to"] = _("The end must come after the start.")
    expires_at = None
    if day := date_field(values, "expires_on", errors):
        zone = ZoneInfo(get_settings().default_timezone)
        expires_at = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        if expires_at <= timezone.now():
            errors["expires_on"] = _("The expiry must be in the future.")
        elif expires_at > timezone.now() + timedelta(days=MAX_DAYS):
            errors["expires_on"] = _("Share for at most three years at a time.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    async with atomic():
        grant = await ShareGrant.create(
            startup_id=access.startup.id,
            grantee_id=grantee.id,  # type: ignore[union-attr]
            metrics=keys,
            period_from=period_from,
            period_to=period_to,
            expires_at=expires_at,
            created_by_id=actor.id,
        )
        await audit.record(
            "incubator.share_granted",
            actor=actor,
            target=access.startup,
            grantee=grantee.id,  # type: ignore[union-attr]
        )
    return grant


async def get_grant(access: StartupAccess, grant_id: int) -> ShareGrant:
    grant = await ShareGrant.get_or_none(id=grant_id, startup_id=access.startup.id).select_related(
        "grantee"
    )
    if grant is None:
        raise NotFound(_("Not found."))
    return grant


async def revoke_grant(actor: User, access: StartupAccess, grant_id: int) -> ShareGrant:
    if not access.can_share:
        raise NotPermitted(_("Only the startup's owners and admins may share its data."))
    grant = await ShareGrant.get_or_none(id=grant_id, startup_id=access.startup.id)
    if grant is None:
        raise NotFound(_("Not found."))
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        await grant.save(update_fields=["revoked_at"])
        await audit.record(
            "incubator.share_revoked", actor=actor, target=access.startup, grant=grant.id
        )
    return grant


async def grants_of(startup: Organisation) -> list[ShareGrant]:
    return await ShareGrant.filter(startup_id=startup.id).select_related("grantee").order_by("-id")


@dataclass
class Read:
    """One line of the startup's read log: who read its figures, for which organisation."""

    created_at: datetime
    user: User | None
    organisation: Organisation
    channel: str
    programme: str = ""  # the programme's name, for a read by programme staff


async def access_log(startup: Organisation, limit: int = 100) -> list[Read]:
    """The latest reads of the startup's figures by grantees and by programme staff."""
    grants = (
        await ShareAccess.filter(grant__startup_id=startup.id)
        .select_related("grant__grantee", "user")
        .order_by("-id")
        .limit(limit)
    )
    reads = (
        await EnrolmentRead.filter(enrolment__startup_id=startup.id)
        .select_related("user")
        .prefetch_related("enrolment__cohort__programme__organisation")
        .order_by("-id")
        .limit(limit)
    )
    lines = [Read(a.created_at, a.user, a.grant.grantee, a.channel) for a in grants]
    lines += [
        Read(
            r.created_at,
            r.user,
            r.enrolment.cohort.programme.organisation,
            r.channel,
            tr(r.enrolment.cohort.programme, "name"),
        )
        for r in reads
    ]
    lines.sort(key=lambda line: line.created_at, reverse=True)
    return lines[:limit]


async def grantee_choices(startup: Organisation) -> list[Organisation]:
    """Possible recipients: organisations a platform admin has verified, only."""
    return (
        await Organisation.filter(verification=Verification.VERIFIED)
        .exclude(id=startup.id)
        .order_by("name")
    )
