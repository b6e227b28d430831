"""A walk-in booking made by staff for a guest without an account: the guest's name and phone.

Existing bookings get empty strings (a column DEFAULT, so SQLite accepts it on a table with
rows; the same pattern as 0006_booking_sequence).
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
    dependencies = [("labs", "0006_booking_sequence")]

    initial = False

    operations = [
        AddColumnWithDefault(
            model_name="Booking",
            name="guest_name",
            field=fields.CharField(max_length=200, default=""),
            sql="ALTER TABLE \"labs_booking\" ADD COLUMN \"guest_name\" VARCHAR(200) NOT NULL DEFAULT ''",
        ),
        AddColumnWithDefault(
            model_name="Booking",
            name="guest_phone",
            field=fields.CharField(max_length=40, default=""),
            sql="ALTER TABLE \"labs_booking\" ADD COLUMN \"guest_phone\" VARCHAR(40) NOT NULL DEFAULT ''",
        ),
    ]
