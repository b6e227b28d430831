"""One calendar feed per person, held by the database.

`CalendarFeed.user` is declared `unique=True`, but tortoise creates no UNIQUE constraint for
a foreign key (it does for a one-to-one field), so two simultaneous first "create my feed"
requests could leave two feeds and two live secret URLs. Older duplicates are removed
(the newest feed of each person is kept), then a unique index holds the rule.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "uid_labs_calendar_feed_user_id"


async def add_unique_user(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(
        'DELETE FROM "labs_calendar_feed" WHERE "id" NOT IN'
        ' (SELECT MAX("id") FROM "labs_calendar_feed" GROUP BY "user_id")'
    )
    await client.execute_script(
        f'CREATE UNIQUE INDEX IF NOT EXISTS "{INDEX}" ON "labs_calendar_feed" ("user_id")'
    )


async def drop_unique_user(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("labs", "0004_booking_indexes")]

    initial = False

    operations = [ops.RunPython(add_unique_user, drop_unique_user)]
