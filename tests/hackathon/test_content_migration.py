"""Migration hackathon 0006 (content in several languages) upgrades a database that holds a
contest with tracks, prizes and a rubric: every row keeps its texts, gets an empty
`translations`, and says its language (Vietnamese, or English / Korean when clearly so)."""

from __future__ import annotations

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from hackathon.models import Contest, Criterion, Prize, Track
from tests.conftest import migrate_to, orm_on

BEFORE = "hackathon.0005_bids_announcements"
AT = "'2026-01-01 00:00:00+00'"
ROWS = [
    "INSERT INTO hackathon_contest (id, slug, title, kind, description, eligibility, timezone, "
    "team_min, team_max, registration_closes_at, submission_closes_at, judging_closes_at, "
    "blind, judging_mode, require_site, require_language, public_vote, results_hash, "
    f"created_at) VALUES (5, 'smart-city', 'Cuộc thi Thành phố thông minh', 'idea', "
    f"'Ý tưởng cho Bình Dương', '', 'Asia/Ho_Chi_Minh', 1, 5, {AT}, {AT}, {AT}, FALSE, "
    f"'rubric', FALSE, FALSE, TRUE, '', {AT})",
    "INSERT INTO hackathon_contest (id, slug, title, kind, description, eligibility, timezone, "
    "team_min, team_max, registration_closes_at, submission_closes_at, judging_closes_at, "
    "blind, judging_mode, require_site, require_language, public_vote, results_hash, "
    f"created_at) VALUES (6, 'open-data', 'Open Data Hackathon', 'hackathon', "
    f"'Build with the open data of the province', '', 'Asia/Ho_Chi_Minh', 1, 5, {AT}, {AT}, "
    f"{AT}, FALSE, 'rubric', FALSE, FALSE, TRUE, '', {AT})",
    "INSERT INTO hackathon_track (id, contest_id, code, name, description, position) "
    "VALUES (7, 5, 'mobility', 'Giao thông', 'Đi lại an toàn', 0)",
    "INSERT INTO hackathon_track (id, contest_id, code, name, description, position) "
    "VALUES (8, 5, 'seoul', '스마트 교통', '', 1)",
    "INSERT INTO hackathon_prize (id, contest_id, track_id, name, rank, amount, currency, "
    "public_vote) VALUES (9, 5, 7, 'Giải nhất', 1, 50000000, 'VND', FALSE)",
    "INSERT INTO hackathon_round (id, contest_id, number, name, judges_per_entry, load_cap, "
    f"created_at) VALUES (10, 5, 1, 'First round', 3, 20, {AT})",
    "INSERT INTO hackathon_criterion (id, round_id, code, name, description, weight, "
    "scale_min, scale_max, step, position) VALUES (11, 10, 'impact', 'Impact', "
    "'Value for the people', 3, 0, 10, 0.5, 0)",
]


async def test_a_database_with_contests_upgrades(empty_url):
    config = tortoise_config(empty_url, load_packages(("hackathon",)))
    try:
        await migrate(config=config, target=BEFORE)
        postgres = connections.get("default").capabilities.dialect == "postgres"
        script = ";".join(ROWS)
        if not postgres:
            script = script.replace("FALSE", "0").replace("TRUE", "1")
        await connections.get("default").execute_script(script)
    finally:
        await Tortoise.close_connections()
    await migrate_to(config)
    async with orm_on(config):
        smart = await Contest.get(id=5)
        assert (smart.title, smart.content_locale, smart.translations) == (
            "Cuộc thi Thành phố thông minh",
            "vi",
            {},
        )
        open_data = await Contest.get(id=6)
        assert open_data.content_locale == "en"
        assert [(t.name, t.content_locale) for t in await Track.all().order_by("id")] == [
            ("Giao thông", "vi"),
            ("스마트 교통", "ko"),
        ]
        prize = await Prize.get(id=9)
        assert (prize.name, prize.content_locale, prize.translations) == ("Giải nhất", "vi", {})
        criterion = await Criterion.get(id=11)
        assert (criterion.content_locale, criterion.translations) == ("en", {})
        # new rows are written with translations at once
        criterion.translations = {"ko": {"name": "영향력"}}
        await criterion.save(update_fields=["translations"])
        assert (await Criterion.get(id=11)).translations == {"ko": {"name": "영향력"}}
        track = await Track.create(contest_id=5, code="energy", name="Năng lượng")
        assert (track.content_locale, track.translations) == ("vi", {})
