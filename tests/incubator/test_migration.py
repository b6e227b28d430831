"""incubator 0002_enrolment_consent upgrades a database with data: existing enrolments become
accepted (every metric of their programme, from the start), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from tests.conftest import TEST_DATABASE_URL, TEST_PACKAGES, _admin_execute, _with_database

ROWS = [
    "INSERT INTO incubator_programme (id, organisation_id, name, slug, description, schedule, "
    "due_days, one_off_period, remind_days_before, remind_days_after, escalate_days_after, "
    "created_at) VALUES (7, 70, 'P', 'p', '', 'monthly', 10, '', 3, 2, 7, "
    "'2026-01-01 00:00:00+00')",
    "INSERT INTO incubator_metric (programme_id, key, name, unit, period, integer, position) "
    "VALUES (7, 'revenue', 'Revenue', 'VND', 'month', TRUE, 0)",
    "INSERT INTO incubator_metric (programme_id, key, name, unit, period, integer, position) "
    "VALUES (7, 'users', 'Active users', 'users', 'month', TRUE, 1)",
    "INSERT INTO incubator_cohort (id, programme_id, name, starts_on, created_at) "
    "VALUES (8, 7, 'K', '2026-01-01', '2026-01-01 00:00:00+00')",
    "INSERT INTO incubator_enrolment (id, cohort_id, startup_id, enrolled_on, active, "
    "created_at) VALUES (9, 8, 71, '2026-01-01', TRUE, '2026-01-02 00:00:00+00')",
]


async def test_existing_enrolments_become_accepted(backend, tmp_path):
    if backend == "postgres":
        name = f"eco_upgrade_{uuid.uuid4().hex[:10]}"
        await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = _with_database(TEST_DATABASE_URL, name)
        # The host and the startup organisations are left out: no foreign key checks.
        no_checks = "".join(
            f"ALTER TABLE {table} DISABLE TRIGGER ALL;"
            for table in ("incubator_programme", "incubator_enrolment")
        )
    else:
        name, url = "", f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
        no_checks = "PRAGMA foreign_keys = OFF;"
    config = tortoise_config(url, load_packages(TEST_PACKAGES))
    try:
        await migrate(config=config, target="incubator.0001_initial")
        await connections.get("default").execute_script(
            no_checks + ";".join(ROWS).replace("TRUE", "1" if not name else "TRUE")
        )
        await migrate(config=config)
        rows = await connections.get("default").execute_query_dict(
            "SELECT status, metrics, metrics_from, accepted_at, left_at "
            "FROM incubator_enrolment WHERE id = 9"
        )
        assert len(rows) == 1
        row = rows[0]
        assert row["status"] == "accepted"
        metrics = row["metrics"]
        if isinstance(metrics, str):
            import json

            metrics = json.loads(metrics)
        assert metrics == ["revenue", "users"]
        assert row["metrics_from"] is None and row["left_at"] is None
        assert row["accepted_at"] is not None
    finally:
        await Tortoise.close_connections()
        if name:
            await _admin_execute(
                TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
