"""A small shared cache for read models: in Redis when configured, in memory otherwise.

Values are JSON. Nothing may live only in one process's memory in production, so with
REDIS_URL every web process sees the same entries and the same invalidations.

Redis is disposable: while it cannot be reached every read is a miss (the value is computed
from the database) and writes and invalidations are skipped, with one warning in the log
per outage. Short socket timeouts keep a hung Redis from holding pages up. When it comes
back empty, the generations restart at 0 and every entry is rebuilt on first use. An
invalidation skipped during the outage can leave an entry stale for at most its TTL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

KEY_PREFIX = "ecosystem-cache:"
SOCKET_TIMEOUT_SECONDS = 0.5
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, RedisError, asyncio.TimeoutError)

logger = logging.getLogger("ecosystem.cache")
_outage_reported = False


def _outage(exc: BaseException) -> None:
    """Log once per outage (not once per request) that the cache is unreachable."""
    global _outage_reported
    if not _outage_reported:
        _outage_reported = True
        logger.warning("the cache (Redis) is unreachable, reading through: %r", exc)


def _reachable() -> None:
    global _outage_reported
    if _outage_reported:
        _outage_reported = False
        logger.warning("the cache (Redis) is reachable again")


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
        self._redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
        )

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
    global _backend, _outage_reported
    _outage_reported = False
    _built.clear()
    _backend = RedisCache(redis_url) if redis_url else MemoryCache()


async def stop() -> None:
    _built.clear()
    await _backend.close()


async def remember(key: str, ttl_seconds: int, compute: Callable[[], Awaitable[Any]]) -> Any:
    """The cached JSON value of `key`, computing and storing it on a miss.

    A cache that cannot be reached is a miss, never an error: pages keep working.
    """
    return await _remember(key, ttl_seconds, compute, json.loads, _compact_json)


async def remember_text(key: str, ttl_seconds: int, compute: Callable[[], Awaitable[str]]) -> str:
    """As `remember`, for text stored as it is (a rendered fragment: no JSON round trip)."""
    return await _remember(key, ttl_seconds, compute, str, str)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


async def _remember(
    key: str,
    ttl_seconds: int,
    compute: Callable[[], Awaitable[Any]],
    decode: Callable[[str], Any],
    encode: Callable[[Any], str],
) -> Any:
    try:
        raw = await _backend.get(key)
    except OUTAGE_ERRORS as exc:
        _outage(exc)
        return await compute()
    _reachable()
    if raw is not None:
        return decode(raw)
    value = await compute()
    try:
        await _backend.set(key, encode(value), ttl_seconds)
    except OUTAGE_ERRORS as exc:
        _outage(exc)
    return value


# Read models built from stored text, per process: key → (the text, what was built from it).
_built: dict[str, tuple[str, Any]] = {}
BUILT_MAX_ENTRIES = 256


async def remember_built(
    key: str, ttl_seconds: int, compute: Callable[[], Awaitable[Any]], build: Callable[[Any], Any]
) -> Any:
    """As `remember`, then `build(value)`: an immutable object (frozen dataclasses, tuples)
    made from the JSON value, e.g. a directory page's entries.

    The stored text still decides, on every call, what the value is (so every process sees
    the same entries and invalidations); only the work of turning the same text into the
    same object again is saved: the built object is reused while the text read back is
    unchanged. It must never be mutated by its users.
    """
    try:
        raw = await _backend.get(key)
    except OUTAGE_ERRORS as exc:
        _outage(exc)
        return build(await compute())
    _reachable()
    if raw is not None:
        memo = _built.get(key)
        if memo is not None and (memo[0] is raw or memo[0] == raw):
            return memo[1]
        built = build(json.loads(raw))
    else:
        value = await compute()
        raw = _compact_json(value)
        try:
            await _backend.set(key, raw, ttl_seconds)
        except OUTAGE_ERRORS as exc:
            _outage(exc)
            return build(value)
        built = build(json.loads(raw))  # as every later read will see it
    if len(_built) >= BUILT_MAX_ENTRIES:
        _built.clear()  # keys carry generations: old ones are never read again
    _built[key] = (raw, built)
    return built


async def generation(name: str) -> int:
    """A counter that names the current version of a family of keys (-1: cache down)."""
    try:
        value = int((await _backend.get(f"generation:{name}")) or 0)
    except OUTAGE_ERRORS as exc:
        _outage(exc)
        return -1
    _reachable()
    return value


async def invalidate(name: str) -> None:
    """Make every key built with `generation(name)` stale at once."""
    try:
        await _backend.incr(f"generation:{name}")
    except OUTAGE_ERRORS as exc:
        _outage(exc)
