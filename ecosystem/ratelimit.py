"""Rate limits on the `limits` library: in Redis when configured, in memory otherwise."""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from ecosystem.errors import RateLimited
from ecosystem.i18n import _


class FailureLimiter:
    """Counts failures (e.g. wrong passwords) per key; refuses once a key has too many."""

    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self.storage = storage

    async def check(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        """Refuse (RateLimited) if the key already has `limit` failures in the window."""
        item = RateLimitItemPerSecond(limit, window_seconds)
        if not await self._limiter.test(item, namespace, key):
            raise await self._refusal(item, namespace, key)

    async def reserve(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        """Count an attempt before making it, atomically (also across processes in Redis).

        `check` then `record_failure` lets a burst of simultaneous attempts all pass the
        check; reserving first caps them at `limit`. `clear` forgets the attempts once one
        succeeds, so only failures keep counting.
        """
        item = RateLimitItemPerSecond(limit, window_seconds)
        if not await self._limiter.hit(item, namespace, key):
            raise await self._refusal(item, namespace, key)

    async def record_failure(
        self, namespace: str, key: str, limit: int, window_seconds: int
    ) -> None:
        await self._limiter.hit(RateLimitItemPerSecond(limit, window_seconds), namespace, key)

    async def clear(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        await self._limiter.clear(RateLimitItemPerSecond(limit, window_seconds), namespace, key)

    async def _refusal(self, item: RateLimitItemPerSecond, namespace: str, key: str) -> RateLimited:
        stats = await self._limiter.get_window_stats(item, namespace, key)
        retry_after = max(1, int(stats.reset_time - time.time()))
        return RateLimited(
            _(
                "Too many failed attempts. Try again in %(minutes)d minutes.",
                minutes=max(1, -(-retry_after // 60)),
            ),
            retry_after=retry_after,
        )

    async def reset(self) -> None:
        await self.storage.reset()


def build_storage(redis_url: str | None) -> Storage:
    if redis_url:
        uri = redis_url.replace("redis://", "async+redis://", 1).replace(
            "rediss://", "async+rediss://", 1
        )
        return RedisStorage(uri, implementation="redispy", key_prefix="ecosystem-limits")
    return MemoryStorage()
