"""Migration 0007 (the providers each issuer accepts) upgrades a database with payments in it:
existing payments keep their provider, and an issuer without a row accepts every configured
provider (nothing to fill in)."""

from __future__ import annotations

from tortoise import connections

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from tests.conftest import migrate_to, orm_on

OLD_ROWS = [
    "INSERT INTO user_account (id, email, full_name, password_hash, locale, timezone, is_active,"
    " is_platform_admin, session_version, created_at) VALUES (1, 'lan@eiu.edu.vn', 'Lan', '!',"
    " 'vi', 'Asia/Ho_Chi_Minh', TRUE, FALSE, 0, '2026-01-01 00:00:00+00:00')",
    "INSERT INTO payment (id, subject_kind, subject_id, user_id, method, state, amount,"
    " credit_amount, currency, refunded_amount, description, issuer_key, issuer, period,"
    " return_path, provider, checkout_session_id, checkout_url, payment_intent_id, created_at,"
    " updated_at) VALUES (1, 'labs.booking', 9, 1, 'card', 'paid', 100000, 0, 'VND', 0,"
    " 'Laser cutter', 'labs.lab:3', '{}', '2026-01', '/', 'stripe', 'cs_test_1', '', 'pi_1',"
    " '2026-01-02 00:00:00+00:00', '2026-01-02 00:00:00+00:00')",
]


async def _rows(config, sql: str) -> list[tuple]:
    async with orm_on(config):
        _count, rows = await connections.get("default").execute_query(sql)
        return [tuple(row.values()) if hasattr(row, "values") else tuple(row) for row in rows]


async def test_payments_are_kept_and_issuers_choose_later(empty_url):
    config = tortoise_config(empty_url, load_packages(()))
    await migrate_to(config, "ecosystem.0006_sweepers")
    async with orm_on(config):
        for statement in OLD_ROWS:
            await connections.get("default").execute_script(statement)
    await migrate_to(config)

    payments = await _rows(config, "SELECT id, provider, state, checkout_session_id FROM payment")
    assert payments == [(1, "stripe", "paid", "cs_test_1")]
    assert await _rows(config, "SELECT COUNT(*) FROM payment_issuer_providers") == [(0,)]
    async with orm_on(config):
        await connections.get("default").execute_script(
            "INSERT INTO payment_issuer_providers (issuer_key, providers, updated_at)"
            " VALUES ('labs.lab:3', 'vnpay', '2026-02-01 00:00:00+00:00')"
        )
    assert await _rows(config, "SELECT issuer_key, providers FROM payment_issuer_providers") == [
        ("labs.lab:3", "vnpay")
    ]
