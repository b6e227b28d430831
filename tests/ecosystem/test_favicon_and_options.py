"""A favicon on every page (no 404 in every log line), and OPTIONS / 405 answers that name
every method the path accepts, also when several routes share the path."""

from __future__ import annotations

import re


def allow(response) -> list[str]:
    return [m.strip() for m in response.headers["allow"].split(",")]


async def test_every_page_links_a_favicon_that_exists(client):
    page = await client.get("/")
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', page.text)
    assert icons == ["/static/favicon.svg", "/favicon.ico"]
    svg = await client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    ico = await client.get("/favicon.ico")
    assert ico.status_code == 200
    assert ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    assert "max-age" in ico.headers["cache-control"]
    assert (await client.head("/favicon.ico")).status_code == 200


async def test_options_lists_the_methods_of_every_route_of_the_path(client):
    # Two API routes share /api/v1/bookings: GET lists, POST books.
    bookings = await client.options("/api/v1/bookings")
    assert bookings.status_code == 204
    assert allow(bookings) == ["GET", "HEAD", "OPTIONS", "POST"]
    assert bookings.content == b""
    login = await client.options("/login")  # one route, GET and POST; no CSRF token needed
    assert login.status_code == 204 and allow(login) == ["GET", "HEAD", "OPTIONS", "POST"]
    token = await client.options("/api/v1/auth/token")
    assert allow(token) == ["OPTIONS", "POST"]
    static = await client.options("/static/app.css")
    assert static.status_code == 204 and allow(static) == ["GET", "HEAD", "OPTIONS"]
    assert (await client.options("/no/such/page")).status_code == 404


async def test_a_wrong_method_names_every_allowed_one(client):
    wrong = await client.delete("/api/v1/bookings")
    assert wrong.status_code == 405
    assert allow(wrong) == ["GET", "HEAD", "OPTIONS", "POST"]
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    page = await client.put("/login")
    assert page.status_code in (403, 405)  # CSRF refuses an unsafe method without a token
    if page.status_code == 405:
        assert allow(page) == ["GET", "HEAD", "OPTIONS", "POST"]


async def test_a_pages_405_names_the_allowed_methods_too(client):
    wrong = await client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"].startswith("text/html")
    assert allow(wrong) == ["GET", "HEAD", "OPTIONS"]
