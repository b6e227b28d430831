"""Migration hackathon 0005 (bids, announcements) upgrades a database that holds a contest
with teams and entries: they stay, and bids and announcements can be written at once."""

from __future__ import annotations

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from hackathon.models import Announcement, Bid, BidLevel, Contest, Submission
from tests.conftest import migrate_to, orm_on, person

BEFORE = "hackathon.0004_criterion_step_pair_leases"
AT = "'2026-01-01 00:00:00+00'"
# The rows as the schema of 0004 has them (the ORM's models have later columns: plain SQL).
ROWS = [
    "INSERT INTO hackathon_contest (id, slug, title, kind, description, eligibility, timezone, "
    "team_min, team_max, registration_closes_at, submission_closes_at, judging_closes_at, "
    "blind, judging_mode, require_site, require_language, public_vote, results_hash, "
    f"created_at) VALUES (5, 'smart-city-2018', 'Smart City Initiative Contest', 'idea', '', "
    f"'', 'Asia/Ho_Chi_Minh', 1, 5, {AT}, {AT}, {AT}, FALSE, 'rubric', FALSE, FALSE, TRUE, "
    f"'', {AT})",
    "INSERT INTO hackathon_site (id, contest_id, code, name, timezone, language, country) "
    "VALUES (6, 5, 'vn', 'Việt Nam', 'Asia/Ho_Chi_Minh', 'vi', 'VN')",
    "INSERT INTO hackathon_track (id, contest_id, code, name, description, position) "
    "VALUES (7, 5, 'tourism', 'Tourism information', '', 0)",
    "INSERT INTO hackathon_team (id, contest_id, name, site_id, track_id, created_at) "
    f"VALUES (8, 5, 'Team A', 6, 7, {AT})",
    "INSERT INTO hackathon_submission (id, contest_id, team_id, title, summary, problem, "
    "solution, repository_url, demo_url, video_url, images, attachments, version, created_at, "
    f"updated_at) VALUES (9, 5, 8, 'Entry A', '', '', '', '', '', '', '[]', '[]', 1, {AT}, {AT})",
]


async def test_a_database_with_a_contest_upgrades(empty_url):
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
        contest = await Contest.get(slug="smart-city-2018")
        entry = await Submission.get(contest_id=contest.id)
        judge = await person("judge@example.org")
        await Bid.create(
            contest_id=contest.id, judge_id=judge.id, submission_id=entry.id, level=BidLevel.WANT
        )
        await Announcement.create(contest_id=contest.id, title="Hello", body="World")
        assert entry.title == "Entry A"
        assert await Bid.filter(contest_id=contest.id).count() == 1
