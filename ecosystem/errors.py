"""Typed domain errors. Services raise them; the edges map them once to HTML and JSON."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str = "", fields: dict[str, str] | None = None, code: str = ""):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class Invalid(DomainError):
    """Input breaks a rule; `fields` names the offending fields."""

    status_code = 422
    code = "invalid"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class NotPermitted(DomainError):
    status_code = 403
    code = "forbidden"


class SecondFactorRequired(NotPermitted):
    """Signed in, but the policy wants a second factor first (pages redirect to set it up)."""

    code = "second_factor_required"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class TooLarge(DomainError):
    status_code = 413
    code = "too_large"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str = "", retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after
