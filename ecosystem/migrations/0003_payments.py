from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from ecosystem.payments.models import PaymentMethod, PaymentState, RefundState
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0002_directory_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BillingPermit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('granted_by', fields.ForeignKeyField('ecosystem.User', source_field='granted_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_billing_permit', 'app': 'ecosystem', 'unique_together': (('organisation', 'user'),), 'pk_attr': 'id', 'table_description': "An organisation's admins allow one member to bill bookings to the organisation."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('currency', fields.CharField(default='VND', max_length=3)),
                ('balance', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'credit_account', 'app': 'ecosystem', 'unique_together': (('user',), ('organisation',)), 'pk_attr': 'id', 'table_description': 'The credit balance of one user or one organisation, in VND.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('ecosystem.CreditAccount', source_field='account_id', db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.CASCADE)),
                ('amount', fields.BigIntField()),
                ('balance_after', fields.BigIntField()),
                ('kind', fields.CharField(max_length=16)),
                ('reason', fields.CharField(default='', max_length=300)),
                ('source', fields.CharField(max_length=40)),
                ('reference', fields.CharField(null=True, max_length=120)),
                ('actor', fields.ForeignKeyField('ecosystem.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('payment_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'credit_entry', 'app': 'ecosystem', 'unique_together': (('source', 'reference'),), 'indexes': [Index(fields=['account_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One line of the append-only credit ledger (positive: credit in, negative: used).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Payment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subject_kind', fields.CharField(max_length=40)),
                ('subject_id', fields.IntField()),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('method', fields.CharEnumField(description='CARD: card\nCREDIT: credit\nORGANISATION: organisation\nAT_LAB: at_lab', enum_type=PaymentMethod, max_length=16)),
                ('state', fields.CharEnumField(default=PaymentState.PENDING, description='PENDING: pending\nEXPIRED: expired\nVOID: void\nBILLED: billed\nPAID: paid\nPARTIALLY_REFUNDED: partially_refunded\nREFUNDED: refunded', enum_type=PaymentState, max_length=20)),
                ('amount', fields.BigIntField()),
                ('credit_amount', fields.BigIntField(default=0)),
                ('currency', fields.CharField(default='VND', max_length=3)),
                ('refunded_amount', fields.BigIntField(default=0)),
                ('description', fields.CharField(default='', max_length=300)),
                ('issuer_key', fields.CharField(max_length=60)),
                ('issuer', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('period', fields.CharField(default='', max_length=7)),
                ('return_path', fields.CharField(default='/', max_length=300)),
                ('provider', fields.CharField(default='', max_length=16)),
                ('checkout_session_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('checkout_url', fields.CharField(default='', max_length=2000)),
                ('payment_intent_id', fields.CharField(default='', max_length=255)),
                ('hold_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('receipt_number', fields.IntField(null=True)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('marked_paid_by', fields.ForeignKeyField('ecosystem.User', source_field='marked_paid_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'payment', 'app': 'ecosystem', 'unique_together': (('subject_kind', 'subject_id'), ('issuer_key', 'receipt_number')), 'indexes': [Index(fields=['state', 'hold_expires_at']), Index(fields=['organisation_id', 'issuer_key', 'period']), Index(fields=['user_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'What one subject (e.g. a lab booking) costs and how it is paid.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('provider', fields.CharField(max_length=16)),
                ('event_id', fields.CharField(max_length=255)),
                ('event_type', fields.CharField(max_length=100)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_event', 'app': 'ecosystem', 'unique_together': (('provider', 'event_id'),), 'pk_attr': 'id', 'table_description': 'A provider event already processed: the unique key makes processing at-most-once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReceiptCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('issuer_key', fields.CharField(unique=True, max_length=60)),
                ('last_number', fields.IntField(default=0)),
            ],
            options={'table': 'payment_receipt_counter', 'app': 'ecosystem', 'pk_attr': 'id', 'table_description': 'The last receipt number of one issuer (sequential, no gaps, no duplicates).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Refund',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('payment', fields.ForeignKeyField('ecosystem.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.CASCADE)),
                ('amount', fields.BigIntField()),
                ('credit_amount', fields.BigIntField(default=0)),
                ('card_amount', fields.BigIntField(default=0)),
                ('reason', fields.CharField(max_length=40)),
                ('state', fields.CharEnumField(default=RefundState.PENDING, description='PENDING: pending\nSUCCEEDED: succeeded\nFAILED: failed', enum_type=RefundState, max_length=16)),
                ('provider_refund_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('settled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payment_refund', 'app': 'ecosystem', 'pk_attr': 'id', 'table_description': "Money going back: the credit part at once, the card part through Stripe's Refund API."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StatementMark',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('issuer_key', fields.CharField(max_length=60)),
                ('organisation', fields.ForeignKeyField('ecosystem.Organisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('period', fields.CharField(max_length=7)),
                ('amount', fields.BigIntField()),
                ('marked_by', fields.ForeignKeyField('ecosystem.User', source_field='marked_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('paid_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_statement_mark', 'app': 'ecosystem', 'unique_together': (('issuer_key', 'organisation', 'period'),), 'pk_attr': 'id', 'table_description': "An organisation's monthly statement of one issuer, marked as paid by the issuer's staff."},
            bases=['Model'],
        ),
    ]
