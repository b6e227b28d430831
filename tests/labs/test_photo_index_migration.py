"""Migration labs 0011 indexes the photos (lab, machine, position) of a database that holds
photos, and the machine page's read of them uses it."""

from __future__ import annotations

from tortoise import connections

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from labs.models import Photo
from labs.services.photos import photos_of
from tests.conftest import migrate_to, orm_on
from tests.labs.conftest import make_equipment, make_lab, make_photo

BEFORE = "labs.0010_content_translations"
INDEX = "idx_labs_photo_lab_id_bf801f"


async def _has_index(url: str) -> bool:
    client = connections.get("default")
    if "sqlite" in url:
        _n, rows = await client.execute_query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?", [INDEX]
        )
    else:
        _n, rows = await client.execute_query(
            "SELECT indexname FROM pg_indexes WHERE indexname = $1", [INDEX]
        )
    return bool(rows)


async def test_photos_kept_and_read_in_order_through_the_new_index(empty_url):
    config = tortoise_config(empty_url, load_packages(("labs",)))
    await migrate_to(config)
    await migrate_to(config, BEFORE)  # the other packages stay at their latest
    async with orm_on(config):
        assert not await _has_index(empty_url)
        lab = await make_lab()
        machine = await make_equipment(lab, "Laser")
        await make_photo(lab, machine, "side", 2)
        await make_photo(lab, machine, "front", 1)
        await make_photo(lab, None, "the workshop", 0)

    await migrate_to(config)
    async with orm_on(config):
        assert await _has_index(empty_url)
        lab = await machine.lab
        assert [p.caption for p in await photos_of(lab, machine.id)] == ["front", "side"]
        assert [p.caption for p in await photos_of(lab)] == ["the workshop"]
        if "sqlite" in empty_url:
            _n, plan = await connections.get("default").execute_query(
                "EXPLAIN QUERY PLAN SELECT id FROM labs_photo WHERE lab_id = ? "
                "AND equipment_id = ? ORDER BY position, id",
                [lab.id, machine.id],
            )
            assert INDEX in " ".join(str(tuple(row)) for row in plan)

    await migrate_to(config, BEFORE)  # and back: the index goes, the photos stay
    async with orm_on(config):
        assert not await _has_index(empty_url)
        assert await Photo.all().count() == 3
