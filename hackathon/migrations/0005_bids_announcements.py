"""Judges' preferences (bids: want / could / rather not) for entries, before assignment;
announcements to the participants of a site or a track."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from hackathon.models import BidLevel


class Migration(migrations.Migration):
    dependencies = [("hackathon", "0004_criterion_step_pair_leases")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Bid",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("contest", fields.ForeignKeyField("hackathon.Contest", source_field="contest_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("judge", fields.ForeignKeyField("ecosystem.User", source_field="judge_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("submission", fields.ForeignKeyField("hackathon.Submission", source_field="submission_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("level", fields.CharEnumField(description="WANT: want\nCOULD: could\nRATHER_NOT: rather_not", enum_type=BidLevel, max_length=16)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "hackathon_bid", "app": "hackathon", "unique_together": (("judge", "submission"),), "pk_attr": "id", "table_description": "The preference of a judge for one entry, favoured by the assignment solver (a soft cost)."},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Announcement",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("contest", fields.ForeignKeyField("hackathon.Contest", source_field="contest_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("site", fields.ForeignKeyField("hackathon.Site", source_field="site_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("track", fields.ForeignKeyField("hackathon.Track", source_field="track_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("title", fields.CharField(max_length=200)),
                ("body", fields.TextField(unique=False)),
                ("author", fields.ForeignKeyField("ecosystem.User", source_field="author_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL)),
                ("recipients", fields.IntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "hackathon_announcement", "app": "hackathon", "pk_attr": "id", "table_description": "A message from the organisers to the participants of a site or a track (or all),"},
            bases=["Model"],
        ),
    ]
