from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0001_initial')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Organisation',
            name=None,
            fields=['verification', 'name'],
        ),
        ops.AddIndex(
            model_name='Organisation',
            index=Index(fields=['verification', 'search_key']),
        ),
    ]
