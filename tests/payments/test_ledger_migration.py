"""Migration 0004 upgrades a database with single-entry credit data to the double-entry ledger.

Older balances are carried over: each older entry gets its transfer and a counter-entry (credit
granted came from the funding account; credit spent went to the payment issuer's revenue, and
credit given back came from there), a balance out of step with its entries gets an opening
transfer from the funding account, and then the entries add up to zero.
"""

from __future__ import annotations

from tortoise import Tortoise, connections

from ecosystem.db import run_migrations, tortoise_config
from ecosystem.packages import load_packages

OLD_ROWS = [
    # (Ids above the sequences' next values: the migration's own rows take those.)
    "INSERT INTO user_account (id, email, full_name, password_hash, locale, timezone, is_active,"
    " is_platform_admin, session_version, created_at) VALUES (1, 'lan@eiu.edu.vn', 'Lan', '!',"
    " 'vi', 'Asia/Ho_Chi_Minh', TRUE, FALSE, 0, '2026-01-01 00:00:00+00:00')",
    "INSERT INTO organisation (id, name, slug, search_key, description, website, city, country,"
    " verification, verification_note, created_at) VALUES (1, 'Lumi', 'lumi', 'lumi', '', '',"
    " '', 'VN', 'verified', '', '2026-01-01 00:00:00+00:00')",
    "INSERT INTO credit_account (id, user_id, organisation_id, currency, balance, created_at)"
    " VALUES (101, 1, NULL, 'VND', 240005, '2026-01-01 00:00:00+00:00'),"
    " (102, NULL, 1, 'VND', 120000, '2026-01-01 00:00:00+00:00')",
    "INSERT INTO payment (id, subject_kind, subject_id, user_id, method, state, amount,"
    " credit_amount, currency, refunded_amount, description, issuer_key, issuer, period,"
    " return_path, provider, checkout_url, payment_intent_id, created_at, updated_at)"
    " VALUES (1, 'labs.booking', 9, 1, 'credit', 'partially_refunded', 100000, 100000, 'VND',"
    " 40000, 'Laser cutter', 'labs.lab:3', '{}', '2026-01', '/', '', '', '',"
    " '2026-01-02 00:00:00+00:00', '2026-01-02 00:00:00+00:00')",
    "INSERT INTO credit_entry (id, account_id, amount, balance_after, kind, reason, source,"
    " reference, payment_id, created_at) VALUES"
    " (101, 101, 300000, 300000, 'grant', 'Welcome', 'labs.lab:3', 'demo:welcome', NULL,"
    " '2026-01-01 00:00:00+00:00'),"
    " (102, 102, 120000, 120000, 'grant', 'Perk', 'incubator:programme:1', 'perk:1:1', NULL,"
    " '2026-01-01 00:00:00+00:00'),"
    " (103, 101, -100000, 200000, 'consume', 'Laser cutter', 'payment', 'payment:1:consume', 1,"
    " '2026-01-02 00:00:00+00:00'),"
    " (104, 101, 40000, 240000, 'refund', 'Laser cutter', 'payment', 'refund:1:credit', 1,"
    " '2026-01-03 00:00:00+00:00')",
]


async def _rows(config, sql: str) -> list[tuple]:
    await Tortoise.init(config=config)
    try:
        _count, rows = await connections.get("default").execute_query(sql)
        return [tuple(row.values()) if hasattr(row, "values") else tuple(row) for row in rows]
    finally:
        await Tortoise.close_connections()


async def test_older_balances_are_carried_over_from_the_funding_account(empty_url):
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(empty_url, load_packages(()))
    try:
        await migrate(config=config, target="ecosystem.0003_payments")
    finally:
        await Tortoise.close_connections()
    await Tortoise.init(config=config)
    try:
        for statement in OLD_ROWS:
            await connections.get("default").execute_script(statement)
    finally:
        await Tortoise.close_connections()
    try:
        await run_migrations(config)
    finally:
        await Tortoise.close_connections()

    accounts = await _rows(
        config,
        "SELECT a.kind, a.issuer_key, a.balance, (SELECT COALESCE(SUM(e.amount), 0)"
        " FROM credit_entry e WHERE e.account_id = a.id) FROM credit_account a ORDER BY a.kind",
    )
    assert [(kind, key, int(balance)) for kind, key, balance, _sum in accounts] == [
        ("funding", "funding", -420_005),  # minus everything granted before the budgets
        ("organisation", None, 120_000),
        ("revenue", "labs.lab:3", 60_000),  # 100,000 spent, 40,000 refunded
        ("user", None, 240_005),  # as before, its 5 VND out of step now an opening entry
    ]
    assert all(int(balance) == int(total) for _k, _i, balance, total in accounts)
    assert await _rows(config, "SELECT SUM(amount) FROM credit_entry") in ([(0,)], [("0",)])
    orphans = await _rows(config, "SELECT COUNT(*) FROM credit_entry WHERE transfer_id IS NULL")
    assert int(orphans[0][0]) == 0
    transfers = await _rows(
        config, "SELECT kind, amount, source, reference FROM credit_transfer ORDER BY id"
    )
    assert [(k, int(a), s, r) for k, a, s, r in transfers] == [
        ("grant", 300_000, "labs.lab:3", "demo:welcome"),
        ("grant", 120_000, "incubator:programme:1", "perk:1:1"),
        ("consume", 100_000, "payment", "payment:1:consume"),
        ("refund", 40_000, "payment", "refund:1:credit"),
        ("opening", 5, "ledger", None),
    ]
