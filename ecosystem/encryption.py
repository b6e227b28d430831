"""Secrets the platform must read back (an authenticator app's seed, an OpenID client secret)
are stored encrypted: Fernet (AES-128-CBC + HMAC-SHA256), with one key per purpose derived by
HKDF from SECRET_KEY. A stolen database copy alone does not reveal them; a changed SECRET_KEY
makes them unreadable (`decrypt` gives None), which callers must survive."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ecosystem.settings import get_settings


@lru_cache(maxsize=8)
def _fernet_for(secret_key: str, purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str, purpose: str) -> str:
    """The value as a token safe to store (ASCII, about 4/3 of its length plus 100)."""
    return _fernet_for(get_settings().secret_key, purpose).encrypt(value.encode()).decode()


def decrypt(token: str, purpose: str) -> str | None:
    """The value, or None when the token cannot be read with this key and purpose (not a
    token, tampered with, or SECRET_KEY changed since)."""
    try:
        return _fernet_for(get_settings().secret_key, purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
