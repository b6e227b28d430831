"""incubator 0006_content_translations upgrades a database with data, on SQLite and
PostgreSQL: existing programmes and calls keep their texts, are Vietnamese unless plainly
English, and have no translations yet."""

from __future__ import annotations

import json
import uuid

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from tests.conftest import TEST_DATABASE_URL, TEST_PACKAGES, _admin_execute, _with_database

PROGRAMME = (
    "INSERT INTO incubator_programme (id, organisation_id, name, slug, description, schedule, "
    "due_days, one_off_period, remind_days_before, remind_days_after, escalate_days_after, "
    "created_at) VALUES ({id}, 70, '{name}', '{slug}', '{description}', 'monthly', 10, '', "
    "3, 2, 7, '2026-01-01 00:00:00+00')"
)
CALL = (
    "INSERT INTO incubator_call (id, programme_id, title, description, questions, documents, "
    "criteria, deadline, status, stages, created_at) VALUES ({id}, 7, '{title}', '', '[]', "
    "'[]', '[]', '2027-01-01 00:00:00+00', 'open', '[]', '2026-01-01 00:00:00+00')"
)
ROWS = [
    PROGRAMME.format(
        id=7, name="Ươm tạo BBI 2026", slug="p7", description="Chương trình ươm tạo sáu tháng"
    ),
    PROGRAMME.format(
        id=8,
        name="Smart Manufacturing Accelerator",
        slug="p8",
        description="A six-month programme for hardware startups of the province.",
    ),
    PROGRAMME.format(id=9, name="Startup Lab", slug="p9", description=""),
    CALL.format(id=11, title="Tuyển sinh khóa 2026"),
    CALL.format(id=12, title="Call for applications of the spring cohort"),
]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def test_0006_keeps_texts_and_guesses_english_rows(backend, tmp_path):
    if backend == "postgres":
        name = f"eco_upgrade_{uuid.uuid4().hex[:10]}"
        await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = _with_database(TEST_DATABASE_URL, name)
        no_checks = "".join(
            f"ALTER TABLE {table} DISABLE TRIGGER ALL;"
            for table in ("incubator_programme", "incubator_call")
        )
    else:
        name, url = "", f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
        no_checks = "PRAGMA foreign_keys = OFF;"
    config = tortoise_config(url, load_packages(TEST_PACKAGES))
    try:
        await migrate(config=config, target="incubator.0005_office_hours_investor_updates")
        await connections.get("default").execute_script(no_checks + ";".join(ROWS))
        await migrate(config=config)
        db = connections.get("default")
        programmes = await db.execute_query_dict(
            "SELECT id, name, description, content_locale, translations "
            "FROM incubator_programme ORDER BY id"
        )
        assert [(r["id"], r["content_locale"]) for r in programmes] == [
            (7, "vi"),
            (8, "en"),
            (9, "vi"),  # two words are not plainly English
        ]
        assert programmes[0]["name"] == "Ươm tạo BBI 2026"
        assert programmes[0]["description"] == "Chương trình ươm tạo sáu tháng"
        assert all(_json(r["translations"]) == {} for r in programmes)
        calls = await db.execute_query_dict(
            "SELECT id, title, content_locale, translations FROM incubator_call ORDER BY id"
        )
        assert [(r["id"], r["title"], r["content_locale"]) for r in calls] == [
            (11, "Tuyển sinh khóa 2026", "vi"),
            (12, "Call for applications of the spring cohort", "en"),
        ]
        assert all(_json(r["translations"]) == {} for r in calls)

    finally:
        await Tortoise.close_connections()
        if name:
            await _admin_execute(
                TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
