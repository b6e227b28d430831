"""Database plumbing the rest relies on."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from tortoise import connections

from ecosystem.db import is_sqlite, tortoise_config
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


async def test_every_declared_index_exists_after_the_migrations(app, settings):
    """Migrations must leave each model's declared indexes in place on both databases (a
    table rebuilt on SQLite to add a column once lost all of its indexes)."""
    from tortoise import Tortoise

    connection = connections.get("default")
    missing = []
    for models in Tortoise.apps.values():
        for model in models.values():
            table = model._meta.db_table
            wanted = {tuple(index) for index in model._meta.indexes or ()}
            if not wanted:
                continue
            if is_sqlite(settings.database_url):
                names = [
                    row["name"]
                    for row in await connection.execute_query_dict(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                        [table],
                    )
                ]
                present = set()
                for name in names:
                    columns = await connection.execute_query_dict(f'PRAGMA index_info("{name}")')
                    present.add(tuple(c["name"] for c in sorted(columns, key=lambda c: c["seqno"])))
            else:
                rows = await connection.execute_query_dict(
                    "SELECT array_agg(a.attname ORDER BY k.n) AS columns FROM pg_index i "
                    "JOIN pg_class t ON t.oid = i.indrelid "
                    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
                    "WHERE t.relname = $1 GROUP BY i.indexrelid",
                    [table],
                )
                present = {tuple(row["columns"]) for row in rows}

            def column(name: str, model=model) -> str:
                field = model._meta.fields_map.get(name)
                return getattr(field, "source_field", None) or name

            for index in wanted:
                if tuple(column(name) for name in index) not in present:
                    missing.append((table, index))
    assert not missing, missing


async def test_hand_written_reads_load_what_the_orm_loads(app):
    """`ecosystem.rawsql` on both databases: `?` placeholders, aware datetimes, instances
    equal field by field to the ORM's, the joined object set, and the current
    transaction's uncommitted rows seen."""
    from ecosystem import rawsql
    from ecosystem.db import atomic
    from ecosystem.models import ApiToken, User

    user = await User.create(email="raw@eiu.edu.vn", full_name="Raw Reader", password_hash="x")
    token = await ApiToken.create(user=user, name="cli", prefix="eco_abc", token_hash="h" * 64)
    where = "WHERE m.token_hash = ? AND r.email = ?"
    [loaded] = await rawsql.select(ApiToken, where, ("h" * 64, "raw@eiu.edu.vn"), related="user")
    expected = await ApiToken.get(id=token.id).select_related("user")
    for name in ApiToken._meta.fields_db_projection:
        assert getattr(loaded, name) == getattr(expected, name), name
    for name in User._meta.fields_db_projection:
        assert getattr(loaded.user, name) == getattr(expected.user, name), name
    assert loaded.created_at.tzinfo is not None
    assert await rawsql.select(ApiToken, where, ("h" * 64, "x"), related="user") == []
    [alone] = await rawsql.select(User, "WHERE m.id = ? AND m.is_active = ?", (user.id, True))
    assert alone.email == "raw@eiu.edu.vn" and alone.created_at == expected.user.created_at

    [(created,)] = await rawsql.fetch("SELECT created_at FROM api_token WHERE id = ?", (token.id,))
    assert rawsql.as_datetime(created) == expected.created_at
    assert await rawsql.fetch("SELECT id FROM api_token WHERE token_hash = ?", ("none",)) == []

    class Rollback(Exception):
        pass

    try:
        async with atomic():
            await ApiToken.filter(id=token.id).update(name="renamed")
            rows = await rawsql.fetch("SELECT name FROM api_token WHERE id = ?", (token.id,))
            assert rows == [("renamed",)]
            raise Rollback
    except Rollback:
        pass
    rows = await rawsql.fetch("SELECT name FROM api_token WHERE id = ?", (token.id,))
    assert rows == [("cli",)]


async def test_hand_written_writes_count_their_rows_and_return_their_returning_clause(app):
    """`rawsql.execute` and `rawsql.returning` on both databases: the rows changed (none when
    the WHERE matches nothing), a RETURNING clause's values in order, datetimes stored as the
    ORM reads them, and a rolled-back transaction's write undone."""
    from ecosystem import rawsql
    from ecosystem.db import atomic
    from ecosystem.models import ApiToken, User

    user = await User.create(email="raw@eiu.edu.vn", full_name="Raw Writer", password_hash="x")
    tokens = [
        await ApiToken.create(user=user, name=name, prefix=name, token_hash=name * 32)
        for name in ("aa", "bb")
    ]
    rename = "UPDATE api_token SET name = ? WHERE user_id = ? AND name <> ?"
    assert await rawsql.execute(rename, ("cli", user.id, "cli")) == 2
    assert await rawsql.execute(rename, ("cli", user.id, "cli")) == 0

    used = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
    stamp = "UPDATE api_token SET last_used_at = ? WHERE id = ? RETURNING prefix, name"
    assert await rawsql.returning(stamp, (used, tokens[1].id)) == [("bb", "cli")]
    assert await rawsql.returning(stamp, (used, -1)) == []
    assert (await ApiToken.get(id=tokens[1].id)).last_used_at == used

    class Rollback(Exception):
        pass

    try:
        async with atomic():
            assert await rawsql.execute("DELETE FROM api_token WHERE user_id = ?", (user.id,)) == 2
            raise Rollback
    except Rollback:
        pass
    assert await ApiToken.filter(user_id=user.id).count() == 2


async def test_a_hand_written_insert_writes_the_row_the_orm_writes(app):
    """`rawsql.insert`: the same stored values as `Model.create` (defaults, conversions, the
    `auto_now` stamps, which it sets on the instance) and the key from RETURNING; with a guard
    that returns no row (PostgreSQL), nothing is written."""
    from ecosystem import rawsql
    from ecosystem.models import ApiToken, User

    user = await User.create(email="rows@eiu.edu.vn", full_name="Row Writer", password_hash="x")
    fields = {"user_id": user.id, "name": "cli", "prefix": "p", "scope": "read"}
    by_orm = await ApiToken.create(**fields, token_hash="a" * 64)
    by_hand = ApiToken(**fields, token_hash="b" * 64)
    assert await rawsql.insert(by_hand) is True
    assert by_hand.id and by_hand.id != by_orm.id and by_hand.created_at is not None
    stored = {t.token_hash[0]: t for t in await ApiToken.filter(user_id=user.id)}
    skip = {"id", "token_hash", "created_at"}
    columns = [n for n in ApiToken._meta.fields_db_projection if n not in skip]
    assert [getattr(stored["b"], n) for n in columns] == [getattr(stored["a"], n) for n in columns]
    assert stored["b"].created_at == by_hand.created_at

    if rawsql.dialect() == "postgres":
        guard = (
            "UPDATE user_account SET session_version = session_version + 1"
            " WHERE id = ? RETURNING id"
        )
        refused = ApiToken(**fields, token_hash="c" * 64)
        assert await rawsql.insert(refused, guard, (-1,)) is False
        assert refused.id is None
        allowed = ApiToken(**fields, token_hash="d" * 64)
        assert await rawsql.insert(allowed, guard, (user.id,)) is True
        assert (await User.get(id=user.id)).session_version == user.session_version + 1
    written = 3 if rawsql.dialect() == "postgres" else 2
    assert await ApiToken.filter(user_id=user.id).count() == written


def test_postgres_pool_releases_connections_without_a_reset_query():
    postgres = tortoise_config("postgres://u@db:5432/eco", [])["connections"]["default"]
    assert postgres["engine"] == "tortoise.backends.asyncpg"
    assert postgres["credentials"]["database"] == "eco"
    assert callable(postgres["credentials"]["reset"])
    sqlite = tortoise_config("sqlite:///tmp/eco.sqlite3", [])["connections"]["default"]
    assert "reset" not in sqlite["credentials"]


async def test_a_released_postgres_connection_is_left_as_it_was_but_for_its_transaction(
    app, settings
):
    """No reset round trip on release (asyncpg's default runs four statements each time),
    and a transaction left open still ends in a rollback."""
    import asyncpg

    if is_sqlite(settings.database_url):
        pytest.skip("SQLite has no pool: nothing is released")
    client = connections.get("default")
    async with client.acquire_connection() as connection:
        backend = connection.get_server_pid()
        await connection.fetchval("SELECT 'the last statement of this session'")
    async with client.acquire_connection() as connection:
        await connection.execute("BEGIN")
        await connection.execute(
            'INSERT INTO outbox_message ("to", subject, text_body, html_body, status, attempts,'
            " last_error, created_at) VALUES ('a@example.vn', 's', 'b', '', 'queued', 0, '', now())"
        )
    watcher = await asyncpg.connect(settings.database_url)
    try:
        last = await watcher.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", backend)
        assert await watcher.fetchval("SELECT count(*) FROM outbox_message") == 0
    finally:
        await watcher.close()
    assert last in (
        "SELECT 'the last statement of this session'",  # the first connection idles
        "ROLLBACK",  # the pool handed the same connection back for the transaction
    )
