"""Second factors: an authenticator app (TOTP), single-use recovery codes, and the policy of
who must have one.

- The TOTP secret is stored encrypted (Fernet, with a key derived by HKDF from the app's
  secret setting): a copy of the database alone does not give the codes.
- A code is accepted one time step either side of now (`valid_window=1`, about 30 s of
  clock drift), and never twice: the step of the last accepted code is kept and a code is
  accepted only for a later step, by one conditional UPDATE (two requests racing with one
  code cannot both win).
- Ten recovery codes, shown once, stored as SHA-256, each used at most once (conditional
  UPDATE again). Making new ones voids the old ones.
- Attempts are rate-limited per account (`FailureLimiter`, Redis when configured): a guess
  is reserved before it is checked, a right code forgets the failures.
- Policy: platform admins (unless `ADMINS_NEED_SECOND_FACTOR=0`), and the owners and admins
  of an organisation whose `require_second_factor` is on, must have a second factor.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from io import BytesIO

import pyotp
import qrcode
from qrcode.image.svg import SvgPathImage
from tortoise import timezone

from ecosystem import encryption, permissions
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, RateLimited
from ecosystem.i18n import _
from ecosystem.models import (
    Membership,
    MembershipStatus,
    Organisation,
    Passkey,
    RecoveryCode,
    Role,
    TotpFactor,
    User,
)
from ecosystem.ratelimit import FailureLimiter
from ecosystem.security import hash_token, verify_password
from ecosystem.services import audit
from ecosystem.settings import get_settings

ISSUER = "Binh Duong Innovation Region"
RECOVERY_CODES = 10
# Wrong codes per account before a pause (also across processes, in Redis when configured).
ATTEMPTS = 5
WINDOW_SECONDS = 300
LIMIT_NAMESPACE = "second-factor"


# --- encryption at rest --------------------------------------------------------------------


TOTP_PURPOSE = "ecosystem totp secret"  # the HKDF info of the key: never change it


def _encrypt(secret: str) -> str:
    return encryption.encrypt(secret, TOTP_PURPOSE)


def _decrypt(token: str) -> str | None:
    """The secret, or None when it cannot be read (SECRET_KEY changed since enrolment: the
    app no longer works, recovery codes and passkeys still do)."""
    return encryption.decrypt(token, TOTP_PURPOSE)


# --- who has, who needs -------------------------------------------------------------------


async def has_second_factor(user: User) -> bool:
    """A confirmed authenticator app or a passkey (the hook `identity.has_second_factor`)."""
    if await TotpFactor.filter(user_id=user.id, confirmed_at__isnull=False).exists():
        return True
    return await Passkey.filter(user_id=user.id).exists()


async def has_passkey(user: User) -> bool:
    return await Passkey.filter(user_id=user.id).exists()


async def pending_user(user_id: int) -> User | None:
    """The active account a pending sign-in (password right, factor to come) is for."""
    return await User.get_or_none(id=user_id, is_active=True)


async def password_alone_enough(user: User) -> bool:
    """May a password alone open this account (e.g. for an API token)? Not when it has a
    second factor or must have one."""
    return not (await has_second_factor(user) or await factor_required(user))


async def factor_required(user: User) -> bool:
    """Must this person have a second factor? Platform admins, and owners and admins of an
    organisation that requires it."""
    if user.is_platform_admin and get_settings().admins_need_second_factor:
        return True
    return await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,
        role__in=(Role.OWNER, Role.ADMIN),
        organisation__require_second_factor=True,
    ).exists()


async def summary(user: User) -> dict:
    """What the security page shows: the app (confirmed or not), passkeys, codes left."""
    totp = await TotpFactor.get_or_none(user_id=user.id)
    return {
        "totp": totp if totp and totp.confirmed_at else None,
        "passkeys": await Passkey.filter(user_id=user.id).order_by("created_at", "id"),
        "recovery_left": await RecoveryCode.filter(user_id=user.id, used_at__isnull=True).count(),
    }


async def set_organisation_policy(
    actor: User, organisation: Organisation, required: bool, ip: str = ""
) -> None:
    """Require (or not) a second factor of the organisation's owners and admins; its
    owners and admins with a verified identity decide. Takes effect at their next sign-in."""
    await permissions.ensure(actor, "organisation.security_policy", organisation)
    async with atomic():
        await Organisation.filter(id=organisation.id).update(require_second_factor=required)
        await audit.record(
            "organisation.second_factor_policy",
            actor=actor,
            target=organisation,
            ip=ip,
            required=required,
        )
    organisation.require_second_factor = required


# --- enrolment ---------------------------------------------------------------------------


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(text: str) -> str:
    """An inline SVG QR code (the page's CSP forbids nothing of it: no script, no style)."""
    image = qrcode.make(text, image_factory=SvgPathImage, box_size=8, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


async def start_totp(user: User) -> str:
    """A new, unconfirmed secret for the user's app (replacing an unconfirmed one); the
    plain secret is returned to be shown once (QR code and text). 409 if an app is already
    in use: disable it first."""
    async with atomic():
        existing = await TotpFactor.get_or_none(user_id=user.id)
        if existing and existing.confirmed_at:
            raise Conflict(_("An authenticator app is already set up. Remove it first."))
        secret = pyotp.random_base32()
        if existing:
            existing.secret_encrypted = _encrypt(secret)
            existing.last_used_step = 0
            await existing.save(update_fields=["secret_encrypted", "last_used_step"])
        else:
            await TotpFactor.create(user_id=user.id, secret_encrypted=_encrypt(secret))
    return secret


async def pending_totp_secret(user: User) -> str | None:
    """The secret of an enrolment not yet confirmed (to show its QR code again), if any."""
    factor = await TotpFactor.get_or_none(user_id=user.id, confirmed_at__isnull=True)
    return _decrypt(factor.secret_encrypted) if factor else None


async def confirm_totp(user: User, code: str, limiter: FailureLimiter, ip: str = "") -> list[str]:
    """The first code proves the app holds the secret: the app is in use from now on.
    Returns ten new recovery codes (shown once)."""
    factor = await TotpFactor.get_or_none(user_id=user.id, confirmed_at__isnull=True)
    if factor is None:
        raise NotFound(_("Start setting up an authenticator app first."))
    await _reserve(limiter, user)
    if not await _accept_totp(factor, code):
        raise _wrong_code()
    await _forget(limiter, user)
    async with atomic():
        factor.confirmed_at = timezone.now()
        await factor.save(update_fields=["confirmed_at"])
        codes = await _new_recovery_codes(user)
        await audit.record("second_factor.totp_added", actor=user, target=user, ip=ip)
    return codes


async def regenerate_recovery_codes(user: User, ip: str = "") -> list[str]:
    """Ten new codes; every older one stops working."""
    if not await has_second_factor(user):
        raise Conflict(_("Set up an authenticator app or a passkey first."))
    async with atomic():
        codes = await _new_recovery_codes(user)
        await audit.record("second_factor.recovery_codes", actor=user, target=user, ip=ip)
    return codes


async def _new_recovery_codes(user: User) -> list[str]:
    await RecoveryCode.filter(user_id=user.id).delete()
    codes = [_format_code(secrets.token_hex(5)) for _i in range(RECOVERY_CODES)]
    await RecoveryCode.bulk_create(
        [RecoveryCode(user_id=user.id, code_hash=_code_hash(code)) for code in codes]
    )
    return codes


def _format_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _code_hash(code: str) -> str:
    return hash_token(_normalise(code))


async def disable_totp(
    user: User, code: str, password: str, limiter: FailureLimiter, ip: str = ""
) -> None:
    """Remove the app: needs a current code (or a recovery code) and, when the account has
    a password, the password. Recovery codes go too unless a passkey remains."""
    factor = await TotpFactor.get_or_none(user_id=user.id, confirmed_at__isnull=False)
    if factor is None:
        raise NotFound(_("No authenticator app is set up."))
    await _reserve(limiter, user)
    if user.password_hash and not await asyncio.to_thread(
        verify_password, user.password_hash, password
    ):
        message = _("Wrong password.")
        raise Invalid(message, fields={"password": message})
    if not (await _accept_totp(factor, code) or await _use_recovery_code(user, code)):
        raise _wrong_code()
    await _forget(limiter, user)
    async with atomic():
        await TotpFactor.filter(id=factor.id).delete()
        if not await Passkey.filter(user_id=user.id).exists():
            await RecoveryCode.filter(user_id=user.id).delete()
        await audit.record("second_factor.totp_removed", actor=user, target=user, ip=ip)


# --- checking a code at sign-in ------------------------------------------------------------


async def verify(user: User, code: str, limiter: FailureLimiter, ip: str = "") -> str:
    """Check a code from the app or a recovery code for signing in; returns which it was
    ("totp" or "recovery"). Wrong: Invalid (422); too many wrong ones: RateLimited (429)."""
    await _reserve(limiter, user)
    factor = await TotpFactor.get_or_none(user_id=user.id, confirmed_at__isnull=False)
    used = ""
    if factor is not None and await _accept_totp(factor, code):
        used = "totp"
    elif await _use_recovery_code(user, code):
        used = "recovery"
    if not used:
        await audit.record("login.second_factor_failed", actor=user, target=user, ip=ip)
        raise _wrong_code()
    await _forget(limiter, user)
    await audit.record("login.second_factor", actor=user, target=user, ip=ip, factor=used)
    return used


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is, one step either side of `now`, else None."""
    totp = pyotp.TOTP(secret)
    code = code.replace(" ", "")
    if not (code.isdigit() and len(code) == totp.digits):
        return None
    if not totp.verify(code, for_time=now, valid_window=1):
        return None
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None  # pragma: no cover - verify() said one of them matched


async def _accept_totp(factor: TotpFactor, code: str) -> bool:
    secret = _decrypt(factor.secret_encrypted)
    step = matching_step(secret, code, datetime.now(UTC)) if secret else None
    if step is None:
        return False
    # Only for a later step than the last code accepted: a code (or an older one) seen once
    # is refused, even when two requests race with it.
    return bool(
        await TotpFactor.filter(id=factor.id, last_used_step__lt=step).update(last_used_step=step)
    )


async def _use_recovery_code(user: User, code: str) -> bool:
    if len(_normalise(code)) != 10:
        return False
    return bool(
        await RecoveryCode.filter(
            user_id=user.id, code_hash=_code_hash(code), used_at__isnull=True
        ).update(used_at=timezone.now())
    )


def _wrong_code() -> Invalid:
    message = _("This code is not right, or it has already been used.")
    return Invalid(message, fields={"code": message})


async def _reserve(limiter: FailureLimiter, user: User) -> None:
    try:
        await limiter.reserve(LIMIT_NAMESPACE, str(user.id), ATTEMPTS, WINDOW_SECONDS)
    except RateLimited as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        message = _("Too many wrong codes. Try again in %(minutes)d minutes.", minutes=minutes)
        raise RateLimited(message, retry_after=exc.retry_after) from None


async def _forget(limiter: FailureLimiter, user: User) -> None:
    await limiter.clear(LIMIT_NAMESPACE, str(user.id), ATTEMPTS, WINDOW_SECONDS)
