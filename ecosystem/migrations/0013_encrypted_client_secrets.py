"""The client secrets of admin-added sign-in providers are stored encrypted
(identity.seal_client_secret): the column widens and the secrets already stored in plain text
are encrypted in place."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


async def encrypt_stored_secrets(apps, schema_editor) -> None:
    from ecosystem.services.identity import CLIENT_SECRET_PURPOSE, seal_client_secret
    from ecosystem import encryption

    client = schema_editor.client
    mark = ("$1", "$2") if client.capabilities.dialect == "postgres" else ("?", "?")
    rows = await client.execute_query_dict('SELECT id, client_secret FROM "identity_provider"')
    for row in rows:
        if encryption.decrypt(row["client_secret"], CLIENT_SECRET_PURPOSE) is not None:
            continue  # already sealed
        await client.execute_query(
            f'UPDATE "identity_provider" SET client_secret = {mark[0]} WHERE id = {mark[1]}',
            [seal_client_secret(row["client_secret"]), row["id"]],
        )


class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0012_second_factors')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='IdentityProvider',
            name='client_secret',
            field=fields.CharField(max_length=1000),
        ),
        ops.RunPython(encrypt_stored_secrets, ops.RunPython.noop),
    ]
