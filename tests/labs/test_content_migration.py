"""Migration labs 0010 adds content in several languages to labs, machines and trainings of a
database holding them: Vietnamese unless the text is plainly English, nothing else changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise import Tortoise

from ecosystem.db import init_orm, run_migrations, tortoise_config
from ecosystem.packages import load_packages
from labs.models import Equipment, Lab, TrainingSession
from tests.conftest import migrate_to, orm_on
from tests.labs.conftest import make_host

BEFORE = "labs.0009_free_time_summary"


async def _insert(table: str, **values: object) -> int:
    """A row written as a database at 0009 holds it (the ORM's models already have the
    columns 0010 adds)."""
    client = Tortoise.get_connection("default")
    postgres = client.capabilities.dialect == "postgres"
    marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, len(values) + 1))
    columns = ", ".join(f'"{name}"' for name in values)
    params = [
        value.isoformat(" ") if isinstance(value, datetime) and not postgres else value
        for value in values.values()
    ]
    await client.execute_query(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', params)
    rows = await client.execute_query_dict(f'SELECT MAX(id) AS id FROM "{table}"')
    return rows[0]["id"]


async def test_rows_made_before_the_content_columns_get_their_language(empty_url):
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(empty_url, load_packages(("labs",)))
    try:
        await run_migrations(config)
        await migrate(config=config, target=BEFORE)  # a database as 0009 left it
    finally:
        await Tortoise.close_connections()
    await init_orm(config)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    try:
        host = await make_host()
        lab_id = await _insert(
            "labs_lab",
            organisation_id=host.id,
            name="Becamex FabLab",
            slug="becamex-fablab",
            kind="fablab",
            description="Xưởng chế tạo mở cho sinh viên và doanh nghiệp.",
            address="",
            contact_email="",
            contact_phone="",
            timezone="Asia/Ho_Chi_Minh",
            is_published=True,
            late_cancellation_refund_percent=0,
            created_at=now,
        )
        machine_id = await _insert(
            "labs_equipment",
            lab_id=lab_id,
            name="Prusa MK4",
            category="3d_printer",
            description="",
            specifications="{}",
            status="available",
            requires_training=False,
            slot_step_minutes=30,
            min_minutes=30,
            max_minutes=240,
            notice_minutes=60,
            horizon_days=30,
            cancellation_deadline_hours=24,
            requires_approval=False,
            booking_version=0,
            created_at=now,
        )
        sessions = {}
        for title in ("Laser cutter safety and first cuts", "An toàn khi dùng máy in 3D"):
            sessions[title] = await _insert(
                "labs_training_session",
                lab_id=lab_id,
                category="laser_cutter",
                title=title,
                starts_at=now + timedelta(days=3),
                ends_at=now + timedelta(days=3, hours=2),
                capacity=8,
                created_at=now,
            )
    finally:
        await Tortoise.close_connections()
    await migrate_to(config)
    async with orm_on(config):
        upgraded = await Lab.get(id=lab_id)
        assert (upgraded.content_locale, upgraded.translations) == ("vi", {})
        assert upgraded.description == "Xưởng chế tạo mở cho sinh viên và doanh nghiệp."
        machine = await Equipment.get(id=machine_id)
        assert (machine.content_locale, machine.name) == ("vi", "Prusa MK4")  # a bare name
        english = await TrainingSession.get(id=sessions["Laser cutter safety and first cuts"])
        assert (english.content_locale, english.capacity) == ("en", 8)
        kept = await TrainingSession.get(id=sessions["An toàn khi dùng máy in 3D"])
        assert (kept.content_locale, kept.title) == ("vi", "An toàn khi dùng máy in 3D")
        upgraded.translations = {"ko": {"name": "베카멕스 팹랩"}}
        await upgraded.save(update_fields=["translations"])
        assert (await Lab.get(id=lab_id)).translations == {"ko": {"name": "베카멕스 팹랩"}}
