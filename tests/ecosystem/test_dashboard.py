"""The personal dashboard and the open ecosystem indicators (kernel part)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from tortoise import timezone

from ecosystem.models import Invitation, Membership, MembershipStatus, Role
from ecosystem.services import indicators
from tests.conftest import make_organisation, person


async def test_signing_in_lands_on_the_dashboard(browser, english):
    await person("lan@example.org")
    response = await browser.login("lan@example.org")
    assert response.headers["location"] == "/dashboard"
    page = await browser.get("/dashboard")
    assert page.status_code == 200
    assert "Nothing needs you right now." in page.text


async def test_the_dashboard_needs_a_signed_in_user(client):
    response = await client.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_organisation_admins_see_join_requests_and_invitees_their_invitations(
    new_browser,
):
    owner = await person("owner@eiu.edu.vn")
    university = await make_organisation(owner, "Eastern International University")
    asking = await person("asking@eiu.edu.vn", name="Trần Thị Hỏi")
    await Membership.create(
        user_id=asking.id,
        organisation_id=university.id,
        role=Role.MEMBER,
        status=MembershipStatus.REQUESTED,
    )
    await person("invitee@example.org")
    await Invitation.create(
        organisation=university,
        email="Invitee@Example.org",
        role=Role.MEMBER,
        token_hash="x" * 64,
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=3),
    )

    admin = new_browser(lang="en")
    await admin.login("owner@eiu.edu.vn")
    page = (await admin.get("/dashboard")).text
    assert "Requests to join" in page and "Trần Thị Hỏi" in page
    assert f"/organisations/{university.slug}/members" in page
    assert "invitee@example.org".lower() in page.lower()  # sent, not yet accepted

    invitee = new_browser(lang="en")
    await invitee.login("invitee@example.org")
    page = (await invitee.get("/dashboard")).text
    assert "Invitations for you" in page and "Eastern International University" in page

    stranger = new_browser(lang="en")
    await person("stranger@example.org")
    await stranger.login("stranger@example.org")
    page = (await stranger.get("/dashboard")).text
    assert "Trần Thị Hỏi" not in page and "Invitations for you" not in page


async def test_indicators_json_carries_licence_period_and_sections(client):
    owner = await person("owner@eiu.edu.vn")
    await make_organisation(owner, "EIU", spheres=("university",))
    await make_organisation(owner, "Sở KH&CN", spheres=("government",))
    response = await client.get("/api/v1/indicators?from=2026-01-01&to=2026-06-30")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == {"from": "2026-01-01", "to": "2026-06-30"}
    assert body["licence"]["url"].startswith("https://creativecommons.org/")
    assert body["generated_at"]
    kernel = body["sections"]["ecosystem"]
    assert kernel["verified_organisations"] == 2
    assert kernel["organisations_by_sphere"] == {"university": 1, "government": 1}
    assert "labs" in body["sections"]


async def test_indicators_as_csv_and_bad_periods(client):
    response = await client.get("/api/v1/indicators?from=2026-01-01&to=2026-01-31&format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "indicator", "key", "value"]  # no lines above the header
    assert any(row[:2] == ["ecosystem", "verified_organisations"] for row in rows)
    for query, field in (
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("from=2010-01-01&to=2026-01-01", "from"),
        ("from=yesterday", "from"),
        ("format=xml", "format"),
    ):
        bad = await client.get(f"/api/v1/indicators?{query}")
        assert bad.status_code == 422, (query, bad.text)
        assert field in bad.json()["error"]["fields"], bad.json()


async def test_indicators_are_cached_until_the_job_refreshes_them(client):
    owner = await person("owner@eiu.edu.vn")
    await make_organisation(owner, "EIU")
    first = (await client.get("/api/v1/indicators")).json()
    await make_organisation(owner, "TDMU")
    cached = (await client.get("/api/v1/indicators")).json()
    assert cached == first  # served from the cache, not recomputed per request
    await indicators.refresh_indicators({})
    fresh = (await client.get("/api/v1/indicators")).json()
    assert fresh["sections"]["ecosystem"]["verified_organisations"] == 2
    assert fresh["generated_at"] >= first["generated_at"]


async def test_the_public_ecosystem_page_shows_the_figures(client, english):
    owner = await person("owner@eiu.edu.vn")
    await make_organisation(owner, "EIU")
    page = await client.get("/ecosystem")
    assert page.status_code == 200
    assert "Ecosystem in figures" in page.text
    assert "Verified partner organisations" in page.text
    assert 'rel="license"' in page.text
    bad = await client.get("/ecosystem?from=2026-05-01&to=2026-01-01")
    assert bad.status_code == 422
    assert "must not be before its start" in bad.text


async def test_government_members_find_the_ecosystem_figures_on_their_dashboard(new_browser):
    official = await person("official@binhduong.gov.vn")
    await make_organisation(official, "Sở Khoa học và Công nghệ", spheres=("government",))
    await person("student@example.org")
    pages = {}
    for email in ("official@binhduong.gov.vn", "student@example.org"):
        browser = new_browser(lang="en")
        await browser.login(email)
        pages[email] = (await browser.get("/dashboard")).text
    assert "for the Intelligent Operations Center" in pages["official@binhduong.gov.vn"]
    assert "for the Intelligent Operations Center" not in pages["student@example.org"]


async def test_the_ecosystem_period_reads_from_and_until_dates_in_vietnamese(client):
    page = await client.get("/ecosystem")
    assert page.status_code == 200
    assert '<label for="i-from">Từ ngày</label>' in page.text
    assert '<label for="i-to">Đến ngày</label>' in page.text
    assert "Người nhận" not in page.text  # the outbox's "To", never a date's


async def test_the_ecosystem_page_links_the_open_data_package_it_shows(client):
    import re

    page = await client.get("/ecosystem?from=2026-02-10&to=2026-04-03")
    assert page.status_code == 200
    assert 'value="2026-02-01"' in page.text and 'value="2026-04-30"' in page.text  # whole months
    package = re.search(r'href="(/open-data/[^"]+/datapackage\.json)"', page.text).group(1)
    assert package == "/open-data/2026-02/2026-04/datapackage.json"
    descriptor = (await client.get(package)).json()
    assert descriptor["name"] == "innovation-indicators-2026-02-2026-04"
    assert (await client.get("/open-data/catalog.jsonld")).status_code == 200
