"""Server-side sessions: a row per signed-in browser, ended on the server.

The signed cookie (Starlette's SessionMiddleware) carries a random key and nothing secret
besides; the database keeps the key's SHA-256, the user, when the session started and was
last seen, and when it was revoked. Any web process can answer for any session (one small
query per signed-in request, joined with the user), so several processes need no shared
memory. Signing out revokes the row: a copy of the cookie replayed later is anonymous.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise import timezone
from tortoise.expressions import F

from ecosystem import rawsql
from ecosystem.db import atomic
from ecosystem.errors import NotFound
from ecosystem.i18n import _
from ecosystem.models import User, UserSession
from ecosystem.security import hash_token, new_secret_token
from ecosystem.services import audit, tokens

# A session not seen for this long is over, whatever the cookie says (the cookie's own
# max-age is the same 14 days).
IDLE_LIMIT = timedelta(days=14)
# Writing "last seen" on every request would turn every page view into a write.
SEEN_RECORD_INTERVAL = timedelta(minutes=5)
# Ended sessions stay listed this long (for the audit of what signed in when), then go.
KEEP_ENDED = timedelta(days=30)


async def start(user: User, ip: str = "", user_agent: str = "") -> str:
    """A new session for `user`; returns the key to put in the signed cookie."""
    key = new_secret_token()
    await UserSession.create(
        user_id=user.id,
        key_hash=hash_token(key),
        last_seen_at=timezone.now(),
        ip=ip[:45],
        user_agent=user_agent[:200],
    )
    return key


async def user_for_key(key: str) -> tuple[User | None, bool]:
    """The active user of an unrevoked, recently seen session, else None (one query), and
    whether "last seen" was just moved on (the caller then re-issues the cookie, so its own
    14-day life slides along with the session's)."""
    now = timezone.now()
    found = await rawsql.select(
        UserSession,
        "WHERE m.key_hash = ? AND m.revoked_at IS NULL AND r.is_active = ?",
        (hash_token(key), True),
        related="user",
        small=True,
    )
    if not found or now - (session := found[0]).last_seen_at > IDLE_LIMIT:
        return None, False
    if now - session.last_seen_at > SEEN_RECORD_INTERVAL:
        await UserSession.filter(id=session.id).update(last_seen_at=now)
        return session.user, True
    return session.user, False


async def end(key: str) -> None:
    """Sign-out: the session with this key is over (nothing happens for an unknown key)."""
    await UserSession.filter(key_hash=hash_token(key), revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


async def end_all(user: User) -> int:
    """End every session of the user; how many were open. Run inside the caller's
    transaction with the audit entry and the tokens' revocation."""
    ended = await UserSession.filter(user_id=user.id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    await User.filter(id=user.id).update(session_version=F("session_version") + 1)
    return ended


async def list_active(user: User) -> list[UserSession]:
    cutoff = timezone.now() - IDLE_LIMIT
    return await UserSession.filter(
        user_id=user.id, revoked_at__isnull=True, last_seen_at__gt=cutoff
    ).order_by("-last_seen_at")


async def sign_out_everywhere(user: User, ip: str = "") -> tuple[int, int]:
    """Every session and every personal API token of the user ends (sessions, tokens)."""
    async with atomic():
        ended = await end_all(user)
        revoked = await tokens.revoke_all(user)
        await audit.record(
            "sessions.revoked", actor=user, target=user, ip=ip, sessions=ended, tokens=revoked
        )
    return ended, revoked


async def purge_ended_sessions(ctx: dict | None = None) -> int:
    """Cron job: delete sessions ended (revoked or idle) more than 30 days ago."""
    now = timezone.now()
    revoked = await UserSession.filter(revoked_at__lt=now - KEEP_ENDED).delete()
    idle = await UserSession.filter(last_seen_at__lt=now - IDLE_LIMIT - KEEP_ENDED).delete()
    return revoked + idle


async def revoke(user: User, session_id: int, ip: str = "") -> None:
    """End one of the user's own sessions (another person's is not found: 404)."""
    async with atomic():
        ended = await UserSession.filter(
            id=session_id, user_id=user.id, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if not ended:
            raise NotFound(_("This session does not exist or has already ended."))
        await audit.record("session.revoked", actor=user, target=user, ip=ip, session=session_id)


async def revoke_others(user: User, current_key: str, ip: str = "") -> int:
    """End every session of the user but the one with `current_key`; how many ended."""
    async with atomic():
        ended = (
            await UserSession.filter(user_id=user.id, revoked_at__isnull=True)
            .exclude(key_hash=hash_token(current_key))
            .update(revoked_at=timezone.now())
        )
        await audit.record(
            "sessions.revoked_others", actor=user, target=user, ip=ip, sessions=ended
        )
    return ended


def is_current(session: UserSession, current_key: str) -> bool:
    return bool(current_key) and session.key_hash == hash_token(current_key)
