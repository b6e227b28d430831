"""The online payment providers each issuer (a lab) accepts (VNPay beside Stripe)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("ecosystem", "0006_sweepers")]

    initial = False

    operations = [
        ops.CreateModel(
            name="IssuerProviders",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("issuer_key", fields.CharField(unique=True, max_length=60)),
                ("providers", fields.CharField(default="", max_length=100)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "payment_issuer_providers",
                "app": "ecosystem",
                "pk_attr": "id",
                "table_description": "The online payment providers an issuer (e.g. a lab) accepts, in its order of preference.",
            },
            bases=["Model"],
        ),
    ]
