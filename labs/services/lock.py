"""Step 3 of a booking: write under the machine's lock, and no double booking ever.

Steps 1 and 2 (`labs.services.facts`, `labs.services.rules`) gather the facts and decide.
Every write that makes a machine busy (a new booking, a move, a staff series, a paid hold
taken back) then runs one `atomic()` transaction that FIRST calls `lock_machine` (a write to
the machine's row, `booking_version + 1`), THEN asks `slot_taken`, THEN writes. The first
write serialises every booking of one machine:

- SQLite: the write takes the database write lock before the overlap check, so another
  process (or connection) cannot insert between the check and the insert; it waits on
  `busy_timeout` and then sees the committed booking.
- PostgreSQL: the UPDATE row-locks the machine. A second transaction waits for it and, under
  READ COMMITTED, its overlap check (a new statement) sees the committed booking. The
  exclusion constraint `labs_booking_no_overlap` (migration 0002) holds even for writers that
  skip this path; `is_overlap_violation` recognises it so it is reported as the same 409.
  A single new booking therefore lets the constraint answer instead of asking `slot_taken`
  first (`insert_refuses_overlaps`): the refused INSERT rolls the transaction back. When it
  has nothing to read again under the lock either (no weekly quota), the lock is the first
  step of its INSERT statement (`insert_booking(locking=True)`), which takes and checks the
  machine's row just as the separate UPDATE does, one round trip fewer.
"""

from __future__ import annotations

from typing import NoReturn

from tortoise.exceptions import IntegrityError

from ecosystem import jobs, rawsql
from ecosystem.errors import Conflict, NotFound
from ecosystem.i18n import _
from labs.intervals import Interval
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, Equipment, EquipmentStatus
from labs.services.rules import ensure_in_service
from labs.services.schedule import MAX_BOOKING_SPAN

EXCLUSION_VIOLATION = "23P01"
WAITLIST_JOB = "labs.jobs.waitlist_offers"  # by name: the jobs module imports the services


# Plain SQL (see `ecosystem.rawsql`): every booking runs these, the lock first.
_LOCK_SQL = (
    "UPDATE labs_equipment SET booking_version = booking_version + 1 WHERE id = ? AND status = ?"
)
_TAKEN_SQL = (
    "SELECT 1 FROM labs_booking WHERE equipment_id = ?"
    f" AND status IN ({', '.join('?' * len(ACTIVE_BOOKING_STATUSES))})"
    " AND starts_at < ? AND starts_at > ? AND ends_at > ?"
)


async def lock_machine(equipment_id: int) -> bool:
    """Serialise bookings of one machine until the surrounding transaction ends.

    Call it FIRST inside `atomic()`, before reading any booking: on SQLite this write takes
    the database write lock (a read first would pin a snapshot another process can make
    stale), on PostgreSQL it row-locks the machine. False if the machine is not in service.
    """
    return bool(await rawsql.execute(_LOCK_SQL, (equipment_id, EquipmentStatus.AVAILABLE.value)))


async def lock_in_service(equipment_id: int) -> None:
    """`lock_machine`, or raise why the machine cannot be booked any more (404 gone, 422 out
    of service since step 1 read it)."""
    if not await lock_machine(equipment_id):
        await _refuse_unbookable(equipment_id)


async def insert_booking(booking: Booking, *, locking: bool = False) -> None:
    """INSERT a new booking (plain SQL, as the ORM writes it; see `ecosystem.rawsql.insert`).

    `locking` (PostgreSQL): `lock_in_service` in the same statement, before the row is written
    (a data-modifying WITH) – for a booking that needs nothing read again under the lock. The
    machine's row is locked and checked in service just as by a separate first statement,
    and the exclusion constraint refuses an overlap (`is_overlap_violation`)."""
    if not locking:
        await rawsql.insert(booking)
        return
    machine = booking.equipment_id  # type: ignore[attr-defined]
    guard = (machine, EquipmentStatus.AVAILABLE.value)
    if not await rawsql.insert(booking, _LOCK_SQL + " RETURNING id", guard):
        await _refuse_unbookable(machine)


async def _refuse_unbookable(equipment_id: int) -> NoReturn:
    """Why the machine's lock was refused: gone (404), out of service (422); back in service
    a moment later, a clash all the same (409)."""
    current = await Equipment.get_or_none(id=equipment_id)
    if current is None:
        raise NotFound(_("No such machine."))
    ensure_in_service(current)
    raise conflict()


async def slot_taken(equipment_id: int, window: Interval, except_id: int | None = None) -> bool:
    """An active booking of the machine overlaps the window (half-open: touching is fine).

    Call it under `lock_machine`. `except_id` leaves out the booking being moved.
    """
    statuses = tuple(status.value for status in ACTIVE_BOOKING_STATUSES)
    params = (equipment_id, *statuses, window.end, window.start - MAX_BOOKING_SPAN, window.start)
    if except_id is None:
        return bool(await rawsql.fetch(_TAKEN_SQL + " LIMIT 1", params))
    return bool(await rawsql.fetch(_TAKEN_SQL + " AND id <> ? LIMIT 1", (*params, except_id)))


def insert_refuses_overlaps() -> bool:
    """The database itself refuses an overlapping active booking at its INSERT: PostgreSQL's
    exclusion constraint does, reported as the same 409 (`is_overlap_violation`); SQLite has
    no such constraint. A single new booking then skips `slot_taken` (one statement fewer);
    writes that go on after a refused slot (a staff series, a basket) still ask first."""
    return rawsql.dialect() == "postgres"


def is_overlap_violation(exc: IntegrityError) -> bool:
    """The PostgreSQL exclusion constraint refused the row (SQLSTATE 23P01)."""
    cause = exc.args[0] if exc.args else exc.__cause__
    if getattr(cause, "sqlstate", None) == EXCLUSION_VIOLATION:
        return True
    return "labs_booking_no_overlap" in str(exc)


def conflict() -> Conflict:
    return Conflict(_("This machine is already booked at that time."), code="conflict")


async def offer_freed_slot(job_id: str) -> None:
    """A slot became free: the waitlist job offers it now, not at the next minute's cron."""
    await jobs.enqueue(WAITLIST_JOB, job_id=job_id)
