"""Files sent with an outbox message (calendar invitations), kept with it for retries."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("ecosystem", "0007_issuer_providers")]

    initial = False

    operations = [
        ops.CreateModel(
            name="OutboxAttachment",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "message",
                    fields.ForeignKeyField(
                        "ecosystem.OutboxMessage",
                        source_field="message_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="attachments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("filename", fields.CharField(max_length=200)),
                ("content_type", fields.CharField(max_length=200)),
                ("content", fields.BinaryField()),
            ],
            options={
                "table": "outbox_attachment",
                "app": "ecosystem",
                "pk_attr": "id",
                "table_description": "A file sent with an outbox message.",
            },
            bases=["Model"],
        ),
    ]
