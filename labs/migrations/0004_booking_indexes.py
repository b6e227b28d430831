"""Put back the booking indexes that 0003 lost on SQLite.

On SQLite, tortoise adds a foreign key column (0003: `labs_booking.payment_id`) by rebuilding
the table, and the rebuilt table comes without its secondary indexes: every availability,
week and overlap query then scans all bookings. The same names as 0001, so on PostgreSQL
(where the indexes survived) this changes nothing.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = {
    "idx_labs_bookin_equipme_e0f992": "equipment_id, starts_at",
    "idx_labs_bookin_equipme_ddef44": "equipment_id, ends_at",
    "idx_labs_bookin_user_id_51e7e8": "user_id, starts_at",
    "idx_labs_bookin_status_5565cf": "status, starts_at",
}


async def create_indexes(apps, schema_editor) -> None:
    for name, columns in INDEXES.items():
        await schema_editor.client.execute_script(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "labs_booking" ({columns})'
        )


async def keep_indexes(apps, schema_editor) -> None:
    """Going back to 0003 keeps them: 0001 declared them all along."""


class Migration(migrations.Migration):
    dependencies = [("labs", "0003_payments")]

    initial = False

    operations = [ops.RunPython(create_indexes, keep_indexes)]
