"""Reports that can be trusted (issue 17): metrics a programme requires, corrections of
submitted reports with their history, explanations of values far outside the startup's own
history, reminders a manager sends by hand; one pending role invitation per address and
programme (duplicates of an address are folded into its latest invitation first).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint



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


async def one_invitation_per_address(apps, schema_editor) -> None:
    """Keep only the latest invitation of each (programme, address)."""
    await schema_editor.client.execute_script(
        "DELETE FROM incubator_programme_role_invitation WHERE id NOT IN ("
        "SELECT MAX(id) FROM incubator_programme_role_invitation GROUP BY programme_id, email)"
    )


class DropInvitationUnique(ops.RemoveConstraint):
    """The old (programme, email, role) key was created inside CREATE TABLE: PostgreSQL drops
    it by name, SQLite only by rebuilding the table (nothing refers to it)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if not state_editor:
            return
        client = state_editor.client
        table = "incubator_programme_role_invitation"
        if client.capabilities.dialect == "postgres":
            await client.execute_script(
                f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "uid_incubator_p_program_cbeee9"'
            )
            return
        columns = '"id", "email", "role", "created_at", "invited_by_id", "programme_id"'
        await client.execute_script(
            f'''CREATE TABLE "{table}_new" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "invited_by_id" INT REFERENCES "user_account" ("id") ON DELETE SET NULL,
    "programme_id" INT NOT NULL REFERENCES "incubator_programme" ("id") ON DELETE CASCADE
);
INSERT INTO "{table}_new" ({columns}) SELECT {columns} FROM "{table}";
DROP TABLE "{table}";
ALTER TABLE "{table}_new" RENAME TO "{table}";
CREATE INDEX "idx_incubator_p_email_7c5243" ON "{table}" ("email");'''
        )


class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0001_initial'), ('incubator', '0002_enrolment_consent')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportCorrection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('incubator.ReportRequest', source_field='request_id', db_constraint=True, to_field='id', related_name='corrections', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('ecosystem.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('changes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_report_correction', 'app': 'incubator', 'pk_attr': 'id', 'table_description': "A founder's correction of a submitted report: who, when, and each old → new value."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportNudge',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('incubator.ReportRequest', source_field='request_id', db_constraint=True, to_field='id', related_name='nudges', on_delete=OnDelete.CASCADE)),
                ('sent_by', fields.ForeignKeyField('ecosystem.User', source_field='sent_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('recipients', fields.SmallIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_report_nudge', 'app': 'incubator', 'indexes': [Index(fields=['request_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A reminder a manager sent by hand ("remind now"): at most one per request an hour.'},
            bases=['Model'],
        ),
        AddColumnWithDefault(
            model_name='Metric',
            name='required',
            field=fields.BooleanField(default=False),
            sql={
                'sqlite': 'ALTER TABLE "incubator_metric" ADD COLUMN "required" INT NOT NULL DEFAULT 0',
                'postgres': 'ALTER TABLE "incubator_metric" ADD COLUMN "required" BOOL NOT NULL DEFAULT FALSE',
            },
        ),
        ops.RunPython(one_invitation_per_address, ops.RunPython.noop),
        DropInvitationUnique(
            model_name='ProgrammeRoleInvitation',
            name=None,
            fields=['programme', 'email', 'role'],
        ),
        ops.AddConstraint(
            model_name='ProgrammeRoleInvitation',
            constraint=UniqueConstraint(fields=('programme', 'email'), name=None),
        ),
        ops.AddField(
            model_name='ReportRequest',
            name='corrected_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AddColumnWithDefault(
            model_name='ReportRequest',
            name='explanations',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
            sql={
                'sqlite': 'ALTER TABLE "incubator_report" ADD COLUMN "explanations" JSON NOT NULL DEFAULT \'{}\'',
                'postgres': 'ALTER TABLE "incubator_report" ADD COLUMN "explanations" JSONB NOT NULL DEFAULT \'{}\'',
            },
        ),
    ]
