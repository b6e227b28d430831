"""Demo data of the lab network (idempotent): the labs named in CONTEXT.md, their machines,
rules, VND rates, opening hours, a Tết closure, a training session, certifications, staff,
and a few weeks of past and future bookings.

Runs after the kernel seed (`python -m ecosystem seed --demo`), whose organisations and demo
accounts it uses. Running it again changes nothing: everything is looked up before it is
created, and bookings are only generated for a lab that has none.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise import timezone

from ecosystem.db import atomic
from ecosystem.models import Organisation, User
from ecosystem.payments.services import ledger
from labs.models import (
    Booking,
    BookingStatus,
    Certification,
    Closure,
    Equipment,
    EquipmentCategory,
    EquipmentRate,
    Lab,
    LabKind,
    LabStaff,
    OpeningHours,
    TrainingSession,
)
from labs.services.payments import issuer_key

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")
C = EquipmentCategory

# Mon–Fri 08:00–17:00, Saturday mornings 08:00–12:00 (minutes since local midnight).
OPENING = [(weekday, 480, 1020) for weekday in range(5)] + [(5, 480, 720)]
TET_CLOSURES = [
    (date(2026, 2, 14), date(2026, 2, 22), "Tết Bính Ngọ 2026"),
    (date(2027, 2, 4), date(2027, 2, 12), "Tết Đinh Mùi 2027"),
]

# Rates per hour in VND by user category.
BASIC = {
    "student_host": 0,
    "student": 20_000,
    "startup": 50_000,
    "enterprise": 100_000,
    "public": 60_000,
}
LASER = {
    "student_host": 30_000,
    "student": 60_000,
    "startup": 120_000,
    "enterprise": 250_000,
    "public": 150_000,
}
HEAVY = {
    "student_host": 50_000,
    "student": 100_000,
    "startup": 200_000,
    "enterprise": 400_000,
    "public": 250_000,
}
BIO = {
    "student_host": 40_000,
    "student": 80_000,
    "startup": 150_000,
    "enterprise": 300_000,
    "public": 200_000,
}
BENCH = {"student_host": 0, "student": 0, "startup": 20_000, "enterprise": 50_000, "public": 30_000}

# (name, category, specifications, rates, rules)
PRINTER = {"requires_training": True, "max_minutes": 480, "slot_step_minutes": 30}
LASER_RULES = {"requires_training": True, "max_minutes": 180, "weekly_quota_minutes": 360}
CNC_RULES = {
    "requires_training": True,
    "requires_approval": True,
    "min_minutes": 60,
    "max_minutes": 240,
    "notice_minutes": 1440,
}

LABS: list[dict] = [
    {
        "slug": "becamex-fablab",
        "name": "Becamex FabLab",
        "host": "becamex-idc",
        "kind": LabKind.FABLAB,
        "address": "Trung tâm Hành chính tập trung, Thủ Dầu Một, Bình Dương",
        "email": "fablab@becamex.com.vn",
        "phone": "+84 274 3822 655",
        "description": "Open fabrication lab of Becamex IDC: digital fabrication for students, "
        "startups and companies of the province.",
        "machines": [
            (
                "Prusa MK4 #1",
                C.PRINTER_3D,
                {"build_volume_mm": "250×210×220", "nozzle_mm": 0.4},
                BASIC,
                PRINTER,
            ),
            (
                "Prusa MK4 #2",
                C.PRINTER_3D,
                {"build_volume_mm": "250×210×220", "nozzle_mm": 0.4},
                BASIC,
                PRINTER,
            ),
            (
                "Ultimaker S5",
                C.PRINTER_3D,
                {"build_volume_mm": "330×240×300", "dual_extrusion": True},
                BASIC,
                PRINTER,
            ),
            (
                "Trotec Speedy 400 laser cutter",
                C.LASER_CUTTER,
                {"power_w": 120, "bed_mm": "1000×610"},
                LASER,
                LASER_RULES,
            ),
            (
                "Shapeoko 5 Pro CNC router",
                C.CNC,
                {"work_area_mm": "1220×610×152"},
                HEAVY,
                CNC_RULES,
            ),
            (
                "Bantam Tools PCB mill",
                C.PCB_MILL,
                {"min_trace_mm": 0.1},
                BASIC,
                {"requires_training": True, "max_minutes": 180},
            ),
            (
                "Electronics bench A",
                C.ELECTRONICS_BENCH,
                {"oscilloscope": "Rigol DS1054Z", "soldering": "Hakko FX-888D"},
                BENCH,
                {},
            ),
            (
                "Electronics bench B",
                C.ELECTRONICS_BENCH,
                {"oscilloscope": "Rigol DS1054Z", "soldering": "Hakko FX-888D"},
                BENCH,
                {},
            ),
        ],
    },
    {
        "slug": "eiu-lighting-living-lab",
        "name": "EIU Smart Lighting Living Lab",
        "host": "eiu",
        "kind": LabKind.LIVING_LAB,
        "address": "Eastern International University, Nam Kỳ Khởi Nghĩa, Thủ Dầu Một",
        "email": "livinglab@eiu.edu.vn",
        "phone": "",
        "description": "Living Lab with Philips Lighting (partner): smart lighting across the EIU "
        "campus used as a real test bed.",
        "machines": [
            (
                "Campus smart-lighting test bed",
                C.TEST_BED,
                {
                    "luminaires": 120,
                    "protocols": ["DALI-2", "Zigbee"],
                    "partner": "Philips Lighting",
                },
                HEAVY,
                {
                    "requires_approval": True,
                    "min_minutes": 60,
                    "max_minutes": 480,
                    "notice_minutes": 2880,
                    "slot_step_minutes": 60,
                },
            ),
            (
                "Connected lighting control rig",
                C.TEST_BED,
                {"controllers": "Interact City"},
                LASER,
                {"requires_training": True, "max_minutes": 240},
            ),
            ("Photometry bench", C.ELECTRONICS_BENCH, {"spectrometer": "380–780 nm"}, BENCH, {}),
        ],
    },
    {
        "slug": "tdmu-biotech-fablab",
        "name": "TDMU Biotechnology FabLab",
        "host": "tdmu",
        "kind": LabKind.FABLAB,
        "address": "Thu Dau Mot University, 6 Trần Văn Ơn, Thủ Dầu Một",
        "email": "biofablab@tdmu.edu.vn",
        "phone": "",
        "description": "Biotechnology FabLab of Thu Dau Mot University.",
        "machines": [
            (
                "Bio-Rad T100 thermal cycler (PCR)",
                C.BIOTECH_INSTRUMENT,
                {"wells": 96},
                BIO,
                {"requires_training": True, "max_minutes": 240},
            ),
            (
                "Class II biosafety cabinet",
                C.BIOTECH_INSTRUMENT,
                {"class": "II A2"},
                BIO,
                {"requires_training": True, "max_minutes": 180},
            ),
            (
                "Olympus CX23 microscope",
                C.BIOTECH_INSTRUMENT,
                {"magnification": "40–1000×"},
                BENCH,
                {},
            ),
        ],
    },
    {
        "slug": "tdmu-ict-fablab",
        "name": "TDMU ICT FabLab",
        "host": "tdmu",
        "kind": LabKind.FABLAB,
        "address": "Thu Dau Mot University, 6 Trần Văn Ơn, Thủ Dầu Một",
        "email": "ictfablab@tdmu.edu.vn",
        "phone": "",
        "description": "ICT FabLab of Thu Dau Mot University: electronics, IoT and prototyping.",
        "machines": [
            (
                "Creality K1 3D printer",
                C.PRINTER_3D,
                {"build_volume_mm": "220×220×250"},
                BASIC,
                PRINTER,
            ),
            (
                "IoT electronics bench",
                C.ELECTRONICS_BENCH,
                {"boards": "ESP32, Raspberry Pi 5"},
                BENCH,
                {},
            ),
            (
                "LPKF ProtoMat PCB mill",
                C.PCB_MILL,
                {"min_trace_mm": 0.1},
                BASIC,
                {"requires_training": True, "max_minutes": 180},
            ),
        ],
    },
    {
        "slug": "vsvc-mechatronics-lab",
        "name": "Vietnam–Singapore Mechatronics Lab",
        "host": "vsvc",
        "kind": LabKind.TECHLAB,
        "address": "Vietnam–Singapore Vocational College, Thuận An, Bình Dương",
        "email": "",
        "phone": "",
        "description": "Mechatronics lab of the Vietnam–Singapore vocational college.",
        "machines": [
            ("Haas mini mill CNC", C.CNC, {"travel_mm": "406×305×254"}, HEAVY, CNC_RULES),
            ("Siemens S7-1200 PLC bench", C.ELECTRONICS_BENCH, {"plc": "S7-1200"}, BENCH, {}),
            (
                "6-axis robot arm cell",
                C.OTHER,
                {"payload_kg": 5},
                HEAVY,
                {"requires_training": True, "requires_approval": True, "min_minutes": 60},
            ),
        ],
    },
    {
        "slug": "binh-duong-shared-fablab",
        "name": "Binh Duong Provincial Shared FabLab",
        "host": "sokhcn-binh-duong",
        "kind": LabKind.FABLAB,
        "address": "Sở Khoa học và Công nghệ, Thủ Dầu Một, Bình Dương",
        "email": "",
        "phone": "",
        "description": "The shared provincial FabLab planned for 2019–2020, open to residents, "
        "students and companies.",
        "machines": [
            (
                "Bambu Lab X1 Carbon",
                C.PRINTER_3D,
                {"build_volume_mm": "256×256×256"},
                BASIC,
                PRINTER,
            ),
            (
                "Epilog Fusion Pro 32 laser cutter",
                C.LASER_CUTTER,
                {"power_w": 80},
                LASER,
                LASER_RULES,
            ),
            ("Shared electronics bench", C.ELECTRONICS_BENCH, {}, BENCH, {}),
        ],
    },
]

# Who books what in the generated bookings: (email, may book machines needing training of
# these categories).
BOOKERS = [
    ("student@example.org", {C.PRINTER_3D}),
    ("founder@example.org", {C.PRINTER_3D, C.LASER_CUTTER, C.CNC, C.PCB_MILL}),
    ("manager@example.org", set()),
    ("organiser@example.org", {C.TEST_BED}),
]
CERTIFICATIONS = {
    "student@example.org": [C.PRINTER_3D],
    "founder@example.org": [C.PRINTER_3D, C.LASER_CUTTER, C.CNC, C.PCB_MILL],
    "organiser@example.org": [C.TEST_BED],
}
STAFF = [("staff@example.org", "becamex-fablab")]
BOOKING_DAYS = 21  # weeks of bookings before and after today
DAILY_SLOTS = [(time(9), time(11)), (time(13, 30), time(15, 30))]


async def _lab(spec: dict, host: Organisation) -> Lab:
    lab = await Lab.get_or_none(slug=spec["slug"])
    if lab is None:
        lab = await Lab.create(
            organisation=host,
            slug=spec["slug"],
            name=spec["name"],
            kind=spec["kind"],
            address=spec["address"],
            contact_email=spec["email"],
            contact_phone=spec["phone"],
            description=spec["description"],
        )
    if not await OpeningHours.exists(lab_id=lab.id):
        await OpeningHours.bulk_create(
            [
                OpeningHours(lab=lab, weekday=d, opens_minute=o, closes_minute=c)
                for d, o, c in OPENING
            ]
        )
    for first, last, reason in TET_CLOSURES:
        await Closure.get_or_create(
            lab=lab, first_day=first, defaults={"last_day": last, "reason": reason}
        )
    return lab


async def _machines(lab: Lab, specs: list) -> list[Equipment]:
    machines = []
    for name, category, specifications, rates, rules in specs:
        equipment = await Equipment.get_or_none(lab_id=lab.id, name=name)
        if equipment is None:
            equipment = await Equipment.create(
                lab=lab, name=name, category=category, specifications=specifications, **rules
            )
        for code, rate in rates.items():
            await EquipmentRate.get_or_create(
                equipment=equipment, category=code, defaults={"rate_per_hour": rate}
            )
        machines.append(equipment)
    return machines


async def _bookings(lab: Lab, machines: list[Equipment], users: dict[str, User]) -> None:
    """Past (completed or no-show) and future (confirmed) bookings, never overlapping: each
    machine gets at most the two fixed daily slots, on open weekdays outside closures."""
    if await Booking.exists(equipment__lab_id=lab.id):
        return
    today = timezone.now().astimezone(HCMC).date()
    now = timezone.now()
    closed = [(first, last) for first, last, _reason in TET_CLOSURES]
    rows: list[Booking] = []
    counter = 0
    for offset in range(-BOOKING_DAYS, BOOKING_DAYS + 1):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5 or any(first <= day <= last for first, last in closed):
            continue
        for m_index, machine in enumerate(machines):
            for s_index, (opens, closes) in enumerate(DAILY_SLOTS):
                counter += 1
                # Roughly half the slots are booked, deterministically.
                if (offset + m_index * 3 + s_index) % 2:
                    continue
                email, certified = BOOKERS[(counter + m_index) % len(BOOKERS)]
                if machine.requires_training and machine.category not in certified:
                    trained = [e for e, cats in BOOKERS if machine.category in cats]
                    if not trained:
                        continue
                    email = trained[counter % len(trained)]
                start = datetime.combine(day, opens, tzinfo=HCMC).astimezone(UTC)
                end = datetime.combine(day, closes, tzinfo=HCMC).astimezone(UTC)
                if end - start > timedelta(minutes=machine.max_minutes):
                    end = start + timedelta(minutes=machine.max_minutes)
                if end <= now:
                    no_show = counter % 9 == 0
                    status = BookingStatus.NO_SHOW if no_show else BookingStatus.COMPLETED
                    checked_in = None if no_show else start + timedelta(minutes=5)
                    checked_out = None if no_show else end - timedelta(minutes=5)
                elif start <= now:
                    continue  # nothing running right now
                else:
                    status, checked_in, checked_out = BookingStatus.CONFIRMED, None, None
                rows.append(
                    Booking(
                        equipment_id=machine.id,
                        user_id=users[email].id,
                        starts_at=start,
                        ends_at=end,
                        status=status,
                        purpose="Demo: prototype for a course project",
                        check_in_code=secrets.token_urlsafe(12),
                        checked_in_at=checked_in,
                        checked_out_at=checked_out,
                        usage_note="" if checked_out is None else "Finished as planned.",
                        reminded_at=start - timedelta(hours=1) if end <= now else None,
                    )
                )
    if rows:
        await Booking.bulk_create(rows, batch_size=500)


async def seed_labs() -> None:
    emails = {email for email, _c in BOOKERS} | {email for email, _l in STAFF}
    users = {u.email: u for u in await User.filter(email__in=list(emails))}
    hosts = {o.slug: o for o in await Organisation.filter(slug__in=[s["host"] for s in LABS])}
    missing = {s["host"] for s in LABS} - set(hosts)
    if missing:
        raise RuntimeError(f"run the kernel seed first (missing organisations: {missing})")
    async with atomic():
        labs: dict[str, Lab] = {}
        for spec in LABS:
            lab = await _lab(spec, hosts[spec["host"]])
            labs[lab.slug] = lab
            machines = await _machines(lab, spec["machines"])
            if set(emails) <= set(users):
                await _bookings(lab, machines, users)
        for email, slug in STAFF:
            if email in users:
                await LabStaff.get_or_create(lab=labs[slug], user_id=users[email].id)
        for email, categories in CERTIFICATIONS.items():
            if email not in users:
                continue
            for category in categories:
                if not await Certification.exists(user_id=users[email].id, category=category):
                    await Certification.create(user_id=users[email].id, category=category)
        becamex = labs["becamex-fablab"]
        # Payments: half refunded after the deadline, and a welcome credit for the student.
        await Lab.filter(id=becamex.id).update(late_cancellation_refund_percent=50)
        if "student@example.org" in users:
            # Granted out of the lab's budget, which the platform admins funded.
            await ledger.fund(
                issuer_key(becamex.id),
                5_000_000,
                reason="Demo: the province's support for Becamex FabLab's welcome credit",
                reference="demo:budget:becamex-fablab",
            )
            await ledger.grant_credit(
                actor=None,
                amount=300_000,
                reason="Welcome credit of Becamex FabLab for EIU students",
                source=issuer_key(becamex.id),
                user=users["student@example.org"],
                reference="demo:welcome:student",
            )
        if not await TrainingSession.exists(lab_id=becamex.id):
            day = timezone.now().astimezone(HCMC).date() + timedelta(days=10)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            await TrainingSession.create(
                lab=becamex,
                category=C.LASER_CUTTER,
                title="Laser cutter safety and first cuts",
                starts_at=datetime.combine(day, time(9), tzinfo=HCMC).astimezone(UTC),
                ends_at=datetime.combine(day, time(12), tzinfo=HCMC).astimezone(UTC),
                capacity=8,
            )
