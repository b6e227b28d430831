"""Indicators of ended periods kept as first published (`published_indicators`)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0008_outbox_attachments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PublishedIndicators',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_start', fields.DateField()),
                ('period_end', fields.DateField()),
                ('version', fields.IntField(default=1)),
                ('payload', fields.JSONField()),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'published_indicators', 'app': 'ecosystem', 'unique_together': (('period_start', 'period_end', 'version'),), 'pk_attr': 'id', 'table_description': 'The open indicators of a period that has ended, as first published.'},
            bases=['Model'],
        ),
    ]
