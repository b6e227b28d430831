"""Results notices through the real arq worker and a real SMTP server (needs TEST_REDIS_URL).

Publishing enqueues `notify_results` on Redis after the commit; an arq worker runs it and its
mail jobs deliver one email per certificate holder over SMTP to an aiosmtpd server. Running
the job again sends nothing more, and the judges' reminder is a cron entry of the worker."""

from __future__ import annotations

import dataclasses

import pytest
from redis.asyncio import Redis

from ecosystem import jobs
from ecosystem.settings import Settings
from ecosystem.worker import build_worker
from hackathon import jobs as hackathon_jobs
from hackathon.models import Certificate
from hackathon.services import judging, results
from tests.conftest import TEST_REDIS_URL, running_app
from tests.ecosystem.test_worker import Mailbox, run_burst, smtp_server
from tests.hackathon.conftest import JUDGING_NOW, make_contest, make_judge, make_team

pytestmark = [
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


@pytest.fixture
async def redis():
    client = Redis.from_url(TEST_REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


async def test_publishing_mails_every_certificate_holder_once(settings: Settings, redis):
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        configured = dataclasses.replace(
            settings, redis_url=TEST_REDIS_URL, smtp_url=f"smtp://127.0.0.1:{port}"
        )
        async with running_app(configured):
            assert jobs.backend().name == "redis"
            contest = await make_contest(judges_per_entry=1, **JUDGING_NOW)
            await make_team(contest, "Alpha", members=("alpha@example.org",), title="A")
            await make_team(
                contest, "Beta", members=("beta@example.org",), title="B", track="traffic"
            )
            judge = await make_judge(contest, "worker.judge@example.org")
            assert (await judging.run_assignment(contest.organiser, contest)).ok
            queue = await judging.queue(judge, contest)
            for n, item in enumerate(queue.items):
                await judging.save_scores(
                    judge, item.submission.id, {c.code: 4 + n for c in queue.criteria}
                )
            await results.publish(
                contest.organiser,
                contest,
                confirm=(await results.preview(contest.organiser, contest)).token,
            )
            worker = await run_burst(configured)
            assert worker.jobs_failed == 0
            received = sorted(m["To"] for m in mailbox.messages)
            assert received == ["alpha@example.org", "beta@example.org", "worker.judge@example.org"]
            body = mailbox.messages[0].get_body(preferencelist=("plain",)).get_content()
            assert "/contests/certificates/" in body
            assert await Certificate.filter(notified_at=None).count() == 0

            await jobs.enqueue(hackathon_jobs.notify_results, contest.id, job_id="again")
            await run_burst(configured)
            assert len(mailbox.messages) == 3


def test_the_judges_reminder_is_a_cron_entry_of_the_worker(settings: Settings):
    worker = build_worker(dataclasses.replace(settings, redis_url=TEST_REDIS_URL), burst=True)
    names = {cron.name for cron in worker.cron_jobs}
    assert "hackathon.jobs.judge_reminders" in names
    assert "hackathon.jobs.notify_results" in worker.functions
