"""Report reminders through the real arq worker and a real SMTP server (needs TEST_REDIS_URL).

The scheduler job is enqueued on Redis, an arq worker runs it; the reminders it writes are
delivered by the worker's mail jobs over SMTP to an aiosmtpd server. A second run sends
nothing more, and the cron entry is registered with the worker."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from ecosystem import jobs
from ecosystem.models import OutboxMessage
from ecosystem.settings import Settings
from ecosystem.worker import build_worker
from incubator import jobs as incubator_jobs
from incubator.models import Programme, ReportReminder, ReportRequest
from incubator.periods import month_of
from incubator.services.reports import local_today
from tests.conftest import TEST_REDIS_URL, running_app
from tests.ecosystem.test_worker import Mailbox, run_burst, smtp_server
from tests.incubator.conftest import world

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


async def test_reminders_go_out_through_arq_and_smtp_once(settings: Settings, redis, tmp_path):
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        configured = dataclasses.replace(
            settings, redis_url=TEST_REDIS_URL, smtp_url=f"smtp://127.0.0.1:{port}"
        )
        async with running_app(configured):
            assert jobs.backend().name == "redis"
            w = await world()
            today = local_today()
            for person in (w.founder, w.other_founder):
                person.locale = "en"
                await person.save(update_fields=["locale"])
            # A one-off report due in two days: the "due soon" reminder is the one earned.
            await Programme.filter(id=w.programme.id).update(
                schedule="one_off",
                one_off_period=month_of(today),
                one_off_due_on=today + timedelta(days=2),
            )
            await jobs.enqueue(incubator_jobs.report_scheduler, job_id="test:scheduler:1")
            worker = await run_burst(configured)
            assert worker.jobs_failed == 0
            assert await ReportRequest.all().count() == 2
            received = sorted((m["To"], m["Subject"]) for m in mailbox.messages)
            assert received == [
                (
                    "founder@greenfarm.vn",
                    f"Due soon: the {month_of(today)} report of GreenFarm IoT",
                ),
                (
                    "founder@lumi.vn",
                    f"Due soon: the {month_of(today)} report of Lumi Smart Lighting",
                ),
            ]
            body = mailbox.messages[0].get_body(preferencelist=("plain",)).get_content()
            assert "http://testserver/incubator/startups/" in body and "/reports/" in body
            assert set(await OutboxMessage.all().values_list("status", flat=True)) == {"sent"}

            # Again (another job id): nothing new is sent.
            await jobs.enqueue(incubator_jobs.report_scheduler, job_id="test:scheduler:2")
            await run_burst(configured)
            assert len(mailbox.messages) == 2
            assert await ReportReminder.filter(sent=True).count() == 2


def test_the_scheduler_is_a_cron_entry_of_the_worker(settings: Settings):
    worker = build_worker(dataclasses.replace(settings, redis_url=TEST_REDIS_URL), burst=True)
    names = {cron.name for cron in worker.cron_jobs}
    assert "incubator.jobs.report_scheduler" in names
    assert "incubator.jobs.report_scheduler" in worker.functions
