"""The payment jobs keep their arq names and schedules: jobs queued in Redis (a hold's release,
a refund) and the cron entries name them so, from before payments became a room of its own."""

from __future__ import annotations

from ecosystem.jobs import job_name
from ecosystem.package import package
from ecosystem.payments.services import common

kernel = package.loaded()


def test_the_payment_jobs_keep_their_names():
    names = {job_name(function) for function in kernel.jobs}
    assert {
        "ecosystem.services.payments.release_expired_hold",
        "ecosystem.services.payments.expire_holds",
        "ecosystem.services.payments.expire_checkout",
        "ecosystem.services.payments.send_refund",
        "ecosystem.services.payments.send_stalled_refunds",
    } <= names
    # What the services enqueue by name is registered.
    for name in (
        common.RELEASE_EXPIRED_HOLD_JOB,
        common.EXPIRE_CHECKOUT_JOB,
        common.SEND_REFUND_JOB,
    ):
        assert name in names


def test_the_payment_cron_entries_keep_their_schedules():
    entries = {entry.name: entry for entry in kernel.cron_jobs}
    holds = entries["ecosystem.services.payments.expire_holds"]
    assert (holds.minute, holds.second, holds.run_at_startup) == (None, 30, False)
    refunds = entries["ecosystem.services.payments.send_stalled_refunds"]
    assert (refunds.minute, refunds.second, refunds.run_at_startup) == (
        set(range(3, 60, 5)),
        15,
        True,
    )
