from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from ecosystem.models import MembershipStatus, Role, Sphere, Verification
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='MediaFile',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('purpose', fields.CharField(max_length=32)),
                ('content_type', fields.CharField(max_length=64)),
                ('width', fields.IntField()),
                ('height', fields.IntField()),
                ('size_bytes', fields.IntField()),
                ('variants', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'media_file', 'app': 'ecosystem', 'pk_attr': 'id', 'table_description': 'An uploaded image, re-encoded without metadata. Variants are made by a job.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('full_name', fields.CharField(max_length=120)),
                ('password_hash', fields.CharField(max_length=255)),
                ('locale', fields.CharField(default='vi', max_length=8)),
                ('timezone', fields.CharField(default='Asia/Ho_Chi_Minh', max_length=64)),
                ('email_verified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('is_active', fields.BooleanField(default=True)),
                ('is_platform_admin', fields.BooleanField(default=False)),
                ('session_version', fields.IntField(default=0)),
                ('avatar', fields.ForeignKeyField('ecosystem.MediaFile', source_field='avatar_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'user_account', 'app': 'ecosystem', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Organisation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('slug', fields.CharField(unique=True, max_length=80)),
                ('search_key', fields.CharField(default='', max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('website', fields.CharField(default='', max_length=300)),
                ('city', fields.CharField(default='', max_length=100)),
                ('country', fields.CharField(default='VN', max_length=2)),
                ('verification', fields.CharEnumField(default=Verification.UNVERIFIED, description='UNVERIFIED: unverified\nPENDING: pending\nVERIFIED: verified\nREJECTED: rejected', enum_type=Verification, max_length=16)),
                ('verification_note', fields.CharField(default='', max_length=500)),
                ('logo', fields.ForeignKeyField('ecosystem.MediaFile', source_field='logo_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'organisation', 'app': 'ecosystem', 'indexes': [Index(fields=['verification', 'name'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrganisationSphere',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name='spheres', on_delete=OnDelete.CASCADE)),
                ('sphere', fields.CharEnumField(description='GOVERNMENT: government\nENTERPRISE: enterprise\nUNIVERSITY: university\nRESEARCH_INSTITUTE: research_institute\nSTARTUP: startup\nINVESTOR: investor\nASSOCIATION: association\nINTERNATIONAL_PARTNER: international_partner', enum_type=Sphere, max_length=32)),
            ],
            options={'table': 'organisation_sphere', 'app': 'ecosystem', 'unique_together': (('organisation', 'sphere'),), 'indexes': [Index(fields=['sphere'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrganisationDomain',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name='domains', on_delete=OnDelete.CASCADE)),
                ('domain', fields.CharField(unique=True, max_length=253)),
            ],
            options={'table': 'organisation_domain', 'app': 'ecosystem', 'pk_attr': 'id', 'table_description': 'An email domain whose owners may request to join the organisation.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(default=Role.MEMBER, description='OWNER: owner\nADMIN: admin\nMEMBER: member', enum_type=Role, max_length=16)),
                ('status', fields.CharEnumField(description='INVITED: invited\nREQUESTED: requested\nACTIVE: active\nLEFT: left', enum_type=MembershipStatus, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'membership', 'app': 'ecosystem', 'unique_together': (('user', 'organisation'),), 'indexes': [Index(fields=['organisation_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(max_length=254)),
                ('role', fields.CharEnumField(description='OWNER: owner\nADMIN: admin\nMEMBER: member', enum_type=Role, max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('invited_by', fields.ForeignKeyField('ecosystem.User', source_field='invited_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'invitation', 'app': 'ecosystem', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name='api_tokens', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('prefix', fields.CharField(max_length=12)),
                ('source', fields.CharField(default='manual', max_length=8)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'ecosystem', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('action', fields.CharField(max_length=64)),
                ('actor', fields.ForeignKeyField('ecosystem.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('target_type', fields.CharField(default='', max_length=32)),
                ('target_id', fields.CharField(default='', max_length=64)),
                ('ip', fields.CharField(default='', max_length=45)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_event', 'app': 'ecosystem', 'indexes': [Index(fields=['action', 'created_at']), Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': 'Append-only record of security-relevant actions.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('to', fields.CharField(max_length=254)),
                ('subject', fields.CharField(max_length=300)),
                ('text_body', fields.TextField(unique=False)),
                ('html_body', fields.TextField(default='', unique=False)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_message', 'app': 'ecosystem', 'indexes': [Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': 'Every email the platform sends, kept for delivery retries and the development outbox.'},
            bases=['Model'],
        ),
    ]
