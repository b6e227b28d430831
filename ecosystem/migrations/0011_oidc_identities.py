"""OpenID Connect sign-in: providers added by platform admins (`identity_provider`), the
provider accounts linked to local ones (`external_identity`) and the used `state` values."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0010_published_indicators')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExternalIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name='external_identities', on_delete=OnDelete.CASCADE)),
                ('provider', fields.CharField(max_length=40)),
                ('subject', fields.CharField(max_length=255)),
                ('email', fields.CharField(default='', max_length=254)),
                ('linked_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'external_identity', 'app': 'ecosystem', 'unique_together': (('provider', 'subject'),), 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id', 'table_description': "A person's account at an identity provider (`subject` is the provider's `sub`)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdentityProvider',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=40)),
                ('title', fields.CharField(max_length=100)),
                ('issuer', fields.CharField(max_length=300)),
                ('client_id', fields.CharField(max_length=300)),
                ('client_secret', fields.CharField(max_length=500)),
                ('email_domains', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'identity_provider', 'app': 'ecosystem', 'pk_attr': 'id', 'table_description': 'An OpenID Connect provider added by platform admins.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OidcUsedState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('state_hash', fields.CharField(unique=True, max_length=64)),
                ('used_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'oidc_used_state', 'app': 'ecosystem', 'indexes': [Index(fields=['used_at'])], 'pk_attr': 'id', 'table_description': 'The `state` of every finished OpenID Connect sign-in (hashed).'},
            bases=['Model'],
        ),
    ]
