"""Content in several languages (issue 18): programmes and calls for applications keep their
name/title and description in `content_locale` and the other languages in `translations`
(ecosystem.content). Existing rows are Vietnamese, unless their text is plainly English
(ASCII only, with common English words): those become "en".
"""

import functools
import re
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class AddColumnWithDefault(ops.AddField):
    """AddField whose column gets a SQL DEFAULT (per dialect): tortoise adds NOT NULL columns
    without one, which SQLite refuses on a table that already has rows; existing rows take the
    SQL default, new rows always get the model's default from the ORM."""

    def __init__(self, model_name: str, name: str, field, sql: dict[str, str]) -> None:
        super().__init__(model_name, name, field)
        self.sql = sql

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor:
            dialect = state_editor.client.capabilities.dialect
            await state_editor.client.execute_script(self.sql.get(dialect, self.sql["sqlite"]))


ENGLISH = re.compile(
    r"\b(the|and|for|of|with|to|programme|program|call|applications?|incubation)\b", re.I
)


def plainly_english(*texts: str) -> bool:
    text = " ".join(t or "" for t in texts).strip()
    return bool(text) and text.isascii() and len(ENGLISH.findall(text)) >= 2


async def english_rows(apps, schema_editor) -> None:
    """Rows whose text is plainly English say so; every other row stays Vietnamese."""
    client = schema_editor.client
    mark = "$1" if client.capabilities.dialect == "postgres" else "?"
    for table, name in (("incubator_programme", "name"), ("incubator_call", "title")):
        rows = await client.execute_query_dict(f'SELECT id, "{name}" AS name, description FROM {table}')
        for row in rows:
            if plainly_english(row["name"], row["description"]):
                await client.execute_query(
                    f"UPDATE {table} SET content_locale = 'en' WHERE id = {mark}", [row["id"]]
                )


def _columns(model_name: str, table: str) -> list:
    return [
        AddColumnWithDefault(
            model_name=model_name,
            name='content_locale',
            field=fields.CharField(default='vi', max_length=8),
            sql={
                'sqlite': f'ALTER TABLE "{table}" ADD COLUMN "content_locale" VARCHAR(8) NOT NULL DEFAULT \'vi\'',
            },
        ),
        AddColumnWithDefault(
            model_name=model_name,
            name='translations',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
            sql={
                'sqlite': f'ALTER TABLE "{table}" ADD COLUMN "translations" JSON NOT NULL DEFAULT \'{{}}\'',
                'postgres': f'ALTER TABLE "{table}" ADD COLUMN "translations" JSONB NOT NULL DEFAULT \'{{}}\'',
            },
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [('incubator', '0005_office_hours_investor_updates')]

    initial = False

    operations = [
        *_columns('Programme', 'incubator_programme'),
        *_columns('ApplicationCall', 'incubator_call'),
        ops.RunPython(english_rows, ops.RunPython.noop),
    ]
