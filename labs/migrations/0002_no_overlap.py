"""No two active bookings of one machine overlap: an exclusion constraint on PostgreSQL.

SQLite has no exclusion constraints: there the booking service checks and inserts inside one
transaction that starts by writing (the database write lock), see labs.services.bookings.
The statuses listed here are labs.models.ACTIVE_BOOKING_STATUSES.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

CONSTRAINT = "labs_booking_no_overlap"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"ALTER TABLE labs_booking ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
    "(equipment_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
    "WHERE (status IN ('pending', 'confirmed'))",
]
BACKWARD = [f"ALTER TABLE labs_booking DROP CONSTRAINT IF EXISTS {CONSTRAINT}"]


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def _run(schema_editor, statements: list[str]) -> None:
    if not _is_postgres(schema_editor):
        return
    for statement in statements:
        await schema_editor.client.execute_script(statement)


async def add_constraint(apps, schema_editor) -> None:
    await _run(schema_editor, FORWARD)


async def drop_constraint(apps, schema_editor) -> None:
    await _run(schema_editor, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("labs", "0001_initial")]

    initial = False

    operations = [ops.RunPython(add_constraint, drop_constraint)]
