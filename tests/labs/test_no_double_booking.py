"""No double booking, ever: fifty people fire at one slot at once, through HTTP.

In one process (the ASGI app, many concurrent requests) and across two real web server
processes sharing the database, on SQLite and on PostgreSQL: exactly one request wins, the
others get 409 `conflict`, none gets a 5xx, and the database holds no two overlapping active
bookings of one machine. On PostgreSQL the exclusion constraint also refuses overlapping
rows written behind the service's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.models import User
from ecosystem.settings import PROJECT_ROOT, Settings
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus, Equipment
from tests.labs.conftest import at, bearer, booking_json, local_day, make_equipment, make_lab

CONCURRENT = 50
BOOKINGS = "/api/v1/bookings"


async def people(count: int, prefix: str = "racer") -> list[dict[str, str]]:
    """`count` verified users, each with their own bearer token (no password hashing)."""
    verified = timezone.now()
    await User.bulk_create(
        [
            User(
                email=f"{prefix}{n}@eiu.edu.vn",
                full_name=f"Racer {n}",
                password_hash="!",
                email_verified_at=verified,
            )
            for n in range(count)
        ]
    )
    users = await User.filter(email__startswith=prefix).order_by("id")
    return [await bearer(user) for user in users]


def assert_exactly_one_winner(responses: list[httpx.Response]) -> httpx.Response:
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: len(responses) - 1}, [
        (r.status_code, r.text[:200]) for r in responses if r.status_code not in (201, 409)
    ] or statuses
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "conflict"
    return next(response for response in responses if response.status_code == 201)


async def assert_no_overlapping_active_bookings() -> None:
    """Read straight from the database: per machine, active bookings never overlap."""
    rows = await Booking.filter(status__in=list(ACTIVE_BOOKING_STATUSES)).values_list(
        "equipment_id", "starts_at", "ends_at", "id"
    )
    by_machine: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for equipment_id, start, end, booking_id in rows:
        by_machine[equipment_id].append((start, end, booking_id))
    for equipment_id, intervals in by_machine.items():
        intervals.sort()
        for (_s1, end1, id1), (start2, _e2, id2) in zip(intervals, intervals[1:], strict=False):
            assert end1 <= start2, f"bookings {id1} and {id2} of machine {equipment_id} overlap"


def overlapping_slots(day, count: int) -> list[tuple[datetime, datetime]]:
    """Different slots that all contain 10:30–11:00, so any two of them overlap."""
    return [
        (
            at(day, 9) + timedelta(minutes=30 * (n % 4)),
            at(day, 11) + timedelta(minutes=30 * (n % 3)),
        )
        for n in range(count)
    ]


# --- one process, many concurrent requests -------------------------------------------------


async def test_fifty_concurrent_requests_for_one_slot_book_it_exactly_once(client):
    machine = await make_equipment(await make_lab())
    tokens = await people(CONCURRENT)
    day = local_day(2)
    slot = booking_json(machine, at(day, 9), at(day, 10))

    responses = await asyncio.gather(
        *(client.post(BOOKINGS, json=slot, headers=headers) for headers in tokens)
    )

    winner = assert_exactly_one_winner(responses)
    stored = await Booking.filter(equipment_id=machine.id)
    assert [booking.id for booking in stored] == [winner.json()["id"]]
    assert stored[0].status == BookingStatus.CONFIRMED
    await assert_no_overlapping_active_bookings()


async def test_fifty_concurrent_overlapping_different_slots_book_exactly_one(client):
    machine = await make_equipment(await make_lab())
    tokens = await people(CONCURRENT)
    slots = overlapping_slots(local_day(2), CONCURRENT)
    assert len(set(slots)) == 12  # not one slot: twelve different ones, all overlapping

    responses = await asyncio.gather(
        *(
            client.post(BOOKINGS, json=booking_json(machine, start, end), headers=headers)
            for headers, (start, end) in zip(tokens, slots, strict=True)
        )
    )

    assert_exactly_one_winner(responses)
    assert await Booking.filter(equipment_id=machine.id).count() == 1
    await assert_no_overlapping_active_bookings()


async def test_one_persons_concurrent_requests_never_pass_the_weekly_quota(client):
    """Ten free hours at once, a quota of two: every request passes the rules before the
    lock (nothing booked yet), and the same decision, with the quota re-read under the
    machine's lock, lets exactly two through."""
    machine = await make_equipment(await make_lab(), weekly_quota_minutes=120)
    [headers] = await people(1, prefix="quota")
    day = local_day(2)
    hours = range(8, 18)

    responses = await asyncio.gather(
        *(
            client.post(
                BOOKINGS, json=booking_json(machine, at(day, h), at(day, h + 1)), headers=headers
            )
            for h in hours
        )
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 2, 422: len(hours) - 2}, [r.text[:200] for r in responses]
    refused = [r.json()["error"] for r in responses if r.status_code == 422]
    assert {error["code"] for error in refused} == {"quota"}
    assert await Booking.filter(equipment_id=machine.id).count() == 2


async def test_concurrent_requests_for_adjacent_slots_each_book_once(client):
    """Half-open intervals under load: five touching hours, ten requests each, five wins."""
    machine = await make_equipment(await make_lab())
    tokens = await people(CONCURRENT)
    day = local_day(2)
    hours = [9 + n % 5 for n in range(CONCURRENT)]

    responses = await asyncio.gather(
        *(
            client.post(
                BOOKINGS, json=booking_json(machine, at(day, hour), at(day, hour + 1)), headers=h
            )
            for h, hour in zip(tokens, hours, strict=True)
        )
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 5, 409: CONCURRENT - 5}, statuses
    won = sorted(
        datetime.fromisoformat(r.json()["start"]) for r in responses if r.status_code == 201
    )
    assert won == [at(day, hour) for hour in range(9, 14)]
    await assert_no_overlapping_active_bookings()


async def test_postgres_exclusion_constraint_refuses_overlaps_written_behind_the_service(
    client, backend
):
    if backend != "postgres":
        pytest.skip("the exclusion constraint exists on PostgreSQL only")
    machine = await make_equipment(await make_lab())
    user = await User.create(email="direct@eiu.edu.vn", full_name="Direct", password_hash="!")
    day = local_day(2)

    def row(start: datetime, end: datetime, status: BookingStatus, code: str) -> dict:
        return dict(
            equipment_id=machine.id,
            user_id=user.id,
            starts_at=start,
            ends_at=end,
            status=status,
            check_in_code=code,
        )

    await Booking.create(**row(at(day, 9), at(day, 10), BookingStatus.CONFIRMED, "a"))
    await Booking.create(**row(at(day, 10), at(day, 11), BookingStatus.PENDING, "b"))  # touches
    await Booking.create(**row(at(day, 9), at(day, 10), BookingStatus.CANCELLED, "c"))
    with pytest.raises(IntegrityError):
        await Booking.create(**row(at(day, 9, 30), at(day, 10, 30), BookingStatus.PENDING, "d"))
    other = await make_equipment(machine.lab, "Other printer")
    await Booking.create(
        **(row(at(day, 9), at(day, 10), BookingStatus.CONFIRMED, "e") | {"equipment_id": other.id})
    )
    assert await Booking.filter(status__in=list(ACTIVE_BOOKING_STATUSES)).count() == 3


# --- two real web processes sharing the database -------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ecosystem", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@asynccontextmanager
async def web_processes(
    settings: Settings, log_dir: Path, count: int = 2
) -> AsyncIterator[list[str]]:
    """`count` independent `python -m ecosystem serve` processes over the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PACKAGES": ",".join(settings.packages),
        "SECRET_KEY": settings.secret_key,
        "BASE_URL": settings.base_url,
        "REDIS_URL": "",
        "MEDIA_DIR": str(settings.media_dir),
        "PYTHONUNBUFFERED": "1",
    }
    processes: list[subprocess.Popen] = []
    try:
        ports = [_free_port() for _ in range(count)]
        for n, port in enumerate(ports):
            processes.append(_spawn(port, env, log_dir / f"web{n}.log"))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        async with httpx.AsyncClient(timeout=2) as http:
            for n, (process, base) in enumerate(zip(processes, bases, strict=True)):
                log = log_dir / f"web{n}.log"
                deadline = time.monotonic() + 30
                while True:
                    assert process.poll() is None, log.read_text()[-3000:]
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{base}/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
        yield bases
    finally:
        _stop(processes)


async def test_two_web_processes_never_double_book(app, settings, tmp_path):
    lab = await make_lab()
    first = await make_equipment(lab, "Laser A")
    second = await make_equipment(lab, "Laser B")
    tokens = await people(CONCURRENT)
    day = local_day(2)

    async with (
        web_processes(settings, tmp_path) as bases,
        httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=100)) as http,
    ):
        # Round 1: everybody wants the same slot, half of them through each process.
        same_slot = booking_json(first, at(day, 9), at(day, 10))
        responses = await asyncio.gather(
            *(
                http.post(f"{bases[n % len(bases)]}{BOOKINGS}", json=same_slot, headers=headers)
                for n, headers in enumerate(tokens)
            )
        )
        winner = assert_exactly_one_winner(responses)
        # Round 2: different but overlapping slots on another machine.
        slots = overlapping_slots(day, CONCURRENT)
        responses = await asyncio.gather(
            *(
                http.post(
                    f"{bases[n % len(bases)]}{BOOKINGS}",
                    json=booking_json(second, start, end),
                    headers=headers,
                )
                for n, (headers, (start, end)) in enumerate(zip(tokens, slots, strict=True))
            )
        )
        assert_exactly_one_winner(responses)

    assert await Booking.filter(equipment_id=first.id).values_list("id", flat=True) == [
        winner.json()["id"]
    ]
    assert await Booking.filter(equipment_id=second.id).count() == 1
    # The losers' lock-taking writes were rolled back with them.
    versions = await Equipment.filter(id__in=[first.id, second.id]).values_list(
        "booking_version", flat=True
    )
    assert versions == [1, 1]
    await assert_no_overlapping_active_bookings()
