"""A booking's SEQUENCE for calendar apps: raised each time the booking moves.

Existing bookings start at 0 (a column DEFAULT, so SQLite accepts it on a table with rows).
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class AddColumnWithDefault(ops.AddField):
    """AddField whose column gets a SQL DEFAULT (see 0003_payments)."""

    def __init__(self, model_name: str, name: str, field, sql: str) -> None:
        super().__init__(model_name, name, field)
        self.sql = sql

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor:
            await state_editor.client.execute_script(self.sql)


class Migration(migrations.Migration):
    dependencies = [("labs", "0005_calendar_feed_one_per_user")]

    initial = False

    operations = [
        AddColumnWithDefault(
            model_name="Booking",
            name="sequence",
            field=fields.IntField(default=0),
            sql='ALTER TABLE "labs_booking" ADD COLUMN "sequence" INT NOT NULL DEFAULT 0',
        ),
    ]
