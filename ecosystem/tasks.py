"""The kernel's own arq jobs and cron entries: what `jobs.py` is to a domain package.

(`ecosystem.jobs` is the job machinery every package uses: registering, enqueueing, cron.)
The kernel's `package.py` names these two lists (and those of `ecosystem.payments.jobs`); the
app factory and the worker load them.
"""

from __future__ import annotations

from ecosystem import mail, media
from ecosystem.jobs import cron
from ecosystem.services import indicators, sessions

jobs: list = [
    mail.deliver_mail,
    mail.redeliver_stalled_mail,
    media.make_variants,
    indicators.refresh_indicators,
    sessions.purge_ended_sessions,
]

cron_jobs: list = [
    cron(mail.redeliver_stalled_mail, minute={5, 20, 35, 50}, second=0),
    cron(indicators.refresh_indicators, minute={7}, second=0),  # hourly
    cron(sessions.purge_ended_sessions, hour={3}, minute={17}, second=0),  # daily
]
