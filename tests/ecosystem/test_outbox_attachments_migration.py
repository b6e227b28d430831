"""Migration ecosystem 0008 adds outbox attachments to a database that already holds mail."""

from __future__ import annotations

from tortoise import Tortoise

from ecosystem.db import init_orm, run_migrations, tortoise_config
from ecosystem.models import OutboxAttachment, OutboxMessage
from ecosystem.packages import load_packages

BEFORE = "ecosystem.0006_sweepers"


async def test_messages_written_before_0008_are_kept_and_take_attachments(empty_url):
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(empty_url, load_packages(()))
    try:
        await migrate(config=config, target=BEFORE)
    finally:
        await Tortoise.close_connections()
    await init_orm(config)  # fresh statement cache: the suite switches dialects
    try:
        old = await OutboxMessage.create(to="lan@eiu.edu.vn", subject="Before", text_body="Hi")
    finally:
        await Tortoise.close_connections()

    try:
        await run_migrations(config)
    finally:
        await Tortoise.close_connections()
    await init_orm(config)
    try:
        kept = await OutboxMessage.get(id=old.id)
        assert (kept.subject, kept.status) == ("Before", "queued")
        assert await OutboxAttachment.filter(message_id=old.id).count() == 0
        await OutboxAttachment.create(
            message=kept, filename="a.ics", content_type="text/calendar", content=b"x"
        )
        assert await OutboxAttachment.filter(message_id=old.id).count() == 1
    finally:
        await Tortoise.close_connections()
