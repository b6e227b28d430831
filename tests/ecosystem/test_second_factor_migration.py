"""Migration ecosystem 0012 adds second factors to a database that already holds organisations."""

from __future__ import annotations

from tortoise import Tortoise, connections

from ecosystem.db import tortoise_config
from ecosystem.models import Organisation, Passkey, RecoveryCode, TotpFactor, User
from ecosystem.packages import load_packages
from tests.conftest import migrate_to, orm_on

BEFORE = "ecosystem.0010_published_indicators"


async def test_organisations_from_before_0012_are_kept_with_the_policy_off(empty_url):
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(empty_url, load_packages(()))
    try:
        await migrate(config=config, target=BEFORE)
        # The model already has the new column: the old row is written in plain SQL.
        await connections.get("default").execute_script(
            "INSERT INTO organisation (name, slug, search_key, description, website, city, "
            "country, verification, verification_note, created_at) VALUES ('Eastern "
            "International University', 'eiu', 'eastern', '', '', '', 'VN', 'verified', '', "
            "'2026-11-01 00:00:00+00:00')"
        )
    finally:
        await Tortoise.close_connections()

    await migrate_to(config)
    async with orm_on(config):
        kept = await Organisation.get(slug="eiu")
        assert kept.name == "Eastern International University"
        assert kept.require_second_factor is False
        user = await User.create(email="a@eiu.edu.vn", full_name="A", password_hash="x")
        await TotpFactor.create(user_id=user.id, secret_encrypted="s")
        await RecoveryCode.create(user_id=user.id, code_hash="h" * 64)
        await Passkey.create(user_id=user.id, name="k", credential_id="c", public_key=b"k")
        assert await TotpFactor.filter(user_id=user.id, last_used_step=0).count() == 1
