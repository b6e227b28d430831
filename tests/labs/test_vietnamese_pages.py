"""Every labs page a student and a lab's staff reach says everything in the reader's language:
no English weekday or month names, no "Morning/Afternoon", no raw keys of stored values, no
decimal point inside a number in Vietnamese, no times with seconds (issue 15, item 8)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from labs.models import (
    Booking,
    BookingStatus,
    EquipmentCategory,
    LabStaff,
    TrainingEnrolment,
    TrainingSession,
    WaitlistEntry,
)
from tests.conftest import add_member, person
from tests.labs.conftest import at, local_day, make_equipment, make_lab


class _VisibleText(HTMLParser):
    """The text a person reads: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template", "textarea"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template", "textarea") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


ENGLISH_DAYS = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Morning",
    "Afternoon",
]
ENGLISH_SHORT = [
    "Mon",
    "Tue",
    "Wed",
    "Thu",
    "Fri",
    "Sat",
    "Sun",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]
RAW_KEYS = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
KNOWN_RAW = ("laser_cutter", "3d_printer", "build_volume_mm", "bed_size_mm", "laser_power_w")
DECIMAL_POINT = re.compile(r"\b\d+\.\d+\b")
THOUSANDS = re.compile(r"\b\d{1,3}(?:\.\d{3})+\b")
SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")
EMAIL = re.compile(r"\S+@\S+")


def findings(text: str, locale: str) -> list[str]:
    text = EMAIL.sub(" ", text)
    found = []
    if locale == "vi":
        found += [word for word in ENGLISH_DAYS if re.search(rf"\b{word}\b", text)]
        found += [word for word in ENGLISH_SHORT if re.search(rf"\b{word}\b", text)]
        # "50.000" is a Vietnamese thousands group; "0.7" is an English decimal point.
        found += DECIMAL_POINT.findall(THOUSANDS.sub(" ", text))
    found += RAW_KEYS.findall(text)
    found += [key for key in KNOWN_RAW if key in text]
    found += SECONDS.findall(text)
    return found


async def seeded_lab(locale: str):
    lab = await make_lab(name="Becamex FabLab", slug="becamex-fablab")
    staff = await person("staff@becamex.com.vn", locale=locale)
    await LabStaff.create(lab=lab, user=staff)
    await add_member(staff, await lab.organisation, "admin")  # may also add staff and labs
    student = await person("lan@eiu.edu.vn", locale=locale)
    laser = await make_equipment(
        lab,
        "Trotec Speedy 400",
        EquipmentCategory.LASER_CUTTER,
        rates={"public": 200_000},
        specifications={"bed_size_mm": "1000 × 610", "laser_power_w": 80},
    )
    printer = await make_equipment(
        lab,
        "Prusa MK4",
        EquipmentCategory.PRINTER_3D,
        rates={"public": 50_000},
        specifications={"build_volume_mm": "250 × 210 × 220", "nozzle_mm": 0.4},
    )
    cnc = await make_equipment(
        lab,
        "Shapeoko 4",
        EquipmentCategory.CNC,
        rates={"public": 120_000},
        requires_approval=True,
        specifications={"work_area_mm": [838, 838, 95], "dual_extrusion": True, "rpm_max": 1.5},
    )
    day = local_day(3)
    start = at(day, 9).astimezone(UTC)
    booking = await Booking.create(
        equipment=printer,
        user=student,
        starts_at=start,
        ends_at=start + timedelta(minutes=42),
        status=BookingStatus.CONFIRMED,
        price_amount=35_000,
        check_in_code="vi-pages-1",
        checked_in_at=start,
        checked_out_at=start + timedelta(minutes=42),
    )
    await Booking.create(
        equipment=printer,
        user=student,
        starts_at=start - timedelta(days=7),
        ends_at=start - timedelta(days=7) + timedelta(minutes=90),
        status=BookingStatus.CONFIRMED,
        price_amount=75_000,
        check_in_code="vi-pages-2",
        checked_in_at=start - timedelta(days=7),
        checked_out_at=start - timedelta(days=7) + timedelta(minutes=90),
    )
    pending_start = at(day, 14).astimezone(UTC)
    await Booking.create(
        equipment=cnc,
        user=student,
        starts_at=pending_start,
        ends_at=pending_start + timedelta(hours=1),
        status=BookingStatus.PENDING,
        price_amount=120_000,
        check_in_code="vi-pages-3",
    )
    session = await TrainingSession.create(
        lab=lab,
        category=EquipmentCategory.LASER_CUTTER,
        title="Laser safety",
        starts_at=at(local_day(5), 14).astimezone(UTC),
        ends_at=at(local_day(5), 17).astimezone(UTC),
        capacity=4,
    )
    await TrainingEnrolment.create(session=session, user=student)
    await WaitlistEntry.create(
        equipment=printer, user=student, starts_at=start, ends_at=start + timedelta(hours=1)
    )
    return lab, laser, printer, cnc, booking, day


@pytest.mark.parametrize("locale", ["vi", "en"])
async def test_every_labs_page_speaks_the_readers_language(new_browser, locale):
    lab, laser, printer, cnc, booking, day = await seeded_lab(locale)
    week = day.isoformat()
    student_pages = [
        "/labs",
        f"/labs/search?category=3d_printer&day={week}&part=morning&duration=60",
        f"/labs/search?category=laser_cutter&day={week}&from=13:00&to=17:00",
        f"/labs/{lab.slug}",
        f"/labs/{lab.slug}/week",
        f"/labs/{lab.slug}/week?start={week}",
        f"/labs/{lab.slug}/day?date={week}",
        f"/labs/{lab.slug}/day?date={week}&certified=1",
        f"/equipment/{printer.id}",
        f"/equipment/{laser.id}",
        f"/equipment/{cnc.id}",
        f"/equipment/{printer.id}/week",
        f"/equipment/{printer.id}/book?" + urlencode({"start": at(day, 11).isoformat()}),
        "/bookings",
        "/bookings/calendar",
        f"/bookings/{booking.id}/reschedule",
        "/trainings",
        "/trainings/mine",
        "/waitlist",
    ]
    staff_pages = [
        f"/labs/{lab.slug}/manage",
        f"/labs/{lab.slug}/staff",
        "/labs/new",
        f"/labs/{lab.slug}/equipment/new",
        f"/labs/{lab.slug}/equipment/{printer.id}/edit",
        f"/labs/{lab.slug}/equipment/{printer.id}/recurring",
        f"/labs/{lab.slug}/approvals",
        f"/labs/{lab.slug}/agenda?day={week}",
        f"/labs/{lab.slug}/agenda",
        f"/labs/{lab.slug}/checkin",
        f"/labs/{lab.slug}/walk-in",
        f"/labs/{lab.slug}/photos",
        f"/labs/{lab.slug}/walk-in?q=lan",
        f"/labs/checkin/{booking.check_in_code}",
        f"/labs/{lab.slug}/trainings",
        f"/labs/{lab.slug}/usage",
        f"/labs/{lab.slug}/payments",
    ]
    problems: dict[str, list[str]] = {}
    for email, pages in (("lan@eiu.edu.vn", student_pages), ("staff@becamex.com.vn", staff_pages)):
        browser = new_browser()
        await browser.login(email)
        for url in pages:
            response = await browser.get(url)
            if url.endswith(("/week", "/book?", "calendar")) or "/book?" in url:
                fragment = await browser.get(url, headers={"HX-Request": "true"})
                if found := findings(visible_text(fragment.text), locale):
                    problems[f"{url} (htmx)"] = found
            if response.status_code != 200:
                problems[url] = [f"status {response.status_code}"]
                continue
            assert f'lang="{locale}"' in response.text, url
            if found := findings(visible_text(response.text), locale):
                problems[url] = found
    assert not problems, "\n".join(f"{url}: {found}" for url, found in problems.items())
