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


TRUSTED_ROWS = [
    *ROWS,
    "INSERT INTO incubator_programme_role_invitation (id, programme_id, email, role, "
    "created_at) VALUES (1, 7, 'coach@bbi.vn', 'mentor', '2026-01-01 00:00:00+00')",
    "INSERT INTO incubator_programme_role_invitation (id, programme_id, email, role, "
    "created_at) VALUES (2, 7, 'coach@bbi.vn', 'reviewer', '2026-01-02 00:00:00+00')",
    "INSERT INTO incubator_programme_role_invitation (id, programme_id, email, role, "
    "created_at) VALUES (3, 7, 'judge@bbi.vn', 'reviewer', '2026-01-02 00:00:00+00')",
    "INSERT INTO incubator_report (id, enrolment_id, startup_id, period, period_start, "
    "due_on, schedule, status, values, narrative, skip_reason, created_at, updated_at) "
    "VALUES (5, 9, 71, '2026-01', '2026-01-01', '2026-02-10', 'monthly', 'submitted', "
    "'{\"revenue\": 5}', '', '', '2026-02-01 00:00:00+00', '2026-02-01 00:00:00+00')",
]


async def test_0003_keeps_one_invitation_per_address_and_upgrades_reports(backend, tmp_path):
    """0003_trusted_reports on a database with data: duplicate invitations of an address
    fold into the latest, metrics become optional, reports have no explanation yet; the
    new key then refuses a second invitation of the address."""
    if backend == "postgres":
        name = f"eco_upgrade_{uuid.uuid4().hex[:10]}"
        await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = _with_database(TEST_DATABASE_URL, name)
        no_checks = "".join(
            f"ALTER TABLE {table} DISABLE TRIGGER ALL;"
            for table in ("incubator_programme", "incubator_enrolment", "incubator_report")
        )
    else:
        name, url = "", f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
        no_checks = "PRAGMA foreign_keys = OFF;"
    config = tortoise_config(url, load_packages(TEST_PACKAGES))
    try:
        await migrate(config=config, target="incubator.0002_enrolment_consent")
        rows = ";".join(TRUSTED_ROWS).replace("TRUE", "1" if not name else "TRUE")
        rows = rows.replace("status, values,", 'status, "values",')  # a reserved word
        await connections.get("default").execute_script(no_checks + rows)
        await migrate(config=config)
        db = connections.get("default")
        invitations = await db.execute_query_dict(
            "SELECT id, email, role FROM incubator_programme_role_invitation ORDER BY id"
        )
        assert [(r["id"], r["email"], r["role"]) for r in invitations] == [
            (2, "coach@bbi.vn", "reviewer"),
            (3, "judge@bbi.vn", "reviewer"),
        ]
        metrics = await db.execute_query_dict("SELECT required FROM incubator_metric")
        assert [bool(r["required"]) for r in metrics] == [False, False]
        report = (
            await db.execute_query_dict(
                "SELECT explanations, corrected_at FROM incubator_report WHERE id = 5"
            )
        )[0]
        explanations = report["explanations"]
        if isinstance(explanations, str):
            import json

            explanations = json.loads(explanations)
        assert explanations == {} and report["corrected_at"] is None
        duplicate = (
            "INSERT INTO incubator_programme_role_invitation (programme_id, email, role, "
            "created_at) VALUES (7, 'judge@bbi.vn', 'mentor', '2026-01-03 00:00:00+00')"
        )
        try:
            await db.execute_script(duplicate)
        except Exception as exc:  # the database itself refuses it
            assert "unique" in str(exc).lower() or "duplicate" in str(exc).lower()
        else:
            raise AssertionError("a second invitation of the address was stored")
    finally:
        await Tortoise.close_connections()
        if name:
            await _admin_execute(
                TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
