"""The audit log of security-relevant actions (append-only)."""

from __future__ import annotations

from typing import Any

from tortoise.models import Model

from ecosystem.models import AuditEvent, User


async def record(
    action: str,
    actor: User | None = None,
    target: Model | None = None,
    ip: str = "",
    **detail: Any,
) -> AuditEvent:
    return await AuditEvent.create(
        action=action,
        actor_id=actor.id if actor else None,
        target_type=target.__class__.__name__.lower() if target else "",
        target_id=str(target.pk) if target else "",
        ip=ip[:45],
        detail=detail,
    )


async def list_events(action: str = "", limit: int = 50, before_id: int | None = None):
    """Newest first, keyset-paginated; the actor is joined so a page is one query."""
    query = AuditEvent.all().select_related("actor").order_by("-id")
    if action:
        query = query.filter(action=action)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.limit(limit)


async def known_actions() -> list[str]:
    return sorted(await AuditEvent.all().distinct().values_list("action", flat=True))
