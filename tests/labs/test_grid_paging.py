"""A big lab's grid, one category and forty machines at a time (issue 21): the category
chooser and the pages are links that keep the day or week, the date and the filters; the
category picked last is the next visit's; bad parameters fall back, never a 500; a small lab
stays one table; the number of statements is the same for a small and a big lab, any page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from labs.models import Booking, BookingStatus, Equipment, EquipmentCategory
from labs.services.grid import PAGE_SIZE, Paging
from tests.conftest import person
from tests.labs.conftest import at, certify, local_day, make_equipment, make_host, make_lab

PRINTERS, LASERS, CNCS = 90, 5, 2  # 97 machines: more than a page, so one category at a time


def remembered(response) -> str:
    """The Set-Cookie line of the remembered category, or ""."""
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE + "=")]
    return found[0] if found else ""


COOKIE = "lab_grid_category"
ROW = re.compile(r'<th scope="row" class="machine-col"><a href="/equipment/\d+">([^<]+)</a>')


def rows(html: str) -> list[str]:
    """The machine names of the grid's rows, in order."""
    return [unescape(name) for name in ROW.findall(html)]


def nav(html: str, css_class: str) -> str:
    match = re.search(rf'<nav class="{css_class}[^"]*"[^>]*>(.*?)</nav>', html, re.S)
    assert match is not None, f"no nav.{css_class}"
    return match.group(1)


def links(fragment: str) -> dict[str, dict[str, str]]:
    """Each link's text (or aria-label) → its query, as a flat dict."""
    found = {}
    for attributes, text in re.findall(r"<a ([^>]*)>(.*?)</a>", fragment, re.S):
        href = unescape(re.search(r'href="([^"]*)"', attributes).group(1))
        label = re.search(r'aria-label="([^"]*)"', attributes)
        key = unescape(label.group(1) if label else re.sub(r"<[^>]+>", "", text)).strip()
        query = {name: values[0] for name, values in parse_qs(urlsplit(href).query).items()}
        found[key] = {"path": urlsplit(href).path, **query}
    return found


def current(fragment: str) -> list[str]:
    return [
        unescape(re.sub(r"<[^>]+>", "", text)).strip()
        for text in re.findall(r'<a [^>]*aria-current="page"[^>]*>(.*?)</a>', fragment, re.S)
    ]


async def big_lab(name: str = "Big Lab"):
    lab = await make_lab(await make_host(f"{name} host"), name)
    await Equipment.bulk_create(
        [
            Equipment(lab=lab, name=f"Printer {n:02d}", category=EquipmentCategory.PRINTER_3D)
            for n in range(1, PRINTERS + 1)
        ]
        + [
            Equipment(
                lab=lab,
                name=f"Laser {n}",
                category=EquipmentCategory.LASER_CUTTER,
                requires_training=True,
            )
            for n in range(1, LASERS + 1)
        ]
        + [
            Equipment(lab=lab, name=f"Mill {n}", category=EquipmentCategory.CNC)
            for n in range(1, CNCS + 1)
        ]
    )
    return lab


async def book(equipment, user, start, end) -> Booking:
    return await Booking.create(
        equipment=equipment,
        user=user,
        starts_at=start,
        ends_at=end,
        status=BookingStatus.CONFIRMED,
        check_in_code=f"p{equipment.id}-{user.id}-{start.timestamp():.0f}",
    )


@pytest.mark.usefixtures("english")
async def test_a_big_lab_shows_one_category_forty_machines_a_page(client):
    lab = await big_lab()
    day = local_day(2)
    page = await client.get(f"/labs/{lab.slug}/day?date={day}")
    assert page.status_code == 200
    # The first category (the stored order: 3D printers), its first forty machines.
    assert rows(page.text) == [f"Printer {n:02d}" for n in range(1, PAGE_SIZE + 1)]
    categories = nav(page.text, "grid-categories")
    assert current(categories) == ["3D printer (90)"]
    chooser = links(categories)
    assert set(chooser) == {"3D printer (90)", "CNC machine (2)", "Laser cutter (5)"}
    assert chooser["Laser cutter (5)"] == {
        "path": f"/labs/{lab.slug}/day",
        "date": day.isoformat(),
        "category": "laser_cutter",
    }
    # No "All machines": a big lab never shows its 97 rows at once.
    assert 'id="grid-category"' not in page.text and "All machines" not in page.text
    pages = nav(page.text, "grid-pages grid-pages-top")
    assert "Machines 1–40 of 90" in pages
    assert current(pages) == ["1"]
    numbers = links(pages)
    assert numbers["Page 3 of 3"] == {
        "path": f"/labs/{lab.slug}/day",
        "date": day.isoformat(),
        "category": "3d_printer",
        "page": "3",
    }
    assert "Next machines →" in numbers and "← Previous machines" not in numbers
    assert 'aria-label="More machines"' in page.text  # the same links under the table

    # The third page: the last ten; its links keep the day and the category.
    third = await client.get(f"/labs/{lab.slug}/day?date={day}&category=3d_printer&page=3")
    assert rows(third.text) == [f"Printer {n:02d}" for n in range(81, PRINTERS + 1)]
    pages = nav(third.text, "grid-pages grid-pages-top")
    assert "Machines 81–90 of 90" in pages and current(pages) == ["3"]
    assert links(pages)["← Previous machines"]["page"] == "2"
    assert "Next machines →" not in links(pages)
    # Day, week, previous and next keep the category and the page.
    steps = links(nav(third.text, "grid-nav"))
    for label, mode in (("Week", "week"), ("Next day →", "day"), ("← Previous day", "day")):
        assert steps[label]["path"] == f"/labs/{lab.slug}/{mode}"
        assert steps[label]["category"] == "3d_printer" and steps[label]["page"] == "3"
    assert steps["Next day →"]["date"] == (day + timedelta(days=1)).isoformat()
    # Another category starts on its first page.
    assert "page" not in links(nav(third.text, "grid-categories"))["CNC machine (2)"]
    week_query = urlencode({k: v for k, v in steps["Week"].items() if k != "path"})
    week = await client.get(f"{steps['Week']['path']}?{week_query}")
    assert rows(week.text) == [f"Printer {n:02d}" for n in range(81, PRINTERS + 1)]
    assert len(re.findall(r'<td class="', week.text)) == 10 * 7

    # A category that fits in a page: no pages.
    lasers = await client.get(f"/labs/{lab.slug}/week?start={day}&category=laser_cutter")
    assert rows(lasers.text) == [f"Laser {n}" for n in range(1, LASERS + 1)]
    assert current(nav(lasers.text, "grid-categories")) == ["Laser cutter (5)"]
    assert "grid-pages" not in lasers.text
    # The table's caption says where the reader is.
    assert "– Laser cutter, page 1 of 1</caption>" in lasers.text


async def test_the_certified_filter_pages_within_the_category(browser):
    lab = await big_lab()
    me = await person("certified@example.org")
    await browser.login("certified@example.org")
    day = local_day(2)
    lasers = await browser.get(f"/labs/{lab.slug}/day?date={day}&category=laser_cutter&certified=1")
    assert rows(lasers.text) == []
    assert "5 machines hidden by the filters." in lasers.text
    assert current(nav(lasers.text, "grid-categories")) == ["Laser cutter (0)"]
    # The filter form keeps the category (and starts again at the first page).
    form = re.search(r'<form class="grid-filters".*?</form>', lasers.text, re.S).group(0)
    assert '<input type="hidden" name="category" value="laser_cutter">' in form
    assert 'name="page"' not in form
    await certify(me, EquipmentCategory.LASER_CUTTER)
    lasers = await browser.get(f"/labs/{lab.slug}/day?date={day}&category=laser_cutter&certified=1")
    assert rows(lasers.text) == [f"Laser {n}" for n in range(1, LASERS + 1)]
    # Printers need no training: all 90 of them, on three pages that keep the filter.
    printers = await browser.get(
        f"/labs/{lab.slug}/day?date={day}&category=3d_printer&certified=1&page=2"
    )
    assert rows(printers.text)[0] == "Printer 41"
    assert links(nav(printers.text, "grid-pages grid-pages-top"))["Next machines →"] == {
        "path": f"/labs/{lab.slug}/day",
        "date": day.isoformat(),
        "category": "3d_printer",
        "certified": "1",
        "page": "3",
    }
    # The basket form carries the page, so a refused basket shows the same machines again.
    basket = re.search(r'<form id="basket-form".*?</form>', printers.text, re.S).group(0)
    assert '<input type="hidden" name="page" value="2">' in basket


@pytest.mark.usefixtures("english")
async def test_the_category_picked_last_is_the_next_visits(client):
    lab = await big_lab()
    other = await big_lab("Other Big Lab")
    picked = await client.get(f"/labs/{lab.slug}/week?category=laser_cutter")
    cookie = remembered(picked)
    assert cookie.startswith("lab_grid_category=laser_cutter;")
    assert f"Path=/labs/{lab.slug}" in cookie and "HttpOnly" in cookie
    assert "Max-Age=" in cookie and "SameSite=lax" in cookie
    # The next visit to this lab, day or week, opens on the lasers ...
    for url in (f"/labs/{lab.slug}/day", f"/labs/{lab.slug}/week"):
        again = await client.get(url)
        assert rows(again.text)[0] == "Laser 1", url
        assert current(nav(again.text, "grid-categories")) == ["Laser cutter (5)"]
        assert not remembered(again)  # nothing new to remember
    # ... but another lab's grid does not (the cookie's path is this lab's).
    client.cookies.clear()
    client.cookies.set("lang", "en")
    client.cookies.set("lab_grid_category", "laser_cutter", path=f"/labs/{lab.slug}")
    assert rows((await client.get(f"/labs/{other.slug}/day")).text)[0] == "Printer 01"
    # A category named in the address wins over the remembered one, and is remembered.
    cnc = await client.get(f"/labs/{lab.slug}/day?category=cnc")
    assert rows(cnc.text) == ["Mill 1", "Mill 2"]
    assert remembered(cnc).startswith("lab_grid_category=cnc;")
    # A remembered category the lab no longer has: its first category.
    client.cookies.clear()
    client.cookies.set("lang", "en")
    client.cookies.set("lab_grid_category", "biotech_instrument", path=f"/labs/{lab.slug}")
    assert rows((await client.get(f"/labs/{lab.slug}/day")).text)[0] == "Printer 01"


@pytest.mark.usefixtures("english")
async def test_bad_parameters_fall_back_and_never_fail(client):
    lab = await big_lab()
    day = local_day(2)
    base = f"/labs/{lab.slug}/day?date={day}"
    expected = {
        "&category=nonsense": ("Printer 01", "1"),  # unknown: the first category
        "&category=biotech_instrument": ("Printer 01", "1"),  # none of this lab's
        "&category=": ("Printer 01", "1"),
        "&page=abc": ("Printer 01", "1"),
        "&page=0": ("Printer 01", "1"),
        "&page=-2": ("Printer 01", "1"),
        "&page=1e3": ("Printer 01", "1"),
        "&page=%D9%A3": ("Printer 01", "1"),  # an Arabic-Indic three is not a page number
        "&page=99999999999999999999": ("Printer 81", "3"),  # huge: the last page
        "&page=" + "9" * 5000: ("Printer 81", "3"),
        "&page=999": ("Printer 81", "3"),  # past the last page: the last page
        "&category=laser_cutter&page=4": ("Laser 1", None),  # a one-page category
        "&category=" + "x" * 5000: ("Printer 01", "1"),
    }
    for query, (first_row, page_number) in expected.items():
        answer = await client.get(base + query)
        assert answer.status_code == 200, query
        assert rows(answer.text)[0] == first_row, query
        if page_number:
            assert current(nav(answer.text, "grid-pages grid-pages-top")) == [page_number], query
        # Only a real choice is remembered.
        assert bool(remembered(answer)) == ("laser_cutter" in query), query


@pytest.mark.usefixtures("english")
async def test_a_small_lab_stays_one_table_without_chooser_or_pages(client):
    lab = await make_lab(await make_host())
    for n in range(PAGE_SIZE - 1):  # with the laser, exactly a page: still one table
        await make_equipment(lab, f"Bench {n:02d}", EquipmentCategory.ELECTRONICS_BENCH)
    await make_equipment(lab, "Laser", EquipmentCategory.LASER_CUTTER)
    day = local_day(2)
    page = await client.get(f"/labs/{lab.slug}/day?date={day}&page=3")
    assert page.status_code == 200
    assert len(rows(page.text)) == PAGE_SIZE
    assert "grid-categories" not in page.text and "grid-pages" not in page.text
    assert 'id="grid-category"' in page.text and "All machines" in page.text
    assert not remembered(page)
    lasers = await client.get(f"/labs/{lab.slug}/day?date={day}&category=laser_cutter")
    assert rows(lasers.text) == ["Laser"]
    assert not remembered(lasers)
    # A second laser makes it 41: now a big lab, one category at a time.
    await make_equipment(lab, "Second laser", EquipmentCategory.LASER_CUTTER)
    page = await client.get(f"/labs/{lab.slug}/day?date={day}")
    assert rows(page.text) == [f"Bench {n:02d}" for n in range(PAGE_SIZE - 1)]
    assert current(nav(page.text, "grid-categories")) == ["Electronics bench (39)"]


@pytest.mark.usefixtures("english")
async def test_bookings_show_on_their_page_and_category(client):
    lab = await big_lab()
    someone = await person("someone@example.org")
    machines = {m.name: m for m in await Equipment.filter(lab_id=lab.id)}
    day = local_day(3)
    monday = day - timedelta(days=day.weekday())
    await book(machines["Printer 45"], someone, at(day, 9), at(day, 18))
    await book(machines["Laser 2"], someone, at(day, 8), at(day, 18))
    page = await client.get(f"/labs/{lab.slug}/day?date={day}&page=2")
    row = re.search(r"<tr>\s*<th[^>]*><a [^>]*>Printer 45</a>.*?</tr>", page.text, re.S).group(0)
    assert re.findall(r'<td class="(\w+)', row) == ["free"] + ["busy"] * 9
    week = await client.get(f"/labs/{lab.slug}/week?start={monday}&category=laser_cutter")
    row = re.search(r"<tr>\s*<th[^>]*><a [^>]*>Laser 2</a>.*?</tr>", week.text, re.S).group(0)
    assert re.findall(r'<td class="(\w+)', row)[day.weekday()] == "busy"


async def test_the_number_of_statements_is_the_same_for_a_small_and_a_big_lab(
    browser, count_queries
):
    """Any size, any page, any category, day or week: the same statements (the grid reads
    the lab, the staff check, the machines, the certifications, the bookings, the blackouts
    and the lab's calendar, once each)."""
    small = await make_lab(await make_host("Small host"), "Small Lab")
    for name in ("Prusa", "Bambu", "Trotec"):
        await make_equipment(small, name)
    big = await big_lab()
    me = await person("counter@example.org")
    others = [await person(f"other{n}@example.org") for n in range(3)]
    await certify(me, EquipmentCategory.LASER_CUTTER)
    day = local_day(3)
    monday = day - timedelta(days=day.weekday())
    machines = await Equipment.filter(lab_id=big.id).order_by("id")
    for n, machine in enumerate(machines):  # bookings on every page of every category
        for offset in range(0, 7, 2):
            when = monday + timedelta(days=offset)
            await book(machine, me if n % 7 == 0 else others[n % 3], at(when, 9), at(when, 11))
    await browser.login("counter@example.org")

    def urls(lab) -> list[str]:
        return [
            f"/labs/{lab.slug}/day?date={day}",
            f"/labs/{lab.slug}/week?start={monday}",
            f"/labs/{lab.slug}/day?date={day}&category=3d_printer&page=3",
            f"/labs/{lab.slug}/week?start={monday}&category=laser_cutter&certified=1",
            f"/labs/{lab.slug}/day?date={day}&page=nonsense",
        ]

    counts: dict[str, list[int]] = {}
    for lab in (small, big):
        counts[lab.slug] = []
        for url in urls(lab):
            await browser.get(url)  # the lab's calendar is cached after the first request
            with count_queries() as counted:
                answer = await browser.get(url)
            assert answer.status_code == 200, url
            counts[lab.slug].append(len(counted.statements))
    assert counts[big.slug] == counts[small.slug], counts
    assert len(set(counts[big.slug])) == 1, counts
    print("statements per grid request (small lab, big lab):", counts)


def test_the_page_numbers_offered_leave_gaps_in_long_categories():
    def numbers(page: int, pages: int) -> list[int | None]:
        return Paging(True, (), page, pages).numbers

    assert numbers(1, 1) == [1]
    assert numbers(2, 3) == [1, 2, 3]
    assert numbers(1, 9) == [1, 2, 3, None, 9]  # 332 machines of one kind: nine pages
    assert numbers(6, 12) == [1, None, 4, 5, 6, 7, 8, None, 12]
    assert numbers(12, 12) == [1, None, 10, 11, 12]
    assert numbers(4, 9) == [1, 2, 3, 4, 5, 6, None, 9]


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("vi", ("Các trang máy", "Máy 41–80 trên 90", "Các máy tiếp theo", "Trang 3/3")),
        ("ko", ("장비 목록 페이지", "장비 90대 중 41–80", "다음 장비", "3쪽 중 3쪽")),
    ],
)
async def test_the_pages_speak_vietnamese_and_korean(client, lang, words):
    lab = await big_lab()
    client.cookies.set("lang", lang)
    page = await client.get(f"/labs/{lab.slug}/week?category=3d_printer&page=2")
    text = unescape(page.text)
    for word in words:
        assert word in text, (lang, word)
    assert "Machines 41" not in text and "Next machines" not in text


async def test_ticks_of_every_page_of_the_day_go_into_one_basket(browser):
    """Ticks go along to another page or category of the day (htmx sends them with the
    link); the page shows its own as ticked boxes and keeps the others in the basket form,
    so the basket books slots of several pages at once."""
    lab = await big_lab()
    await person("ticker@example.org")
    await browser.login("ticker@example.org")
    day = local_day(2)
    first = await browser.get(f"/labs/{lab.slug}/day?date={day}&category=3d_printer")
    picks = re.findall(r'name="slot" value="([^"]+)"', first.text)
    mine = unescape(picks[0])  # Printer 01's first free slot
    pages = nav(first.text, "grid-pages grid-pages-top")
    carried = ".pick:checked, #basket-form .carried-slot, #basket-purpose[data-filled]"
    assert f'hx-include="{carried}"' in pages
    # Page 2 asked with the tick and the purpose, as htmx sends them.
    query = urlencode(
        {"date": day, "category": "3d_printer", "page": 2, "slot": mine, "purpose": "Đồ án"}
    )
    second = await browser.get(f"/labs/{lab.slug}/day?{query}")
    assert rows(second.text)[0] == "Printer 41"
    basket = re.search(r'<form id="basket-form".*?</form>', second.text, re.S).group(0)
    assert f'<input class="carried-slot" type="hidden" name="slot" value="{mine}">' in unescape(
        basket
    )
    assert "1 more slot ticked on other pages of this day" in second.text
    assert 'value="Đồ án" form="basket-form" data-filled>' in second.text
    # Back on page 1 the tick is a ticked box again, not a hidden one.
    query = urlencode({"date": day, "category": "3d_printer", "slot": mine})
    again = await browser.get(f"/labs/{lab.slug}/day?{query}")
    assert 'class="carried-slot"' not in again.text
    assert re.search(rf'value="{re.escape(picks[0])}" form="basket-form" checked', again.text)
    # One basket: the carried tick and one of page 2.
    theirs = unescape(re.findall(r'name="slot" value="([^"]+)" form', second.text)[0])
    booked = await browser.post(
        f"/labs/{lab.slug}/basket",
        {"date": day.isoformat(), "slot": [mine, theirs], "purpose": "Đồ án"},
    )
    assert booked.status_code == 303, booked.text[:300]
    made = await Booking.filter(user__email="ticker@example.org").order_by("id")
    assert len(made) == 2 and {b.equipment_id for b in made} == {
        int(mine.split("|")[0]),
        int(theirs.split("|")[0]),
    }


async def test_ticks_in_the_address_are_bounded_and_ignored_for_visitors(client, browser):
    lab = await big_lab()
    day = local_day(2)
    many = "&".join(f"slot={n}|x|y" for n in range(500))
    anonymous = await client.get(f"/labs/{lab.slug}/day?date={day}&{many}")
    assert anonymous.status_code == 200 and 'class="carried-slot"' not in anonymous.text
    await person("bounded@example.org")
    await browser.login("bounded@example.org")
    page = await browser.get(f"/labs/{lab.slug}/day?date={day}&{many}&slot=" + "9" * 5000)
    assert page.status_code == 200
    assert len(re.findall(r'class="carried-slot"', page.text)) <= 21
