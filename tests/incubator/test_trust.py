"""Issue 12 in the incubator: authority only from a verified identity, a verified organisation
and the startup's consent. Every chain is walked over HTTP as a person would."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tortoise import timezone

from ecosystem.i18n import use_locale
from ecosystem.models import Organisation, Role, User, Verification
from incubator.models import (
    ApplicationCall,
    Cohort,
    Enrolment,
    EnrolmentRead,
    EnrolmentStatus,
    Milestone,
    Programme,
    ProgrammeRole,
    ProgrammeRoleInvitation,
    ProgrammeRoleKind,
    ShareGrant,
    StartupProfile,
)
from tests.conftest import PASSWORD, person
from tests.ecosystem.test_accounts import mailed_path
from tests.incubator.conftest import (
    accepted_enrolment,
    bearer,
    member,
    organisation,
    programme,
    submitted,
    world,
)

HTMX = {"HX-Request": "true"}


async def reads_nothing(session, api_headers, client, startup_id: int) -> None:
    """The startup's page, its metrics.csv and the metrics API give this person nothing."""
    base = f"/incubator/startups/{startup_id}"
    page = await session.get(base)
    assert page.status_code == 404 or 'id="kpi"' not in page.text, page.text[:300]
    assert (await session.get(f"{base}/metrics.csv")).status_code in (403, 404)
    api = await client.get(f"/api/v1/startups/{startup_id}/metrics", headers=api_headers)
    assert api.status_code in (403, 404), api.text


async def test_newcomer_pending_organisation_programme_enrolment_ends_in_no_access(
    client, new_browser
):
    w = await world()
    await submitted(w.enrolment, "2026-03", {"revenue": 123456789, "users": 4242})
    newcomer = new_browser(lang="en")
    registered = await newcomer.post(
        "/register",
        {"email": "newcomer@example.org", "full_name": "Newcomer", "password": PASSWORD},
    )
    assert registered.status_code == 303
    user = await User.get(email="newcomer@example.org")
    assert user.email_verified_at is None
    newcomer.csrf_token = ""  # a new session after registering
    created = await newcomer.post(
        "/organisations/new", {"name": "Shadow Incubator", "spheres": "enterprise"}
    )
    if created.status_code == 303:  # a pending draft, owned by the newcomer
        shadow = await Organisation.get(name="Shadow Incubator")
    else:  # the kernel refuses even that: build it to try the incubator's own checks
        shadow = await organisation("Shadow Incubator")
        await Organisation.filter(id=shadow.id).update(verification=Verification.PENDING)
        await member(user, shadow, Role.OWNER)
        shadow = await Organisation.get(id=shadow.id)
    assert shadow.verification != Verification.VERIFIED

    # An unverified account may not create a programme, even on its own organisation.
    refused = await newcomer.post(
        "/incubator/programmes/new", {"organisation_id": str(shadow.id), "name": "Shadow"}
    )
    assert refused.status_code == 403
    assert not await Programme.exists(organisation_id=shadow.id)

    # Defence in depth: had a programme, a manager role and a cohort been made anyway...
    prog = await programme(shadow, "Shadow programme")
    await ProgrammeRole.create(programme=prog, user=user, role=ProgrammeRoleKind.MANAGER)
    cohort_refused = await newcomer.post(
        f"/incubator/programmes/{prog.id}/cohorts", {"name": "K1", "starts_on": "2026-01-01"}
    )
    assert cohort_refused.status_code == 403
    cohort = await Cohort.create(programme=prog, name="K1", starts_on=date(2026, 1, 1))
    # ...enrolling the private startup is refused, and so is the public one...
    for target in (w.startup, w.other):
        enrol = await newcomer.post(
            f"/incubator/cohorts/{cohort.id}/enrol", {"startup_id": str(target.id)}
        )
        assert enrol.status_code == 403
    assert not await Enrolment.exists(cohort_id=cohort.id)
    # ...and even an enrolment row (offered, never accepted) gives no access.
    await Enrolment.create(
        cohort=cohort,
        startup=w.startup,
        enrolled_on=date(2026, 1, 1),
        status=EnrolmentStatus.OFFERED,
        metrics=["revenue", "users"],
    )
    headers = await bearer(user)
    await reads_nothing(newcomer, headers, client, w.startup.id)
    assert (
        await newcomer.post(
            f"/incubator/startups/{w.startup.id}/milestones",
            {"enrolment_id": str(w.enrolment.id), "title": "X", "due_on": "2027-01-01"},
        )
    ).status_code == 403

    # Verifying the e-mail address is not enough: the organisation is still pending.
    link = await mailed_path("newcomer@example.org", "/verify")
    assert (await newcomer.get(link)).status_code == 303
    await user.refresh_from_db()
    assert user.email_verified_at is not None
    manage = await newcomer.get(f"/incubator/programmes/{prog.id}/manage")
    assert manage.status_code == 200 and 'id="draft-note"' in manage.text  # a draft of its own
    enrol = await newcomer.post(
        f"/incubator/cohorts/{cohort.id}/enrol", {"startup_id": str(w.other.id)}
    )
    assert enrol.status_code == 403
    await Enrolment.filter(cohort_id=cohort.id).update(status=EnrolmentStatus.ACCEPTED)
    await reads_nothing(newcomer, headers, client, w.startup.id)  # pending host: nothing


async def test_an_offer_accepted_gives_only_the_accepted_metrics_and_months(client, new_browser):
    w = await world()
    other_host = await organisation("Innovation Center")
    other_programme = await programme(other_host, "Water programme")
    from incubator.models import Metric

    await Metric.create(programme=other_programme, key="water_saved", name="Water saved")
    other_cohort = await Cohort.create(
        programme=other_programme, name="W", starts_on=date(2026, 1, 1)
    )
    water = await accepted_enrolment(other_cohort, w.other, metrics=["revenue", "water_saved"])
    await submitted(water, "2026-01", {"revenue": 11, "water_saved": 5})
    await submitted(water, "2026-04", {"revenue": 44, "water_saved": 6})
    # w.other is in the public directory; the BBI programme has no enrolment of it yet.
    await Enrolment.filter(id=w.other_enrolment.id).delete()
    new_cohort = await Cohort.create(programme=w.programme, name="K2", starts_on=date(2026, 1, 1))

    manager = new_browser(lang="en")
    await manager.login(w.manager.email)
    manager_api = await bearer(w.manager)
    offered = await manager.post(
        f"/incubator/cohorts/{new_cohort.id}/enrol",
        {"startup_id": str(w.other.id), "metrics_from": "2026-03"},
    )
    assert offered.status_code == 303, offered.text[:300]
    offer = await Enrolment.get(cohort_id=new_cohort.id, startup_id=w.other.id)
    assert offer.status == EnrolmentStatus.OFFERED
    assert offer.metrics == ["revenue", "users", "funding", "headcount"]
    assert offer.metrics_from == date(2026, 3, 1)

    # Until accepted: the public profile only.
    page = await manager.get(f"/incubator/startups/{w.other.id}")
    assert page.status_code == 200 and 'id="kpi"' not in page.text
    await reads_nothing(manager, manager_api, client, w.other.id)

    founder = new_browser(lang="en")
    await founder.login(w.other_founder.email)
    own = (await founder.get(f"/incubator/startups/{w.other.id}")).text
    assert f'id="enrolment-{offer.id}"' in own
    assert "Revenue, Active users, Funding raised, Headcount" in own
    assert "from 2026-03 on" in own
    assert "keeps what was reported while it was enrolled and sees nothing new" in own
    # Someone else's founder cannot answer it.
    stranger = new_browser(lang="en")
    await stranger.login(w.founder.email)
    assert (
        await stranger.post(f"/incubator/startups/{w.other.id}/enrolments/{offer.id}/accept")
    ).status_code in (403, 404)

    accepted = await founder.post(
        f"/incubator/startups/{w.other.id}/enrolments/{offer.id}/accept", headers=HTMX
    )
    assert accepted.status_code == 200
    assert accepted.text.lstrip().startswith('<section class="card" id="programmes">')
    assert "The startup has joined the programme." in accepted.text
    again = await founder.post(
        f"/incubator/startups/{w.other.id}/enrolments/{offer.id}/accept", headers=HTMX
    )
    assert again.status_code == 409

    api = await client.get(f"/api/v1/startups/{w.other.id}/metrics", headers=manager_api)
    assert api.status_code == 200
    body = api.json()
    assert set(body) == {"startup", "scope", "metrics"}
    points = {m["key"]: [(p["period"], p["value"]) for p in m["points"]] for m in body["metrics"]}
    assert points == {"revenue": [("2026-04", 44)]}  # not January, not water_saved
    csv = await manager.get(f"/incubator/startups/{w.other.id}/metrics.csv")
    assert csv.status_code == 200
    assert "water_saved" not in csv.text and "2026-01" not in csv.text and "44" in csv.text
    # The founder sees everything, and who read it.
    own_api = await client.get(
        f"/api/v1/startups/{w.other.id}/metrics", headers=await bearer(w.other_founder)
    )
    keys = {m["key"] for m in own_api.json()["metrics"]}
    assert "water_saved" in keys
    assert await EnrolmentRead.filter(enrolment_id=offer.id).count() == 2  # api + csv
    log = (await founder.get(f"/incubator/startups/{w.other.id}/sharing")).text
    assert "programme BBI Programme" in log and "Phạm Thu Hà" in log


async def test_decline_and_leave_stop_access_to_new_data(client, new_browser):
    w = await world()
    founder = new_browser(lang="en")
    await founder.login(w.founder.email)
    manager = new_browser(lang="en")
    await manager.login(w.manager.email)
    manager_api = await bearer(w.manager)
    base = f"/incubator/startups/{w.startup.id}"

    # A second programme offers; the founder declines: nothing for it.
    host = await organisation("Saigon Accelerator")
    second = await programme(host, "Accelerate")
    cohort = await Cohort.create(programme=second, name="A1", starts_on=date(2026, 1, 1))
    second_manager = await person("lead@accelerate.vn")
    await ProgrammeRole.create(programme=second, user=second_manager, role="manager")
    await StartupProfile.filter(organisation_id=w.startup.id).update(in_directory=True)
    lead = new_browser(lang="en")
    await lead.login(second_manager.email)
    offer = await lead.post(
        f"/incubator/cohorts/{cohort.id}/enrol", {"startup_id": str(w.startup.id)}
    )
    assert offer.status_code == 303
    offered = await Enrolment.get(cohort_id=cohort.id)
    declined = await founder.post(f"{base}/enrolments/{offered.id}/decline")
    assert declined.status_code == 303
    await offered.refresh_from_db()
    assert offered.status == EnrolmentStatus.DECLINED and offered.declined_at is not None
    await submitted(w.enrolment, "2026-02", {"revenue": 200})
    await reads_nothing(lead, await bearer(second_manager), client, w.startup.id)
    milestone = await lead.post(
        f"{base}/milestones",
        {"enrolment_id": str(offered.id), "title": "Pitch", "due_on": "2027-01-01"},
    )
    assert milestone.status_code == 403
    assert not await Milestone.exists(enrolment_id=offered.id)

    # The BBI programme (accepted) sees February; then the startup leaves.
    before = await client.get(f"/api/v1/startups/{w.startup.id}/metrics", headers=manager_api)
    assert before.status_code == 200
    assert [p["period"] for p in before.json()["metrics"][0]["points"]] == ["2026-02"]
    left = await founder.post(f"{base}/enrolments/{w.enrolment.id}/leave", {"confirmed": "yes"})
    assert left.status_code == 303
    await w.enrolment.refresh_from_db()
    assert w.enrolment.status == EnrolmentStatus.LEFT and not w.enrolment.active
    # Reported afterwards (to another programme it still belongs to): invisible to BBI.
    other_host = await organisation("Thu Dau Mot Hub")
    hub = await programme(other_host, "Hub")
    hub_cohort = await Cohort.create(programme=hub, name="H", starts_on=date(2026, 1, 1))
    hub_enrolment = await accepted_enrolment(hub_cohort, w.startup)
    await submitted(hub_enrolment, "2026-09", {"revenue": 900})
    after = await client.get(f"/api/v1/startups/{w.startup.id}/metrics", headers=manager_api)
    assert after.status_code == 200
    assert [(p["period"], p["value"]) for p in after.json()["metrics"][0]["points"]] == [
        ("2026-02", 200)
    ]
    assert after.json()["scope"] == "granted"
    csv = await manager.get(f"{base}/metrics.csv")
    assert "2026-09" not in csv.text and "900" not in csv.text and "2026-02" in csv.text
    # No more milestones, comments or sessions from the programme's staff.
    for url, data in (
        (
            f"{base}/milestones",
            {"enrolment_id": str(w.enrolment.id), "title": "X", "due_on": "2027-01-01"},
        ),
        (
            f"{base}/sessions",
            {"enrolment_id": str(w.enrolment.id), "held_on": "2026-01-20", "topics": "T"},
        ),
    ):
        assert (await manager.post(url, data)).status_code == 403, url
    page = await manager.get(base)
    assert page.status_code == 200 and 'id="milestones"' not in page.text


async def test_an_unverified_address_named_as_mentor_gets_nothing_until_verified(
    client, new_browser
):
    w = await world()
    await submitted(w.enrolment, "2026-03", {"revenue": 5})
    impostor = await person("coach@bbi.vn", verified=False)
    # A legacy role held by an unverified account gives nothing either.
    await ProgrammeRole.create(programme=w.programme, user=impostor, role="manager")
    manager = new_browser(lang="en")
    await manager.login(w.manager.email)
    named = await manager.post(
        f"/incubator/programmes/{w.programme.id}/roles",
        {"email": " Coach@BBI.vn ", "role": "mentor"},
    )
    assert named.status_code == 303
    assert not await ProgrammeRole.exists(
        programme_id=w.programme.id, user_id=impostor.id, role="mentor"
    )
    assert await ProgrammeRoleInvitation.exists(programme_id=w.programme.id, email="coach@bbi.vn")
    page = (await manager.get(f"/incubator/programmes/{w.programme.id}/manage")).text
    assert "waiting until this address is verified by its owner" in page
    duplicate = await manager.post(
        f"/incubator/programmes/{w.programme.id}/roles",
        {"email": "coach@bbi.vn", "role": "reviewer"},
    )
    # Inviting the address again refreshes its one invitation (here: as a reviewer).
    assert duplicate.status_code == 303
    again = await manager.post(
        f"/incubator/programmes/{w.programme.id}/roles", {"email": "coach@bbi.vn", "role": "mentor"}
    )
    assert again.status_code == 303
    assert await ProgrammeRoleInvitation.filter(email="coach@bbi.vn").count() == 1

    session = new_browser(lang="en")
    await session.login(impostor.email)
    headers = await bearer(impostor)
    await reads_nothing(session, headers, client, w.startup.id)
    assert (await session.get(f"/incubator/programmes/{w.programme.id}/manage")).status_code == 403

    # The owner of the address verifies it: the role takes effect.
    await User.filter(id=impostor.id).update(email_verified_at=timezone.now())
    api = await client.get(f"/api/v1/startups/{w.startup.id}/metrics", headers=headers)
    assert api.status_code == 200
    assert await ProgrammeRole.exists(
        programme_id=w.programme.id, user_id=impostor.id, role="mentor"
    )
    assert not await ProgrammeRoleInvitation.exists(email="coach@bbi.vn")

    # A verified address gets the role at once.
    await person("reviewer@bbi.vn")
    await manager.post(
        f"/incubator/programmes/{w.programme.id}/roles",
        {"email": "reviewer@bbi.vn", "role": "reviewer"},
    )
    assert await ProgrammeRole.exists(programme_id=w.programme.id, user__email="reviewer@bbi.vn")


async def test_pending_organisations_publish_nothing_and_receive_nothing(client, new_browser):
    w = await world()
    await submitted(w.enrolment, "2026-03", {"revenue": 7})
    shadow = await organisation(
        "Shadow Capital",
    )
    await Organisation.filter(id=shadow.id).update(verification=Verification.PENDING)
    insider = await person("partner@shadow.vn")
    await member(insider, shadow)
    draft = await programme(shadow, "Shadow Accelerator")
    call = await ApplicationCall.create(
        programme=draft,
        title="Shadow call 2027",
        deadline=datetime.now(UTC) + timedelta(days=30),
        criteria=[{"id": "team", "label": "Team", "weight": 1, "scale_min": 1, "scale_max": 5}],
    )
    anonymous = new_browser(lang="en")
    home = (await anonymous.get("/incubator")).text
    assert "BBI Programme" in home
    assert "Shadow Accelerator" not in home and "Shadow call 2027" not in home
    listed = (await client.get("/api/v1/programmes")).json()["items"]
    assert [p["name"] for p in listed] == ["BBI Programme"]
    assert (await anonymous.get(f"/incubator/programmes/{draft.id}")).status_code == 404
    assert (await anonymous.get(f"/incubator/calls/{call.id}")).status_code == 404
    stranger = new_browser(lang="en")
    await stranger.login(w.stranger.email)
    assert (await stranger.get(f"/incubator/programmes/{draft.id}")).status_code == 404
    apply = await stranger.post(f"/incubator/calls/{call.id}/apply", {"startup_id": "1"})
    assert apply.status_code == 404
    own = new_browser(lang="en")
    await own.login(insider.email)
    assert (await own.get(f"/incubator/programmes/{draft.id}")).status_code == 200  # its draft
    assert (await own.get(f"/incubator/calls/{call.id}")).status_code == 200

    # Not a possible recipient of the startup's data, and an old grant gives nothing.
    founder = new_browser(lang="en")
    await founder.login(w.founder.email)
    sharing = (await founder.get(f"/incubator/startups/{w.startup.id}/sharing")).text
    assert f'value="{shadow.id}"' not in sharing and "Sở Khoa học và Công nghệ" in sharing
    refused = await founder.post(
        f"/incubator/startups/{w.startup.id}/sharing",
        {
            "grantee_id": str(shadow.id),
            "metrics": "revenue",
            "period_from": "2026-01",
            "period_to": "2026-12",
            "expires_on": (date.today() + timedelta(days=60)).isoformat(),
        },
    )
    assert refused.status_code == 422 and "Shadow Capital" not in refused.text
    assert not await ShareGrant.exists(grantee_id=shadow.id)
    await ShareGrant.create(
        startup=w.startup,
        grantee=shadow,
        metrics=["revenue"],
        period_from="2026-01",
        period_to="2026-12",
        expires_at=timezone.now() + timedelta(days=30),
    )
    await reads_nothing(own, await bearer(insider), client, w.startup.id)
    # The grantee that was verified loses its access when it is no longer verified.
    grantee_api = await bearer(w.grantee)
    url = f"/api/v1/startups/{w.startup.id}/metrics"
    assert (await client.get(url, headers=grantee_api)).status_code == 200
    await Organisation.filter(id=w.grant.grantee_id).update(verification=Verification.PENDING)
    assert (await client.get(url, headers=grantee_api)).status_code in (403, 404)


async def test_pending_publications_lists_drafts_of_pending_organisations(app):
    from incubator.package import package

    host = await organisation("Shadow Hub")
    await Organisation.filter(id=host.id).update(verification=Verification.PENDING)
    draft = await programme(host, "Draft programme")
    await ApplicationCall.create(
        programme=draft, title="Draft call", deadline=datetime.now(UTC) + timedelta(days=9)
    )
    assert package.pending_publications is not None
    with use_locale("vi"):  # the kinds are translated in the reader's language
        found = await package.pending_publications([host.id])
    assert found == {
        host.id: [
            ("Chương trình ươm tạo", "Draft programme"),
            ("Đợt tuyển chọn", "Draft call"),
        ]
    }
    assert await package.pending_publications([]) == {}


async def test_only_a_verified_owner_or_admin_or_a_platform_admin_answers_an_offer(new_browser):
    w = await world()
    second = await Cohort.create(programme=w.programme, name="K9", starts_on=date(2027, 1, 1))

    async def offer() -> Enrolment:
        return await Enrolment.create(
            cohort=second,
            startup=w.startup,
            enrolled_on=date(2027, 1, 1),
            status=EnrolmentStatus.OFFERED,
            metrics=["revenue"],
        )

    pending = await offer()
    url = f"/incubator/startups/{w.startup.id}/enrolments/{pending.id}"
    plain_member = await person("dev@lumi.vn")
    await member(plain_member, w.startup)  # a member, not an admin: sees the offer only
    unverified_owner = await person("cofounder@lumi.vn", verified=False)
    await member(unverified_owner, w.startup, Role.OWNER)
    for who in (plain_member, unverified_owner, w.manager):
        session = new_browser(lang="en")
        await session.login(who.email)
        assert (await session.post(f"{url}/accept")).status_code == 403, who.email
    session = new_browser(lang="en")
    await session.login(plain_member.email)
    page = (await session.get(f"/incubator/startups/{w.startup.id}")).text
    assert f'id="enrolment-{pending.id}"' in page and f"{url}/accept" not in page
    await pending.refresh_from_db()
    assert pending.status == EnrolmentStatus.OFFERED

    admin = await person("admin@platform.vn", admin=True)
    session = new_browser(lang="en")
    await session.login(admin.email)
    assert (await session.post(f"{url}/decline")).status_code == 303
    await pending.refresh_from_db()
    assert pending.status == EnrolmentStatus.DECLINED
    assert pending.decided_by_id == admin.id  # type: ignore[attr-defined]
