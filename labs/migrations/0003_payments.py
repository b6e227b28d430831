"""Paying for lab time: a `pending_payment` hold that blocks the slot like any active booking,
the booking's payment, and the lab's refund policy after the cancellation deadline.

On PostgreSQL the exclusion constraint of 0002 is rebuilt to count `pending_payment` as active
(the statuses are labs.models.ACTIVE_BOOKING_STATUSES).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from labs.models import BookingStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

CONSTRAINT = "labs_booking_no_overlap"


class AddColumnWithDefault(ops.AddField):
    """AddField whose column gets a SQL DEFAULT: tortoise adds NOT NULL columns without one,
    which SQLite refuses on a table that already has rows (an existing installation)."""

    def __init__(self, model_name: str, name: str, field, sql: str) -> None:
        super().__init__(model_name, name, field)
        self.sql = sql

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor:
            await state_editor.client.execute_script(self.sql)


def _constraint(statuses: str) -> list[str]:
    return [
        f"ALTER TABLE labs_booking DROP CONSTRAINT IF EXISTS {CONSTRAINT}",
        f"ALTER TABLE labs_booking ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(equipment_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
        f"WHERE (status IN ({statuses}))",
    ]


FORWARD = _constraint("'pending', 'confirmed', 'pending_payment'")
BACKWARD = _constraint("'pending', 'confirmed'")


async def _run(schema_editor, statements: list[str]) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    for statement in statements:
        await schema_editor.client.execute_script(statement)


async def holds_block(apps, schema_editor) -> None:
    await _run(schema_editor, FORWARD)


async def holds_do_not_block(apps, schema_editor) -> None:
    await _run(schema_editor, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0003_payments'), ('labs', '0002_no_overlap')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Booking',
            name='status',
            field=fields.CharEnumField(description='PENDING: pending\nPENDING_PAYMENT: pending_payment\nCONFIRMED: confirmed\nCANCELLED: cancelled\nDECLINED: declined\nNO_SHOW: no_show\nCOMPLETED: completed', enum_type=BookingStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Booking',
            name='payment',
            field=fields.ForeignKeyField('ecosystem.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        AddColumnWithDefault(
            model_name='Lab',
            name='late_cancellation_refund_percent',
            field=fields.SmallIntField(default=0),
            sql='ALTER TABLE "labs_lab" ADD COLUMN "late_cancellation_refund_percent" SMALLINT NOT NULL DEFAULT 0',
        ),
        ops.RunPython(holds_block, holds_do_not_block),
    ]
