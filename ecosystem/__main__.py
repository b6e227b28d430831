"""Command line: python -m ecosystem {serve,worker,migrate,seed,createuser}."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable

from tortoise import Tortoise

from ecosystem import jobs
from ecosystem.db import init_orm, run_migrations, tortoise_config
from ecosystem.errors import DomainError
from ecosystem.i18n import set_locale
from ecosystem.packages import declared_packages, load_packages
from ecosystem.settings import SERVED_URL_ENV, Settings, configure, served_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ecosystem",
        description="Binh Duong Innovation Region platform: labs, incubator and contests "
        "on shared partner accounts. Configuration comes from environment variables "
        "(DATABASE_URL, REDIS_URL, SECRET_KEY, BASE_URL, SMTP_URL, …; see the README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the web app with uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="web processes (default 1)")
    serve.add_argument(
        "--reload", action="store_true", help="restart on code changes (development)"
    )
    commands.add_parser(
        "worker", help="run the arq worker: every package's jobs and cron entries (needs REDIS_URL)"
    )
    commands.add_parser("migrate", help="apply the committed database migrations")
    seed = commands.add_parser("seed", help="load data (idempotent)")
    seed.add_argument(
        "--demo",
        action="store_true",
        required=True,
        help="the real partners of the province and the demo accounts",
    )
    create = commands.add_parser("createuser", help="create a user with a verified email")
    create.add_argument("email")
    create.add_argument("--password", required=True, help="at least 10 characters")
    create.add_argument("--name", default="", help="full name (default: the email's local part)")
    create.add_argument("--admin", action="store_true", help="make a platform administrator")
    return parser


async def _with_orm(settings: Settings, action: Callable[[], Awaitable[None]]) -> None:
    await init_orm(tortoise_config(settings.database_url, declared_packages(settings.packages)))
    try:
        await action()
        await jobs.drain()
    finally:
        await Tortoise.close_connections()


async def _migrate(settings: Settings) -> None:
    try:
        await run_migrations(
            tortoise_config(settings.database_url, declared_packages(settings.packages))
        )
    finally:
        await Tortoise.close_connections()


async def _seed(settings: Settings) -> None:
    packages = load_packages(settings.packages)
    for package in packages:
        jobs.register(package.jobs)

    async def seed_all() -> None:
        for package in packages:
            if package.seed_demo:
                await package.seed_demo()
                print(f"seeded {package.name}")

    await _with_orm(settings, seed_all)


async def _createuser(settings: Settings, args: argparse.Namespace) -> None:
    from ecosystem.services.accounts import create_user

    async def create() -> None:
        user = await create_user(args.email, args.password, args.name, admin=args.admin)
        print(f"created user {user.email} (id {user.id}{', platform admin' if args.admin else ''})")

    await _with_orm(settings, create)


def _ensure_sqlite_dir(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite://") and ":memory:" not in settings.database_url:
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite://").split("?")[0]).parent.mkdir(
            parents=True, exist_ok=True
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.from_env()
    configure(settings)
    set_locale("en")  # command-line messages are in English
    _ensure_sqlite_dir(settings)
    try:
        if args.command == "serve":
            import uvicorn

            if not settings.base_url_is_set:
                # Links (e-mails, calendar feed, QR codes, certificates) point where we serve;
                # the environment carries it to uvicorn's workers and reloader.
                os.environ[SERVED_URL_ENV] = served_url(args.host, args.port)
                settings = Settings.from_env()
                configure(settings)

            uvicorn.run(
                "ecosystem.asgi:app",
                host=args.host,
                port=args.port,
                workers=args.workers,
                reload=args.reload,
                # The app reads X-Forwarded-For itself, only from FORWARDED_ALLOW_IPS
                # (ecosystem.middleware.ClientAddressMiddleware): uvicorn must not rewrite
                # the client address first (it trusts 127.0.0.1 by default).
                proxy_headers=False,
            )
        elif args.command == "worker":
            from ecosystem.worker import build_worker

            build_worker(settings).run()
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "seed":
            asyncio.run(_seed(settings))
        elif args.command == "createuser":
            asyncio.run(_createuser(settings, args))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
