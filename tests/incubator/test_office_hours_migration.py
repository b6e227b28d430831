"""incubator 0005 (office hours, investor updates) upgrades a database holding data from
0003_trusted_reports, on SQLite and PostgreSQL: the old rows stay, the new tables take rows,
and the no-double-booking key holds in the upgraded database."""

from __future__ import annotations

import uuid

import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from tests.conftest import TEST_DATABASE_URL, TEST_PACKAGES, _admin_execute, _with_database
from tests.incubator.test_migration import ROWS

NEW_ROWS = [
    "INSERT INTO incubator_office_hours (id, programme_id, mentor_id, weekday, start_minute, "
    "slot_minutes, slots, first_day, last_day, timezone, place, skipped, created_at) VALUES "
    "(1, 7, 72, 0, 540, 30, 2, '2027-03-01', '2027-03-22', 'Asia/Ho_Chi_Minh', '', '[]', "
    "'2026-01-01 00:00:00+00')",
    "INSERT INTO incubator_office_booking (office_hours_id, mentor_id, starts_at, ends_at, "
    "live_start, enrolment_id, startup_id, topic, status, cancel_reason, created_at) VALUES "
    "(1, 72, '2027-03-01 02:00:00+00', '2027-03-01 02:30:00+00', '2027-03-01 02:00:00+00', "
    "9, 71, '', 'booked', '', '2026-01-01 00:00:00+00')",
]


async def test_0005_upgrades_a_database_with_data(backend, tmp_path):
    if backend == "postgres":
        name = f"eco_upgrade_{uuid.uuid4().hex[:10]}"
        await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = _with_database(TEST_DATABASE_URL, name)
        tables = ("incubator_programme", "incubator_enrolment")
        no_checks = "".join(f"ALTER TABLE {t} DISABLE TRIGGER ALL;" for t in tables)
        later = "".join(
            f"ALTER TABLE {t} DISABLE TRIGGER ALL;"
            for t in ("incubator_office_hours", "incubator_office_booking")
        )
    else:
        name, url = "", f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
        no_checks = later = "PRAGMA foreign_keys = OFF;"
    config = tortoise_config(url, load_packages(TEST_PACKAGES))
    true = "TRUE" if name else "1"
    try:
        await migrate(config=config, target="incubator.0003_trusted_reports")
        db = connections.get("default")
        await db.execute_script(no_checks + ";".join(ROWS).replace("TRUE", true))
        await migrate(config=config)
        db = connections.get("default")
        enrolments = await db.execute_query_dict("SELECT id FROM incubator_enrolment")
        assert [row["id"] for row in enrolments] == [9]
        await db.execute_script(later + ";".join(NEW_ROWS))
        rows = await db.execute_query_dict("SELECT status FROM incubator_office_booking")
        assert [row["status"] for row in rows] == ["booked"]
        with pytest.raises(Exception):  # noqa: B017 (the driver's own IntegrityError)
            await db.execute_script(NEW_ROWS[1])
        for table in (
            "incubator_investor_update",
            "incubator_investor_update_recipient",
            "incubator_investor_update_read",
        ):
            assert await db.execute_query_dict(f"SELECT id FROM {table}") == []
    finally:
        await Tortoise.close_connections()
        if name:
            await _admin_execute(
                TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
