"""Load-test data for the production shape: people with API tokens and bookable machines.

Run in the shape's environment (DATABASE_URL, PACKAGES) after `migrate`:

    python -m tests.production.fixtures --users 50 --machines 12

Prints one JSON line: {"tokens": [...], "machines": [...], "lab_slug": ..., "lab_id": ...}.
People get tokens straight from the token service (no password hashing, no login rate
limit); machines are open all day, every day, with permissive rules (no training, no
approval, no notice, cancellable until the start), so the load meets only real conflicts.

With the incubator and hackathon packages mounted (and their demo data seeded), it adds
`report` (the demo founder's token, startup and periods with an open report request) and
`judge_token` (the demo judge, who has an assignment queue), for the load's "report" and
"score" actions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import time

from tortoise import Tortoise, timezone

from ecosystem.db import init_orm, tortoise_config
from ecosystem.models import Organisation, OrganisationSphere, Sphere, User, Verification
from ecosystem.packages import load_packages
from ecosystem.services.tokens import create_token
from ecosystem.settings import Settings
from labs.models import Equipment, EquipmentCategory, Lab, LabKind, OpeningHours, time_to_minute

LAB_SLUG = "production-shape-lab"


async def make(users: int, machines: int) -> dict:
    host = await Organisation.create(
        name="Production Shape Host",
        slug="production-shape-host",
        search_key="production shape host",
        verification=Verification.VERIFIED,
    )
    await OrganisationSphere.create(organisation=host, sphere=Sphere.ENTERPRISE)
    lab = await Lab.create(
        organisation=host, name="Production Shape Lab", slug=LAB_SLUG, kind=LabKind.FABLAB
    )
    await OpeningHours.bulk_create(
        [
            OpeningHours(
                lab=lab,
                weekday=weekday,
                opens_minute=time_to_minute(time(0)),
                closes_minute=time_to_minute(time(0), closing=True),
            )
            for weekday in range(7)
        ]
    )
    made = []
    for n in range(machines):
        made.append(
            await Equipment.create(
                lab=lab,
                name=f"Load printer {n + 1}",
                category=EquipmentCategory.PRINTER_3D,
                notice_minutes=0,
                horizon_days=60,
                max_minutes=240,
                cancellation_deadline_hours=0,
            )
        )
    await User.bulk_create(
        [
            User(
                email=f"load{n}@example.org",
                full_name=f"Load {n}",
                password_hash="!unusable",
                email_verified_at=timezone.now(),
                locale="en",
            )
            for n in range(users)
        ]
    )
    tokens = []
    for user in await User.filter(email__startswith="load").order_by("id"):
        _token, plaintext = await create_token(user, "load test")
        tokens.append(plaintext)
    return {
        "tokens": tokens,
        "machines": [machine.id for machine in made],
        "lab_slug": LAB_SLUG,
        "lab_id": lab.id,
    }


async def demo_token(email: str) -> str | None:
    user = await User.get_or_none(email=email)
    if user is None:
        return None
    _token, plaintext = await create_token(user, "load test")
    return plaintext


async def package_extras(packages: tuple[str, ...]) -> dict:
    extras: dict = {}
    if "incubator" in packages:
        from incubator.services.reports import open_requests

        token = await demo_token("founder@example.org")
        startup = await Organisation.get_or_none(slug="lumi-eiu")
        if token and startup:
            periods = sorted({request.period for request in await open_requests(startup)})
            if periods:
                extras["report"] = {"token": token, "startup_id": startup.id, "periods": periods}
    if "hackathon" in packages and (token := await demo_token("judge@example.org")):
        extras["judge_token"] = token
    return extras


async def main(users: int, machines: int) -> None:
    settings = Settings.from_env()
    await init_orm(tortoise_config(settings.database_url, load_packages(settings.packages)))
    try:
        made = await make(users, machines)
        made.update(await package_extras(settings.packages))
        print(json.dumps(made))
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--machines", type=int, default=12)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.users, arguments.machines))
