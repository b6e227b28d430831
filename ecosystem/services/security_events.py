"""A person's recent security events (from the audit log), said in their own words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from ecosystem.labels import N_, label_in
from ecosystem.models import AuditEvent, User

# What the owner reads for each action of the audit log that concerns their account.
EVENT_LABELS: dict[str, str] = {
    "login.succeeded": N_("Signed in with your password"),
    "login.failed": N_("A sign-in failed (wrong password)"),
    "login.second_factor": N_("Second step of signing in passed"),
    "login.second_factor_failed": N_("A wrong second-factor code was entered"),
    "login.passkey": N_("Signed in with a passkey"),
    "login.passkey_failed": N_("A passkey could not be checked"),
    "login.ceiling_reached": N_("Signing in was paused after many failed attempts"),
    "password.reset_requested": N_("A password reset link was requested"),
    "password.reset": N_("Your password was changed with a reset link"),
    "second_factor.totp_added": N_("Authenticator app set up"),
    "second_factor.totp_removed": N_("Authenticator app removed"),
    "second_factor.recovery_codes": N_("New recovery codes made"),
    "second_factor.passkey_added": N_("Passkey added"),
    "second_factor.passkey_removed": N_("Passkey removed"),
    "session.revoked": N_("A device was signed out"),
    "sessions.revoked_others": N_("All other devices were signed out"),
    "sessions.revoked": N_("Signed out everywhere"),
}
LIMIT = 20


@dataclass(frozen=True)
class SecurityEvent:
    when: datetime
    what: str
    ip: str


async def recent(user: User, limit: int = LIMIT) -> list[SecurityEvent]:
    """The newest security events of the account (one query), translated."""
    rows = (
        await AuditEvent.filter(
            Q(actor_id=user.id) | Q(target_type="user", target_id=str(user.id)),
            action__in=list(EVENT_LABELS),
        )
        .order_by("-id")
        .limit(limit)
    )
    return [
        SecurityEvent(row.created_at, label_in(EVENT_LABELS, row.action), row.ip) for row in rows
    ]
