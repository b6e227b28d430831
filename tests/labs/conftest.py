"""Factories for the lab tests: organisations, labs with opening hours, machines, people.

People made here skip password hashing (argon2 is slow on purpose) and get their API token
from the token service directly, so a test can create fifty of them in a moment.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise import timezone

from ecosystem.models import (
    MediaFile,
    Organisation,
    OrganisationSphere,
    Sphere,
    User,
    Verification,
)
from ecosystem.services.tokens import create_token
from labs.models import (
    Certification,
    Equipment,
    EquipmentCategory,
    EquipmentRate,
    Lab,
    LabKind,
    OpeningHours,
    Photo,
    time_to_minute,
)

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")
EVERY_DAY_8_TO_18 = {weekday: [(time(8), time(18))] for weekday in range(7)}


async def make_host(name: str = "Becamex IDC", sphere: Sphere = Sphere.ENTERPRISE) -> Organisation:
    slug = name.lower().replace(" ", "-")
    organisation = await Organisation.create(
        name=name, slug=slug, search_key=slug, verification=Verification.VERIFIED
    )
    await OrganisationSphere.create(organisation=organisation, sphere=sphere)
    return organisation


async def make_lab(
    host: Organisation | None = None,
    name: str = "Becamex FabLab",
    hours: dict[int, list[tuple[time, time]]] | None = None,
    **fields,
) -> Lab:
    host = host or await make_host()
    lab = await Lab.create(
        organisation=host,
        name=name,
        slug=fields.pop("slug", name.lower().replace(" ", "-")),
        kind=fields.pop("kind", LabKind.FABLAB),
        **fields,
    )
    opening = EVERY_DAY_8_TO_18 if hours is None else hours
    await OpeningHours.bulk_create(
        [
            OpeningHours(
                lab=lab,
                weekday=weekday,
                opens_minute=time_to_minute(opens),
                closes_minute=time_to_minute(closes, closing=True),
            )
            for weekday, ranges in opening.items()
            for opens, closes in ranges
        ]
    )
    return lab


async def make_equipment(
    lab: Lab,
    name: str = "Prusa MK4",
    category: EquipmentCategory = EquipmentCategory.PRINTER_3D,
    rates: dict[str, int] | None = None,
    **rules,
) -> Equipment:
    equipment = await Equipment.create(lab=lab, name=name, category=category, **rules)
    for code, rate in (rates or {}).items():
        await EquipmentRate.create(equipment=equipment, category=code, rate_per_hour=rate)
    return equipment


async def make_photo(
    lab: Lab, machine: Equipment | None = None, caption: str = "", position: int = 0
) -> Photo:
    """A photo row of the lab (or of one of its machines) with its media row; no file."""
    media = await MediaFile.create(
        purpose="lab_photo", content_type="image/webp", width=10, height=10, size_bytes=100
    )
    return await Photo.create(
        lab=lab, equipment=machine, media=media, caption=caption, position=position
    )


async def quick_user(email: str, name: str = "") -> User:
    """A verified user without a usable password (no argon2 cost)."""
    return await User.create(
        email=email,
        full_name=name or email.split("@")[0].title(),
        password_hash="!unusable",
        email_verified_at=timezone.now(),
    )


async def bearer(user: User) -> dict[str, str]:
    _token, plaintext = await create_token(user, "tests")
    return {"Authorization": f"Bearer {plaintext}"}


async def user_with_token(email: str) -> tuple[User, dict[str, str]]:
    user = await quick_user(email)
    return user, await bearer(user)


async def certify(user: User, category: EquipmentCategory, **fields) -> Certification:
    return await Certification.create(user_id=user.id, category=category, **fields)


def local_day(days_ahead: int) -> date:
    """A date in the lab's zone, `days_ahead` days from today."""
    return (timezone.now().astimezone(HCMC) + timedelta(days=days_ahead)).date()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """Local wall-clock time in Ho Chi Minh City as an aware datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=HCMC)


def booking_json(equipment: Equipment, start: datetime, end: datetime, purpose: str = "") -> dict:
    return {
        "equipment_id": equipment.id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "purpose": purpose or "Prototype enclosure",
    }
