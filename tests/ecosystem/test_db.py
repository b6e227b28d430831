"""Database plumbing the rest relies on."""

from datetime import UTC, datetime, timedelta, timezone

from tortoise import connections

from ecosystem.db import is_sqlite
from ecosystem.models import OutboxMessage

HCMC = timezone(timedelta(hours=7))


async def test_aware_datetimes_are_stored_and_compared_in_utc(app):
    local = datetime(2026, 11, 21, 10, 0, tzinfo=HCMC)  # 03:00 UTC
    message = await OutboxMessage.create(to="a@example.vn", subject="s", text_body="b")
    message.sent_at = local
    await message.save(update_fields=["sent_at"])

    placeholder = "?" if is_sqlite(app.state.settings.database_url) else "$1"
    _, rows = await connections.get("default").execute_query(
        f"SELECT sent_at FROM outbox_message WHERE id = {placeholder}", [message.id]
    )
    stored = rows[0]["sent_at"]
    assert stored == local or str(stored).startswith("2026-11-21 03:00:00")
    # 09:00 UTC is later than 10:00 at UTC+7 (03:00 UTC): the comparison must know it.
    later_in_utc = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert await OutboxMessage.filter(sent_at__lt=later_in_utc).count() == 1
    assert await OutboxMessage.filter(sent_at__gt=later_in_utc).count() == 0
    reloaded = await OutboxMessage.get(id=message.id)
    assert reloaded.sent_at == local
