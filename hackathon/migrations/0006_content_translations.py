"""Content in several languages (issue 18): contests, tracks, prizes and criteria get
`content_locale` (the language of their plain columns) and `translations` (the other
languages' texts, ecosystem.content). Existing rows: Korean when their text has Hangul,
English when it is plain ASCII (Vietnamese nearly always carries diacritics), else Vietnamese.
"""

import re

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# table -> the columns whose text says which language a row is in
TEXTS = {
    "hackathon_contest": ("title", "description"),
    "hackathon_track": ("name", "description"),
    "hackathon_prize": ("name",),
    "hackathon_criterion": ("name", "description"),
}
MODELS = {
    "Contest": "hackathon_contest",
    "Track": "hackathon_track",
    "Prize": "hackathon_prize",
    "Criterion": "hackathon_criterion",
}
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
LETTER = re.compile(r"[A-Za-z]")


def guess_locale(text: str) -> str:
    if HANGUL.search(text):
        return "ko"
    if text.isascii() and LETTER.search(text):
        return "en"
    return "vi"


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


def _columns(model: str, table: str) -> list[ops.AddField]:
    return [
        AddColumnWithDefault(
            model_name=model,
            name="content_locale",
            field=fields.CharField(max_length=8, default="vi"),
            sql={
                "sqlite": f'ALTER TABLE "{table}" ADD COLUMN "content_locale" VARCHAR(8) '
                "NOT NULL DEFAULT 'vi'"
            },
        ),
        AddColumnWithDefault(
            model_name=model,
            name="translations",
            field=fields.JSONField(default=dict),
            sql={
                "sqlite": f'ALTER TABLE "{table}" ADD COLUMN "translations" JSON '
                "NOT NULL DEFAULT '{}'",
                "postgres": f'ALTER TABLE "{table}" ADD COLUMN "translations" JSONB '
                "NOT NULL DEFAULT '{}'",
            },
        ),
    ]


async def guess_row_locales(apps, schema_editor) -> None:
    """Rows whose text is clearly English or Korean say so; the others stay Vietnamese."""
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for table, columns in TEXTS.items():
        rows = await client.execute_query_dict(
            f"SELECT id, {', '.join(columns)} FROM {table} ORDER BY id"
        )
        for row in rows:
            text = " ".join(str(row[c] or "") for c in columns)
            locale = guess_locale(text)
            if locale == "vi":
                continue
            marks = ("$1", "$2") if postgres else ("?", "?")
            await client.execute_query(
                f"UPDATE {table} SET content_locale = {marks[0]} WHERE id = {marks[1]}",
                [locale, row["id"]],
            )


class Migration(migrations.Migration):
    dependencies = [("hackathon", "0005_bids_announcements")]

    initial = False

    operations = [
        *(op for model, table in MODELS.items() for op in _columns(model, table)),
        ops.RunPython(guess_row_locales, ops.RunPython.noop),
    ]
