"""How domain packages plug into the kernel: the app factory mounts them from a list."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute


@dataclass
class DomainPackage:
    """Everything a package contributes. `name` is also its tortoise app label."""

    name: str
    models: str | None = None
    routes: Sequence[BaseRoute] = ()
    api_routes: Sequence[BaseRoute] = ()
    jobs: Sequence[Callable[..., Awaitable[Any]]] = ()
    cron_jobs: Sequence[Any] = ()  # arq.cron.CronJob
    locale_dir: Path | None = None
    seed_demo: Callable[[], Awaitable[None]] | None = None
    csrf_exempt_prefixes: Sequence[str] = ()
    nav_links: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (label msgid, url)

    @property
    def migrations_module(self) -> str:
        return f"{self.name}.migrations"


def load_packages(names: Sequence[str]) -> list[DomainPackage]:
    """The kernel first, then each named domain package's `package` object."""
    from ecosystem.package import package as kernel

    loaded = [kernel]
    for name in names:
        module = importlib.import_module(f"{name}.package")
        loaded.append(module.package)
    return loaded
