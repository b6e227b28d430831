"""A small shared cache for read models: in Redis when configured, in memory otherwise.

Values are JSON. Nothing may live only in one process's memory in production, so with
REDIS_URL every web process sees the same entries and the same invalidations.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

KEY_PREFIX = "ecosystem-cache:"


class MemoryCache:
    def __init__(self, max_entries: int = 2048) -> None:
        self._entries: dict[str, tuple[float, str]] = {}
        self.max_entries = max_entries

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; entries are cheap to rebuild
        self._entries[key] = (time.monotonic() + ttl_seconds, value)

    async def incr(self, key: str) -> int:
        current = int((await self.get(key)) or 0) + 1
        self._entries[key] = (float("inf"), str(current))
        return current

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url, decode_responses=True)

    async def get(self, key: str) -> str | None:
        return await self._redis.get(KEY_PREFIX + key)

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self._redis.set(KEY_PREFIX + key, value, ex=ttl_seconds)

    async def incr(self, key: str) -> int:
        return int(await self._redis.incr(KEY_PREFIX + key))

    async def close(self) -> None:
        await self._redis.aclose()


_backend: MemoryCache | RedisCache = MemoryCache()


def start(redis_url: str | None) -> None:
    global _backend
    _backend = RedisCache(redis_url) if redis_url else MemoryCache()


async def stop() -> None:
    await _backend.close()


async def remember(key: str, ttl_seconds: int, compute: Callable[[], Awaitable[Any]]) -> Any:
    """The cached JSON value of `key`, computing and storing it on a miss.

    A cache that cannot be reached is a miss, never an error: pages keep working.
    """
    try:
        if (raw := await _backend.get(key)) is not None:
            return json.loads(raw)
    except (OSError, RedisError):
        return await compute()
    value = await compute()
    with contextlib.suppress(OSError, RedisError):
        await _backend.set(key, json.dumps(value, separators=(",", ":")), ttl_seconds)
    return value


async def generation(name: str) -> int:
    """A counter that names the current version of a family of keys."""
    try:
        return int((await _backend.get(f"generation:{name}")) or 0)
    except (OSError, RedisError):
        return -1


async def invalidate(name: str) -> None:
    """Make every key built with `generation(name)` stale at once."""
    with contextlib.suppress(OSError, RedisError):
        await _backend.incr(f"generation:{name}")
