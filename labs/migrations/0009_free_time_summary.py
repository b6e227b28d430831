"""A per-machine, per-day summary of free time (`labs_free_day`) that lets the network search
skip machines that cannot have the time asked for, and the triggers that keep it honest.

Every change to what a day's free time is made of marks the summary rows it touches `stale`
and bumps their `version`, in the writer's own transaction, whichever code path writes:
bookings (insert, delete, a change of machine, times or status), blackouts, a lab's opening
hours, closures or zone, a machine moved to another lab. Booking and blackout days are UTC
dates widened by one day on each side (a lab-local day lies within them in any zone). The
refresh job (`labs.jobs.free_time_refresh`) recomputes stale rows and writes a result only
where the version has not moved since it read it, so an update it raced with is never lost.

Two plain indexes (labs by name, machines by lab and name) let the search read candidates in
the order it shows them and stop after a page instead of sorting the whole network.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

# --- SQLite: one trigger per table and event ------------------------------------------------

_SQLITE_SPAN = (
    "UPDATE labs_free_day SET stale = 1, version = version + 1"
    " WHERE equipment_id = {row}.equipment_id"
    " AND day BETWEEN date({row}.starts_at, '-1 day') AND date({row}.ends_at, '+1 day');"
)
_SQLITE_LAB = (
    "UPDATE labs_free_day SET stale = 1, version = version + 1"
    " WHERE equipment_id IN (SELECT id FROM labs_equipment WHERE lab_id = {row}.{lab}){days};"
)
_CLOSURE_DAYS = " AND day BETWEEN {row}.first_day AND {row}.last_day"


def _sqlite_triggers() -> list[str]:
    statements = []

    def trigger(name: str, event: str, table: str, body: str) -> None:
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS labs_free_day_{name} AFTER {event} ON {table}"
            f" FOR EACH ROW BEGIN {body} END"
        )

    for table, short, columns in (
        ("labs_booking", "booking", "equipment_id, starts_at, ends_at, status"),
        ("labs_blackout", "blackout", "equipment_id, starts_at, ends_at"),
    ):
        trigger(f"{short}_ins", "INSERT", table, _SQLITE_SPAN.format(row="NEW"))
        trigger(f"{short}_del", "DELETE", table, _SQLITE_SPAN.format(row="OLD"))
        both = _SQLITE_SPAN.format(row="OLD") + " " + _SQLITE_SPAN.format(row="NEW")
        trigger(f"{short}_upd", f"UPDATE OF {columns}", table, both)
    hours = "labs_opening_hours"
    for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"), ("UPDATE", "NEW")):
        trigger(
            f"hours_{event[:3].lower()}",
            event,
            hours,
            _SQLITE_LAB.format(row=row, lab="lab_id", days=""),
        )
        days = _CLOSURE_DAYS.format(row=row)
        body = _SQLITE_LAB.format(row=row, lab="lab_id", days=days)
        if event == "UPDATE":
            old_days = _CLOSURE_DAYS.format(row="OLD")
            body = _SQLITE_LAB.format(row="OLD", lab="lab_id", days=old_days) + " " + body
        trigger(f"closure_{event[:3].lower()}", event, "labs_closure", body)
    trigger(
        "hours_upd_old",
        "UPDATE OF lab_id",
        hours,
        _SQLITE_LAB.format(row="OLD", lab="lab_id", days=""),
    )
    trigger(
        "lab_zone",
        "UPDATE OF timezone",
        "labs_lab",
        _SQLITE_LAB.format(row="NEW", lab="id", days=""),
    )
    trigger(
        "machine_moved",
        "UPDATE OF lab_id",
        "labs_equipment",
        "UPDATE labs_free_day SET stale = 1, version = version + 1 WHERE equipment_id = NEW.id;",
    )
    return statements


_SQLITE_NAMES = [
    *(f"{short}_{op}" for short in ("booking", "blackout") for op in ("ins", "del", "upd")),
    *(f"{kind}_{op}" for kind in ("hours", "closure") for op in ("ins", "del", "upd")),
    "hours_upd_old",
    "lab_zone",
    "machine_moved",
]

# --- PostgreSQL: one function per shape ---------------------------------------------------

_PG_FUNCTIONS = [
    """
CREATE OR REPLACE FUNCTION labs_free_day_span_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE labs_free_day SET stale = TRUE, version = version + 1
        WHERE equipment_id = OLD.equipment_id
          AND day BETWEEN (OLD.starts_at AT TIME ZONE 'UTC')::date - 1
                      AND (OLD.ends_at AT TIME ZONE 'UTC')::date + 1;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE labs_free_day SET stale = TRUE, version = version + 1
        WHERE equipment_id = NEW.equipment_id
          AND day BETWEEN (NEW.starts_at AT TIME ZONE 'UTC')::date - 1
                      AND (NEW.ends_at AT TIME ZONE 'UTC')::date + 1;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION labs_free_day_hours_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE labs_free_day SET stale = TRUE, version = version + 1
        WHERE equipment_id IN (SELECT id FROM labs_equipment WHERE lab_id = OLD.lab_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE labs_free_day SET stale = TRUE, version = version + 1
        WHERE equipment_id IN (SELECT id FROM labs_equipment WHERE lab_id = NEW.lab_id);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION labs_free_day_closure_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE labs_free_day SET stale = TRUE, version = version + 1
        WHERE equipment_id IN (SELECT id FROM labs_equipment WHERE lab_id = OLD.lab_id)
          AND day BETWEEN OLD.first_day AND OLD.last_day;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE labs_free_day SET stale = TRUE, version = version + 1
        WHERE equipment_id IN (SELECT id FROM labs_equipment WHERE lab_id = NEW.lab_id)
          AND day BETWEEN NEW.first_day AND NEW.last_day;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION labs_free_day_lab_changed() RETURNS trigger AS $$
BEGIN
    UPDATE labs_free_day SET stale = TRUE, version = version + 1
    WHERE equipment_id IN (SELECT id FROM labs_equipment WHERE lab_id = NEW.id);
    RETURN NULL;
END $$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION labs_free_day_machine_moved() RETURNS trigger AS $$
BEGIN
    UPDATE labs_free_day SET stale = TRUE, version = version + 1 WHERE equipment_id = NEW.id;
    RETURN NULL;
END $$ LANGUAGE plpgsql
""",
]
_PG_TRIGGERS = [
    (
        "booking",
        "INSERT OR DELETE OR UPDATE OF equipment_id, starts_at, ends_at, status",
        "labs_booking",
        "labs_free_day_span_changed",
    ),
    (
        "blackout",
        "INSERT OR DELETE OR UPDATE OF equipment_id, starts_at, ends_at",
        "labs_blackout",
        "labs_free_day_span_changed",
    ),
    ("hours", "INSERT OR DELETE OR UPDATE", "labs_opening_hours", "labs_free_day_hours_changed"),
    ("closure", "INSERT OR DELETE OR UPDATE", "labs_closure", "labs_free_day_closure_changed"),
    ("lab_zone", "UPDATE OF timezone", "labs_lab", "labs_free_day_lab_changed"),
    ("machine_moved", "UPDATE OF lab_id", "labs_equipment", "labs_free_day_machine_moved"),
]


def _pg_forward() -> list[str]:
    return [
        *(function.strip() for function in _PG_FUNCTIONS),
        *(
            f"CREATE TRIGGER labs_free_day_{name} AFTER {event} ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {function}()"
            for name, event, table, function in _PG_TRIGGERS
        ),
    ]


def _pg_backward() -> list[str]:
    return [
        *(
            f"DROP TRIGGER IF EXISTS labs_free_day_{name} ON {table}"
            for name, _event, table, _function in _PG_TRIGGERS
        ),
        *(
            f"DROP FUNCTION IF EXISTS {name}()"
            for name in (
                "labs_free_day_span_changed",
                "labs_free_day_hours_changed",
                "labs_free_day_closure_changed",
                "labs_free_day_lab_changed",
                "labs_free_day_machine_moved",
            )
        ),
    ]


async def _run(schema_editor, statements: list[str]) -> None:
    for statement in statements:
        await schema_editor.client.execute_script(statement)


# The network search reads labs by name, then their machines by name (labs.services.browse).
INDEXES = [
    "CREATE INDEX IF NOT EXISTS labs_lab_name_id ON labs_lab (name, id)",
    "CREATE INDEX IF NOT EXISTS labs_equipment_lab_name ON labs_equipment (lab_id, name, id)",
]
DROP_INDEXES = [
    "DROP INDEX IF EXISTS labs_lab_name_id",
    "DROP INDEX IF EXISTS labs_equipment_lab_name",
]


async def add_triggers(apps, schema_editor) -> None:
    await _run(schema_editor, INDEXES)
    if schema_editor.client.capabilities.dialect == "postgres":
        await _run(schema_editor, _pg_forward())
    else:
        await _run(schema_editor, _sqlite_triggers())


async def drop_triggers(apps, schema_editor) -> None:
    await _run(schema_editor, DROP_INDEXES)
    if schema_editor.client.capabilities.dialect == "postgres":
        await _run(schema_editor, _pg_backward())
    else:
        await _run(
            schema_editor, [f"DROP TRIGGER IF EXISTS labs_free_day_{n}" for n in _SQLITE_NAMES]
        )


class Migration(migrations.Migration):
    dependencies = [("labs", "0008_booking_guest")]

    initial = False

    operations = [
        ops.CreateModel(
            name="FreeDay",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "equipment",
                    fields.ForeignKeyField(
                        "labs.Equipment",
                        source_field="equipment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("day", fields.DateField()),
                ("free_minutes", fields.IntField(default=0)),
                ("longest_free_minutes", fields.IntField(default=0)),
                ("stale", fields.BooleanField(default=True)),
                ("version", fields.IntField(default=0)),
                (
                    "computed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "labs_free_day",
                "app": "labs",
                "unique_together": (("equipment", "day"),),
                "indexes": [
                    Index(fields=["day", "longest_free_minutes"]),
                    Index(fields=["stale", "day"]),
                ],
                "pk_attr": "id",
                "table_description": "How much of one local day of its lab a machine is free.",
            },
            bases=["Model"],
        ),
        ops.RunPython(add_triggers, drop_triggers),
    ]
