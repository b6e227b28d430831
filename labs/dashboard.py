"""The labs' part of the personal dashboard and of the open ecosystem indicators.

Indicators cover published labs only and count like the staff's usage report: cancelled and
declined bookings never count; utilisation is booked open time over open time of the
machines in service. Counts of bookings, people and certifications are rounded to a multiple
of five, each breakdown adding up to its total (ecosystem.disclosure). A constant number of
queries.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise import timezone

from ecosystem.content import tr
from ecosystem.disclosure import rounded_table
from ecosystem.i18n import DEFAULT_TIMEZONE, _
from ecosystem.labels import N_
from ecosystem.models import Sphere, User
from ecosystem.packages import DashboardPanel
from labs import permissions
from labs.availability import ClosedDays
from labs.intervals import Interval, local_date_span
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    BookingStatus,
    Certification,
    Equipment,
    EquipmentCategory,
    EquipmentStatus,
    Lab,
    TrainingEnrolment,
)
from labs.services import schedule
from labs.services.usage import NOT_COUNTED, user_spheres
from labs.stats import BookingRecord, UsageStats, usage_stats

PANEL_ROWS = 5


async def labs_panel(user: User) -> DashboardPanel | None:
    """Upcoming bookings and trainings; bookings waiting for the staff's approval."""
    now = timezone.now()
    bookings = await (
        Booking.filter(user_id=user.id, status__in=list(ACTIVE_BOOKING_STATUSES), ends_at__gt=now)
        .select_related("equipment__lab")
        .order_by("starts_at", "id")
        .limit(PANEL_ROWS)
    )
    trainings = await (
        TrainingEnrolment.filter(user_id=user.id, session__ends_at__gt=now)
        .select_related("session__lab")
        .order_by("session__starts_at")
        .limit(PANEL_ROWS)
    )
    staffed = await permissions.staffed_lab_ids(user)
    approvals: list[tuple[Lab, int]] = []
    if staffed:
        counts: dict[int, int] = defaultdict(int)
        for lab_id in await Booking.filter(
            equipment__lab_id__in=list(staffed), status=BookingStatus.PENDING, ends_at__gt=now
        ).values_list("equipment__lab_id", flat=True):
            counts[lab_id] += 1
        if counts:
            labs = await Lab.filter(id__in=list(counts)).order_by("name")
            approvals = [(lab, counts[lab.id]) for lab in labs]
    if not (bookings or trainings or approvals or staffed):
        return None
    staff_labs = await Lab.filter(id__in=list(staffed)).order_by("name") if staffed else []
    return DashboardPanel(
        title=_("Labs"),
        template="labs/_dashboard.html",
        context={
            "bookings": bookings,
            "trainings": trainings,
            "approvals": approvals,
            "staff_labs": staff_labs,
        },
        urgent=bool(approvals),
        order=10,
    )


# --- open indicators ----------------------------------------------------------------------


def _month(moment: datetime, lab: Lab) -> str:
    local = moment.astimezone(schedule.lab_timezone(lab))
    return f"{local.year:04d}-{local.month:02d}"


def _months(start: date, end: date) -> list[str]:
    """`YYYY-MM` of every month from `start` to `end` (inclusive)."""
    months, cursor = [], start.replace(day=1)
    while cursor <= end:
        months.append(f"{cursor.year:04d}-{cursor.month:02d}")
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def _month_windows(window: Interval, lab: Lab) -> list[tuple[str, Interval]]:
    tz = schedule.lab_timezone(lab)
    local = window.start.astimezone(tz)
    cursor = datetime(local.year, local.month, 1, tzinfo=tz)
    windows = []
    while cursor.astimezone(UTC) < window.end:
        following = (cursor + timedelta(days=32)).replace(day=1)
        part = Interval(
            max(cursor.astimezone(UTC), window.start), min(following.astimezone(UTC), window.end)
        )
        if part.start < part.end:
            windows.append((f"{cursor.year:04d}-{cursor.month:02d}", part))
        cursor = following
    return windows


def _percent(stats: UsageStats) -> float | None:
    return round(stats.utilisation * 100, 1) if stats.open_time else None


async def labs_indicators(start: date, end: date) -> dict:
    now = timezone.now()
    labs = {lab.id: lab for lab in await Lab.filter(**permissions.public_labs()).order_by("name")}
    machines = await Equipment.filter(lab_id__in=list(labs)).exclude(status=EquipmentStatus.RETIRED)
    windows = {
        lab_id: local_date_span(start, end, schedule.lab_timezone(lab))
        for lab_id, lab in labs.items()
    }
    wide = Interval(
        min((w.start for w in windows.values()), default=now),
        max((w.end for w in windows.values()), default=now + timedelta(seconds=1)),
    )
    hours = await schedule.weekly_hours(list(labs))
    closures = await schedule.closed_days(list(labs), wide)
    rows = await Booking.filter(
        equipment_id__in=[m.id for m in machines],
        starts_at__lt=wide.end,
        ends_at__gt=wide.start,
    ).values_list("equipment_id", "user_id", "starts_at", "ends_at", "status", "checked_in_at")
    spheres = await user_spheres({row[1] for row in rows})

    by_machine: dict[int, list[BookingRecord]] = defaultdict(list)
    bookings_by_month: dict[str, int] = defaultdict(int)
    bookings_by_sphere: dict[str, int] = defaultdict(int)
    users_by_sphere: dict[str, set[int]] = defaultdict(set)
    users: set[int] = set()
    machine_lab = {m.id: labs[m.lab_id] for m in machines}  # type: ignore[attr-defined]
    for equipment_id, user_id, starts_at, ends_at, status, checked_in_at in rows:
        status = str(getattr(status, "value", status))
        lab = machine_lab[equipment_id]
        window = windows[lab.id]
        counted = status not in NOT_COUNTED and starts_at < ends_at
        if not counted or not window.start <= starts_at < window.end:
            continue
        sphere = spheres.get(user_id)
        by_machine[equipment_id].append(
            BookingRecord(
                Interval(starts_at, ends_at),
                status,
                sphere,
                checked_in=checked_in_at is not None or status == BookingStatus.COMPLETED,
            )
        )
        bookings_by_month[_month(starts_at, lab)] += 1
        key = sphere or "unknown"
        bookings_by_sphere[key] += 1
        users_by_sphere[key].add(user_id)
        users.add(user_id)

    total = UsageStats()
    by_lab: dict[str, UsageStats] = defaultdict(UsageStats)
    by_category: dict[str, UsageStats] = defaultdict(UsageStats)
    by_month: dict[str, UsageStats] = defaultdict(UsageStats)
    for machine in machines:
        lab = machine_lab[machine.id]
        if machine.status != EquipmentStatus.AVAILABLE:
            continue
        lab_closures: list[ClosedDays] = closures.get(lab.id, [])
        for month, part in _month_windows(windows[lab.id], lab):
            open_time = schedule.open_time(hours[lab.id], lab_closures, lab, part)
            stats = usage_stats(
                open_time, by_machine[machine.id], part, now, not_counted_statuses=NOT_COUNTED
            )
            total += stats
            by_lab[tr(lab, "name")] += stats
            by_category[machine.category.value] += stats
            by_month[month] += stats

    period = local_date_span(start, end, ZoneInfo(DEFAULT_TIMEZONE))
    certified = await Certification.filter(
        granted_at__gte=period.start, granted_at__lt=period.end
    ).values_list("category", "user_id")
    certificates: dict[str, int] = defaultdict(int)
    certified_people: dict[str, set[int]] = defaultdict(set)
    for category, user_id in certified:
        key = str(getattr(category, "value", category))
        certificates[key] += 1
        certified_people[key].add(user_id)
    # Every group is listed, empty ones too: a group missing from a list would say it is empty.
    months = sorted(set(_months(start, end)) | set(by_month) | set(bookings_by_month))
    spheres = [*(sphere.value for sphere in Sphere), "unknown"]
    bookings, bookings_per_month, bookings_per_sphere = rounded_table(
        sum(bookings_by_month.values()),
        {key: bookings_by_month.get(key, 0) for key in months},
        {key: bookings_by_sphere.get(key, 0) for key in spheres},
    )
    people, people_per_sphere = rounded_table(
        len(users), {key: len(users_by_sphere.get(key, ())) for key in spheres}
    )
    granted, granted_per_category = rounded_table(
        len(certified), {c.value: certificates.get(c.value, 0) for c in EquipmentCategory}
    )
    return {
        "labs": len(labs),
        "machines": len(machines),
        "bookings": bookings,
        "booked_hours": round(total.booked_time / timedelta(hours=1), 1),
        "open_machine_hours": round(total.open_time / timedelta(hours=1), 1),
        "utilisation_percent": _percent(total),
        "no_show_percent": (
            round(100 * total.no_shows / total.bookings, 1) if total.bookings else None
        ),
        "utilisation_by_lab": {name: _percent(stats) for name, stats in by_lab.items()},
        "utilisation_by_category": {key: _percent(stats) for key, stats in by_category.items()},
        "utilisation_by_month": {key: _percent(by_month[key]) for key in sorted(by_month)},
        "bookings_by_month": bookings_per_month,
        "unique_users": people,
        "bookings_by_sphere": bookings_per_sphere,
        "unique_users_by_sphere": people_per_sphere,
        "certifications_granted": granted,
        "certifications_by_category": granted_per_category,
    }


INDICATOR_TITLES = {
    "labs": N_("Published labs"),
    "machines": N_("Machines"),
    "bookings": N_("Bookings"),
    "booked_hours": N_("Booked hours"),
    "open_machine_hours": N_("Open machine hours"),
    "utilisation_percent": N_("Utilisation (%)"),
    "no_show_percent": N_("No-shows (%)"),
    "utilisation_by_lab": N_("Utilisation by lab (%)"),
    "utilisation_by_category": N_("Utilisation by category (%)"),
    "utilisation_by_month": N_("Utilisation by month (%)"),
    "bookings_by_month": N_("Bookings by month"),
    "unique_users": N_("People who booked"),
    "bookings_by_sphere": N_("Bookings by sphere of the user"),
    "unique_users_by_sphere": N_("People who booked, by sphere"),
    "certifications_granted": N_("Certifications granted"),
    "certifications_by_category": N_("Certifications by category"),
    "unknown": N_("No organisation"),
}
