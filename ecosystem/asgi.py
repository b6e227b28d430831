"""The ASGI entry point for uvicorn and other servers: `ecosystem.asgi:app`."""

from ecosystem.app import create_app

app = create_app()
