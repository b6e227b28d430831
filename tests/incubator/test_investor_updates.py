"""Issue 17 item 5: investor updates. A founder sends chosen metrics and a narrative to the
holders of the startup's live share grants; their people read it on a page (a mail brings
the link, never the figures); each read is in the startup's read log and the founders see
who read it. Only founders send; only current holders read (not a former holder, not an
unverified account). Over HTTP, per role, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tortoise import timezone

from ecosystem.models import Organisation, OutboxMessage, Role, Sphere
from incubator.models import (
    InvestorUpdate,
    InvestorUpdateRead,
    InvestorUpdateRecipient,
    ShareAccess,
    ShareGrant,
)
from tests.conftest import person
from tests.incubator.conftest import member, organisation, startup, submitted, world

NARRATIVE = "Tháng này Lumi ký hợp đồng chiếu sáng với KCN Mỹ Phước 3."


async def signed_in(new_browser, user):
    browser = new_browser(lang="en")
    await browser.login(user.email)
    return browser


def outcome(response) -> int | str:
    if response.status_code == 303 and response.headers["location"].startswith("/login"):
        return "login"
    return response.status_code


async def send(browser, startup_id, **fields):
    form = {"title": "Bản tin tháng 11", "narrative": NARRATIVE, "metrics": ["revenue"], **fields}
    return await browser.post(f"/incubator/startups/{startup_id}/updates", form)


@pytest.fixture
async def cast(new_browser):
    """The world, plus: a plain member of the startup, an unverified member of the holder,
    and a former holder (its grant was live when the update went out, revoked since)."""
    w = await world()
    await submitted(w.enrolment, "2026-09", {"revenue": 26_000_000, "users": 300})
    await submitted(w.enrolment, "2026-10", {"revenue": 31_500_000, "users": 340})
    employee = await person("dev@lumi.vn")
    await member(employee, w.startup, Role.MEMBER)
    unverified = await person("intern@sokhcn.gov.vn", verified=False)
    await member(unverified, await Organisation.get(id=w.grant.grantee_id))  # type: ignore[attr-defined]
    former = await person("analyst@angels.vn")
    angels = await organisation("Bình Dương Angels", Sphere.INVESTOR)
    await member(former, angels)
    former_grant = await ShareGrant.create(
        startup=w.startup,
        grantee=angels,
        metrics=["revenue"],
        period_from="2026-01",
        period_to="2026-12",
        expires_at=timezone.now() + timedelta(days=30),
        created_by=w.founder,
    )
    people = {**w.people, "employee": employee, "unverified": unverified, "former": former}
    sessions = {}
    for role, user in people.items():
        sessions[role] = await signed_in(new_browser, user) if user else new_browser(lang="en")
    return w, sessions, former_grant


async def test_a_founder_sends_a_holder_reads_and_the_founder_sees_who_read(cast):
    w, sessions, _former_grant = cast
    founder, grantee = sessions["member"], sessions["grantee"]
    page = await founder.get(f"/incubator/startups/{w.startup.id}/updates")
    assert page.status_code == 200 and "31,500,000" in page.text
    sent = await send(founder, w.startup.id, metrics=["revenue", "users"])
    assert sent.status_code == 303, sent.text[:800]
    update = await InvestorUpdate.get(startup_id=w.startup.id)
    assert sent.headers["location"] == f"/incubator/startups/{w.startup.id}/updates/{update.id}"
    assert [(m["key"], m["period"], m["value"]) for m in update.metrics] == [
        ("revenue", "2026-10", 31_500_000),
        ("users", "2026-10", 340),
    ]
    recipients = await InvestorUpdateRecipient.filter(update_id=update.id).values_list(
        "grantee__name", flat=True
    )
    # Live grants only: not the revoked one, not another startup's grantee.
    assert sorted(recipients) == ["Bình Dương Angels", "Sở Khoa học và Công nghệ"]
    mails = await OutboxMessage.filter(to=w.grantee.email)
    assert len(mails) == 1 and "Bản tin tháng 11" in mails[0].subject
    assert f"/incubator/startups/{w.startup.id}/updates/{update.id}" in mails[0].text_body
    assert "31,500,000" not in mails[0].text_body + mails[0].html_body  # behind the sign-in
    assert not await OutboxMessage.filter(to=w.revoked_grantee.email).exists()
    assert not await OutboxMessage.filter(to="intern@sokhcn.gov.vn").exists()  # unverified

    inbox = await grantee.get("/incubator/updates")
    assert "Bản tin tháng 11" in inbox.text
    url = f"/incubator/startups/{w.startup.id}/updates/{update.id}"
    first = await grantee.get(url)
    assert first.status_code == 200 and NARRATIVE in first.text and "340" in first.text
    assert "Who read it" not in first.text
    await grantee.get(url)
    log = await ShareAccess.filter(grant_id=w.grant.id, channel="update").count()
    assert log == 2  # every read in the read log
    assert await InvestorUpdateRead.filter(update_id=update.id).count() == 1  # one receipt

    seen = await founder.get(url)
    assert "Who read it" in seen.text and "Nguyễn Văn An" in seen.text
    listing = await founder.get(f"/incubator/startups/{w.startup.id}/updates")
    assert "read by 1 person" in listing.text
    sharing = await founder.get(f"/incubator/startups/{w.startup.id}/sharing")
    assert "Nguyễn Văn An" in sharing.text


async def test_only_founders_send_and_only_current_holders_read(cast):
    w, sessions, former_grant = cast
    sends = {}
    for role, browser in sessions.items():
        sends[role] = outcome(await send(browser, w.startup.id, title=f"Update by {role}"))
    assert sends == {
        "member": 303,  # the founder: owner of the startup
        "employee": 403,  # a member, not an owner or admin
        "unverified": 403,
        "other_founder": 403,
        "manager": 403,
        "mentor": 403,
        "grantee": 403,
        "grantee_out_of_scope": 403,
        "revoked_grantee": 403,
        "former": 403,
        "stranger": 403,
        "anonymous": "login",
    }
    update = await InvestorUpdate.get(startup_id=w.startup.id)
    former_grant.revoked_at = timezone.now()
    await former_grant.save(update_fields=["revoked_at"])
    url = f"/incubator/startups/{w.startup.id}/updates/{update.id}"
    reads = {role: outcome(await browser.get(url)) for role, browser in sessions.items()}
    assert reads == {
        "member": 200,
        "employee": 200,
        "unverified": 403,
        "other_founder": 404,
        "manager": 404,
        "mentor": 404,
        "grantee": 200,
        "grantee_out_of_scope": 404,
        "revoked_grantee": 404,
        "former": 404,  # was sent it; its grant is revoked since
        "stranger": 404,
        "anonymous": "login",
    }
    assert await InvestorUpdateRead.filter(update_id=update.id).count() == 1
    inbox = {
        role: (await b.get("/incubator/updates")).text
        for role, b in sessions.items()
        if role != "anonymous"
    }
    assert "Update by member" in inbox["grantee"]
    assert "Update by member" not in inbox["former"]
    assert "Update by member" not in inbox["revoked_grantee"]
    assert "Update by member" not in inbox["unverified"]
    # An update of another startup by this id: 404.
    assert (
        await sessions["grantee"].get(f"/incubator/startups/{w.other.id}/updates/{update.id}")
    ).status_code == 404
    assert (
        await sessions["grantee"].get(f"/incubator/startups/{w.startup.id}/updates/99999999999")
    ).status_code == 404


async def test_bad_input_is_refused_with_the_form_kept(cast, new_browser):
    w, sessions, _former_grant = cast
    founder = sessions["member"]
    empty = await send(founder, w.startup.id, title="  ", narrative="", metrics=["revenue"])
    assert empty.status_code == 422
    assert 'id="f-title"' in empty.text and 'value="revenue" checked' in empty.text
    unknown = await send(founder, w.startup.id, metrics=["revenue", "profit"])
    assert unknown.status_code == 422 and NARRATIVE in unknown.text
    too_long = await send(founder, w.startup.id, title="x" * 201)
    assert too_long.status_code == 422
    assert not await InvestorUpdate.exists()
    # A startup nobody holds a grant of: nothing to send to.
    owner = await person("ceo@solar.vn")
    solar = await startup("Solar Việt", owner)
    alone = await send(await signed_in(new_browser, owner), solar.id, metrics=[])
    assert alone.status_code == 409 and "share your data first" in alone.text
    assert not await InvestorUpdate.exists()


async def test_the_list_runs_the_same_queries_for_few_and_many_updates(cast, count_queries):
    w, sessions, _former_grant = cast
    founder = sessions["member"]
    url = f"/incubator/startups/{w.startup.id}/updates"
    for i in range(2):
        await send(founder, w.startup.id, title=f"Update {i}")
    await asyncio.sleep(0.3)  # the mails' delivery jobs run in-process after the responses
    await founder.get(url)
    with count_queries() as few:
        await founder.get(url)
    for i in range(2, 10):
        await send(founder, w.startup.id, title=f"Update {i}")
    await sessions["grantee"].get(f"{url}/{(await InvestorUpdate.first()).id}")
    await asyncio.sleep(0.3)
    await founder.get(url)
    with count_queries() as many:
        page = await founder.get(url)
    assert page.text.count("Update ") >= 10
    assert len(many.statements) == len(few.statements)
