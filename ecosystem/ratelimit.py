"""Rate limits on the `limits` library: in Redis when configured, in memory otherwise.

Redis is disposable: while the shared storage cannot be reached, `FailureLimiter` counts in
this process's memory instead (limits then hold per process, as without Redis), logs one
warning per outage, and goes back to Redis as soon as it answers. Signing in never fails
because Redis is restarting, and it is never left unlimited either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from ecosystem.errors import RateLimited
from ecosystem.i18n import _

logger = logging.getLogger("ecosystem.ratelimit")
T = TypeVar("T")
SOCKET_TIMEOUT_SECONDS = 0.5


class FailureLimiter:
    """Counts failures (e.g. wrong passwords) per key; refuses once a key has too many."""

    def __init__(self, storage: Storage) -> None:
        self._shared = MovingWindowRateLimiter(storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())  # while `storage` is down
        self.storage = storage
        self.degraded = False

    async def _call(self, action: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """`action` on the shared storage, or on this process's memory while it is down."""
        try:
            result = await action(self._shared)
        except (StorageError, OSError) as exc:
            if not self.degraded:
                self.degraded = True
                logger.warning("rate-limit storage unreachable, counting in memory: %r", exc)
            return await action(self._local)
        if self.degraded:
            self.degraded = False
            logger.warning("rate-limit storage reachable again")
        return result

    async def check(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        """Refuse (RateLimited) if the key already has `limit` failures in the window."""
        item = RateLimitItemPerSecond(limit, window_seconds)
        if not await self._call(lambda limiter: limiter.test(item, namespace, key)):
            raise await self._refusal(item, namespace, key)

    async def reserve(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        """Count an attempt before making it, atomically (also across processes in Redis).

        `check` then `record_failure` lets a burst of simultaneous attempts all pass the
        check; reserving first caps them at `limit`. `clear` forgets the attempts once one
        succeeds, so only failures keep counting.
        """
        item = RateLimitItemPerSecond(limit, window_seconds)
        if not await self._call(lambda limiter: limiter.hit(item, namespace, key)):
            raise await self._refusal(item, namespace, key)

    async def record_failure(
        self, namespace: str, key: str, limit: int, window_seconds: int
    ) -> None:
        item = RateLimitItemPerSecond(limit, window_seconds)
        await self._call(lambda limiter: limiter.hit(item, namespace, key))

    async def clear(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        item = RateLimitItemPerSecond(limit, window_seconds)
        await self._call(lambda limiter: limiter.clear(item, namespace, key))

    async def _refusal(self, item: RateLimitItemPerSecond, namespace: str, key: str) -> RateLimited:
        stats = await self._call(lambda limiter: limiter.get_window_stats(item, namespace, key))
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
        await self._local.storage.reset()


def build_storage(redis_url: str | None) -> Storage:
    if redis_url:
        uri = redis_url.replace("redis://", "async+redis://", 1).replace(
            "rediss://", "async+rediss://", 1
        )
        return RedisStorage(
            uri,
            implementation="redispy",
            key_prefix="ecosystem-limits",
            wrap_exceptions=True,  # StorageError when Redis is down: see FailureLimiter
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
    return MemoryStorage()
