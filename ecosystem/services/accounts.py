"""Accounts: registration, email verification, sign-in, password reset, preferences."""

from __future__ import annotations

import asyncio

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem import i18n
from ecosystem.db import atomic
from ecosystem.errors import (
    Conflict,
    Invalid,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    RateLimited,
)
from ecosystem.i18n import _
from ecosystem.inputs import known_zone, zone_or_invalid
from ecosystem.mail import send_mail
from ecosystem.models import MediaFile, User
from ecosystem.ratelimit import FailureLimiter
from ecosystem.schemas import RegistrationIn
from ecosystem.security import SignedLinks, hash_password, password_needs_rehash, verify_password
from ecosystem.services import audit, sessions, throttle, tokens
from ecosystem.settings import get_settings

VERIFY_LINK_SECONDS = 3 * 24 * 3600
RESET_LINK_SECONDS = 2 * 3600
# Link emails on request, per recipient: anyone can type someone else's address into
# "forgot password" (or register with it and ask again), so the mailbox needs protection.
LINK_MAILS_PER_HOUR = 3
MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS = frozenset(
    {
        "password123",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "matkhau123",
        "abcd123456",
        "password1234",
        "iloveyou123",
        "0123456789",
        "1111111111",
        "admin12345",
    }
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def verified_user_by_email(email: str) -> User | None:
    """The active account that has verified this very address, or None.

    Every role, invitation or grant addressed to an e-mail goes through this lookup: an account
    that merely registered the address (never verified) must not receive what was meant for its
    owner. Callers keep an invitation waiting when this returns None.
    """
    return await User.get_or_none(
        email=normalise_email(email), is_active=True, email_verified_at__isnull=False
    )


async def verified_account_for_role(email: str, field: str = "email") -> User:
    """`verified_user_by_email` for a form that names someone for a role (lab staff, judge,
    organiser): the account, or Invalid on `field` telling what the person must do first."""
    user = await verified_user_by_email(email)
    if user is None:
        message = _(
            "No account has verified this e-mail address. Ask the person to sign up (or verify "
            "their address) first, then add them again."
        )
        raise Invalid(message, fields={field: message})
    return user


def password_problem(password: str, email: str = "") -> str | None:
    """A translated reason the password is too weak, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if len(set(password)) < 4 or password.lower() in COMMON_PASSWORDS:
        return _("This password is too easy to guess.")
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        return _("The password must not contain your email address.")
    return None


def _links() -> SignedLinks:
    return SignedLinks(get_settings().secret_key)


# argon2 takes tens of milliseconds of CPU by design: run it in a thread (the library
# releases the GIL) so one sign-in does not stall every other request of the process.


async def _hash(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def _verify(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def _email_taken() -> Invalid:
    message = _("An account with this email already exists. Sign in or reset the password.")
    return Invalid(message, fields={"email": message})


async def register(data: RegistrationIn, ip: str = "") -> User:
    email = normalise_email(data.email)
    if problem := password_problem(data.password, email):
        raise Invalid(problem, fields={"password": problem})
    locale = i18n.normalise_locale(data.locale) or i18n.DEFAULT_LOCALE
    if await User.filter(email=email).exists():
        raise _email_taken()
    password_hash = await _hash(data.password)  # outside the transaction: it is slow
    try:
        async with atomic():
            user = await User.create(
                email=email,
                full_name=data.full_name,
                password_hash=password_hash,
                locale=locale,
                timezone=_browser_zone(data.timezone),
            )
            await audit.record("user.registered", actor=user, target=user, ip=ip)
            await send_verification_email(user)
    except IntegrityError:
        raise _email_taken() from None  # registered at the same moment by another request
    return user


def _browser_zone(name: str) -> str:
    """The zone the register form's script read from the browser, if this machine knows it;
    anything else (no script, an odd or hostile value) is ignored: the default zone."""
    name = (name or "").strip()
    return name if known_zone(name) is not None else get_settings().default_timezone


async def send_verification_email(user: User) -> None:
    token = _links().dumps("verify-email", {"uid": user.id, "email": user.email})
    await send_mail(
        user.email,
        "verify_email",
        {"user_name": user.full_name, "path": f"/verify?token={token}"},
        locale=user.locale,
        timezone=user.timezone,
    )


async def verify_email(token: str) -> User:
    payload = _links().loads("verify-email", token, VERIFY_LINK_SECONDS)
    if payload is None:
        raise Invalid(_("This verification link is invalid or has expired. Ask for a new one."))
    user = await User.get_or_none(id=payload.get("uid"), email=payload.get("email"))
    if user is None:
        raise NotFound(_("This verification link no longer matches an account."))
    if user.email_verified_at is not None:
        raise Conflict(_("This link has already been used: your email address is verified."))
    user.email_verified_at = timezone.now()
    await user.save(update_fields=["email_verified_at"])
    await audit.record("user.email_verified", actor=user, target=user)
    return user


async def resend_verification(user: User, limiter: FailureLimiter) -> None:
    if user.email_verified_at is not None:
        raise Conflict(_("Your email address is already verified."))
    try:
        await limiter.reserve("mail-verify", user.email, LINK_MAILS_PER_HOUR, 3600)
    except RateLimited as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        message = _("We have sent this link several times. Try again in %(n)d minutes.", n=minutes)
        raise RateLimited(message, retry_after=exc.retry_after) from None
    async with atomic():
        await send_verification_email(user)


async def authenticate(email: str, password: str, limiter: FailureLimiter, ip: str = "") -> User:
    """Check credentials under the sign-in throttle (see `ecosystem.services.throttle`):
    wrong guesses lock out their (address, account) pair and their address, never the owner
    elsewhere, until the account-wide ceiling, whose reaching is e-mailed to the owner."""
    email = normalise_email(email)
    # Counted before the password is checked, so parallel guesses cannot outrun the limit.
    await throttle.before_attempt(limiter, ip, email)
    user = await User.get_or_none(email=email)
    # An unknown email is checked against a dummy hash: it takes as long as a wrong password.
    password_ok = await _verify(user.password_hash if user else None, password)
    if password_ok:
        await throttle.after_success(limiter, ip, email)
    if user is None or not password_ok or not user.is_active:
        ceiling_reached = False
        if not password_ok:
            ceiling_reached = await throttle.after_failure(limiter, ip, email)
        async with atomic():
            await audit.record("login.failed", actor=user, ip=ip, email=email)
            if ceiling_reached and user is not None and user.is_active:
                await audit.record("login.ceiling_reached", actor=None, target=user, ip=ip)
                await send_mail(
                    user.email,
                    "login_ceiling",
                    {"user_name": user.full_name, "ip": ip, "path": "/password/forgot"},
                    locale=user.locale,
                    timezone=user.timezone,
                )
        if user is not None and password_ok:  # only the password's owner learns this
            raise NotPermitted(_("This account has been deactivated."))
        raise NotAuthenticated(_("Wrong email or password."), code="invalid_credentials")
    if password_needs_rehash(user.password_hash):
        user.password_hash = await _hash(password)
        await user.save(update_fields=["password_hash"])
    await audit.record("login.succeeded", actor=user, target=user, ip=ip)
    return user


def _password_fingerprint(user: User) -> str:
    # Part of the current hash: once the password changes, every older reset link is void.
    return user.password_hash[-16:]


async def request_password_reset(email: str, limiter: FailureLimiter, ip: str = "") -> None:
    """Always looks the same to the caller, whether or not the account exists."""
    user = await User.get_or_none(email=normalise_email(email), is_active=True)
    if user is None:
        return
    try:
        await limiter.reserve("mail-reset", user.email, LINK_MAILS_PER_HOUR, 3600)
    except RateLimited:
        return  # the links already sent still work; saying so would reveal the account
    token = _links().dumps("reset-password", {"uid": user.id, "fp": _password_fingerprint(user)})
    async with atomic():
        await audit.record("password.reset_requested", actor=user, target=user, ip=ip)
        await send_mail(
            user.email,
            "reset_password",
            {"user_name": user.full_name, "path": f"/password/reset?token={token}"},
            locale=user.locale,
            timezone=user.timezone,
        )


async def user_for_reset_token(token: str) -> User:
    payload = _links().loads("reset-password", token, RESET_LINK_SECONDS)
    user = await User.get_or_none(id=payload.get("uid"), is_active=True) if payload else None
    if user is None or payload is None or payload.get("fp") != _password_fingerprint(user):
        raise Invalid(_("This reset link is invalid, expired or already used. Ask for a new one."))
    return user


async def reset_password(
    token: str, new_password: str, ip: str = "", limiter: FailureLimiter | None = None
) -> User:
    """Set a new password from a mailed link. Every session and every personal API token of
    the account ends (whoever knew the old password may have signed in or made tokens), and
    the account-wide sign-in ceiling is lifted: the owner has proven the mailbox."""
    user = await user_for_reset_token(token)
    if problem := password_problem(new_password, user.email):
        raise Invalid(problem, fields={"password": problem})
    new_hash = await _hash(new_password)
    async with atomic():
        # Conditional on the hash the link was made for: of two requests with one link,
        # only the first changes the password (a link is single-use even under a race).
        changed = await User.filter(
            id=user.id, password_hash=user.password_hash, is_active=True
        ).update(
            password_hash=new_hash,
            email_verified_at=user.email_verified_at or timezone.now(),  # mailbox proven
        )
        if not changed:
            raise Invalid(
                _("This reset link is invalid, expired or already used. Ask for a new one.")
            )
        ended = await sessions.end_all(user)
        revoked = await tokens.revoke_all(user)
        await audit.record(
            "password.reset", actor=user, target=user, ip=ip, sessions=ended, tokens=revoked
        )
    if limiter is not None:
        await throttle.forget_account(limiter, user.email)
    await user.refresh_from_db()
    return user


async def update_profile(
    user: User, full_name: str, locale: str, timezone: str | None = None
) -> User:
    """Name, language and (when given) the time zone times are shown in (an IANA name)."""
    full_name = full_name.strip()
    if not full_name or len(full_name) > 120:
        message = _("Enter your name (at most 120 characters).")
        raise Invalid(message, fields={"full_name": message})
    if timezone is not None:
        timezone = timezone.strip()
        zone_or_invalid(timezone)
    user.full_name = full_name
    user.locale = i18n.normalise_locale(locale) or user.locale
    user.timezone = timezone or user.timezone
    await user.save(update_fields=["full_name", "locale", "timezone"])
    return user


async def set_avatar(user: User, media_id: object) -> User:
    """Use a stored image (see `ecosystem.media`) as the user's profile picture."""
    if not await MediaFile.filter(id=media_id).exists():
        raise NotFound(_("No such image."))
    user.avatar_id = media_id  # type: ignore[attr-defined]
    await user.save(update_fields=["avatar_id"])
    return user


async def set_locale(user: User, locale: str) -> None:
    if (chosen := i18n.normalise_locale(locale)) and chosen != user.locale:
        user.locale = chosen
        await user.save(update_fields=["locale"])


async def deactivate_user(actor: User, user: User, ip: str = "") -> User:
    if user.id == actor.id:
        raise Invalid(_("You cannot deactivate your own account."))
    async with atomic():
        user.is_active = False
        await user.save(update_fields=["is_active"])
        # Ended, not just refused: reactivating the account must not revive them.
        await sessions.end_all(user)
        await tokens.revoke_all(user)
        await audit.record("user.deactivated", actor=actor, target=user, ip=ip)
    return user


async def reactivate_user(actor: User, user: User, ip: str = "") -> User:
    async with atomic():
        user.is_active = True
        await user.save(update_fields=["is_active"])
        await audit.record("user.reactivated", actor=actor, target=user, ip=ip)
    return user


async def create_user(
    email: str, password: str, full_name: str = "", admin: bool = False, verified: bool = True
) -> User:
    """For the CLI and seeding: no email sent, password rules still apply."""
    email = normalise_email(email)
    if problem := password_problem(password, email):
        raise Invalid(problem, fields={"password": problem})
    if await User.filter(email=email).exists():
        raise Conflict(_("An account with this email already exists."))
    return await User.create(
        email=email,
        full_name=full_name or email.split("@")[0],
        password_hash=await _hash(password),
        is_platform_admin=admin,
        email_verified_at=timezone.now() if verified else None,
        timezone=get_settings().default_timezone,
    )
