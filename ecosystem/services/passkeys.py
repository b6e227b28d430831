"""Passkeys (WebAuthn, with the `webauthn` package): register, sign in, list, remove.

A passkey is both a second factor (after a password) and a way to sign in on its own (the
authenticator holds the key and checks the person itself). The relying party is the site's
public address (`BASE_URL`): its host name is the RP id, its origin the expected origin –
never a request's Host header. Challenges are random, single-use and expire after five
minutes (the caller keeps them in the signed session; they are not secrets).

Sign count: an authenticator that counts its uses must show a greater count each time; a
count that does not grow means a cloned key and is refused (the library checks it, the
stored count moves on with a conditional UPDATE so two racing assertions cannot both pass).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import webauthn
from tortoise import timezone
from webauthn.helpers import bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.models import Passkey, User
from ecosystem.services import audit
from ecosystem.services.second_factor import ISSUER
from ecosystem.settings import get_settings

CHALLENGE_SECONDS = 5 * 60
TIMEOUT_MS = 120_000


def relying_party() -> tuple[str, str]:
    """(RP id, expected origin) from the site's public address."""
    parts = urlsplit(get_settings().base_url)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


async def registration_options(user: User) -> tuple[str, bytes]:
    """Options for `navigator.credentials.create` (JSON) and their challenge."""
    rp_id, _origin = relying_party()
    existing = await Passkey.filter(user_id=user.id).values_list("credential_id", flat=True)
    options = webauthn.generate_registration_options(
        rp_id=rp_id,
        rp_name=ISSUER,
        user_name=user.email,
        user_id=str(user.id).encode(),
        user_display_name=user.full_name or user.email,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c)) for c in existing
        ],
    )
    return webauthn.options_to_json(options), options.challenge


async def register(
    user: User, credential: str, challenge: bytes, name: str, ip: str = ""
) -> Passkey:
    """Check the authenticator's answer to `challenge` and keep its public key."""
    name = name.strip()[:100] or _("Passkey")
    rp_id, origin = relying_party()
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise _refused() from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    transports = _transports(credential)
    async with atomic():
        if await Passkey.filter(credential_id=credential_id).exists():
            raise Invalid(_("This passkey is already registered."))
        passkey = await Passkey.create(
            user_id=user.id,
            name=name,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=transports,
        )
        await audit.record("second_factor.passkey_added", actor=user, target=user, ip=ip, name=name)
    return passkey


def _transports(credential: str) -> list[str]:
    try:
        found = json.loads(credential).get("response", {}).get("transports", [])
    except (ValueError, AttributeError):
        return []
    return [t for t in found if isinstance(t, str)][:8] if isinstance(found, list) else []


async def authentication_options(user: User | None = None) -> tuple[str, bytes]:
    """Options for `navigator.credentials.get`: the user's passkeys (second factor), or any
    passkey the authenticator holds for this site (signing in with a passkey alone)."""
    rp_id, _origin = relying_party()
    allowed: list[PublicKeyCredentialDescriptor] = []
    if user is not None:
        ids = await Passkey.filter(user_id=user.id).values_list("credential_id", flat=True)
        allowed = [PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c)) for c in ids]
    options = webauthn.generate_authentication_options(
        rp_id=rp_id,
        timeout=TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return webauthn.options_to_json(options), options.challenge


async def authenticate(
    credential: str, challenge: bytes, user: User | None = None, ip: str = ""
) -> User:
    """The active account whose passkey signed `challenge` (and, when `user` is given, it
    must be theirs). A wrong or cloned key: Invalid (422)."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise _refused() from exc
    credential_id = bytes_to_base64url(parsed.raw_id)
    passkey = await Passkey.get_or_none(credential_id=credential_id).select_related("user")
    if passkey is None or not passkey.user.is_active or (user and passkey.user_id != user.id):
        raise _refused()
    rp_id, origin = relying_party()
    try:
        verified = webauthn.verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        await audit.record("login.passkey_failed", actor=passkey.user, target=passkey.user, ip=ip)
        raise _refused() from exc
    async with atomic():
        moved = await Passkey.filter(id=passkey.id, sign_count=passkey.sign_count).update(
            sign_count=verified.new_sign_count, last_used_at=timezone.now()
        )
        if not moved:  # another assertion with this key got in first
            raise _refused()
        await audit.record("login.passkey", actor=passkey.user, target=passkey.user, ip=ip)
    return passkey.user


async def remove(user: User, passkey_id: int, ip: str = "") -> None:
    """Remove one of the user's own passkeys (someone else's is not found: 404)."""
    async with atomic():
        passkey = await Passkey.get_or_none(id=passkey_id, user_id=user.id)
        if passkey is None:
            raise NotFound(_("This passkey does not exist."))
        await passkey.delete()
        await audit.record(
            "second_factor.passkey_removed", actor=user, target=user, ip=ip, name=passkey.name
        )


def _refused() -> Invalid:
    return Invalid(_("This passkey could not be checked. Try again or use another way."))
