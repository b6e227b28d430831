"""Migration hackathon 0005 (bids, announcements) upgrades a database that holds a contest
with teams and entries: they stay, and bids and announcements can be written at once."""

from __future__ import annotations

from tortoise import Tortoise

from ecosystem.db import init_orm, run_migrations, tortoise_config
from ecosystem.packages import load_packages
from hackathon.models import Announcement, Bid, BidLevel, Contest, Submission
from tests.conftest import person
from tests.hackathon.conftest import make_contest, make_team

BEFORE = "hackathon.0004_criterion_step_pair_leases"


async def test_a_database_with_a_contest_upgrades(empty_url):
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(empty_url, load_packages(("hackathon",)))
    try:
        await migrate(config=config, target=BEFORE)
    finally:
        await Tortoise.close_connections()
    await init_orm(config)  # fresh statement cache: the suite switches dialects
    try:
        # the tables of 0005 do not exist yet: write the old rows with the ORM's other models
        contest = await make_contest()
        await make_team(contest, "Team A", members=("a@example.org",), title="Entry A")
    finally:
        await Tortoise.close_connections()
    try:
        await run_migrations(config)
    finally:
        await Tortoise.close_connections()
    await init_orm(config)
    try:
        contest = await Contest.get(slug="smart-city-2018")
        entry = await Submission.get(contest_id=contest.id)
        judge = await person("judge@example.org")
        await Bid.create(
            contest_id=contest.id, judge_id=judge.id, submission_id=entry.id, level=BidLevel.WANT
        )
        await Announcement.create(contest_id=contest.id, title="Hello", body="World")
        assert entry.title == "Entry A"
        assert await Bid.filter(contest_id=contest.id).count() == 1
    finally:
        await Tortoise.close_connections()
