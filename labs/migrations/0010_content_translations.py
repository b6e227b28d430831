"""Names and descriptions in several languages (ecosystem.content): `content_locale` says in
which language the plain columns are, `translations` holds the other languages.

Existing rows get Vietnamese (a column DEFAULT, so SQLite accepts it on a table with rows, as
in 0008_booking_guest), except rows whose text is plainly English: ASCII only and with an
English function word ("the", "and", "for", …). A name alone ("Becamex FabLab") says nothing
about its language and stays Vietnamese.
"""

import re

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# table: the columns whose text tells the row's language
TABLES = {
    "labs_lab": ("name", "description"),
    "labs_equipment": ("name", "description"),
    "labs_training_session": ("title",),
}
ENGLISH_WORDS = re.compile(
    r"\b(the|and|for|with|of|to|in|on|your|our|is|are|from|safety|first)\b", re.IGNORECASE
)
NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def looks_english(text: str) -> bool:
    """Plainly English: no letter outside ASCII (Vietnamese and Korean have them) and at least
    one English function word."""
    return bool(text.strip()) and not NOT_ASCII.search(text) and bool(ENGLISH_WORDS.search(text))


class AddColumnWithDefault(ops.AddField):
    """AddField whose column gets a SQL DEFAULT (per dialect, see incubator 0002), and which
    goes back with a plain DROP COLUMN: tortoise rebuilds a SQLite table to drop a column, and
    dropping the old `labs_lab` cascades to every machine and booking of the lab."""

    def __init__(self, model_name: str, name: str, field, sql: dict[str, str], table: str) -> None:
        super().__init__(model_name, name, field)
        self.sql = sql
        self.table = table

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor:
            dialect = state_editor.client.capabilities.dialect
            await state_editor.client.execute_script(self.sql.get(dialect, self.sql["sqlite"]))

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor:
            await state_editor.client.execute_script(
                f'ALTER TABLE "{self.table}" DROP COLUMN "{self.name}"'
            )


def _columns(model: str, table: str) -> list[ops.Operation]:
    return [
        AddColumnWithDefault(
            model_name=model,
            name="content_locale",
            field=fields.CharField(max_length=8, default="vi"),
            sql={
                "sqlite": f'ALTER TABLE "{table}" ADD COLUMN "content_locale" VARCHAR(8) NOT NULL DEFAULT \'vi\'',
            },
            table=table,
        ),
        AddColumnWithDefault(
            model_name=model,
            name="translations",
            field=fields.JSONField(default=dict),
            sql={
                "sqlite": f'ALTER TABLE "{table}" ADD COLUMN "translations" JSON NOT NULL DEFAULT \'{{}}\'',
                "postgres": f'ALTER TABLE "{table}" ADD COLUMN "translations" JSONB NOT NULL DEFAULT \'{{}}\'',
            },
            table=table,
        ),
    ]


async def english_rows_say_so(apps, schema_editor) -> None:
    """Rows whose text is plainly English are marked "en"; the others keep "vi"."""
    client = schema_editor.client
    mark = "$1" if client.capabilities.dialect == "postgres" else "?"
    for table, columns in TABLES.items():
        rows = await client.execute_query_dict(f'SELECT id, {", ".join(columns)} FROM "{table}"')
        english = [
            row["id"] for row in rows if looks_english(" ".join(str(row[c] or "") for c in columns))
        ]
        for row_id in english:
            await client.execute_query(
                f"UPDATE \"{table}\" SET content_locale = 'en' WHERE id = {mark}", [row_id]
            )


class Migration(migrations.Migration):
    dependencies = [("labs", "0009_free_time_summary")]

    initial = False

    operations = [
        *_columns("Lab", "labs_lab"),
        *_columns("Equipment", "labs_equipment"),
        *_columns("TrainingSession", "labs_training_session"),
        ops.RunPython(english_rows_say_so, ops.RunPython.noop),
    ]
