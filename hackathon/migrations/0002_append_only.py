"""The score log and the comparison log are append-only, held by the database itself.

PostgreSQL: a trigger refuses every UPDATE and DELETE of a row (TRUNCATE, used only to empty
a test database, stays possible). SQLite: a trigger refuses every UPDATE (the test suite
empties tables with DELETE between tests, so deletes stay possible there). Undo is a new
event, never an edit (see hackathon.models).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = ("hackathon_score_event", "hackathon_comparison")

POSTGRES_FORWARD = [
    "CREATE OR REPLACE FUNCTION hackathon_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the table % is append-only', TG_TABLE_NAME; END; "
    "$$ LANGUAGE plpgsql",
    *[
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION hackathon_append_only()"
        for table in TABLES
    ],
]
POSTGRES_BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in TABLES],
    "DROP FUNCTION IF EXISTS hackathon_append_only()",
]
SQLITE_FORWARD = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_append_only BEFORE UPDATE ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'the table {table} is append-only'); END"
    for table in TABLES
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {table}_append_only" for table in TABLES]


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def _run(schema_editor, forward: bool) -> None:
    if _is_postgres(schema_editor):
        statements = POSTGRES_FORWARD if forward else POSTGRES_BACKWARD
    else:
        statements = SQLITE_FORWARD if forward else SQLITE_BACKWARD
    for statement in statements:
        await schema_editor.client.execute_script(statement)


async def add_triggers(apps, schema_editor) -> None:
    await _run(schema_editor, True)


async def drop_triggers(apps, schema_editor) -> None:
    await _run(schema_editor, False)


class Migration(migrations.Migration):
    dependencies = [("hackathon", "0001_initial")]

    initial = False

    operations = [ops.RunPython(add_triggers, drop_triggers)]
