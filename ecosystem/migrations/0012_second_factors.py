"""Second factors: authenticator apps (`totp_factor`), recovery codes, passkeys, and the
organisations' policy `organisation.require_second_factor` (existing ones: off)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class AddColumnWithDefault(ops.AddField):
    """AddField whose column gets a SQL DEFAULT: tortoise adds NOT NULL columns without one,
    which SQLite and PostgreSQL refuse on a table that already has rows."""

    def __init__(self, model_name: str, name: str, field, sql: str) -> None:
        super().__init__(model_name, name, field)
        self.sql = sql

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor:
            await state_editor.client.execute_script(self.sql)


class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0011_oidc_identities')]

    initial = False

    operations = [
        AddColumnWithDefault(
            model_name='Organisation',
            name='require_second_factor',
            field=fields.BooleanField(default=False),
            sql='ALTER TABLE "organisation" ADD COLUMN "require_second_factor" BOOL NOT NULL DEFAULT FALSE',
        ),
        ops.CreateModel(
            name='TotpFactor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE, unique=True)),
                ('secret_encrypted', fields.CharField(max_length=255)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_step', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'totp_factor', 'app': 'ecosystem', 'pk_attr': 'id', 'table_description': "A person's authenticator app (TOTP, RFC 6238)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecoveryCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(max_length=64)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'recovery_code', 'app': 'ecosystem', 'indexes': [Index(fields=['user_id', 'used_at'])], 'pk_attr': 'id', 'table_description': 'A single-use code for when the authenticator is lost.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Passkey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('credential_id', fields.CharField(unique=True, max_length=1400)),
                ('public_key', fields.BinaryField()),
                ('sign_count', fields.BigIntField(default=0)),
                ('transports', fields.JSONField(default=list)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'passkey', 'app': 'ecosystem', 'pk_attr': 'id', 'table_description': 'A WebAuthn credential: a second factor, or a way to sign in on its own.'},
            bases=['Model'],
        ),
    ]
