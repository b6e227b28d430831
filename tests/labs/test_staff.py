"""The lab staff side through HTTP: who may open which page, creating labs and granting the
staff role, machines with their rules and rates, hours, closures, blackouts, approvals with
the booker's email, the daily agenda and recurring course bookings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

import pytest
from tortoise import timezone

from ecosystem.models import Organisation, OutboxMessage, User, Verification
from labs.models import (
    Blackout,
    Booking,
    BookingSeries,
    BookingStatus,
    Closure,
    Equipment,
    EquipmentRate,
    Lab,
    LabStaff,
    OpeningHours,
)
from tests.conftest import add_member, make_organisation, person
from tests.labs.conftest import at, bearer, local_day, make_equipment, make_host, make_lab

ROLES = (
    "anonymous",
    "plain",
    "member",
    "org_admin",
    "staff",
    "other_staff",
    "unverified_staff",
    "unverified_admin",
    "pending_admin",
)


@dataclass
class World:
    host: Organisation
    lab: Lab
    other_lab: Lab
    machine: Equipment


async def make_world() -> World:
    host = await make_host("Becamex IDC")
    lab = await make_lab(host, "Becamex FabLab")
    other_lab = await make_lab(await make_host("Thu Dau Mot University"), "TDMU ICT FabLab")
    machine = await make_equipment(lab, "Prusa MK4", notice_minutes=0)
    await person("plain@example.org")
    await add_member(await person("member@example.org"), host, "member")
    await add_member(await person("admin@example.org"), host, "admin")
    await LabStaff.create(lab=lab, user=await person("staff@example.org"))
    await LabStaff.create(lab=other_lab, user=await person("other@example.org"))
    # Named staff and made admin, but their e-mail was never verified: no power (DESIGN.md §3).
    await LabStaff.create(lab=lab, user=await person("unverified@example.org", verified=False))
    await add_member(await person("unv-admin@example.org", verified=False), host, "admin")
    # Owner of a pending organisation (a draft lab of its own): no power over this lab.
    pending = await make_organisation(
        await person("pending@example.org"), "Pending Works", verified=False
    )
    await Organisation.filter(id=pending.id).update(verification=Verification.PENDING)
    return World(host, lab, other_lab, machine)


EMAILS = {
    "plain": "plain@example.org",
    "member": "member@example.org",
    "org_admin": "admin@example.org",
    "staff": "staff@example.org",
    "other_staff": "other@example.org",
    "unverified_staff": "unverified@example.org",
    "unverified_admin": "unv-admin@example.org",
    "pending_admin": "pending@example.org",
}


async def signed_in(new_browser, role: str):
    browser = new_browser(lang="en")
    if role != "anonymous":
        await browser.login(EMAILS[role])
    return browser


def pages(world: World) -> dict[str, str]:
    slug, machine = world.lab.slug, world.machine.id
    return {
        "manage": f"/labs/{slug}/manage",
        "equipment_new": f"/labs/{slug}/equipment/new",
        "equipment_edit": f"/labs/{slug}/equipment/{machine}/edit",
        "recurring": f"/labs/{slug}/equipment/{machine}/recurring",
        "approvals": f"/labs/{slug}/approvals",
        "agenda": f"/labs/{slug}/agenda",
        "checkin": f"/labs/{slug}/checkin",
        "staff": f"/labs/{slug}/staff",
    }


EXPECTED = {
    # staff of THIS lab runs it; the host's admins grant the role and nothing else
    "anonymous": {page: 303 for page in ("manage", "staff")},
    "plain": {},
    "member": {},
    "org_admin": {"staff": 200},
    "staff": {
        "manage": 200,
        "equipment_new": 200,
        "equipment_edit": 200,
        "recurring": 200,
        "approvals": 200,
        "agenda": 200,
        "checkin": 200,
    },
    "other_staff": {},
    "unverified_staff": {},
    "unverified_admin": {},
    "pending_admin": {},
}


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_open_each_staff_page(new_browser, role):
    world = await make_world()
    browser = await signed_in(new_browser, role)
    for name, url in pages(world).items():
        response = await browser.get(url)
        default = 303 if role == "anonymous" else 403
        assert response.status_code == EXPECTED[role].get(name, default), (name, url)
        if role == "anonymous":
            assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "role",
    ["plain", "member", "org_admin", "other_staff", "unverified_staff", "unverified_admin"],
)
async def test_who_may_not_change_the_lab(new_browser, role):
    world = await make_world()
    browser = await signed_in(new_browser, role)
    slug = world.lab.slug
    attempts = [
        (f"/labs/{slug}/manage", {"name": "Renamed", "kind": "fablab", "timezone": "UTC"}),
        (f"/labs/{slug}/manage/hours", {"hours_0": "09:00-10:00"}),
        (f"/labs/{slug}/manage/closures", {"first_day": "2027-02-05", "reason": "Tết"}),
        (f"/labs/{slug}/equipment/new", {"name": "X"}),
        (
            f"/labs/{slug}/equipment/{world.machine.id}/blackouts",
            {"starts_at": "2027-01-01T08:00", "ends_at": "2027-01-01T10:00"},
        ),
    ]
    for url, data in attempts:
        assert (await browser.post(url, data)).status_code == 403, url
    assert (await Lab.get(id=world.lab.id)).name == "Becamex FabLab"
    assert await OpeningHours.filter(lab_id=world.lab.id).count() == 7
    assert not await Closure.exists()
    assert await Equipment.filter(lab_id=world.lab.id).count() == 1
    assert not await Blackout.exists()


# --- creating a lab, granting staff ------------------------------------------------------


async def test_an_admin_of_a_verified_organisation_creates_a_lab(new_browser):
    world = await make_world()
    admin = await signed_in(new_browser, "org_admin")
    data = {"organisation_id": str(world.host.id), "slug": "becamex-techlab", "kind": "techlab"}
    taken = await admin.post("/labs/new", {**data, "name": "TechLab", "slug": world.lab.slug})
    assert taken.status_code == 422
    assert "This address is taken." in taken.text
    missing = await admin.post("/labs/new", {**data, "name": ""})
    assert missing.status_code == 422
    assert "This field is required." in missing.text
    assert await Lab.filter(organisation_id=world.host.id).count() == 1

    created = await admin.post("/labs/new", {**data, "name": "Becamex TechLab"})
    assert created.status_code == 303
    assert created.headers["location"] == "/labs/becamex-techlab/manage"
    lab = await Lab.get(slug="becamex-techlab")
    assert lab.organisation_id == world.host.id and lab.kind == "techlab"
    assert await LabStaff.exists(lab_id=lab.id, user__email="admin@example.org")


@pytest.mark.parametrize("role", ["plain", "member", "staff", "unverified_admin"])
async def test_only_organisation_admins_create_labs(new_browser, role):
    world = await make_world()
    browser = await signed_in(new_browser, role)
    data = {"organisation_id": str(world.host.id), "slug": "x-lab", "kind": "fablab", "name": "X"}
    assert (await browser.post("/labs/new", data)).status_code == 403
    assert not await Lab.exists(slug="x-lab")


async def test_an_unverified_organisation_cannot_host_a_lab(new_browser):
    """A pending organisation prepares an unpublished draft its members see; publishing waits
    for a platform admin's verification; a rejected one cannot even prepare one."""
    world = await make_world()
    world.host.verification = Verification.PENDING
    await world.host.save(update_fields=["verification"])
    admin = await signed_in(new_browser, "org_admin")
    data = {"organisation_id": str(world.host.id), "slug": "x-lab", "kind": "fablab", "name": "X"}

    published = await admin.post("/labs/new", {**data, "is_published": "1"})
    assert published.status_code == 422
    assert "The lab can be published once the platform administrators have verified" in (
        published.text
    )
    assert 'value="x-lab"' in published.text  # the form keeps what was typed
    assert not await Lab.exists(slug="x-lab")

    assert (await admin.post("/labs/new", data)).status_code == 303  # a draft
    draft = await Lab.get(slug="x-lab")
    assert not draft.is_published
    assert (await admin.get("/labs/x-lab")).status_code == 200  # its staff see it
    for who in ("anonymous", "plain"):
        browser = await signed_in(new_browser, who)
        assert (await browser.get("/labs/x-lab")).status_code == 404
        assert "x-lab" not in (await browser.get("/labs")).text
    # Publishing the draft is refused too, until the organisation is verified.
    form = {"name": "X", "kind": "fablab", "timezone": "UTC", "is_published": "1"}
    refused = await admin.post("/labs/x-lab/manage", form)
    assert refused.status_code == 422
    assert not (await Lab.get(slug="x-lab")).is_published
    # Its already published lab disappears from public pages while the host is pending.
    anonymous = await signed_in(new_browser, "anonymous")
    assert (await anonymous.get(f"/labs/{world.lab.slug}")).status_code == 404
    assert world.lab.name not in (await anonymous.get("/labs")).text
    headers = await bearer(await User.get(email="plain@example.org"))
    listed = (await anonymous.get("/api/v1/labs", headers=headers)).json()["items"]
    assert world.other_lab.slug in [item["slug"] for item in listed]
    assert world.lab.slug not in [item["slug"] for item in listed]

    await Organisation.filter(id=world.host.id).update(verification=Verification.REJECTED)
    rejected = await admin.post("/labs/new", {**data, "slug": "y-lab"})
    assert rejected.status_code == 403
    assert not await Lab.exists(slug="y-lab")


async def test_host_admins_grant_and_withdraw_the_staff_role(new_browser):
    world = await make_world()
    newcomer = await person("newcomer@example.org")
    admin = await signed_in(new_browser, "org_admin")
    url = f"/labs/{world.lab.slug}/staff"
    unknown = await admin.post(url, {"email": "nobody@example.org"})
    assert unknown.status_code == 422
    assert "No account has verified this e-mail address." in unknown.text
    # An account that registered the address but never verified it is not its owner.
    impostor = await person("chi@example.org", verified=False)
    refused = await admin.post(url, {"email": "chi@example.org"})
    assert refused.status_code == 422
    assert "No account has verified this e-mail address." in refused.text
    assert not await LabStaff.exists(user_id=impostor.id)
    # Once the address is verified, the same request makes them staff.
    await User.filter(id=impostor.id).update(email_verified_at=timezone.now())
    assert (await admin.post(url, {"email": "chi@example.org"})).status_code == 303
    assert await LabStaff.exists(user_id=impostor.id, lab_id=world.lab.id)
    again = await admin.post(url, {"email": "staff@example.org"})
    assert again.status_code == 409

    assert (await admin.post(url, {"email": "NEWCOMER@example.org"})).status_code == 303
    grant = await LabStaff.get(lab_id=world.lab.id, user_id=newcomer.id)
    page = await admin.get(url)
    assert "newcomer@example.org" in page.text

    staff = await signed_in(new_browser, "staff")
    assert (await staff.post(f"{url}/{grant.id}/remove")).status_code == 403
    assert (await admin.post(f"{url}/{grant.id}/remove")).status_code == 303
    assert not await LabStaff.exists(id=grant.id)
    assert (await admin.post(f"{url}/{grant.id}/remove")).status_code == 404


# --- machines, hours, closures, blackouts ------------------------------------------------

MACHINE = {
    "name": "Epilog Fusion Pro",
    "category": "laser_cutter",
    "description": "CO2 laser, 120 W",
    "specifications": "Bed: 1016 × 711 mm\nPower = 120 W\n",
    "status": "available",
    "requires_training": "1",
    "slot_step_minutes": "15",
    "min_minutes": "30",
    "max_minutes": "180",
    "notice_minutes": "120",
    "horizon_days": "21",
    "weekly_quota_minutes": "",
    "cancellation_deadline_hours": "12",
    "requires_approval": "1",
    "rate_student": "50000",
    "rate_public": "200000",
}


async def rates_of(machine: Equipment) -> dict[str, int]:
    rows = await EquipmentRate.filter(equipment_id=machine.id).values_list(
        "category", "rate_per_hour"
    )
    return dict(rows)


async def test_staff_create_a_machine_with_rules_and_rates(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    response = await staff.post(f"/labs/{world.lab.slug}/equipment/new", MACHINE)
    assert response.status_code == 303
    machine = await Equipment.get(name="Epilog Fusion Pro")
    assert machine.lab_id == world.lab.id
    assert machine.specifications == {"Bed": "1016 × 711 mm", "Power": "120 W"}
    assert (machine.slot_step_minutes, machine.min_minutes, machine.max_minutes) == (15, 30, 180)
    assert machine.requires_training and machine.requires_approval
    assert machine.weekly_quota_minutes is None
    rates = dict(
        await EquipmentRate.filter(equipment_id=machine.id).values_list("category", "rate_per_hour")
    )
    assert rates == {"student": 50000, "public": 200000}

    form = await staff.get(f"/labs/{world.lab.slug}/equipment/{machine.id}/edit")
    assert "Bed: 1016 × 711 mm" in form.text
    changed = {**MACHINE, "rate_student": "", "rate_public": "180000", "max_minutes": "240"}
    assert (
        await staff.post(f"/labs/{world.lab.slug}/equipment/{machine.id}/edit", changed)
    ).status_code == 303
    rates = dict(
        await EquipmentRate.filter(equipment_id=machine.id).values_list("category", "rate_per_hour")
    )
    assert rates == {"public": 180000}
    assert (await Equipment.get(id=machine.id)).max_minutes == 240


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"slot_step_minutes": "7"}, "slot_step_minutes", "The slot step must divide a day"),
        ({"min_minutes": "50"}, "min_minutes", "Use a multiple of the slot step"),
        ({"max_minutes": "15", "min_minutes": "30"}, "max_minutes", "at least the minimum"),
        ({"specifications": "just words"}, "specifications", "Line 1: write one"),
        ({"rate_public": "-5"}, "rate_public", "Enter a number from 0"),
        ({"horizon_days": "soon"}, "horizon_days", "Enter a whole number."),
        ({"category": "teleporter"}, "category", "Choose one of the offered values."),
        ({"name": " "}, "name__vi", "This field is required."),  # the main-language tab
    ],
)
async def test_a_broken_machine_form_names_the_field_and_writes_nothing(
    new_browser, changes, field, message
):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/equipment/{world.machine.id}/edit"
    response = await staff.post(url, {**MACHINE, **changes})
    assert response.status_code == 422
    assert f'id="e-{field}"' in response.text
    assert message in response.text
    machine = await Equipment.get(id=world.machine.id)
    assert machine.name == "Prusa MK4" and machine.slot_step_minutes == 30
    assert not await EquipmentRate.exists()
    new = await staff.post(f"/labs/{world.lab.slug}/equipment/new", {**MACHINE, **changes})
    assert new.status_code == 422
    assert await Equipment.all().count() == 1


HOURS_8_TO_18 = {f"hours_{day}": "08:00-18:00" for day in range(7)}


async def test_staff_set_hours_closures_and_blackouts(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    slug = world.lab.slug
    bad = await staff.post(f"/labs/{slug}/manage/hours", {"hours_0": "09:00-12:00, 11:00-13:00"})
    assert bad.status_code == 422
    assert "must not overlap" in bad.text
    bad = await staff.post(f"/labs/{slug}/manage/hours", {"hours_1": "17:00-08:00"})
    assert bad.status_code == 422
    assert await OpeningHours.filter(lab_id=world.lab.id).count() == 7  # untouched

    hours = {"hours_0": "08:00-12:00, 13:00-17:00", "hours_5": "00:00-24:00"}
    assert (await staff.post(f"/labs/{slug}/manage/hours", hours)).status_code == 303
    rows = await OpeningHours.filter(lab_id=world.lab.id).order_by("weekday", "opens_minute")
    assert [(r.weekday, r.opens_minute, r.closes_minute) for r in rows] == [
        (0, 480, 720),
        (0, 780, 1020),
        (5, 0, 1440),
    ]
    page = await staff.get(f"/labs/{slug}/manage")
    assert "08:00-12:00, 13:00-17:00" in page.text and "00:00-24:00" in page.text

    bad = await staff.post(
        f"/labs/{slug}/manage/closures", {"first_day": "2027-02-10", "last_day": "2027-02-05"}
    )
    assert bad.status_code == 422
    assert "The last day cannot be before the first day." in bad.text
    tet = {"first_day": "2027-02-05", "last_day": "2027-02-10", "reason": "Tết"}
    assert (await staff.post(f"/labs/{slug}/manage/closures", tet)).status_code == 303
    closure = await Closure.get(lab_id=world.lab.id)
    assert (str(closure.first_day), str(closure.last_day), closure.reason) == (
        "2027-02-05",
        "2027-02-10",
        "Tết",
    )

    blackouts = f"/labs/{slug}/equipment/{world.machine.id}/blackouts"
    day = local_day(3)
    bad = await staff.post(
        blackouts, {"starts_at": f"{day}T10:00", "ends_at": f"{day}T09:00", "reason": "x"}
    )
    assert bad.status_code == 422
    assert "The end must be after the start." in bad.text
    good = {"starts_at": f"{day}T08:00", "ends_at": f"{day}T12:30", "reason": "Nozzle"}
    assert (await staff.post(blackouts, good)).status_code == 303
    blackout = await Blackout.get(equipment_id=world.machine.id)
    assert blackout.starts_at == at(day, 8) and blackout.ends_at == at(day, 12, 30)
    other = await signed_in(new_browser, "other_staff")
    assert (await other.post(f"{blackouts}/{blackout.id}/delete")).status_code == 403
    assert (await staff.post(f"{blackouts}/{blackout.id}/delete")).status_code == 303
    assert not await Blackout.exists()


async def test_hours_and_closures_changed_by_staff_show_at_once_on_the_week(new_browser):
    """The week view reads the lab's calendar through a cache: staff edits replace it."""
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    slug = world.lab.slug
    day = local_day(14)
    monday = day - timedelta(days=day.weekday())
    week = f"/equipment/{world.machine.id}/week?start={monday}"

    async def cells() -> str:
        response = await staff.get(week, headers={"HX-Request": "true"})
        assert response.status_code == 200
        return response.text

    assert 'class="cell free"' in await cells()
    assert (await staff.post(f"/labs/{slug}/manage/hours", {})).status_code == 303
    assert 'class="cell free"' not in await cells()
    assert (await staff.post(f"/labs/{slug}/manage/hours", HOURS_8_TO_18)).status_code == 303
    assert 'class="cell free"' in await cells()
    closed = {"first_day": str(monday), "last_day": str(monday + timedelta(days=6))}
    assert (await staff.post(f"/labs/{slug}/manage/closures", closed)).status_code == 303
    assert 'class="cell free"' not in await cells()
    closure = await Closure.get(lab_id=world.lab.id)
    delete = f"/labs/{slug}/manage/closures/{closure.id}/delete"
    assert (await staff.post(delete)).status_code == 303
    assert 'class="cell free"' in await cells()


# --- approvals ---------------------------------------------------------------------------


async def pending_booking(world: World, email: str, hours_ahead: int = 30) -> Booking:
    from labs.services.bookings import create_booking

    world.machine.requires_approval = True
    await world.machine.save(update_fields=["requires_approval"])
    booker = await person(email)
    day = local_day(2)
    start = at(day, 8 + hours_ahead % 8)
    return await create_booking(booker, world.machine.id, start, start + timedelta(hours=1))


async def test_staff_approve_and_decline_and_the_booker_is_told(new_browser):
    world = await make_world()
    first = await pending_booking(world, "an@example.org", 1)
    second = await pending_booking(world, "binh@example.org", 3)
    assert first.status == BookingStatus.PENDING
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/approvals"
    page = await staff.get(url)
    assert "an@example.org" in page.text and "binh@example.org" in page.text

    for role in ("org_admin", "other_staff"):
        outsider = await signed_in(new_browser, role)
        assert (await outsider.post(f"{url}/{first.id}", {"action": "approve"})).status_code == 403
    assert (await Booking.get(id=first.id)).status == BookingStatus.PENDING

    htmx = {"HX-Request": "true"}
    no_reason = await staff.post(f"{url}/{first.id}", {"action": "decline"}, headers=htmx)
    assert no_reason.status_code == 422
    assert "Give the booker a reason for declining." in no_reason.text
    assert (await Booking.get(id=first.id)).status == BookingStatus.PENDING
    assert not await OutboxMessage.filter(subject__icontains="declined").exists()

    declined = await staff.post(
        f"{url}/{first.id}", {"action": "decline", "reason": "Laser tube replacement"}, headers=htmx
    )
    assert declined.status_code == 200
    assert declined.text.lstrip().startswith(f'<li id="booking-{first.id}"')
    assert "Declined" in declined.text and "Laser tube replacement" in declined.text
    stored = await Booking.get(id=first.id)
    assert stored.status == BookingStatus.DECLINED
    assert stored.decision_reason == "Laser tube replacement"
    mail = await OutboxMessage.filter(to="an@example.org").order_by("-id").first()
    assert "declined" in mail.subject and "Laser tube replacement" in mail.text_body

    approved = await staff.post(f"{url}/{second.id}", {"action": "approve"})
    assert approved.status_code == 303
    assert (await Booking.get(id=second.id)).status == BookingStatus.CONFIRMED
    mail = await OutboxMessage.filter(to="binh@example.org").order_by("-id").first()
    assert "confirmed" in mail.subject

    again = await staff.post(f"{url}/{second.id}", {"action": "decline", "reason": "x"})
    assert again.status_code == 409
    assert "an@example.org" not in (await staff.get(url)).text


# --- agenda ------------------------------------------------------------------------------


async def add_bookings(world: World, machines: int, per_machine: int) -> None:
    booker = await person(f"booker{machines}@example.org")
    day = local_day(1)
    for index in range(machines):
        machine = await make_equipment(world.lab, f"Machine {machines}-{index}")
        for slot in range(per_machine):
            await Booking.create(
                equipment=machine,
                user=booker,
                starts_at=at(day, 8 + slot),
                ends_at=at(day, 9 + slot),
                status=BookingStatus.CONFIRMED,
                check_in_code=f"c{machines}-{index}-{slot}",
            )


async def test_the_agenda_runs_a_constant_number_of_queries(new_browser, count_queries):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/agenda?day={local_day(1)}"
    await add_bookings(world, 1, 1)
    with count_queries() as small:
        response = await staff.get(url)
    assert response.status_code == 200
    assert "Machine 1-0" in response.text
    await add_bookings(world, 6, 4)
    with count_queries() as large:
        response = await staff.get(url)
    assert response.status_code == 200
    assert response.text.count("/labs/checkin/c6-") == 24
    assert len(large.statements) == len(small.statements)
    bad = await staff.get(f"/labs/{world.lab.slug}/agenda?day=tomorrow")
    assert bad.status_code == 422


# --- recurring bookings ------------------------------------------------------------------


async def test_recurring_bookings_preview_then_skip_the_conflicts(new_browser):
    world = await make_world()
    tz_first = local_day(7)
    # four Mondays-and-so-on: the weekday of tz_first, every week
    days = [tz_first + timedelta(weeks=n) for n in range(4)]
    await Closure.create(lab=world.lab, first_day=days[1], last_day=days[1], reason="Tết")
    other = await person("someone@example.org")
    await Booking.create(
        equipment=world.machine,
        user=other,
        starts_at=at(days[2], 10),
        ends_at=at(days[2], 11),
        status=BookingStatus.CONFIRMED,
        check_in_code="taken",
    )
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/equipment/{world.machine.id}/recurring"
    pattern = {
        "title": "Digital fabrication 101",
        "first_date": str(tz_first),
        "start_time": "09:30",
        "duration_minutes": "90",
        "weekdays": str(tz_first.weekday()),
        "count": "4",
    }
    bad = await staff.post(url, {**pattern, "until": str(days[3]), "action": "preview"})
    assert bad.status_code == 422
    assert "not both" in bad.text
    outside = await staff.post(url, {**pattern, "start_time": "17:00", "action": "preview"})
    assert outside.status_code == 200
    assert outside.text.count("✗") == 4

    preview = await staff.post(url, {**pattern, "action": "preview"})
    assert preview.status_code == 200
    assert preview.text.count("✓") == 2 and preview.text.count("✗") == 2
    assert "Create 2 bookings" in preview.text
    assert not await BookingSeries.exists()

    other_staff = await signed_in(new_browser, "other_staff")
    assert (await other_staff.post(url, {**pattern, "action": "create"})).status_code == 403

    created = await staff.post(url, {**pattern, "action": "create"})
    assert created.status_code == 201
    assert "2 bookings created" in created.text and "Skipped dates" in created.text
    series = await BookingSeries.get(title="Digital fabrication 101")
    rows = await Booking.filter(series_id=series.id).order_by("starts_at")
    assert [(b.starts_at, b.ends_at) for b in rows] == [
        (at(days[0], 9, 30), at(days[0], 11)),
        (at(days[3], 9, 30), at(days[3], 11)),
    ]
    assert all(b.status == BookingStatus.CONFIRMED for b in rows)

    again = await staff.post(url, {**pattern, "action": "create"})
    assert again.status_code == 409
    assert await Booking.filter(series_id__isnull=False).count() == 2


async def test_a_series_until_a_last_date_on_several_weekdays(new_browser):
    world = await make_world()
    first = local_day(3)
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/equipment/{world.machine.id}/recurring"
    pattern = {
        "title": "IoT lab",
        "first_date": str(first),
        "start_time": "08:00",
        "duration_minutes": "60",
        "weekdays": [str((first + timedelta(days=n)).weekday()) for n in range(2)],
        "until": str(first + timedelta(days=1)),
        "action": "create",
    }
    created = await staff.post(url, pattern)
    assert created.status_code == 201
    assert await Booking.filter(equipment_id=world.machine.id).count() == 2
    assert time(8) == rows_start(await Booking.filter(series__title="IoT lab").first(), world)


async def test_a_series_keeps_the_calendar_rules_not_the_bookers_rules(new_browser):
    """Past sessions and a blackout are skipped; notice, horizon, grid, length, quota and
    training (the booker's rules) do not apply to the staff's course series."""
    world = await make_world()
    strict = await make_equipment(
        world.lab,
        "Laser",
        notice_minutes=7 * 24 * 60,
        horizon_days=1,
        slot_step_minutes=60,
        min_minutes=120,
        max_minutes=120,
        weekly_quota_minutes=30,
        requires_training=True,
    )
    first = local_day(-13)
    days = [first + timedelta(weeks=n) for n in range(5)]  # two past, then days 1, 8, 15
    await Blackout.create(equipment=strict, starts_at=at(days[3], 10), ends_at=at(days[3], 12))
    staff = await signed_in(new_browser, "staff")
    created = await staff.post(
        f"/labs/{world.lab.slug}/equipment/{strict.id}/recurring",
        {
            "title": "Laser course",
            "first_date": str(first),
            "start_time": "09:30",
            "duration_minutes": "90",
            "weekdays": str(first.weekday()),
            "count": "5",
            "action": "create",
        },
    )
    assert created.status_code == 201, created.text
    rows = await Booking.filter(equipment_id=strict.id).order_by("starts_at")
    assert [(b.starts_at, b.ends_at) for b in rows] == [
        (at(days[2], 9, 30), at(days[2], 11)),
        (at(days[4], 9, 30), at(days[4], 11)),
    ]


def rows_start(booking: Booking, world: World) -> time:
    from zoneinfo import ZoneInfo

    return booking.starts_at.astimezone(ZoneInfo(world.lab.timezone)).time()


async def test_the_new_lab_form_opens_for_an_admin_of_a_verified_organisation(browser):
    owner = await person("owner-form@eiu.edu.vn")
    await make_organisation(owner, name="Form Host University")
    await browser.login(owner.email)
    response = await browser.get("/labs/new")
    assert response.status_code == 200
    assert 'action="/labs/new"' in response.text
