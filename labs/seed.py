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

# Demo content in several languages (ecosystem.content): the partners wrote their labs in
# English; the province's team added Vietnamese and Korean (the Korean contest site reads them).
LAB_TEXTS: dict[str, dict] = {
    "becamex-fablab": {
        "vi": {
            "name": "FabLab Becamex",
            "description": "Xưởng chế tạo mở của Becamex IDC: chế tạo số cho sinh viên, "
            "công ty khởi nghiệp và doanh nghiệp trong tỉnh.",
        },
        "ko": {
            "name": "베카멕스 팹랩",
            "description": "베카멕스 IDC가 운영하는 개방형 제작 공간입니다. 도내 학생, "
            "스타트업, 기업을 위한 디지털 제작 장비를 갖추고 있습니다.",
        },
    },
    "eiu-lighting-living-lab": {
        "vi": {
            "name": "Living Lab Chiếu sáng thông minh EIU",
            "description": "Living Lab hợp tác với Philips Lighting: hệ thống chiếu sáng "
            "thông minh trên toàn khuôn viên EIU, dùng làm nền tảng thử nghiệm thực tế.",
        },
        "ko": {
            "name": "EIU 스마트 조명 리빙랩",
            "description": "Philips Lighting과 함께 운영하는 리빙랩입니다. EIU 캠퍼스 전체의 "
            "스마트 조명을 실제 테스트베드로 활용합니다.",
        },
    },
    "tdmu-biotech-fablab": {
        "vi": {
            "name": "FabLab Công nghệ sinh học TDMU",
            "description": "FabLab công nghệ sinh học của Trường Đại học Thủ Dầu Một.",
        },
        "ko": {
            "name": "TDMU 생명공학 팹랩",
            "description": "투더우못 대학교의 생명공학 팹랩입니다.",
        },
    },
    "tdmu-ict-fablab": {
        "vi": {
            "name": "FabLab CNTT TDMU",
            "description": "FabLab công nghệ thông tin của Trường Đại học Thủ Dầu Một: "
            "điện tử, IoT và làm mẫu thử.",
        },
        "ko": {
            "name": "TDMU ICT 팹랩",
            "description": "투더우못 대학교의 ICT 팹랩입니다. 전자, IoT, 시제품 제작을 지원합니다.",
        },
    },
    "vsvc-mechatronics-lab": {
        "vi": {
            "name": "Phòng lab Cơ điện tử Việt Nam – Singapore",
            "description": "Phòng lab cơ điện tử của Trường Cao đẳng nghề Việt Nam – Singapore.",
        },
        "ko": {
            "name": "베트남–싱가포르 메카트로닉스 랩",
            "description": "베트남–싱가포르 직업전문대학의 메카트로닉스 랩입니다.",
        },
    },
}
MACHINE_TEXTS: dict[str, dict] = {
    "Trotec Speedy 400 laser cutter": {
        "description": "120 W CO₂ laser for cutting and engraving wood, acrylic, leather and "
        "cardboard up to 1000 × 610 mm. Metals and PVC are not allowed.",
        "vi": {
            "name": "Máy cắt laser Trotec Speedy 400",
            "description": "Laser CO₂ 120 W để cắt và khắc gỗ, mica, da và bìa cứng, khổ tối "
            "đa 1000 × 610 mm. Không dùng cho kim loại và nhựa PVC.",
        },
        "ko": {
            "name": "Trotec Speedy 400 레이저 커터",
            "description": "목재, 아크릴, 가죽, 골판지를 최대 1000 × 610 mm까지 절단하고 "
            "각인하는 120 W CO₂ 레이저입니다. 금속과 PVC는 사용할 수 없습니다.",
        },
    },
    "Prusa MK4 #1": {
        "description": "FDM printer for PLA, PETG and TPU prototypes; bring your own STL or "
        "3MF file on a USB stick.",
        "vi": {
            "name": "Máy in 3D Prusa MK4 số 1",
            "description": "Máy in FDM cho mẫu thử bằng PLA, PETG và TPU; mang theo tệp STL "
            "hoặc 3MF trong USB.",
        },
        "ko": {
            "name": "Prusa MK4 3D 프린터 1호기",
            "description": "PLA, PETG, TPU 시제품용 FDM 프린터입니다. STL 또는 3MF 파일을 "
            "USB에 담아 오세요.",
        },
    },
    "Ultimaker S5": {
        "description": "Dual-extrusion printer: soluble supports for complex parts.",
        "vi": {
            "name": "Máy in 3D Ultimaker S5",
            "description": "Máy in hai đầu đùn: vật liệu đỡ hòa tan cho chi tiết phức tạp.",
        },
        "ko": {
            "name": "Ultimaker S5 3D 프린터",
            "description": "듀얼 익스트루전 프린터입니다. 복잡한 부품에 수용성 서포트를 쓸 수 "
            "있습니다.",
        },
    },
    "Bio-Rad T100 thermal cycler (PCR)": {
        "vi": {"name": "Máy luân nhiệt Bio-Rad T100 (PCR)"},
        "ko": {"name": "Bio-Rad T100 써멀 사이클러(PCR)"},
    },
}
TRAINING_TEXTS = {
    "Laser cutter safety and first cuts": {
        "vi": {"title": "An toàn khi dùng máy cắt laser và những đường cắt đầu tiên"},
        "ko": {"title": "레이저 커터 안전 교육과 첫 절단 실습"},
    },
}


async def _texts(obj: Lab | Equipment | TrainingSession, texts: dict | None) -> None:
    """The demo texts of an object written in English, once (an edited object is kept)."""
    if texts is None or obj.translations:
        return
    obj.content_locale = "en"
    obj.translations = {code: texts[code] for code in ("vi", "ko") if code in texts}
    fields = ["content_locale", "translations"]
    if texts.get("description") and not getattr(obj, "description", ""):
        obj.description = texts["description"]  # type: ignore[union-attr]
        fields.append("description")
    await obj.save(update_fields=fields)


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
    await _texts(lab, LAB_TEXTS.get(spec["slug"], {}))  # every demo lab is written in English
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
        await _texts(equipment, MACHINE_TEXTS.get(name))
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
            session = await TrainingSession.create(
                lab=becamex,
                category=C.LASER_CUTTER,
                title="Laser cutter safety and first cuts",
                starts_at=datetime.combine(day, time(9), tzinfo=HCMC).astimezone(UTC),
                ends_at=datetime.combine(day, time(12), tzinfo=HCMC).astimezone(UTC),
                capacity=8,
            )
            await _texts(session, TRAINING_TEXTS[session.title])
