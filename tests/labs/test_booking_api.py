"""The lab JSON API as tools see it: labs, equipment and the free-machine search,
availability, booking with every refusal naming its rule, my bookings, cancelling."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import httpx
import pytest

from ecosystem import jobs as kernel_jobs
from ecosystem.db import atomic
from ecosystem.models import Membership, MembershipStatus, Role, Sphere
from labs.intervals import Interval
from labs.models import (
    Blackout,
    Booking,
    BookingStatus,
    Closure,
    Equipment,
    EquipmentCategory,
    EquipmentStatus,
    LabStaff,
)
from labs.services import lock, prices, schedule
from tests.labs.conftest import (
    HCMC,
    at,
    bearer,
    booking_json,
    certify,
    local_day,
    make_equipment,
    make_host,
    make_lab,
    quick_user,
    user_with_token,
)

BOOKINGS = "/api/v1/bookings"
ALL_DAY = {weekday: [(time(0), time(0))] for weekday in range(7)}


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    """The JSON error with the right status and code; returns it."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


def parse_dt(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


# --- catalogue ---------------------------------------------------------------------------


async def test_labs_list_the_published_network_with_host_and_hours(client):
    host = await make_host("Eastern International University", Sphere.UNIVERSITY)
    lab = await make_lab(host, "EIU Lighting Living Lab", kind="livinglab", address="Nam Kỳ")
    await make_lab(host, "Hidden Lab", is_published=False)
    _user, headers = await user_with_token("an@eiu.edu.vn")

    response = await client.get("/api/v1/labs", headers=headers)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["name"] for item in items] == ["EIU Lighting Living Lab"]
    item = items[0]
    assert {"id", "slug", "name", "kind", "organisation"} <= set(item)
    assert item["id"] == lab.id and item["slug"] == "eiu-lighting-living-lab"
    assert item["kind"] == "livinglab" and item["address"] == "Nam Kỳ"
    assert item["organisation"]["id"] == host.id
    assert item["organisation"]["name"] == "Eastern International University"
    assert item["organisation"]["spheres"] == ["university"]
    assert item["timezone"] == "Asia/Ho_Chi_Minh"
    assert {"weekday": 0, "opens": "08:00", "closes": "18:00"} in item["opening_hours"]
    assert len(item["opening_hours"]) == 7


async def test_equipment_filters_by_lab_and_category(client):
    fablab = await make_lab()
    other = await make_lab(await make_host("TDMU"), "TDMU ICT FabLab")
    printer = await make_equipment(fablab, "Prusa MK4", rates={"public": 60_000})
    laser = await make_equipment(
        fablab, "Trotec Speedy 360", EquipmentCategory.LASER_CUTTER, requires_training=True
    )
    await make_equipment(other, "Bambu X1", specifications={"build_volume_mm": [256, 256, 256]})
    hidden = await make_lab(await make_host("Hidden"), "Hidden", is_published=False)
    await make_equipment(hidden, "Secret printer")
    _user, headers = await user_with_token("binh@becamex.com.vn")

    everything = await client.get("/api/v1/equipment", headers=headers)
    assert everything.status_code == 200
    assert [m["name"] for m in everything.json()["items"]] == [
        "Prusa MK4",
        "Trotec Speedy 360",
        "Bambu X1",
    ]
    assert everything.json()["total"] == 3

    in_lab = (await client.get(f"/api/v1/equipment?lab={fablab.id}", headers=headers)).json()
    assert {m["id"] for m in in_lab["items"]} == {printer.id, laser.id}
    lasers = await client.get(
        "/api/v1/equipment", params={"category": "laser_cutter"}, headers=headers
    )
    item = lasers.json()["items"][0]
    assert len(lasers.json()["items"]) == 1
    assert {"id", "name", "category", "lab_id", "requires_training"} <= set(item)
    assert item == item | {
        "id": laser.id,
        "name": "Trotec Speedy 360",
        "category": "laser_cutter",
        "lab_id": fablab.id,
        "requires_training": True,
        "status": "available",
    }
    assert item["rules"]["max_minutes"] == 240
    printer_item = in_lab["items"][0]
    assert printer_item["rates"] == [
        {"category": "public", "rate_per_hour": 60_000, "currency": "VND"}
    ]

    unknown = await client.get("/api/v1/equipment?category=time_machine", headers=headers)
    assert "category" in error_of(unknown, 422, "invalid")["fields"]


@pytest.mark.usefixtures("english")  # the assertions read English messages
async def test_free_search_finds_only_machines_bookable_for_the_whole_window(client):
    lab = await make_lab()
    closed_lab = await make_lab(await make_host("VSIP"), "Mechatronics Lab")
    free = await make_equipment(lab, "Laser A", EquipmentCategory.LASER_CUTTER)
    booked = await make_equipment(lab, "Laser B", EquipmentCategory.LASER_CUTTER)
    maintained = await make_equipment(
        lab, "Laser C", EquipmentCategory.LASER_CUTTER, status=EquipmentStatus.MAINTENANCE
    )
    blacked_out = await make_equipment(lab, "Laser D", EquipmentCategory.LASER_CUTTER)
    closed = await make_equipment(closed_lab, "Laser E", EquipmentCategory.LASER_CUTTER)
    await make_equipment(lab, "Printer", EquipmentCategory.PRINTER_3D)
    day = local_day(3)
    start, end = at(day, 13), at(day, 17)  # "Tuesday afternoon"
    user, headers = await user_with_token("chi@becamex.com.vn")
    await Booking.create(
        equipment=booked,
        user=user,
        starts_at=at(day, 16),
        ends_at=at(day, 17),
        status=BookingStatus.PENDING,
        check_in_code="pending-code",
    )
    # A cancelled booking and one that only touches the window do not make a machine busy.
    for code, (begin, finish, status) in enumerate(
        [
            (at(day, 13), at(day, 14), BookingStatus.CANCELLED),
            (at(day, 12), at(day, 13), BookingStatus.CONFIRMED),
        ]
    ):
        await Booking.create(
            equipment=free,
            user=user,
            starts_at=begin,
            ends_at=finish,
            status=status,
            check_in_code=f"code-{code}",
        )
    await Blackout.create(equipment=blacked_out, starts_at=at(day, 15), ends_at=at(day, 16))
    await Closure.create(lab=closed_lab, first_day=day, last_day=day, reason="Tết")
    await maintained.fetch_related("lab")

    response = await client.get(
        "/api/v1/equipment",
        params={
            "category": "laser_cutter",
            "free_from": start.isoformat(),
            "free_to": end.isoformat(),
        },
        headers=headers,
    )

    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["items"]] == [free.id]
    assert closed.id not in {m["id"] for m in response.json()["items"]}

    # Evening: the lab closes at 18:00, so nothing is free 17:00–19:00.
    evening = await client.get(
        "/api/v1/equipment",
        params={"free_from": at(day, 17).isoformat(), "free_to": at(day, 19).isoformat()},
        headers=headers,
    )
    assert evening.json()["items"] == []

    half = await client.get(
        "/api/v1/equipment", params={"free_from": start.isoformat()}, headers=headers
    )
    assert "free_to" in error_of(half, 422, "invalid")["fields"]
    too_long = await client.get(
        "/api/v1/equipment",
        params={
            "free_from": start.isoformat(),
            "free_to": (start + timedelta(days=40)).isoformat(),
        },
        headers=headers,
    )
    error_of(too_long, 422, "window_too_long")
    naive = await client.get(
        "/api/v1/equipment",
        params={"free_from": "2030-01-01T09:00:00", "free_to": "2030-01-01T10:00:00"},
        headers=headers,
    )
    assert "offset" in error_of(naive, 422, "invalid")["fields"]["free_from"]


# --- availability --------------------------------------------------------------------------


async def test_availability_splits_the_window_into_free_and_anonymous_busy_time(client):
    lab = await make_lab()
    machine = await make_equipment(lab)
    owner = await quick_user("dung@eiu.edu.vn")
    day = local_day(2)
    for code, (begin, finish) in enumerate([(9, 10), (10, 11), (14, 15)]):
        await Booking.create(
            equipment=machine,
            user=owner,
            starts_at=at(day, begin),
            ends_at=at(day, finish),
            status=BookingStatus.CONFIRMED,
            purpose="Secret project",
            check_in_code=f"c{code}",
        )
    await Booking.create(
        equipment=machine,
        user=owner,
        starts_at=at(day, 16),
        ends_at=at(day, 17),
        status=BookingStatus.CANCELLED,
        check_in_code="cancelled",
    )
    await Blackout.create(equipment=machine, starts_at=at(day, 12), ends_at=at(day, 13))
    _viewer, headers = await user_with_token("em@becamex.com.vn")

    response = await client.get(
        f"/api/v1/equipment/{machine.id}/availability",
        params={"from": at(day, 0).isoformat(), "to": at(day + timedelta(days=1), 0).isoformat()},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert {"free", "busy"} <= set(body)
    for interval in body["free"] + body["busy"]:
        assert set(interval) == {"start", "end"}  # who booked is never shown
    assert "+07:00" in body["busy"][0]["start"]
    as_pairs = {
        key: [(parse_dt(i["start"]), parse_dt(i["end"])) for i in body[key]]
        for key in ("free", "busy")
    }
    assert as_pairs["busy"] == [(at(day, 9), at(day, 11)), (at(day, 14), at(day, 15))]
    assert as_pairs["free"] == [
        (at(day, 8), at(day, 9)),
        (at(day, 11), at(day, 12)),
        (at(day, 13), at(day, 14)),
        (at(day, 15), at(day, 18)),
    ]
    assert "Secret" not in response.text and "dung" not in response.text


async def test_availability_refuses_bad_windows_and_unknown_machines(client):
    machine = await make_equipment(await make_lab())
    _user, headers = await user_with_token("giang@eiu.edu.vn")
    url = f"/api/v1/equipment/{machine.id}/availability"
    day = local_day(1)

    naive = await client.get(
        url, params={"from": "2030-01-01T00:00:00", "to": "2030-01-02T00:00:00Z"}, headers=headers
    )
    assert set(error_of(naive, 422, "invalid")["fields"]) == {"from"}
    missing = await client.get(url, params={"from": at(day, 0).isoformat()}, headers=headers)
    assert "to" in error_of(missing, 422, "invalid")["fields"]
    backwards = await client.get(
        url, params={"from": at(day, 10).isoformat(), "to": at(day, 9).isoformat()}, headers=headers
    )
    assert "to" in error_of(backwards, 422, "invalid")["fields"]
    too_long = await client.get(
        url,
        params={"from": at(day, 0).isoformat(), "to": at(day + timedelta(days=32), 0).isoformat()},
        headers=headers,
    )
    error_of(too_long, 422, "window_too_long")
    a_month = await client.get(
        url,
        params={"from": at(day, 0).isoformat(), "to": at(day + timedelta(days=31), 0).isoformat()},
        headers=headers,
    )
    assert a_month.status_code == 200
    # An unencoded "+" in the offset arrives as a space: still understood.
    plain = await client.get(
        f"{url}?from={day.isoformat()}T00:00:00+07:00&to={day.isoformat()}T23:00:00+07:00",
        headers=headers,
    )
    assert plain.status_code == 200, plain.text
    unknown = await client.get(
        "/api/v1/equipment/999999/availability",
        params={"from": at(day, 0).isoformat(), "to": at(day, 23).isoformat()},
        headers=headers,
    )
    error_of(unknown, 404, "not_found")


async def test_ids_beyond_the_databases_integers_are_not_found(client):
    """No row has such an id: 404 on SQLite and PostgreSQL alike, never a driver overflow."""
    _user, headers = await user_with_token("hoa@eiu.edu.vn")
    day = local_day(1)
    window = {"from": at(day, 0).isoformat(), "to": at(day, 23).isoformat()}
    move = {"start": at(day, 9).isoformat(), "end": at(day, 10).isoformat()}
    for huge in (2**31, 97317008904582857552587761693954670592):
        answers = (
            await client.get(
                f"/api/v1/equipment/{huge}/availability", params=window, headers=headers
            ),
            await client.get(f"{BOOKINGS}/{huge}", headers=headers),
            await client.post(f"{BOOKINGS}/{huge}/cancel", headers=headers),
            await client.post(f"{BOOKINGS}/{huge}/reschedule", json=move, headers=headers),
        )
        for answer in answers:
            error_of(answer, 404, "not_found")


async def test_availability_runs_a_constant_number_of_queries(client, count_queries):
    machine = await make_equipment(await make_lab())
    owner, headers = await user_with_token("hai@eiu.edu.vn")
    first = local_day(1)
    url = f"/api/v1/equipment/{machine.id}/availability"
    params = {"from": at(first, 0).isoformat(), "to": at(first + timedelta(days=14), 0).isoformat()}

    async def book(count: int, offset: int) -> None:
        await Booking.bulk_create(
            [
                Booking(
                    equipment=machine,
                    user=owner,
                    starts_at=at(first + timedelta(days=(offset + n) // 8), 8 + (offset + n) % 8),
                    ends_at=at(first + timedelta(days=(offset + n) // 8), 9 + (offset + n) % 8),
                    status=BookingStatus.CONFIRMED,
                    check_in_code=f"q{offset + n}",
                )
                for n in range(count)
            ]
        )

    await book(3, 0)
    await client.get(url, params=params, headers=headers)  # token use recorded once
    with count_queries() as few:
        small = await client.get(url, params=params, headers=headers)
    await book(60, 3)
    with count_queries() as many:
        large = await client.get(url, params=params, headers=headers)

    assert small.status_code == large.status_code == 200
    assert len(large.json()["busy"]) > len(small.json()["busy"])
    assert len(many.statements) == len(few.statements) <= 4, many.statements


# --- booking ---------------------------------------------------------------------------------


async def test_booking_returns_201_with_status_times_and_price(client):
    lab = await make_lab()
    machine = await make_equipment(lab, rates={"public": 120_000, "student": 40_000})
    user, headers = await user_with_token("khoa@becamex.com.vn")
    day = local_day(2)

    response = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 9), at(day, 10, 30)), headers=headers
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert {"id", "status", "start", "end", "price"} <= set(body)
    assert body["status"] == "confirmed"
    assert parse_dt(body["start"]) == at(day, 9) and parse_dt(body["end"]) == at(day, 10, 30)
    assert body["start"].endswith("+07:00")
    assert body["price"]["amount"] == 180_000 and body["price"]["currency"] == "VND"
    stored = await Booking.get(id=body["id"])
    assert stored.user_id == user.id and stored.equipment_id == machine.id
    assert stored.status == BookingStatus.CONFIRMED
    assert (stored.price_amount, stored.price_category) == (180_000, "public")
    assert stored.starts_at == at(day, 9) and stored.purpose == "Prototype enclosure"
    assert len(stored.check_in_code) >= 16

    # A student (member of a university) pays the student rate.
    university = await make_host("Thu Dau Mot University", Sphere.UNIVERSITY)
    student, student_headers = await user_with_token("linh@tdmu.edu.vn")
    await Membership.create(
        user=student, organisation=university, role=Role.MEMBER, status=MembershipStatus.ACTIVE
    )
    cheap = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 14), at(day, 15)), headers=student_headers
    )
    assert cheap.status_code == 201, cheap.text
    assert cheap.json()["price"] == {"amount": 40_000, "currency": "VND", "category": "student"}


async def test_a_machine_needing_approval_books_as_pending_and_holds_the_slot(client):
    machine = await make_equipment(await make_lab(), requires_approval=True)
    _first, first_headers = await user_with_token("minh@eiu.edu.vn")
    _second, second_headers = await user_with_token("nam@eiu.edu.vn")
    day = local_day(2)
    slot = booking_json(machine, at(day, 9), at(day, 10))

    first = await client.post(BOOKINGS, json=slot, headers=first_headers)
    assert first.status_code == 201 and first.json()["status"] == "pending"
    second = await client.post(BOOKINGS, json=slot, headers=second_headers)
    error_of(second, 409, "conflict")


@pytest.mark.usefixtures("english")  # the assertions read English messages
async def test_overlaps_conflict_but_touching_half_open_slots_do_not(client):
    machine = await make_equipment(await make_lab())
    _a, a = await user_with_token("oanh@eiu.edu.vn")
    _b, b = await user_with_token("phuc@eiu.edu.vn")
    day = local_day(2)

    nine = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 9), at(day, 10)), headers=a
    )
    ten = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 10), at(day, 11)), headers=b
    )
    assert nine.status_code == 201, nine.text
    assert ten.status_code == 201, ten.text

    for begin, finish in [((9, 30), (10, 30)), ((9, 0), (10, 0)), ((8, 0), (12, 0))]:
        clash = await client.post(
            BOOKINGS, json=booking_json(machine, at(day, *begin), at(day, *finish)), headers=b
        )
        error = error_of(clash, 409, "conflict")
        assert "already booked" in error["message"]
    assert await Booking.filter(equipment_id=machine.id).count() == 2

    # Another machine at the same time is fine; a cancelled booking frees its slot.
    other = await make_equipment(machine.lab, "Second printer")
    same_time = await client.post(
        BOOKINGS, json=booking_json(other, at(day, 9), at(day, 10)), headers=b
    )
    assert same_time.status_code == 201
    cancelled = await client.post(f"{BOOKINGS}/{nine.json()['id']}/cancel", headers=a)
    assert cancelled.status_code == 200
    again = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 9), at(day, 10)), headers=b
    )
    assert again.status_code == 201, again.text


@pytest.mark.usefixtures("english")  # the assertions read English messages
async def test_training_is_required_for_certified_machines(client):
    laser = await make_equipment(
        await make_lab(), "Trotec", EquipmentCategory.LASER_CUTTER, requires_training=True
    )
    user, headers = await user_with_token("quan@becamex.com.vn")
    day = local_day(2)
    slot = booking_json(laser, at(day, 9), at(day, 10))

    untrained = await client.post(BOOKINGS, json=slot, headers=headers)
    error = error_of(untrained, 403, "training_required")
    assert "certification" in error["message"]
    # A certification for another category, an expired or a revoked one do not count.
    now = datetime.now(HCMC)
    await certify(user, EquipmentCategory.PRINTER_3D)
    await certify(user, EquipmentCategory.LASER_CUTTER, expires_at=now - timedelta(days=1))
    await certify(user, EquipmentCategory.LASER_CUTTER, revoked_at=now - timedelta(days=1))
    error_of(await client.post(BOOKINGS, json=slot, headers=headers), 403, "training_required")
    assert not await Booking.exists()

    await certify(user, EquipmentCategory.LASER_CUTTER, expires_at=now + timedelta(days=365))
    trained = await client.post(BOOKINGS, json=slot, headers=headers)
    assert trained.status_code == 201, trained.text


async def test_a_booking_runs_a_constant_number_of_queries(client, count_queries):
    """Gather (machine, certification, rates, price category, the calendar – hours, closures,
    blackouts in one read –, quota), decide, then lock, re-read the quota, check the slot,
    insert, pay and write the booker's mail with its .ics: the same statements with 2 or 40
    other bookings."""
    laser = await make_equipment(
        await make_lab(),
        "Trotec",
        EquipmentCategory.LASER_CUTTER,
        rates={"public": 120_000},
        requires_training=True,
        weekly_quota_minutes=10_000,
    )
    user, headers = await user_with_token("quan@becamex.com.vn")
    await certify(user, EquipmentCategory.LASER_CUTTER)
    other = await quick_user("other-booker@example.org")
    first = local_day(2)

    async def others(count: int, offset: int) -> None:
        await Booking.bulk_create(
            [
                Booking(
                    equipment=laser,
                    user=other,
                    starts_at=at(
                        first + timedelta(days=1 + (offset + n) // 8), 8 + (offset + n) % 8
                    ),
                    ends_at=at(first + timedelta(days=1 + (offset + n) // 8), 9 + (offset + n) % 8),
                    status=BookingStatus.CONFIRMED,
                    check_in_code=f"c{offset + n}",
                )
                for n in range(count)
            ]
        )

    await others(2, 0)
    await client.get(BOOKINGS, headers=headers)  # token use recorded once
    with count_queries() as few:
        small = await client.post(
            BOOKINGS, json=booking_json(laser, at(first, 9), at(first, 10)), headers=headers
        )
    await others(38, 2)
    await kernel_jobs.drain()  # the first booking's mail is delivered outside the count
    with count_queries() as many:
        large = await client.post(
            BOOKINGS, json=booking_json(laser, at(first, 14), at(first, 15)), headers=headers
        )

    assert small.status_code == large.status_code == 201, large.text
    # 16: hours, closures, blackouts and rates come in one statement (they were four); one
    # look at whether the lab's host organisation is still verified; the confirmation mail
    # and its .ics attachment. 14 on PostgreSQL, whose exclusion constraint refuses an
    # overlap at the INSERT (no look for one first) and which writes the mail with its .ics
    # in one statement.
    expected = 14 if lock.insert_refuses_overlaps() else 16
    assert len(many.statements) == len(few.statements) == expected, many.statements
    overlap_checks = [s for s in many.statements if s.startswith("SELECT 1 FROM labs_booking")]
    assert len(overlap_checks) == (0 if lock.insert_refuses_overlaps() else 1)


async def test_a_free_machine_without_quota_is_locked_by_the_bookings_own_insert_on_postgres(
    client, count_queries
):
    """Nothing to read again under the lock: on PostgreSQL the machine's lock is the first step
    of the INSERT (one statement fewer), on SQLite still the transaction's first statement.
    Either way the lock is taken (the machine's version rises), an overlap is a 409, and a
    machine out of service by then is refused with nothing written."""
    printer = await make_equipment(await make_lab(hours=ALL_DAY))
    user, headers = await user_with_token("lan@eiu.edu.vn")
    first = local_day(2)
    with count_queries() as counted:
        made = await client.post(
            BOOKINGS, json=booking_json(printer, at(first, 9), at(first, 10)), headers=headers
        )
    assert made.status_code == 201, made.text
    locks = [s for s in counted.statements if s.startswith("UPDATE labs_equipment")]
    inserts = [s for s in counted.statements if 'INSERT INTO "labs_booking"' in s]
    if lock.insert_refuses_overlaps():
        [insert] = inserts
        assert insert.startswith("WITH guard AS (UPDATE labs_equipment SET booking_version")
        assert not locks
    else:
        assert locks
    assert (await Equipment.get(id=printer.id)).booking_version == 1

    clash = await client.post(
        BOOKINGS, json=booking_json(printer, at(first, 9, 30), at(first, 11)), headers=headers
    )
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["code"] == "conflict"

    for status, code in (
        (EquipmentStatus.MAINTENANCE, "equipment_maintenance"),
        (EquipmentStatus.RETIRED, "equipment_retired"),
    ):
        booking = Booking(
            equipment_id=printer.id,
            user_id=user.id,
            starts_at=at(first, 14),
            ends_at=at(first, 15),
            status=BookingStatus.CONFIRMED,
            check_in_code=f"late-{code}",
        )
        await Equipment.filter(id=printer.id).update(status=status)  # after step 1 read it
        with pytest.raises(Exception) as refused:
            async with atomic():
                if lock.insert_refuses_overlaps():
                    await lock.insert_booking(booking, locking=True)
                else:
                    await lock.lock_in_service(printer.id)
        assert getattr(refused.value, "code", None) == code
    assert await Booking.filter(equipment_id=printer.id).count() == 1


async def test_the_booking_services_one_calendar_read_gives_what_the_separate_reads_give(
    client,
):
    """Hours (two ranges on a day), a closure inside and one outside the window, blackouts of
    this machine inside and outside it and another machine's, rates of both machines: the same
    open time, blackouts and rates as `lab_open_time`, `blackouts_of` and
    `prices.equipment_rates`, on SQLite and PostgreSQL."""
    first = local_day(3)
    day = [first + timedelta(days=n) for n in range(32)]
    lab = await make_lab(
        hours={
            day[0].weekday(): [(time(8), time(12)), (time(13), time(17))],
            day[1].weekday(): [(time(9), time(18))],
            day[3].weekday(): [(time(7), time(21))],
        }
    )
    machine = await make_equipment(lab, rates={"public": 90_000, "student": 30_000, "sme": 60_000})
    other = await make_equipment(lab, "Other", rates={"public": 10_000})
    window = Interval(at(day[0], 0), at(day[8], 0))
    await Closure.create(lab=lab, first_day=day[1], last_day=day[2])
    await Closure.create(lab=lab, first_day=day[30], last_day=day[31])
    await Blackout.create(equipment=machine, starts_at=at(day[0], 9), ends_at=at(day[0], 11))
    await Blackout.create(equipment=machine, starts_at=at(day[0], 16), ends_at=at(day[3], 8))
    await Blackout.create(equipment=machine, starts_at=at(day[9], 9), ends_at=at(day[9], 10))
    await Blackout.create(equipment=other, starts_at=at(day[0], 13), ends_at=at(day[0], 14))

    calendar = await schedule.machine_calendar(lab, machine.id, window)
    open_time, blackouts = calendar.open_time, calendar.blackouts

    rates = await prices.equipment_rates(machine.id)
    assert [(r.id, r.category, r.rate_per_hour, r.currency) for r in calendar.rates] == [
        (r.id, r.category, r.rate_per_hour, r.currency) for r in rates
    ]
    assert [r.rate_per_hour for r in calendar.rates] == [30_000, 60_000, 90_000]
    assert open_time == await schedule.lab_open_time(lab, window)
    assert sorted(blackouts) == sorted(await schedule.blackouts_of(machine.id, window))
    assert sorted(blackouts) == [
        Interval(at(day[0], 9), at(day[0], 11)),
        Interval(at(day[0], 16), at(day[3], 8)),
    ]
    open_days = {span.start.astimezone(HCMC).date() for span in open_time}
    assert day[0] in open_days and day[3] in open_days
    assert day[1] not in open_days  # closed


@pytest.mark.usefixtures("english")  # the assertions read English messages
async def test_every_broken_rule_is_refused_with_422_naming_the_rule(client):
    lab = await make_lab()
    machine = await make_equipment(lab, max_minutes=240, min_minutes=30, weekly_quota_minutes=180)
    user, headers = await user_with_token("rang@eiu.edu.vn")
    day = local_day(3)

    async def refused(start: datetime, end: datetime, rule: str, equipment=machine) -> dict:
        response = await client.post(
            BOOKINGS, json=booking_json(equipment, start, end), headers=headers
        )
        error = error_of(response, 422, rule)
        assert rule in error["fields"], error
        return error

    error = await refused(at(day, 7), at(day, 9), "outside_opening_hours")
    assert "not open" in error["message"]
    error = await refused(at(day, 9), at(day, 14), "too_long")
    assert "at most 240 minutes" in error["message"]
    error = await refused(at(day, 9), at(day, 9, 15), "too_short")
    assert "at least 30 minutes" in error["message"]
    await refused(at(day, 9, 10), at(day, 10, 10), "not_aligned")
    yesterday = local_day(-1)
    await refused(at(yesterday, 9), at(yesterday, 10), "in_past")
    await refused(at(local_day(45), 9), at(local_day(45), 10), "horizon")

    await Closure.create(lab=lab, first_day=local_day(4), last_day=local_day(4), reason="Tết")
    await refused(at(local_day(4), 9), at(local_day(4), 10), "outside_opening_hours")
    await Blackout.create(equipment=machine, starts_at=at(day, 15), ends_at=at(day, 16))
    error = await refused(at(day, 14), at(day, 16), "blackout")
    assert "maintenance" in error["message"]

    # Quota: 180 minutes a week on this machine; cancelled bookings give minutes back.
    first = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 8), at(day, 10)), headers=headers
    )
    assert first.status_code == 201, first.text
    error = await refused(at(day, 10), at(day, 11, 30), "quota")
    assert "180 minutes" in error["message"] and "60 minutes left" in error["message"]
    fits = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 10), at(day, 11)), headers=headers
    )
    assert fits.status_code == 201, fits.text

    # Notice: a machine open all day with a one-minute grid and two hours' notice.
    soon = await make_equipment(
        await make_lab(await make_host("Provincial"), "Provincial FabLab", hours=ALL_DAY),
        "Soldering station",
        EquipmentCategory.ELECTRONICS_BENCH,
        slot_step_minutes=1,
        notice_minutes=120,
    )
    start = (datetime.now(HCMC) + timedelta(minutes=30)).replace(second=0, microsecond=0)
    error = await refused(start, start + timedelta(hours=1), "notice", equipment=soon)
    assert "120 minutes' notice" in error["message"]

    # Several broken rules at once: all named, the first is the code.
    error = await refused(at(day, 6, 10), at(day, 12), "too_long")
    assert {"too_long", "not_aligned", "outside_opening_hours"} <= set(error["fields"])

    assert await Booking.filter(user_id=user.id).count() == 2


@pytest.mark.usefixtures("english")  # the assertions read English messages
async def test_bad_booking_input_is_refused_without_a_server_error(client):
    machine = await make_equipment(await make_lab())
    broken = await make_equipment(machine.lab, "Broken", status=EquipmentStatus.MAINTENANCE)
    _user, headers = await user_with_token("son@eiu.edu.vn")
    day = local_day(2)

    naive = {**booking_json(machine, at(day, 9), at(day, 10)), "start": f"{day}T09:00:00"}
    error = error_of(await client.post(BOOKINGS, json=naive, headers=headers), 422, "invalid")
    assert "offset" in error["fields"]["start"]
    backwards = booking_json(machine, at(day, 10), at(day, 9))
    error = error_of(await client.post(BOOKINGS, json=backwards, headers=headers), 422, "invalid")
    assert "end" in error["fields"]
    extra = {**booking_json(machine, at(day, 9), at(day, 10)), "user_id": 1}
    error = error_of(await client.post(BOOKINGS, json=extra, headers=headers), 422, "invalid")
    assert "user_id" in error["fields"]
    missing = await client.post(BOOKINGS, json={"equipment_id": machine.id}, headers=headers)
    assert {"start", "end"} <= set(error_of(missing, 422, "invalid")["fields"])
    garbage = await client.post(
        BOOKINGS, content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    error_of(garbage, 400, "malformed_json")
    unknown = booking_json(machine, at(day, 9), at(day, 10)) | {"equipment_id": 987654}
    error_of(await client.post(BOOKINGS, json=unknown, headers=headers), 404, "not_found")
    error_of(
        await client.post(
            BOOKINGS, json=booking_json(broken, at(day, 9), at(day, 10)), headers=headers
        ),
        422,
        "equipment_maintenance",
    )
    hidden_lab = await make_lab(await make_host("Hidden"), "Hidden lab", is_published=False)
    hidden = await make_equipment(hidden_lab, "Hidden machine")
    error_of(
        await client.post(
            BOOKINGS, json=booking_json(hidden, at(day, 9), at(day, 10)), headers=headers
        ),
        404,
        "not_found",
    )
    assert not await Booking.exists()


# --- my bookings and cancelling -------------------------------------------------------------


async def test_my_bookings_lists_only_the_callers_bookings(client):
    machine = await make_equipment(await make_lab())
    _me, mine = await user_with_token("tam@eiu.edu.vn")
    _other, theirs = await user_with_token("uyen@eiu.edu.vn")
    day = local_day(2)
    created = []
    for hour in (9, 11):
        response = await client.post(
            BOOKINGS, json=booking_json(machine, at(day, hour), at(day, hour + 1)), headers=mine
        )
        created.append(response.json()["id"])
    await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 14), at(day, 15)), headers=theirs
    )

    response = await client.get(BOOKINGS, headers=mine)

    assert response.status_code == 200
    items = response.json()["items"]
    assert sorted(item["id"] for item in items) == sorted(created)
    assert {"id", "status", "start", "end", "price"} <= set(items[0])
    assert items[0]["equipment"]["name"] == "Prusa MK4"
    upcoming = await client.get(BOOKINGS, params={"upcoming": "true"}, headers=mine)
    assert [item["id"] for item in upcoming.json()["items"]] == created  # soonest first


@pytest.mark.usefixtures("english")  # the assertions read English messages
async def test_cancel_owner_before_deadline_staff_any_time_nobody_else(client):
    lab = await make_lab()
    machine = await make_equipment(lab, cancellation_deadline_hours=24, notice_minutes=60)
    owner, owner_headers = await user_with_token("vy@eiu.edu.vn")
    _stranger, stranger_headers = await user_with_token("xuan@eiu.edu.vn")
    staff = await quick_user("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)
    staff_headers = await bearer(staff)
    later = local_day(5)
    booked = await client.post(
        BOOKINGS, json=booking_json(machine, at(later, 9), at(later, 10)), headers=owner_headers
    )
    booking_id = booked.json()["id"]
    assert parse_dt(booked.json()["cancellable_until"]) == at(later, 9) - timedelta(hours=24)

    stranger = await client.post(f"{BOOKINGS}/{booking_id}/cancel", headers=stranger_headers)
    error_of(stranger, 404, "not_found")
    error_of(
        await client.post(f"{BOOKINGS}/999999/cancel", headers=owner_headers), 404, "not_found"
    )
    cancelled = await client.post(f"{BOOKINGS}/{booking_id}/cancel", headers=owner_headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["id"] == booking_id
    stored = await Booking.get(id=booking_id)
    assert stored.status == BookingStatus.CANCELLED and stored.cancelled_at is not None
    again = await client.post(f"{BOOKINGS}/{booking_id}/cancel", headers=owner_headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"

    # Inside the deadline the owner can no longer cancel, the lab's staff can.
    soon = await Booking.create(
        equipment=machine,
        user=owner,
        starts_at=datetime.now(HCMC) + timedelta(hours=3),
        ends_at=datetime.now(HCMC) + timedelta(hours=4),
        status=BookingStatus.CONFIRMED,
        check_in_code="soon",
    )
    late = await client.post(f"{BOOKINGS}/{soon.id}/cancel", headers=owner_headers)
    assert "24 hours" in error_of(late, 422, "cancellation_deadline")["message"]
    assert (await Booking.get(id=soon.id)).status == BookingStatus.CONFIRMED
    by_staff = await client.post(f"{BOOKINGS}/{soon.id}/cancel", headers=staff_headers)
    assert by_staff.status_code == 200, by_staff.text
    stored = await Booking.get(id=soon.id)
    assert stored.status == BookingStatus.CANCELLED and stored.decided_by_id == staff.id

    done = await Booking.create(
        equipment=machine,
        user=owner,
        starts_at=at(later, 12),
        ends_at=at(later, 13),
        status=BookingStatus.COMPLETED,
        check_in_code="done",
    )
    error_of(
        await client.post(f"{BOOKINGS}/{done.id}/cancel", headers=owner_headers),
        409,
        "not_cancellable",
    )


async def test_free_search_runs_a_constant_number_of_queries(client, count_queries):
    _user, headers = await user_with_token("yen@eiu.edu.vn")
    owner = await quick_user("owner@eiu.edu.vn")
    day = local_day(3)
    params = {"free_from": at(day, 13).isoformat(), "free_to": at(day, 17).isoformat()}
    made = 0

    async def add_labs(count: int) -> None:
        nonlocal made
        for _ in range(count):
            made += 1
            lab = await make_lab(await make_host(f"Host {made}"), f"Lab {made}")
            busy = await make_equipment(lab, f"Busy {made}", rates={"public": 50_000})
            await make_equipment(lab, f"Free {made}", rates={"public": 50_000})
            await Booking.create(
                equipment=busy,
                user=owner,
                starts_at=at(day, 14),
                ends_at=at(day, 15),
                status=BookingStatus.CONFIRMED,
                check_in_code=f"busy-{made}",
            )
            await Closure.create(lab=lab, first_day=local_day(20), last_day=local_day(21))

    await add_labs(2)
    await client.get("/api/v1/equipment", params=params, headers=headers)
    with count_queries() as few:
        small = await client.get("/api/v1/equipment", params=params, headers=headers)
    await add_labs(15)
    with count_queries() as many:
        large = await client.get("/api/v1/equipment", params=params, headers=headers)

    assert [m["name"] for m in small.json()["items"]] == ["Free 1", "Free 2"]
    assert len(large.json()["items"]) == 17
    assert len(many.statements) == len(few.statements) <= 8, many.statements
