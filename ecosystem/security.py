"""Password hashing, secret tokens and signed links."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this keeps the time of "unknown email" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_secret_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Tokens are stored as SHA-256: they are long random strings, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SignedLinks:
    """Time-limited signed payloads for email links (verification, password reset)."""

    def __init__(self, secret_key: str):
        self._secret_key = secret_key

    def dumps(self, purpose: str, payload: dict) -> str:
        return URLSafeTimedSerializer(self._secret_key, salt=purpose).dumps(payload)

    def loads(self, purpose: str, token: str, max_age_seconds: int) -> dict | None:
        """The payload, or None when the token is forged, malformed or expired."""
        try:
            payload = URLSafeTimedSerializer(self._secret_key, salt=purpose).loads(
                token, max_age=max_age_seconds
            )
        except (SignatureExpired, BadSignature):
            return None
        return payload if isinstance(payload, dict) else None
