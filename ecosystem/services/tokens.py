"""Personal API tokens: shown once, stored hashed, revocable."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tortoise import timezone

from ecosystem import rawsql
from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotAuthenticated, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import ApiToken, User
from ecosystem.security import hash_token, new_secret_token
from ecosystem.services import audit

TOKEN_PREFIX = "eco_"
MAX_ACTIVE_TOKENS = 20
MAX_LOGIN_TOKENS = 10  # tokens from POST /api/v1/auth/token; older ones are revoked
# Recording every use would write on every API call; once per interval is enough to audit.
USE_RECORD_INTERVAL = timedelta(minutes=10)


SCOPES = ("full", "read")
READ_METHODS = frozenset({"GET", "HEAD"})
MAX_LIFETIME = timedelta(days=5 * 366)


async def create_token(
    user: User,
    name: str,
    ip: str = "",
    source: str = "manual",
    *,
    scope: str = "full",
    expires_on: date | None = None,
) -> tuple[ApiToken, str]:
    """The stored token and its plaintext, which is never shown again.

    `scope="read"` makes a read-only token (GET and HEAD only); `expires_on` is the last day
    it works (it stops at the end of that day, UTC).
    """
    name = name.strip()
    if not name or len(name) > 100:
        message = _("Give the token a name (at most 100 characters).")
        raise Invalid(message, fields={"name": message})
    if scope not in SCOPES:
        raise Invalid(_("Unknown token scope."), fields={"scope": _("Unknown token scope.")})
    expires_at = None
    if expires_on is not None:
        today = timezone.now().astimezone(UTC).date()
        if not today <= expires_on <= today + MAX_LIFETIME:
            message = _("Choose an expiry date from today to five years ahead.")
            raise Invalid(message, fields={"expires_on": message})
        expires_at = datetime.combine(expires_on + timedelta(days=1), time(), tzinfo=UTC)
    async with atomic():
        active = await ApiToken.filter(
            user_id=user.id, revoked_at__isnull=True, source=source
        ).count()
        if source == "login" and active >= MAX_LOGIN_TOKENS:
            await _revoke_oldest_login_tokens(user, keep=MAX_LOGIN_TOKENS - 1)
        elif active >= MAX_ACTIVE_TOKENS:
            raise Invalid(_("You have too many active tokens. Revoke one first."))
        plaintext = new_secret_token(TOKEN_PREFIX)
        token = await ApiToken.create(
            user_id=user.id,
            name=name,
            prefix=plaintext[:10],
            token_hash=hash_token(plaintext),
            source=source,
            scope=scope,
            expires_at=expires_at,
        )
        await audit.record(
            "api_token.created", actor=user, target=token, ip=ip, name=name, scope=scope
        )
    return token, plaintext


async def _revoke_oldest_login_tokens(user: User, keep: int) -> None:
    active_ids = (
        await ApiToken.filter(user_id=user.id, revoked_at__isnull=True, source="login")
        .order_by("-id")
        .values_list("id", flat=True)
    )
    await ApiToken.filter(id__in=list(active_ids)[keep:]).update(revoked_at=timezone.now())


async def list_tokens(user: User) -> list[ApiToken]:
    return await ApiToken.filter(user_id=user.id).order_by("-created_at", "-id")


async def count_active(user: User) -> int:
    return await ApiToken.filter(user_id=user.id, revoked_at__isnull=True).count()


async def revoke_token(user: User, token_id: int, ip: str = "") -> ApiToken:
    token = await ApiToken.get_or_none(id=token_id, user_id=user.id)
    if token is None:
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        async with atomic():
            await token.save(update_fields=["revoked_at"])
            await audit.record("api_token.revoked", actor=user, target=token, ip=ip)
    return token


async def revoke_all(user: User, source: str | None = None) -> int:
    """Revoke every active token of the user (of one source if given); how many were."""
    active = ApiToken.filter(user_id=user.id, revoked_at__isnull=True)
    if source is not None:
        active = active.filter(source=source)
    return await active.update(revoked_at=timezone.now())


async def _active_token(token_hash: str) -> ApiToken | None:
    """The unrevoked token with its user (plain SQL: every API request reads it)."""
    where = "WHERE m.token_hash = ? AND m.revoked_at IS NULL"
    found = await rawsql.select(ApiToken, where, (token_hash,), related="user", small=True)
    return found[0] if found else None


async def token_for_bearer(plaintext: str, ip: str = "") -> ApiToken:
    """The unrevoked, unexpired token of an active user, with `.user` (401 otherwise)."""
    token = await _active_token(hash_token(plaintext))
    now = timezone.now()
    if token is None or not token.user.is_active:
        raise NotAuthenticated(_("The API token is missing, revoked or invalid."))
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthenticated(_("The API token has expired."))
    if token.last_used_at is None or now - token.last_used_at > USE_RECORD_INTERVAL:
        token.last_used_at = now
        await token.save(update_fields=["last_used_at"])
        await audit.record("api_token.used", actor=token.user, target=token, ip=ip)
    return token


async def user_for_bearer(plaintext: str, ip: str = "") -> User:
    return (await token_for_bearer(plaintext, ip)).user


def ensure_allows(token: ApiToken, method: str) -> None:
    """A read-only token may only read: 403 for any other method."""
    if token.read_only and method.upper() not in READ_METHODS:
        raise NotPermitted(_("This API token is read-only."))


async def issue_login_token(
    user: User, ip: str = "", scope: str = "full", expires_on: date | None = None
) -> tuple[ApiToken, str]:
    """`POST /api/v1/auth/token`: a new named token per sign-in from a client."""
    return await create_token(
        user,
        f"API sign-in {timezone.now():%Y-%m-%d %H:%M} UTC",
        ip=ip,
        source="login",
        scope=scope,
        expires_on=expires_on,
    )
