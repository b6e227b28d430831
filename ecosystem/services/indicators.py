"""Open ecosystem indicators for the province's operations centre and the public dashboard.

Each mounted package contributes a section (`DomainPackage.indicators`): aggregated, public
or consented data only, small groups already suppressed. This module assembles them with a
licence and a generation time, caches the result (Redis when configured, so every web
process shares it) and recomputes it in a job (`refresh_indicators`, hourly), so the
operations centre's polling never recomputes anything on the request path for the
standard periods.

Periods are whole calendar months, from the first day of one to the last day of another (both
inclusive, local days in the platform's time zone); counts are rounded (ecosystem.disclosure).
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem import cache, tabular
from ecosystem.errors import Invalid
from ecosystem.i18n import DEFAULT_TIMEZONE, _
from ecosystem.models import PublishedIndicators
from ecosystem.packages import DomainPackage, mounted_packages
from ecosystem.tabular import Table

logger = logging.getLogger("ecosystem.indicators")

LICENCE = {
    "name": "Creative Commons Attribution 4.0 International (CC BY 4.0)",
    "url": "https://creativecommons.org/licenses/by/4.0/",
    "attribution": "Binh Duong innovation region platform",
}
CACHE_SECONDS = 2 * 3600  # the hourly job refreshes well before this
CACHE_FAMILY = "indicators"
MAX_DAYS = 5 * 366
DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def key(self) -> str:
        return f"{self.start.isoformat()}:{self.end.isoformat()}"


def today() -> date:
    from zoneinfo import ZoneInfo

    return timezone.now().astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()


def month_end(day: date) -> date:
    """The last day of the day's month."""
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def default_period(on: date | None = None) -> Period:
    """The last twelve months: the month eleven months ago to the end of this month."""
    on = on or today()
    month = on.month - (DEFAULT_MONTHS - 1)
    year = on.year
    while month < 1:
        month += 12
        year -= 1
    return Period(date(year, month, 1), month_end(on))


def year_to_date(on: date | None = None) -> Period:
    on = on or today()
    return Period(date(on.year, 1, 1), month_end(on))


def parse_period(start: date | None, end: date | None) -> Period:
    """A requested period in whole months (defaults: the last twelve months), 422 when it makes
    no sense. Figures are published for whole calendar months only: two periods a day apart
    would otherwise give away one day's activity by subtraction."""
    fallback = default_period()
    end = end or (fallback.end if start is None else today())
    start = start or fallback.start
    if end < start:
        message = _("The end of the period must not be before its start.")
        raise Invalid(message, fields={"to": message})
    period = Period(start.replace(day=1), month_end(end))
    if (period.end - period.start).days > MAX_DAYS:
        message = _("A period covers at most five years.")
        raise Invalid(message, fields={"from": message})
    return period


async def compute(period: Period, packages: Sequence[DomainPackage] | None = None) -> dict:
    """Every package's section for the period, with the licence and the generation time."""
    sections: dict[str, Any] = {}
    for package in packages if packages is not None else mounted_packages():
        if package.indicators is not None:
            sections[package.name] = await package.indicators(period.start, period.end)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "generated_at": timezone.now().isoformat(),
        "timezone": DEFAULT_TIMEZONE,
        "licence": LICENCE,
        "sections": sections,
    }


async def indicators(period: Period) -> dict:
    """The indicators of the period: as first published once the period has ended (a
    historic period never changes), else from the cache when fresh (`version` 0: provisional)."""
    if period.end < today().replace(day=1):
        return await published(period)
    return await _live(period)


async def published(period: Period) -> dict:
    """The latest published version of an ended period; the first request publishes it."""
    kept = await _latest(period)
    if kept is not None:
        return kept.payload
    payload = {**await compute(period), "version": 1}
    try:
        await PublishedIndicators.create(
            period_start=period.start, period_end=period.end, version=1, payload=payload
        )
    except IntegrityError:  # published by a concurrent request meanwhile: theirs stands
        kept = await _latest(period)
        assert kept is not None
        return kept.payload
    return payload


async def correct(period: Period) -> dict:
    """Publish the ended period again as a new version (after a correction of the data):
    the earlier versions stay, the packages and the API serve the new one."""
    kept = await _latest(period)
    version = (kept.version if kept else 0) + 1
    payload = {**await compute(period), "version": version}
    await PublishedIndicators.create(
        period_start=period.start, period_end=period.end, version=version, payload=payload
    )
    return payload


async def _latest(period: Period) -> PublishedIndicators | None:
    return (
        await PublishedIndicators.filter(period_start=period.start, period_end=period.end)
        .order_by("-version")
        .first()
    )


async def _live(period: Period) -> dict:
    generation = await cache.generation(CACHE_FAMILY)
    key = f"{CACHE_FAMILY}:{generation}:{period.key()}"
    return await cache.remember(key, CACHE_SECONDS, lambda: _provisional(period))


async def _provisional(period: Period) -> dict:
    return {**await compute(period), "version": 0}


async def refresh_indicators(ctx: dict | None = None) -> None:
    """Job: recompute the standard periods (new generation), so requests find them ready."""
    await cache.invalidate(CACHE_FAMILY)
    for period in (default_period(), year_to_date()):
        await indicators(period)
    logger.info("indicators refreshed")


def as_rows(payload: dict) -> list[tuple[str, str, str, Any]]:
    """The indicators flattened: (section, indicator, key, value), a key per grouped value."""
    rows: list[tuple[str, str, str, Any]] = []

    def walk(section: str, name: str, prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(section, name, f"{prefix}/{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(section, name, f"{prefix}/{index}" if prefix else str(index), inner)
        else:
            rows.append((section, name, prefix, value))

    for section, values in payload["sections"].items():
        for name, value in values.items():
            walk(section, name, "", value)
    return rows


def as_table(payload: dict) -> Table:
    """The export: `section, indicator, key, value` rows (numbers stay numbers). Nothing above
    the header, so any CSV reader takes it as it is; the period, licence and generation time
    are in the JSON and in the open-data package (ecosystem.services.open_data)."""
    return Table(
        columns=["section", "indicator", "key", "value"],
        rows=[[s, name, key, value] for s, name, key, value in as_rows(payload)],
        sheet="indicators",
    )


def as_csv(payload: dict) -> bytes:
    """CSV for spreadsheets (UTF-8 with a BOM, formulas neutralised: ecosystem.tabular)."""
    return tabular.to_csv(as_table(payload))


def generated_at(payload: dict) -> datetime:
    return datetime.fromisoformat(payload["generated_at"])
