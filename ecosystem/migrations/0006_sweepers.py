"""Refunds keep a claim (claimed_at) and a count of sends, for the refund sweeper."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0005_sessions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Refund',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Refund',
            name='send_attempts',
            field=fields.IntField(default=0),
        ),
    ]
