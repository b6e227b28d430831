"""A round may have its own judges (Round.judge_ids), e.g. a final jury."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('hackathon', '0002_append_only')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Round',
            name='judge_ids',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
