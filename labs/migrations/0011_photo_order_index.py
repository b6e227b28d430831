"""An index for a lab's photos and one machine's, in their order: every machine page and the
labs list read them, and without it each read scanned every photo of the network."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("labs", "0010_content_translations")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="Photo",
            index=Index(fields=["lab_id", "equipment_id", "position"]),
        ),
    ]
