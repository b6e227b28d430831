"""The double-entry credit ledger: transfers, account kinds, the funding account.

Every movement of credit is a `credit_transfer` with two entries (-amount on the account it
leaves, +amount on the one it reaches). A database with data upgrades like this:
- organisations' accounts get the kind `organisation`, people's keep `user`;
- one `funding` account is created: the platform's source, the one account below zero;
- each older single entry gets its transfer and its counter-entry: credit granted came from
  the funding account; credit spent on a payment went to the revenue account of the
  payment's issuer, and credit given back (refund, release) came from that revenue account;
- an account whose balance differs from the sum of its entries, or a revenue account left
  below zero by older data, is set right by an `opening` transfer from the funding account.
So the entries add up to zero and each balance is the sum of its entries. On PostgreSQL a
CHECK constraint keeps every account but the funding one at zero or above.
"""

from datetime import UTC, datetime
import re

from tortoise import migrations
from tortoise.migrations import operations as ops
from ecosystem.payments.models import AccountKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

CHECK = "credit_account_not_negative"
FUNDING_KEY = "funding"
GIVEN_BACK = ("refund", "release")


class _Sql:
    """`?` placeholders in the connection's style; rows as tuples."""

    def __init__(self, client) -> None:
        self.client = client
        self.postgres = client.capabilities.dialect == "postgres"
        self.psycopg = "psycopg" in type(client).__module__

    def _sql(self, sql: str) -> str:
        if not self.postgres:
            return sql
        if self.psycopg:
            return sql.replace("?", "%s")
        counter = iter(range(1, sql.count("?") + 1))
        return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)

    async def rows(self, sql: str, *params) -> list[tuple]:
        _count, found = await self.client.execute_query(self._sql(sql), list(params))
        return [tuple(row.values()) if hasattr(row, "values") else tuple(row) for row in found]

    async def run(self, sql: str, *params) -> None:
        await self.client.execute_query(self._sql(sql), list(params))

    async def insert(self, sql: str, *params) -> int:
        if self.postgres:  # (execute_query returns no rows for an INSERT)
            found = await self.client.execute_query_dict(self._sql(sql + " RETURNING id"), list(params))
            return int(found[0]["id"])
        await self.run(sql, *params)
        return int((await self.rows("SELECT last_insert_rowid()"))[0][0])

    def now(self):
        now = datetime.now(UTC)
        return now if self.postgres else now.isoformat(" ")


async def _account(db: _Sql, kind: str, issuer_key: str) -> int:
    found = await db.rows(
        "SELECT id FROM credit_account WHERE kind = ? AND issuer_key = ?", kind, issuer_key
    )
    if found:
        return int(found[0][0])
    return await db.insert(
        "INSERT INTO credit_account (kind, issuer_key, currency, balance, created_at)"
        " VALUES (?, ?, 'VND', 0, ?)",
        kind,
        issuer_key,
        db.now(),
    )


async def _transfer(
    db: _Sql,
    balances: dict[int, int],
    debit: int,
    credit: int,
    amount: int,
    kind: str,
    reason: str,
    source: str,
    reference,
    actor,
    payment_id,
    created_at,
    entry_id: int | None = None,
    older_account: int | None = None,
) -> None:
    """A transfer and its entries; `entry_id`: the older entry that is its credit or debit side."""
    transfer_id = await db.insert(
        "INSERT INTO credit_transfer (kind, amount, debit_account_id, credit_account_id, reason,"
        " source, reference, actor_id, payment_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        kind,
        amount,
        debit,
        credit,
        reason,
        source,
        reference,
        actor,
        payment_id,
        created_at,
    )
    for account, delta in ((debit, -amount), (credit, amount)):
        balances[account] = balances.get(account, 0) + delta
        if entry_id is not None and account == older_account:  # that side is already written
            await db.run(
                "UPDATE credit_entry SET transfer_id = ? WHERE id = ?", transfer_id, entry_id
            )
            continue
        await db.run(
            "INSERT INTO credit_entry (account_id, transfer_id, amount, balance_after, kind,"
            " reason, source, reference, actor_id, payment_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
            account,
            transfer_id,
            delta,
            balances[account],
            kind,
            reason,
            source,
            actor,
            payment_id,
            created_at,
        )


async def carry_over(apps, schema_editor) -> None:
    db = _Sql(schema_editor.client)
    await db.run(
        "UPDATE credit_account SET kind = 'organisation' WHERE organisation_id IS NOT NULL"
    )
    await db.run("UPDATE credit_account SET kind = 'user' WHERE user_id IS NOT NULL")
    funding = await _account(db, "funding", FUNDING_KEY)
    issuers = dict(await db.rows("SELECT id, issuer_key FROM payment"))
    balances: dict[int, int] = {}  # running balances of the counter accounts
    entries = await db.rows(
        "SELECT id, account_id, amount, kind, reason, source, reference, actor_id, payment_id,"
        " created_at FROM credit_entry WHERE transfer_id IS NULL ORDER BY id"
    )
    for (
        entry_id,
        account,
        amount,
        kind,
        reason,
        source,
        reference,
        actor,
        payment_id,
        created_at,
    ) in entries:
        amount = int(amount)
        if amount == 0:
            continue
        counter = funding
        if payment_id is not None and payment_id in issuers:
            counter = await _account(db, "revenue", issuers[payment_id])
        if amount > 0:
            debit, credit = counter, account
        else:
            debit, credit = account, counter
        await _transfer(
            db,
            balances,
            debit,
            credit,
            abs(amount),
            kind,
            reason,
            source,
            reference,
            actor,
            payment_id,
            created_at,
            entry_id,
            account,
        )
    # Counter accounts' balances are their entries; older accounts' balances must be theirs too.
    for account, total in await db.rows(
        "SELECT account_id, SUM(amount) FROM credit_entry GROUP BY account_id"
    ):
        await db.run(
            "UPDATE credit_account SET balance = ? WHERE id = ? AND kind IN ('funding',"
            " 'revenue', 'budget')",
            int(total),
            account,
        )
    rows = await db.rows(
        "SELECT a.id, a.balance, COALESCE((SELECT SUM(e.amount) FROM credit_entry e"
        " WHERE e.account_id = a.id), 0) FROM credit_account a WHERE a.kind <> 'funding'"
        " ORDER BY a.id"
    )
    for account, balance, total in rows:
        balance, total = int(balance), int(total)
        balances[account] = total
        target = max(balance, 0)
        if target != total:  # an older balance out of step with its entries, or below zero
            debit, credit = (funding, account) if target > total else (account, funding)
            balances.setdefault(
                funding,
                int(
                    (
                        await db.rows(
                            "SELECT COALESCE(SUM(amount), 0) FROM credit_entry WHERE account_id = ?",
                            funding,
                        )
                    )[0][0]
                ),
            )
            await _transfer(
                db,
                balances,
                debit,
                credit,
                abs(target - total),
                "opening",
                "Opening balance carried over",
                "ledger",
                None,
                None,
                None,
                db.now(),
            )
        await db.run("UPDATE credit_account SET balance = ? WHERE id = ?", target, account)
    total = (
        await db.rows(
            "SELECT COALESCE(SUM(amount), 0) FROM credit_entry WHERE account_id = ?", funding
        )
    )[0][0]
    await db.run("UPDATE credit_account SET balance = ? WHERE id = ?", int(total), funding)
    if db.postgres:
        await db.run(
            f"ALTER TABLE credit_account ADD CONSTRAINT {CHECK}"
            " CHECK (kind = 'funding' OR balance >= 0)"
        )


async def drop_check(apps, schema_editor) -> None:
    db = _Sql(schema_editor.client)
    if db.postgres:
        await db.run(f"ALTER TABLE credit_account DROP CONSTRAINT IF EXISTS {CHECK}")


class Migration(migrations.Migration):
    dependencies = [("ecosystem", "0003_payments")]

    initial = False

    operations = [
        ops.CreateModel(
            name="CreditTransfer",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("kind", fields.CharField(max_length=16)),
                ("amount", fields.BigIntField()),
                (
                    "debit_account",
                    fields.ForeignKeyField(
                        "ecosystem.CreditAccount",
                        source_field="debit_account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "credit_account",
                    fields.ForeignKeyField(
                        "ecosystem.CreditAccount",
                        source_field="credit_account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("reason", fields.CharField(default="", max_length=300)),
                ("source", fields.CharField(max_length=40)),
                ("reference", fields.CharField(null=True, max_length=120)),
                (
                    "actor",
                    fields.ForeignKeyField(
                        "ecosystem.User",
                        source_field="actor_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("payment_id", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "credit_transfer",
                "app": "ecosystem",
                "unique_together": (("source", "reference"),),
                "indexes": [Index(fields=["payment_id"])],
                "pk_attr": "id",
                "table_description": "One movement of credit: `amount` leaves `debit_account` and arrives on `credit_account`.",
            },
            bases=["Model"],
        ),
        ops.AlterModelOptions(
            name="CreditAccount",
            options={
                "table": "credit_account",
                "app": "ecosystem",
                "unique_together": (("user",), ("organisation",), ("kind", "issuer_key")),
                "pk_attr": "id",
                "table_description": "One account of the double-entry credit ledger, in VND.",
            },
        ),
        ops.AddField(
            model_name="CreditAccount",
            name="issuer_key",
            field=fields.CharField(null=True, max_length=60),
        ),
        ops.AddField(
            model_name="CreditAccount",
            name="kind",
            field=fields.CharEnumField(
                default=AccountKind.USER,
                db_default=AccountKind.USER,
                description="FUNDING: funding\nBUDGET: budget\nUSER: user\nORGANISATION: organisation\nREVENUE: revenue",
                enum_type=AccountKind,
                max_length=16,
            ),
        ),
        ops.AddConstraint(
            model_name="CreditAccount",
            constraint=UniqueConstraint(fields=("kind", "issuer_key"), name=None),
        ),
        ops.AlterModelOptions(
            name="CreditEntry",
            options={
                "table": "credit_entry",
                "app": "ecosystem",
                "unique_together": (("source", "reference"),),
                "indexes": [Index(fields=["account_id", "id"])],
                "pk_attr": "id",
                "table_description": "One side of a transfer on one account (positive: credit in, negative: out).",
            },
        ),
        ops.AddField(
            model_name="CreditEntry",
            name="transfer",
            field=fields.ForeignKeyField(
                "ecosystem.CreditTransfer",
                source_field="transfer_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="entries",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.RunPython(carry_over, drop_check),
    ]
