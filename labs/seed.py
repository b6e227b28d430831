"""Demo data of the lab network (idempotent)."""

from __future__ import annotations


async def seed_labs() -> None:
    return None
