"""Sign-in throttling that cannot be turned against the account's owner.

Wrong passwords are counted three ways, each with growing lock-outs (tier k allows
`limit * 2**k` failures per `window * 4**k`: e.g. 5 per 15 minutes, then 10 per hour, then 20
per 4 hours):

- per (client address, account) pair: a guesser at one address is locked out of that account,
  while the owner signing in from anywhere else is not;
- per client address, over all accounts: one address cannot spray guesses across accounts;
- per account, from every address: a much higher ceiling, the last defence against guesses
  spread over many addresses. Reaching it pauses every sign-in to the account and e-mails the
  owner once per window; a password reset lifts it.

The pair is reserved before the password is checked, so parallel guesses cannot outrun the
limit; a correct password forgets the pair's failures. Counters live in the `limits` storage
(Redis when configured, see `ecosystem.ratelimit`), shared by every web process.
"""

from __future__ import annotations

from ecosystem.errors import RateLimited
from ecosystem.i18n import _
from ecosystem.ratelimit import FailureLimiter
from ecosystem.settings import get_settings

PAIR = "login-pair"
ADDRESS = "login-address"
ACCOUNT = "login-account"
CEILING_MAIL = "mail-login-ceiling"
TIERS = 3


def tiers(limit: int, window_seconds: int) -> list[tuple[int, int]]:
    """Growing lock-outs: each tier allows twice the failures over four times the window."""
    return [(limit * 2**k, window_seconds * 4**k) for k in range(TIERS)]


def _pair_key(ip: str, email: str) -> str:
    return f"{ip} {email}"


def _limits() -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]]:
    settings = get_settings()
    window = settings.login_window_seconds
    return (
        tiers(settings.login_attempts_per_pair, window),
        tiers(settings.login_attempts_per_address, window),
        tiers(settings.login_attempts_per_account, settings.login_ceiling_seconds),
    )


async def before_attempt(limiter: FailureLimiter, ip: str, email: str) -> None:
    """Refuse (RateLimited) a sign-in that one of the three counters forbids; otherwise count
    the attempt for the pair (forgotten if the password turns out right)."""
    per_pair, per_address, per_account = _limits()
    for limit, window in per_address:
        await limiter.check(ADDRESS, ip, limit, window)
    for limit, window in per_account:
        try:
            await limiter.check(ACCOUNT, email, limit, window)
        except RateLimited as exc:
            minutes = max(1, -(-exc.retry_after // 60))
            message = _(
                "Signing in to this account is paused for %(minutes)d minutes after many "
                "failed attempts; its owner has been told by e-mail. Resetting the password "
                "lifts the pause.",
                minutes=minutes,
            )
            raise RateLimited(message, retry_after=exc.retry_after) from None
    for limit, window in per_pair:
        await limiter.reserve(PAIR, _pair_key(ip, email), limit, window)


async def after_success(limiter: FailureLimiter, ip: str, email: str) -> None:
    per_pair, _per_address, _per_account = _limits()
    for limit, window in per_pair:
        await limiter.clear(PAIR, _pair_key(ip, email), limit, window)


async def after_failure(limiter: FailureLimiter, ip: str, email: str) -> bool:
    """Count a wrong password for the address and the account. True when this failure made
    the account reach its ceiling and nobody has been told yet in this window (the caller
    e-mails the owner)."""
    _per_pair, per_address, per_account = _limits()
    for limit, window in per_address:
        await limiter.record_failure(ADDRESS, ip, limit, window)
    reached = False
    for limit, window in per_account:
        await limiter.record_failure(ACCOUNT, email, limit, window)
        try:
            await limiter.check(ACCOUNT, email, limit, window)
        except RateLimited:
            reached = True
    if not reached:
        return False
    first_limit, first_window = per_account[0]
    try:  # once per window, whichever process saw it first
        await limiter.reserve(CEILING_MAIL, email, 1, first_window)
    except RateLimited:
        return False
    return True


async def forget_account(limiter: FailureLimiter, email: str) -> None:
    """Lift the account-wide ceiling (after the owner reset the password)."""
    _per_pair, _per_address, per_account = _limits()
    for limit, window in per_account:
        await limiter.clear(ACCOUNT, email, limit, window)
    await limiter.clear(CEILING_MAIL, email, 1, per_account[0][1])
