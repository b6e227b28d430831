"""A criterion's step (scores are multiples of it); pairs handed to judges in pairwise mode."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("hackathon", "0003_round_judges")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Criterion",
            name="step",
            field=fields.FloatField(default=0.5),
        ),
        ops.CreateModel(
            name="PairLease",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("round", fields.ForeignKeyField("hackathon.Round", source_field="round_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("judge", fields.ForeignKeyField("ecosystem.User", source_field="judge_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("entry_a", fields.ForeignKeyField("hackathon.Submission", source_field="entry_a_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("entry_b", fields.ForeignKeyField("hackathon.Submission", source_field="entry_b_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "hackathon_pair_lease", "app": "hackathon", "unique_together": (("round", "judge"),), "pk_attr": "id", "table_description": "Pairwise mode: the pair a judge was handed and has not answered yet (one per judge and"},
            bases=["Model"],
        ),
    ]
