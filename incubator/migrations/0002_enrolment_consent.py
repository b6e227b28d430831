"""Enrolment consent (issue 12): an enrolment is offered, then accepted or declined by the
startup, and it may leave; the programme reads only the accepted metrics from a start month.
Existing enrolments become accepted (with every metric of their programme, from the start) so
a database with data upgrades. Also: role invitations by e-mail, the programme's read log.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from incubator.models import EnrolmentStatus, ProgrammeRoleKind
from json import dumps, loads
from tortoise.fields.base import OnDelete
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


async def existing_enrolments_accepted(apps, schema_editor) -> None:
    """Each existing enrolment reads every metric of its programme (as before the upgrade)."""
    client = schema_editor.client
    rows = await client.execute_query_dict(
        "SELECT e.id AS id, m.key AS key FROM incubator_enrolment e "
        "JOIN incubator_cohort c ON c.id = e.cohort_id "
        "JOIN incubator_metric m ON m.programme_id = c.programme_id "
        "ORDER BY e.id, m.position, m.id"
    )
    keys: dict[int, list[str]] = {}
    for row in rows:
        keys.setdefault(row["id"], []).append(row["key"])
    mark = "$1" if client.capabilities.dialect == "postgres" else "?"
    other = "$2" if client.capabilities.dialect == "postgres" else "?"
    for enrolment_id, metric_keys in keys.items():
        await client.execute_query(
            f"UPDATE incubator_enrolment SET metrics = {mark} WHERE id = {other}",
            [dumps(metric_keys, separators=(",", ":")), enrolment_id],
        )
    await client.execute_script(
        "UPDATE incubator_enrolment SET accepted_at = created_at WHERE status = 'accepted'"
    )

class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0001_initial'), ('ecosystem', '0002_directory_index'), ('ecosystem', '0003_payments'), ('incubator', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EnrolmentRead',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('enrolment', fields.ForeignKeyField('incubator.Enrolment', source_field='enrolment_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('channel', fields.CharField(default='web', max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_enrolment_read', 'app': 'incubator', 'pk_attr': 'id', 'table_description': "Every read of a startup's figures by its programme's staff, shown to the startup"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProgrammeRoleInvitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('programme', fields.ForeignKeyField('incubator.Programme', source_field='programme_id', db_constraint=True, to_field='id', related_name='role_invitations', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(db_index=True, max_length=254)),
                ('role', fields.CharEnumField(description='MANAGER: manager\nMENTOR: mentor\nREVIEWER: reviewer', enum_type=ProgrammeRoleKind, max_length=16)),
                ('invited_by', fields.ForeignKeyField('ecosystem.User', source_field='invited_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_programme_role_invitation', 'app': 'incubator', 'unique_together': (('programme', 'email', 'role'),), 'pk_attr': 'id', 'table_description': 'A role named for an e-mail address that no verified account holds yet: it becomes a'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Enrolment',
            name='accepted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Enrolment',
            name='decided_by',
            field=fields.ForeignKeyField('ecosystem.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Enrolment',
            name='declined_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Enrolment',
            name='left_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AddColumnWithDefault(
            model_name='Enrolment',
            name='metrics',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
            sql={
                'sqlite': 'ALTER TABLE "incubator_enrolment" ADD COLUMN "metrics" JSON NOT NULL DEFAULT \'[]\'',
                'postgres': 'ALTER TABLE "incubator_enrolment" ADD COLUMN "metrics" JSONB NOT NULL DEFAULT \'[]\'',
            },
        ),
        ops.AddField(
            model_name='Enrolment',
            name='metrics_from',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Enrolment',
            name='offered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Enrolment',
            name='offered_by',
            field=fields.ForeignKeyField('ecosystem.User', source_field='offered_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        AddColumnWithDefault(
            model_name='Enrolment',
            name='status',
            field=fields.CharEnumField(default=EnrolmentStatus.OFFERED, description='OFFERED: offered\nACCEPTED: accepted\nDECLINED: declined\nLEFT: left', enum_type=EnrolmentStatus, max_length=8),
            sql={'sqlite': 'ALTER TABLE "incubator_enrolment" ADD COLUMN "status" VARCHAR(8) NOT NULL DEFAULT \'accepted\''},
        ),
        ops.RunPython(existing_enrolments_accepted, ops.RunPython.noop),
    ]
