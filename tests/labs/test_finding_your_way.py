"""Finding your way: my bookings by page, lab and time; whether *you* may book a machine,
with the next training; the training refusal in words; the menu."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from tortoise import timezone

from labs.models import Booking, BookingStatus, EquipmentCategory, TrainingSession
from tests.conftest import person
from tests.labs.conftest import (
    at,
    certify,
    local_day,
    make_equipment,
    make_host,
    make_lab,
    quick_user,
)

CARD = re.compile(r'<li class="card booking" id="booking-(\d+)"')


async def _fill(machine, user, count: int, first_day: int, step_days: int = 1) -> list[Booking]:
    made = []
    for n in range(count):
        day = local_day(first_day + n * step_days)
        made.append(
            await Booking.create(
                equipment=machine,
                user=user,
                starts_at=at(day, 9 + n % 8),
                ends_at=at(day, 10 + n % 8),
                status=BookingStatus.CONFIRMED,
                check_in_code=f"c-{machine.id}-{user.id}-{first_day}-{n}",
            )
        )
    return made


async def test_my_bookings_20_a_page_upcoming_or_past_in_one_lab(browser, count_queries):
    fablab = await make_lab(name="Becamex FabLab")
    techlab = await make_lab(await make_host("TDMU"), name="TDMU TechLab", slug="tdmu-techlab")
    printer = await make_equipment(fablab, "Prusa MK4")
    mill = await make_equipment(techlab, "Roland SRM-20")
    maker = await person("maker@example.org")
    other = await quick_user("other@example.org")
    await browser.login("maker@example.org")

    async def page(**params) -> tuple[list[int], str]:
        response = await browser.get("/bookings", params=params)
        assert response.status_code == 200
        return [int(i) for i in CARD.findall(response.text)], response.text

    first = await _fill(printer, maker, 2, 2)
    with count_queries() as few:
        ids, _html = await page()
    assert ids == [b.id for b in first]

    upcoming = first + await _fill(printer, maker, 23, 4) + await _fill(mill, maker, 5, 3, 7)
    past = await _fill(printer, maker, 3, -30, 2)
    await _fill(await make_equipment(fablab, "Bambu X1"), other, 3, 2)  # never listed
    with count_queries() as many:
        ids, html = await page()
    assert len(few.statements) == len(many.statements)  # the same with 2 or 20 on the page
    soonest = sorted(upcoming, key=lambda b: (b.starts_at, b.id))
    assert ids == [b.id for b in soonest[:20]]
    assert 'rel="next"' in html and 'rel="prev"' not in html
    ids, html = await page(page="2")
    assert ids == [b.id for b in soonest[20:30]] and 'rel="next"' not in html

    ids, html = await page(lab="tdmu-techlab")
    assert sorted(ids) == sorted(b.id for b in upcoming if b.equipment_id == mill.id)
    assert '<option value="tdmu-techlab" selected>' in html

    ids, html = await page(when="past")
    assert ids == [b.id for b in sorted(past, key=lambda b: b.starts_at, reverse=True)]
    assert 'aria-current="page" class="current">Past<' in html

    # Nonsense in the address is read as the defaults, never a 500.
    for params in ({"page": "-1"}, {"page": "x" * 50}, {"when": "<script>"}, {"lab": "nope"}):
        ids, _html = await page(**params)
        assert ids == [b.id for b in soonest[:20]]
    assert (await browser.get("/bookings", params={"page": "9999"})).status_code == 200


async def test_anonymous_people_are_sent_to_sign_in(client):
    answer = await client.get("/bookings")
    assert answer.status_code in (302, 303) and "/login" in answer.headers["location"]


@pytest.mark.usefixtures("english")
async def test_the_machine_page_says_whether_you_may_book_it(new_browser, client):
    lab = await make_lab()
    laser = await make_equipment(
        lab, "Trotec Speedy 400", EquipmentCategory.LASER_CUTTER, requires_training=True
    )
    soon = timezone.now() + timedelta(days=3)
    session = await TrainingSession.create(
        lab=lab,
        category=EquipmentCategory.LASER_CUTTER,
        title="Laser safety",
        starts_at=soon,
        ends_at=soon + timedelta(hours=2),
        capacity=8,
    )
    await TrainingSession.create(
        lab=lab,
        category=EquipmentCategory.LASER_CUTTER,
        title="Laser safety (later)",
        starts_at=soon + timedelta(days=7),
        ends_at=soon + timedelta(days=7, hours=2),
        capacity=8,
    )
    students_only = await make_equipment(lab, "Bambu X1", rates={"student": 10_000})
    free = await make_equipment(lab, "Soldering station")
    await person("plain@example.org")
    await person("unverified@example.org", verified=False)
    certified = await person("certified@example.org")
    await certify(certified, EquipmentCategory.LASER_CUTTER)

    def verdict(html: str) -> str:
        return html.split('id="may-book"', 1)[1].split("</section>", 1)[0]

    anonymous = verdict((await client.get(f"/equipment/{laser.id}")).text)
    assert "Sign in to book." in anonymous and "Laser cutter" in anonymous

    plain = new_browser(lang="en")
    await plain.login("plain@example.org")
    said = verdict((await plain.get(f"/equipment/{laser.id}")).text)
    assert "You need a certification for Laser cutter." in said
    assert f'href="/trainings#training-{session.id}"' in said and "Laser safety," in said
    assert "laser_cutter" not in said
    assert "not offered to your user category" in verdict(
        (await plain.get(f"/equipment/{students_only.id}")).text
    )
    assert "Yes: pick a free slot below." in verdict(
        (await plain.get(f"/equipment/{free.id}")).text
    )

    unverified = new_browser(lang="en")
    await unverified.login("unverified@example.org")
    assert "Verify your e-mail address to book." in verdict(
        (await unverified.get(f"/equipment/{free.id}")).text
    )

    ok = new_browser(lang="en")
    await ok.login("certified@example.org")
    assert "Yes: pick a free slot below." in verdict((await ok.get(f"/equipment/{laser.id}")).text)

    # The refusal when booking anyway: the category in words and the way to the training.
    day = local_day(5)
    refused = await plain.post(
        f"/equipment/{laser.id}/book",
        {"start": at(day, 9).isoformat(), "end": at(day, 10).isoformat()},
    )
    assert refused.status_code == 403
    assert "certification for Laser cutter" in refused.text and "laser_cutter" not in refused.text
    assert f'id="next-training"><a href="/trainings#training-{session.id}"' in refused.text
    trainings = await plain.get("/trainings")
    assert f'id="training-{session.id}"' in trainings.text


async def test_trainings_bookings_waitlist_and_credit_are_in_the_menu(browser, client):
    menu = (await client.get("/labs")).text.split('class="menu-body"', 1)[1].split("</nav>")[0]
    assert 'href="/trainings"' in menu and 'href="/payments/credits"' not in menu
    await person("maker@example.org")
    await browser.login("maker@example.org")
    menu = (await browser.get("/labs")).text.split('class="menu-body"', 1)[1].split("</nav>")[0]
    for link in ("/trainings", "/bookings", "/waitlist", "/payments/credits"):
        assert f'href="{link}"' in menu
