"""Investor updates: a founder sends a periodic update – chosen metrics from the startup's
submitted reports and a narrative – to the organisations that hold a live share grant of
the startup; their people read it on a page (and get a mail with a link); every read is a
line of the startup's read log (`ShareAccess`, channel "update") and the first read of each
person a receipt (`InvestorUpdateRead`) the founders see.

Who may do what (DESIGN §3): sending is the startup's act – its owners and admins with a
verified identity ("founders"). Reading needs a verified identity and an active membership
of an organisation the update was sent to that *still* holds a live grant (not revoked, not
expired, organisation verified): a former holder reads nothing more, not even what it was
sent. Founders read their own updates with the receipts. Anyone else gets a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise import timezone

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import has_control
from ecosystem.models import Membership, MembershipStatus, Organisation, User, Verification
from ecosystem.permissions import has_verified_identity
from ecosystem.services import audit
from incubator.models import (
    InvestorUpdate,
    InvestorUpdateRead,
    InvestorUpdateRecipient,
    ReportRequest,
    RequestStatus,
    ShareAccess,
    ShareGrant,
)
from incubator.permissions import StartupAccess, get_startup, startup_access
from incubator.services.sharing import metric_choices

TITLE_MAX = 200
NARRATIVE_MAX = 20_000
READ_CHANNEL = "update"


def can_send(access: StartupAccess) -> bool:
    """The startup's founders: its owners and admins, with a verified identity."""
    return access.admin and access.verified


async def metric_snapshot(startup: Organisation) -> list[dict[str, Any]]:
    """Each of the startup's metrics with its latest submitted value and period."""
    metrics = await metric_choices(startup)
    rows = (
        await ReportRequest.filter(startup_id=startup.id, status=RequestStatus.SUBMITTED)
        .order_by("-period_start", "-id")
        .values_list("period", "values")
    )
    latest: dict[str, tuple[str, Any]] = {}
    for period, values in rows:
        for key, value in (values or {}).items():
            if value is not None and value != "" and key not in latest:
                latest[key] = (period, value)
    return [
        {
            "key": m.key,
            "name": m.name,
            "unit": m.unit,
            "period": latest[m.key][0],
            "value": latest[m.key][1],
        }
        for m in metrics
        if m.key in latest
    ]


async def live_holders(startup: Organisation) -> dict[int, ShareGrant]:
    """{grantee id: its newest live grant}: verified organisations holding a live grant."""
    grants = (
        await ShareGrant.filter(
            startup_id=startup.id,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            grantee__verification=Verification.VERIFIED,
        )
        .select_related("grantee")
        .order_by("id")
    )
    return {grant.grantee_id: grant for grant in grants}  # type: ignore[attr-defined]


async def _people_of(organisation_ids: list[int]) -> list[User]:
    rows = await Membership.filter(
        organisation_id__in=organisation_ids or [0],
        status=MembershipStatus.ACTIVE,
        user__is_active=True,
        user__email_verified_at__isnull=False,
    ).select_related("user")
    people: dict[int, User] = {}
    for membership in rows:
        people.setdefault(membership.user.id, membership.user)
    return list(people.values())


async def send_update(
    actor: User, access: StartupAccess, values: dict[str, Any], keys: list[str]
) -> InvestorUpdate:
    """Send an update to every live holder. Raises NotPermitted (403) unless the actor is a
    founder, Invalid (422, naming each field) for a bad form, Conflict (409) when no
    organisation holds a live grant."""
    if not can_send(access):
        raise NotPermitted(_("Only the startup's founders may send investor updates."))
    errors: dict[str, str] = {}
    title = str(values.get("title") or "").strip()
    narrative = str(values.get("narrative") or "").strip()
    if not title:
        errors["title"] = _("Give the update a title.")
    elif len(title) > TITLE_MAX or has_control(title, multiline=False):
        errors["title"] = _("At most %(count)s characters, on one line.", count=TITLE_MAX)
    if not narrative:
        errors["narrative"] = _("Tell your investors what happened.")
    elif len(narrative) > NARRATIVE_MAX or has_control(narrative):
        errors["narrative"] = _("At most %(count)s characters.", count=NARRATIVE_MAX)
    snapshot = {m["key"]: m for m in await metric_snapshot(access.startup)}
    chosen = [key for key in dict.fromkeys(keys) if key]
    if not set(chosen) <= set(snapshot):
        errors["metrics"] = _("Choose among the metrics your reports hold.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    holders = await live_holders(access.startup)
    if not holders:
        raise Conflict(
            _("No organisation holds an active share grant: share your data first."),
        )
    async with atomic():
        update = await InvestorUpdate.create(
            startup_id=access.startup.id,
            author_id=actor.id,
            title=title,
            metrics=[snapshot[key] for key in chosen],
            narrative=narrative,
            sent_at=timezone.now(),
        )
        await InvestorUpdateRecipient.bulk_create(
            [
                InvestorUpdateRecipient(update=update, grantee_id=grantee_id, grant_id=grant.id)
                for grantee_id, grant in holders.items()
            ]
        )
        for person in await _people_of(list(holders)):
            await mail.send_mail(
                person.email,
                "incubator_update_sent",
                {"update": update, "startup": access.startup, "person": person},
                person.locale,
                timezone=person.timezone,
            )
        await audit.record(
            "incubator.investor_update_sent",
            actor=actor,
            target=access.startup,
            update=update.id,
            recipients=len(holders),
        )
    return update


@dataclass
class SentUpdate:
    update: InvestorUpdate
    recipients: int
    readers: int


async def updates_of(access: StartupAccess) -> list[SentUpdate]:
    """The startup's updates with how many organisations got them and how many people read
    them (three queries, whatever the number of updates)."""
    updates = await InvestorUpdate.filter(startup_id=access.startup.id).order_by("-sent_at", "-id")
    ids = [u.id for u in updates] or [0]
    recipients: dict[int, int] = {}
    for update_id in await InvestorUpdateRecipient.filter(update_id__in=ids).values_list(
        "update_id", flat=True
    ):
        recipients[update_id] = recipients.get(update_id, 0) + 1
    readers: dict[int, int] = {}
    for update_id in await InvestorUpdateRead.filter(update_id__in=ids).values_list(
        "update_id", flat=True
    ):
        readers[update_id] = readers.get(update_id, 0) + 1
    return [SentUpdate(u, recipients.get(u.id, 0), readers.get(u.id, 0)) for u in updates]


@dataclass
class UpdateView:
    update: InvestorUpdate
    startup: Organisation
    founder: bool  # sees the receipts
    recipients: list[InvestorUpdateRecipient]
    reads: list[InvestorUpdateRead]


async def read_update(
    user: User, startup_id: int, update_id: int, channel: str = "web"
) -> UpdateView:
    """The update for a founder of the startup (with receipts) or a person of a current
    holder it was sent to (the read is logged); 404 for anyone else."""
    if not has_verified_identity(user):
        raise NotPermitted(_("Verify your e-mail address first: this needs a verified account."))
    startup = await get_startup(startup_id)
    update = (
        await InvestorUpdate.get_or_none(id=update_id, startup_id=startup.id).select_related(
            "author"
        )
        if update_id < 2**31
        else None
    )
    if update is None:
        raise NotFound(_("There is no such update."))
    access = await startup_access(user, startup)
    if access.member:
        recipients = (
            await InvestorUpdateRecipient.filter(update_id=update.id)
            .select_related("grantee")
            .order_by("grantee__name")
        )
        reads = (
            await InvestorUpdateRead.filter(update_id=update.id)
            .select_related("user", "grantee")
            .order_by("created_at", "id")
        )
        return UpdateView(update, startup, True, list(recipients), list(reads))
    # A holder: a recipient organisation of the reader's that holds a live grant now.
    sent_to = set(
        await InvestorUpdateRecipient.filter(update_id=update.id).values_list(
            "grantee_id", flat=True
        )
    )
    live = [g for g in access.grants if g.grantee_id in sent_to]  # type: ignore[attr-defined]
    if not live:
        raise NotFound(_("There is no such update."))
    grant = live[-1]
    async with atomic():
        await ShareAccess.create(grant_id=grant.id, user_id=user.id, channel=READ_CHANNEL)
        await InvestorUpdateRead.get_or_create(
            update_id=update.id,
            user_id=user.id,
            defaults={"grantee_id": grant.grantee_id},  # type: ignore[attr-defined]
        )
    return UpdateView(update, startup, False, [], [])


async def inbox(user: User) -> list[InvestorUpdate]:
    """Updates sent to the user's organisations that still hold a live grant of the
    update's startup: what the user may read now."""
    if not has_verified_identity(user):
        return []
    org_ids = list(
        await Membership.filter(user_id=user.id, status=MembershipStatus.ACTIVE).values_list(
            "organisation_id", flat=True
        )
    )
    if not org_ids:
        return []
    live = await ShareGrant.filter(
        grantee_id__in=org_ids,
        grantee__verification=Verification.VERIFIED,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).values_list("startup_id", "grantee_id")
    if not live:
        return []
    pairs = set(live)
    rows = (
        await InvestorUpdateRecipient.filter(grantee_id__in=org_ids)
        .prefetch_related("update__startup")
        .order_by("-update__sent_at", "-id")
    )
    seen: set[int] = set()
    found = []
    for row in rows:
        update = row.update
        if (update.startup_id, row.grantee_id) in pairs and update.id not in seen:  # type: ignore[attr-defined]
            seen.add(update.id)
            found.append(update)
    return found
