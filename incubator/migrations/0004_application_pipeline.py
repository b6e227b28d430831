"""The applicant's journey (issue 17): stages per call (a default set when empty), each
application's stage, and when its decision was e-mailed (once; decisions taken before this
migration were mailed at once, so they count as sent).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields


class AddColumnWithDefault(ops.AddField):
    """AddField whose column gets a SQL DEFAULT (per dialect): tortoise adds NOT NULL columns
    without one, which SQLite refuses on a table that already has rows; existing rows take the
    SQL default, new rows always get the model's default from the ORM."""

    def __init__(self, model_name: str, name: str, field, sql: dict[str, str]) -> None:
        super().__init__(model_name, name, field)
        self.sql = sql

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor:
            dialect = state_editor.client.capabilities.dialect
            await state_editor.client.execute_script(self.sql.get(dialect, self.sql["sqlite"]))


async def decisions_already_sent(apps, schema_editor) -> None:
    """Before this migration a decision was e-mailed when it was taken."""
    await schema_editor.client.execute_script(
        'UPDATE "incubator_application" SET "decision_sent_at" = "decided_at" '
        "WHERE \"decided_at\" IS NOT NULL AND \"status\" <> 'submitted'"
    )


class Migration(migrations.Migration):
    dependencies = [('incubator', '0003_trusted_reports')]

    initial = False

    operations = [
        AddColumnWithDefault(
            model_name='ApplicationCall',
            name='stages',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
            sql={
                'sqlite': 'ALTER TABLE "incubator_call" ADD COLUMN "stages" JSON NOT NULL DEFAULT \'[]\'',
                'postgres': 'ALTER TABLE "incubator_call" ADD COLUMN "stages" JSONB NOT NULL DEFAULT \'[]\'',
            },
        ),
        AddColumnWithDefault(
            model_name='Application',
            name='stage',
            field=fields.CharField(default='submitted', max_length=40),
            sql={
                'sqlite': 'ALTER TABLE "incubator_application" ADD COLUMN "stage" VARCHAR(40) NOT NULL DEFAULT \'submitted\'',
            },
        ),
        ops.AddField(
            model_name='Application',
            name='decision_sent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(decisions_already_sent, ops.RunPython.noop),
    ]
