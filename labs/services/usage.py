"""Usage statistics of a lab and its machines over local days (staff only).

Booked vs open hours, utilisation, no-shows and booked hours by the user's sphere, from the
pure `labs.stats.usage_stats`. Cancelled and declined bookings never count. A constant
number of queries whatever the number of machines or bookings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from tortoise import timezone

from ecosystem.content import tr
from ecosystem.models import Membership, MembershipStatus, OrganisationSphere, Sphere, User
from ecosystem.tabular import Table
from labs import permissions
from labs.intervals import Interval
from labs.models import Booking, BookingStatus, Equipment, Lab
from labs.services import schedule
from labs.stats import UNKNOWN_SPHERE, BookingRecord, UsageStats, usage_stats

NOT_COUNTED = frozenset({BookingStatus.CANCELLED.value, BookingStatus.DECLINED.value})
SPHERE_PRIORITY = [s.value for s in Sphere]


@dataclass
class UsageReport:
    lab: Lab
    first: date
    last: date
    rows: list[tuple[Equipment, UsageStats]]
    total: UsageStats
    spheres: list[str] = field(default_factory=list)


def _hours(value: timedelta) -> float:
    return round(value / timedelta(hours=1), 2)


async def user_spheres(user_ids: set[int]) -> dict[int, str]:
    """One sphere per user from their active organisations (two queries): the first in the
    platform's sphere order, so a lecturer at a university who also runs a startup counts once.
    """
    if not user_ids:
        return {}
    memberships = await Membership.filter(
        user_id__in=list(user_ids), status=MembershipStatus.ACTIVE
    ).values_list("user_id", "organisation_id")
    org_ids = {org_id for _, org_id in memberships}
    spheres: dict[int, set[str]] = {}
    if org_ids:
        for org_id, sphere in await OrganisationSphere.filter(
            organisation_id__in=list(org_ids)
        ).values_list("organisation_id", "sphere"):
            spheres.setdefault(org_id, set()).add(str(getattr(sphere, "value", sphere)))
    result: dict[int, str] = {}
    for user_id, org_id in memberships:
        for sphere in spheres.get(org_id, ()):
            current = result.get(user_id)
            if current is None or _rank(sphere) < _rank(current):
                result[user_id] = sphere
    return result


def _rank(sphere: str) -> int:
    return SPHERE_PRIORITY.index(sphere) if sphere in SPHERE_PRIORITY else len(SPHERE_PRIORITY)


async def lab_usage(
    actor: User, lab: Lab, first: date, last: date, now: datetime | None = None
) -> UsageReport:
    """Usage of every machine of the lab over local days `first`..`last` inclusive."""
    await permissions.ensure(actor, "lab.manage", lab)
    now = now or timezone.now()
    tz = schedule.lab_timezone(lab)
    window = Interval(
        datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC),
    )
    machines = await Equipment.filter(lab_id=lab.id).order_by("name", "id")
    open_time = await schedule.lab_open_time(lab, window)
    rows = await Booking.filter(
        equipment__lab_id=lab.id,
        starts_at__lt=window.end,
        ends_at__gt=window.start,
    ).values_list("equipment_id", "user_id", "starts_at", "ends_at", "status", "checked_in_at")
    spheres = await user_spheres({row[1] for row in rows})
    by_machine: dict[int, list[BookingRecord]] = {m.id: [] for m in machines}
    for equipment_id, user_id, starts_at, ends_at, status, checked_in_at in rows:
        status = str(getattr(status, "value", status))
        if status in NOT_COUNTED or equipment_id not in by_machine or ends_at <= starts_at:
            continue
        by_machine[equipment_id].append(
            BookingRecord(
                Interval(starts_at, ends_at),
                status,
                spheres.get(user_id),
                checked_in=checked_in_at is not None or status == BookingStatus.COMPLETED,
            )
        )
    stats_rows = [
        (
            machine,
            usage_stats(
                open_time, by_machine[machine.id], window, now, not_counted_statuses=NOT_COUNTED
            ),
        )
        for machine in machines
    ]
    total = sum((stats for _, stats in stats_rows), UsageStats())
    seen = {s for _, stats in stats_rows for s in stats.time_by_sphere}
    ordered = sorted(seen, key=_rank)
    return UsageReport(lab, first, last, stats_rows, total, ordered)


def chart_bars(report: UsageReport) -> dict:
    """Geometry of a horizontal bar chart (booked over open hours per machine) for an SVG."""
    row_height, width = 36, 300.0
    top = max((stats.open_hours for _, stats in report.rows), default=0.0) or 1.0
    bars = []
    for index, (machine, stats) in enumerate(report.rows):
        y = index * row_height
        bars.append(
            {
                "name": tr(machine, "name"),
                "y": y,
                "label_y": y + 12,
                "bar_y": y + 16,
                "open_width": round(width * stats.open_hours / top, 2),
                "booked_width": round(width * min(stats.booked_hours, top) / top, 2),
                "open_hours": round(stats.open_hours, 1),
                "booked_hours": round(stats.booked_hours, 1),
                "utilisation": round(stats.utilisation * 100),
            }
        )
    height = max(1, len(bars)) * row_height
    return {"bars": bars, "height": height, "width": int(width)}


def to_table(report: UsageReport) -> Table:
    """The report as a table (CSV/.xlsx through ecosystem.tabular): one row per machine,
    then the total; hours and counts are numbers."""
    spheres = report.spheres
    lines = [(m.id, tr(m, "name"), m.category.value, s) for m, s in report.rows]
    lines.append((None, "TOTAL", None, report.total))
    rows = [
        [
            machine_id,
            name,
            category,
            _hours(stats.open_time),
            _hours(stats.booked_time),
            _hours(stats.booked_open_time),
            round(stats.utilisation * 100, 1),
            stats.bookings,
            stats.no_shows,
            _hours(stats.no_show_time),
            *[_hours(stats.time_by_sphere.get(s, timedelta())) for s in spheres],
        ]
        for machine_id, name, category, stats in lines
    ]
    columns = [
        "machine_id",
        "machine",
        "category",
        "open_hours",
        "booked_hours",
        "booked_open_hours",
        "utilisation_percent",
        "bookings",
        "no_shows",
        "no_show_hours",
        *[f"hours_{s}" for s in spheres],
    ]
    return Table(columns=columns, rows=rows, sheet=f"usage {report.lab.slug}")


__all__ = ["UNKNOWN_SPHERE", "UsageReport", "chart_bars", "lab_usage", "to_table"]
