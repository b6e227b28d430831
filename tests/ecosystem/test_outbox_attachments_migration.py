"""Migration ecosystem 0008 adds outbox attachments to a database that already holds mail."""

from __future__ import annotations

from ecosystem.db import tortoise_config
from ecosystem.models import OutboxAttachment, OutboxMessage
from ecosystem.packages import load_packages
from tests.conftest import migrate_to, orm_on

BEFORE = "ecosystem.0006_sweepers"


async def test_messages_written_before_0008_are_kept_and_take_attachments(empty_url):
    config = tortoise_config(empty_url, load_packages(()))
    await migrate_to(config, BEFORE)
    async with orm_on(config):
        old = await OutboxMessage.create(to="lan@eiu.edu.vn", subject="Before", text_body="Hi")

    await migrate_to(config)
    async with orm_on(config):
        kept = await OutboxMessage.get(id=old.id)
        assert (kept.subject, kept.status) == ("Before", "queued")
        assert await OutboxAttachment.filter(message_id=old.id).count() == 0
        await OutboxAttachment.create(
            message=kept, filename="a.ics", content_type="text/calendar", content=b"x"
        )
        assert await OutboxAttachment.filter(message_id=old.id).count() == 1
