"""Background jobs and cron entries of the lab network."""

from __future__ import annotations

JOBS: list = []
CRON_JOBS: list = []
