"""The yardstick for bench/app_vs_bare.py: a bare Starlette app rendering comparable pages.

"Comparable" means: the same HTML structure as the real app's `/` and `/organisations` pages (the
same base layout — header, menu, language form, footer — and, for the directory, a count
and 24 organisation rows with their sphere tags, name link, city and country), rendered by
Jinja2 with autoescaping and template inheritance, and served by the same uvicorn
configuration (one worker, default access log). What it leaves out is exactly what the
benchmark prices: no middleware (session cookie, CSRF token, locale, security headers),
no database (the rows come from an in-memory list of 1,000 organisations), no
translations, no signed-in user or organisation switcher.

Run alone: ``python bench/bare_app.py --port 8001`` (loopback only).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import string
from pathlib import Path

from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

PAGE_SIZE = 24
SPHERES = (
    "government",
    "enterprise",
    "university",
    "research_institute",
    "startup",
    "investor",
    "association",
    "international_partner",
)
CITIES = ("Thủ Dầu Một", "Dĩ An", "Thuận An", "Bến Cát", "Tân Uyên", "Eindhoven", "Daejeon")

BASE = """<!doctype html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="htmx-config" content='{"includeIndicatorStyles": false, "allowEval": false}'>
  <title>{% block title %}Innovation Region{% endblock %} · Bình Dương</title>
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/vendor/htmx-2.0.11.min.js" defer></script>
  <script src="/static/app.js" defer></script>
</head>
<body hx-headers='{"X-CSRF-Token": "{{ csrf_token }}"}'>
<a class="skip" href="#main">Skip to content</a>
<header class="topbar">
  <div class="topbar-inner">
    <a class="brand" href="/"><span class="brand-mark" aria-hidden="true">◆</span> Innovation Region</a>
    <details class="menu">
      <summary aria-label="Menu">☰ <span class="menu-label">Menu</span></summary>
      <nav class="menu-body" aria-label="Main">
        {% for label, url in nav_links %}<a href="{{ url }}">{{ label }}</a>{% endfor %}
        <a href="/login">Sign in</a>
        <a class="button small" href="/register">Register</a>
      </nav>
    </details>
    <form method="post" action="/language" class="language" data-autosubmit>
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <input type="hidden" name="next" value="{{ request.url.path }}{% if request.url.query %}?{{ request.url.query }}{% endif %}">
      <label class="visually-hidden" for="language-select">Language</label>
      <select id="language-select" name="locale">
        {% for code, name in locales %}<option value="{{ code }}"{% if code == "vi" %} selected{% endif %}>{{ name }}</option>{% endfor %}
      </select>
      <button type="submit" class="small js-hidden">Change</button>
    </form>
  </div>
</header>
<main id="main" class="container">
  {% block content %}{% endblock %}
</main>
<footer class="footer container">
  <p>Binh Duong Innovation Region – government, enterprises, universities and research institutes working together.</p>
  <p class="muted small">Times shown in Asia/Ho_Chi_Minh (UTC+7). · <a href="/api/openapi.json">API</a></p>
</footer>
</body>
</html>
"""  # noqa: E501

HOME = """{% extends "base.html" %}
{% block content %}
<section class="hero">
  <h1>One platform for the Binh Duong innovation region</h1>
  <p class="lead">Book machines in FabLabs, TechLabs and Living Labs, report your startup's progress to its incubator, and take part in hackathons and idea contests – with one account, on behalf of the organisations you belong to.</p>
  <p class="actions">
    <a class="button" href="/register">Create an account</a> <a class="button secondary" href="/login">Sign in</a>
    <a class="button secondary" href="/organisations">Partner directory</a>
  </p>
</section>
<section class="grid three">
  <article class="card"><h2>Labs</h2><p>Students, residents and companies learn, try technologies and build products in open labs across the province.</p></article>
  <article class="card"><h2>Incubator</h2><p>Startups report milestones and indicators to their managers, mentors and funders, and share only what they choose.</p></article>
  <article class="card"><h2>Contests</h2><p>Hackathons and Smart City idea contests across sites in two countries, judged fairly.</p></article>
</section>
<section class="stats">
  <p><strong>{{ "{:,}".format(organisation_count) }}</strong> verified partner organisations · <strong>{{ "{:,}".format(user_count) }}</strong> members</p>
  <p class="muted">Government, enterprises, universities and research institutes – the three houses – with startups, investors and international partners.</p>
</section>
{% endblock %}
"""  # noqa: E501

DIRECTORY = """{% extends "base.html" %}
{% block title %}Partner directory{% endblock %}
{% block content %}
<h1>Partner directory</h1>
<p class="muted">Verified organisations of the innovation region.</p>
<form method="get" action="/organisations" class="filters" role="search"
      hx-get="/organisations" hx-target="#directory-results" hx-trigger="input changed delay:300ms from:#f-q, change from:#f-sphere" hx-push-url="true">
  <div class="field">
    <label for="f-q">Search by name</label>
    <input id="f-q" type="search" name="q" value="{{ q }}" maxlength="100" placeholder="e.g. Thu Dau Mot">
  </div>
  <div class="field">
    <label for="f-sphere">Sphere</label>
    <select id="f-sphere" name="sphere">
      <option value="">All spheres</option>
      {% for s in spheres %}<option value="{{ s }}"{% if s == sphere %} selected{% endif %}>{{ s }}</option>{% endfor %}
    </select>
  </div>
  <button type="submit" class="js-hidden">Filter</button>
</form>
<div id="directory-results">
<p class="muted small" role="status">{{ total }} organisations</p>
<ul class="cards">
{% for o in organisations %}
  <li class="card org">
    <span class="logo placeholder" aria-hidden="true">{{ o.name[:1] }}</span>
    <div>
      <h2 class="h3"><a href="/organisations/{{ o.slug }}">{{ o.name }}</a></h2>
      <p class="tags">{% for s in o.spheres %}<span class="tag">{{ s|replace("_", " ")|capitalize }}</span>{% endfor %}</p>
      <p class="muted small">{{ o.city }}{% if o.city %}, {% endif %}{{ o.country }}</p>
    </div>
  </li>
{% endfor %}
</ul>
{% if total > page * page_size or page > 1 %}
<nav class="pager" aria-label="Pages">
  {% if page > 1 %}<a href="?q={{ q|urlencode }}&sphere={{ sphere }}&page={{ page - 1 }}">← Previous</a>{% endif %}
  {% if total > page * page_size %}<a href="?q={{ q|urlencode }}&sphere={{ sphere }}&page={{ page + 1 }}">Next →</a>{% endif %}
</nav>
{% endif %}
</div>
{% endblock %}
"""  # noqa: E501


WEEK = """{% extends "base.html" %}
{% block title %}{{ machine.name }}{% endblock %}
{% block content %}
<p class="small"><a href="/labs/{{ machine.lab_slug }}">← {{ machine.lab_name }}</a></p>
<h1>{{ machine.name }}</h1>
<p><span class="badge">{{ machine.category }}</span> <span class="badge">{{ machine.status }}</span></p>
{% for photo in photos %}<img src="/media/{{ photo.media_id }}/thumb.webp" alt="{{ photo.caption or machine.name }}" loading="lazy" width="256" height="192">{% endfor %}
<section class="card"><h2 class="h3">Price</h2>
{% if rates %}{% for category, amount, currency in rates %}<p>{{ category }}: {{ "{:,}".format(amount) }} {{ currency }} per hour</p>{% endfor %}{% else %}<p>Free of charge.</p>{% endif %}
</section>
<section class="card"><h2 class="h3">Booking rules</h2><ul class="list">
<li>Bookings from {{ machine.min_minutes }} to {{ machine.max_minutes }} minutes, on a {{ machine.step }}-minute grid.</li>
<li>Book at least {{ machine.notice_minutes }} minutes ahead and at most {{ machine.horizon_days }} days ahead.</li>
</ul></section>
<h2>Availability</h2>
{{ grid_html }}
<div id="booking-form" aria-live="polite"></div>
{% endblock %}
"""  # noqa: E501


WEEK_GRID = """<div id="week" class="week">
<nav class="week-nav" aria-label="Weeks"><a href="?start={{ previous }}">← Previous week</a> <strong>{{ days[0].label }} – {{ days[-1].label }}</strong> <a href="?start={{ next }}">Next week →</a></nav>
<table class="week">
  <thead><tr><th></th>{% for day in days %}<th scope="col">{{ day.label }}</th>{% endfor %}</tr></thead>
  <tbody>
  {% for row in rows %}
    <tr><th scope="row">{{ row.time }}</th>
    {% for cell in row.cells %}
      <td>{% if cell.state == "free" %}<a class="cell free" href="/equipment/{{ machine.id }}/book?start={{ cell.start|urlencode }}&end={{ cell.end|urlencode }}"><span class="cell-time">{{ row.time }}</span> Free</a>{% elif cell.state == "mine" %}<a class="cell busy mine" href="/bookings"><span class="cell-time">{{ row.time }}</span> ★ Yours</a>{% elif cell.state == "busy" %}<a class="cell busy" href="/equipment/{{ machine.id }}/waitlist?start={{ cell.start|urlencode }}&end={{ cell.end|urlencode }}"><span class="cell-time">{{ row.time }}</span> Booked</a>{% else %}<span class="cell closed"><span class="cell-time">{{ row.time }}</span> Closed</span>{% endif %}</td>
    {% endfor %}</tr>
  {% endfor %}
  </tbody>
</table>
<p class="muted small">Times in {{ machine.timezone }}. Pick a free slot to book it.</p>
</div>
"""  # noqa: E501


LAB_GRID = """{% extends "base.html" %}
{% block title %}{{ lab }}{% endblock %}
{% block content %}
<h1>{{ lab }}</h1>
<nav class="grid-nav" aria-label="Grid views"><a href="?mode=day&date={{ day }}">Day</a> <a href="?mode=week&date={{ day }}">Week</a>
<a href="?mode={{ mode }}&date={{ previous }}">← Previous</a> <strong>{{ day }}</strong> <a href="?mode={{ mode }}&date={{ next }}">Next →</a></nav>
<div class="grid-scroll"><table class="lab-grid">
  <thead><tr><th scope="col">Machine</th>{% for column in columns %}<th scope="col">{{ column.label }}</th>{% endfor %}</tr></thead>
  <tbody>
  {% for row in rows %}
    <tr><th scope="row"><a href="/equipment/{{ row.id }}">{{ row.name }}</a> <span>{{ row.category }}</span></th>
    {% for cell in row.cells %}
      <td class="{{ cell.state }}">{% if cell.state == "free" %}<a class="slot free" href="/equipment/{{ row.id }}/book?start={{ cell.start }}" aria-label="{{ row.name }}, {{ cell.label }}: Free – book">+</a>{% else %}<span class="slot {{ cell.state }}" role="img" aria-label="{{ row.name }}, {{ cell.label }}: {{ cell.state }}">·</span>{% endif %}</td>
    {% endfor %}</tr>
  {% endfor %}
  </tbody>
</table></div>
{% endblock %}
"""  # noqa: E501


def week_bookings(day0: int = 0) -> list[tuple[int, int, int]]:
    """(day, start hour, end hour) of a week's bookings of one machine, ~2 a day."""
    return [(day, hour, hour + 2) for day in range(7) for hour in (9, 14) if (day + hour) % 3]


def organisation_names(count: int, seed: int = 7) -> list[str]:
    """The names bench/app_vs_bare.py inserts into the real app's database, in order."""
    rng = random.Random(seed)
    kinds = ("University", "Company", "Institute", "FabLab", "Startup", "Association", "Fund")
    return [
        f"{rng.choice(kinds)} {''.join(rng.choices(string.ascii_uppercase, k=3))} {n:04d}"
        for n in range(count)
    ]


def organisation_rows(count: int, seed: int = 7) -> list[dict]:
    """1,000 organisations with one to three spheres each (the same shape as the app's)."""
    rng = random.Random(seed + 1)
    rows = []
    for n, name in enumerate(organisation_names(count, seed)):
        rows.append(
            {
                "name": name,
                "slug": name.lower().replace(" ", "-"),
                "spheres": sorted(rng.sample(SPHERES, rng.randint(1, 3)), key=SPHERES.index),
                "city": CITIES[n % len(CITIES)],
                "country": "VN" if n % 7 < 5 else "NL",
            }
        )
    return rows


def create_app(organisation_count: int = 1000, database: str = "") -> Starlette:
    environment = Environment(
        loader=DictLoader(
            {
                "base.html": BASE,
                "home.html": HOME,
                "directory.html": DIRECTORY,
                "week.html": WEEK,
                "week_grid.html": WEEK_GRID,
                "lab_grid.html": LAB_GRID,
            }
        ),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates = Jinja2Templates(env=environment)
    grid_template = environment.get_template("week_grid.html")
    grid_cache: dict[str, Markup] = {}
    # In the app's order: accent-free and case-insensitive, by name.
    rows = sorted(
        organisation_rows(organisation_count), key=lambda o: (o["name"].lower(), o["name"])
    )
    common = {
        "csrf_token": "x" * 43,  # the length of the app's per-session token
        "nav_links": [("Partners", "/organisations")],
        "locales": [("vi", "Tiếng Việt"), ("en", "English")],
    }

    async def home(request: Request) -> Response:
        context = {**common, "organisation_count": len(rows), "user_count": 0}
        return templates.TemplateResponse(request, "home.html", context)

    async def directory(request: Request) -> Response:
        page = 1
        context = {
            **common,
            "organisations": rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            "total": len(rows),
            "q": "",
            "sphere": "",
            "page": page,
            "page_size": PAGE_SIZE,
            "spheres": SPHERES,
        }
        return templates.TemplateResponse(request, "directory.html", context)

    async def week(request: Request) -> Response:
        """A machine's page with its week grid, the reads of the app's page in raw SQL.

        `/week?machine=<id>&start=<monday>` reads from the same SQLite file what the app's
        `/equipment/{id}/week` reads: the machine with its lab if the host organisation is
        verified (one statement, as the app), the machine's rates, the lab's opening hours
        (the app keeps them in its cache), the machine's blackouts and active bookings of the
        week, its photos; with a
        session cookie also the session with its user and the user's memberships (the app's
        organisation switcher), and which busy cells are the user's own. Cells of the
        machine's slot step are classified closed/busy/free in plain Python and rendered in
        one table in the base layout; like the app, the rendered grid is kept per process under
        what it is computed from. No ORM, middleware, signature check or translations.
        """
        import base64
        import hashlib
        import json
        from datetime import UTC, date, datetime, timedelta
        from zoneinfo import ZoneInfo

        db = request.app.state.db
        machine_id = int(request.query_params.get("machine") or 1)
        user_id = None
        cookie = request.cookies.get("eco_session", "")
        if cookie:  # the payload of Starlette's signed cookie, signature not checked
            payload = cookie.split(".", 1)[0]
            data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
            if isinstance(key := data.get("sid"), str):
                async with db.execute(
                    "SELECT s.id, s.last_seen_at, u.id, u.email, u.full_name, u.locale, "
                    "u.timezone FROM user_session s JOIN user_account u ON u.id = s.user_id "
                    "WHERE s.key_hash = ? AND s.revoked_at IS NULL AND u.is_active",
                    (hashlib.sha256(key.encode()).hexdigest(),),
                ) as cursor:
                    found = await cursor.fetchone()
                user_id = found[2] if found else None
        async with db.execute(
            "SELECT e.id, e.name, e.category, e.status, e.slot_step_minutes, e.min_minutes, "
            "e.max_minutes, e.notice_minutes, e.horizon_days, l.id, l.slug, l.name, "
            "l.timezone, l.organisation_id, l.is_published FROM labs_equipment e "
            "JOIN labs_lab l ON l.id = e.lab_id WHERE e.id = ? AND EXISTS (SELECT 1 FROM "
            "organisation o WHERE o.id = l.organisation_id AND o.verification = 'verified')",
            (machine_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or not row[14]:  # unknown, or its lab not public
            return Response("not found", status_code=404)
        keys = "id name category status step min_minutes max_minutes notice_minutes"
        machine = dict(zip((*keys.split(), "horizon_days"), row[:9], strict=True))
        lab_id, machine["lab_slug"], machine["lab_name"], tz_name = row[9:13]
        machine["timezone"] = tz_name
        async with db.execute(
            "SELECT category, rate_per_hour, currency FROM labs_equipment_rate "
            "WHERE equipment_id = ? ORDER BY rate_per_hour, id",
            (machine_id,),
        ) as cursor:
            rates = await cursor.fetchall()
        tz = ZoneInfo(tz_name)
        now = datetime.now(UTC)
        monday = date.fromisoformat(
            request.query_params.get("start") or now.astimezone(tz).date().isoformat()
        )
        monday -= timedelta(days=monday.weekday())
        start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
        end = start + timedelta(days=7)
        fmt = "%Y-%m-%d %H:%M:%S+00:00"
        lo, hi = start.astimezone(UTC).strftime(fmt), end.astimezone(UTC).strftime(fmt)
        async with db.execute(
            "SELECT weekday, opens_minute, closes_minute FROM labs_opening_hours WHERE lab_id = ?",
            (lab_id,),
        ) as cursor:
            hours = await cursor.fetchall()
        async with db.execute(
            "SELECT starts_at, ends_at FROM labs_blackout "
            "WHERE equipment_id = ? AND starts_at < ? AND ends_at > ?",
            (machine_id, hi, lo),
        ) as cursor:
            blocked = [
                (datetime.fromisoformat(a), datetime.fromisoformat(b))
                for a, b in await cursor.fetchall()
            ]
        async with db.execute(
            "SELECT starts_at, ends_at, user_id FROM labs_booking WHERE equipment_id = ? "
            "AND status IN ('pending', 'confirmed', 'pending_payment') AND starts_at < ? "
            "AND starts_at > ? AND ends_at > ?",
            (machine_id, hi, (start - timedelta(days=8)).astimezone(UTC).strftime(fmt), lo),
        ) as cursor:
            booked = [
                (datetime.fromisoformat(a), datetime.fromisoformat(b), owner)
                for a, b, owner in await cursor.fetchall()
            ]
        async with db.execute(
            "SELECT media_id, caption FROM labs_photo WHERE lab_id = ? AND equipment_id = ? "
            "ORDER BY position, id",
            (lab_id, machine_id),
        ) as cursor:
            photos = [{"media_id": m, "caption": c} for m, c in await cursor.fetchall()]
        if user_id is not None:
            async with db.execute(
                "SELECT m.id, m.role, o.id, o.name, o.slug FROM membership m "
                "JOIN organisation o ON o.id = m.organisation_id "
                "WHERE m.user_id = ? AND m.status = 'active' ORDER BY o.name, m.id",
                (user_id,),
            ) as cursor:
                await cursor.fetchall()
        earliest = (now + timedelta(minutes=machine["notice_minutes"])).replace(
            second=0, microsecond=0
        ) + timedelta(minutes=1)
        # As the app: the rendered grid is kept per process under what it is computed from.
        mine = [(a, b) for a, b, owner in booked if owner == user_id]
        spans = [(a, b) for a, b, _owner in booked]
        key = repr((machine, monday, earliest, hours, blocked, spans, mine))
        grid_html = grid_cache.get(key)
        if grid_html is None:
            grid_html = Markup(
                grid_template.render(
                    week_grid(machine, tz, monday, earliest, hours, blocked, booked, user_id)
                )
            )
            if len(grid_cache) >= 512:
                grid_cache.clear()
            grid_cache[key] = grid_html
        context = {
            **common,
            "machine": machine,
            "rates": rates,
            "photos": photos,
            "grid_html": grid_html,
        }
        return templates.TemplateResponse(request, "week.html", context)

    def week_grid(machine, tz, monday, earliest, hours, blocked, booked, user_id) -> dict:
        """The week's cells of the machine's slot step, closed/busy/mine/free."""
        from datetime import datetime, timedelta

        step = timedelta(minutes=machine["step"])
        days = [
            {"date": monday + timedelta(n), "label": (monday + timedelta(n)).strftime("%a %d/%m")}
            for n in range(7)
        ]
        opens = min((o for _w, o, _c in hours), default=0)
        closes = max((c for _w, _o, c in hours), default=0)
        rows = []
        for minute in range(0, 24 * 60, machine["step"]):
            cells = []
            for day in days:
                local = day["date"]
                a = datetime(local.year, local.month, local.day, tzinfo=tz) + timedelta(
                    minutes=minute
                )
                b = a + step
                is_open = machine["status"] == "available" and any(
                    w == local.weekday() and o <= minute and minute + machine["step"] <= c
                    for w, o, c in hours
                )
                owners = [owner for x, y, owner in booked if x < b and a < y]
                if owners:
                    state = "mine" if user_id in owners else "busy"
                elif not is_open or a < earliest or any(x < b and a < y for x, y in blocked):
                    state = "closed"
                else:
                    state = "free"
                cells.append({"state": state, "start": a.isoformat(), "end": b.isoformat()})
            row = {"time": f"{minute // 60:02d}:{minute % 60:02d}", "cells": cells}
            rows.append((opens <= minute < closes, row))
        # As the app: the rows from the first to the last that is open or holds a booking.
        kept = [
            n
            for n, (is_open, row) in enumerate(rows)
            if is_open or any(cell["state"] != "closed" for cell in row["cells"])
        ]
        rows = [row for _open, row in rows[kept[0] : kept[-1] + 1]] if kept else []
        return {
            "machine": machine,
            "days": days,
            "rows": rows,
            "previous": (monday - timedelta(7)).isoformat(),
            "next": (monday + timedelta(7)).isoformat(),
        }

    async def availability(request: Request) -> Response:
        """JSON free/busy intervals of one machine over a week, like the app's API."""
        from datetime import datetime, timedelta

        start = datetime.fromisoformat(request.query_params.get("from") or "2026-03-02T00:00+07:00")
        busy = [
            {
                "start": (start + timedelta(days=d, hours=a)).isoformat(),
                "end": (start + timedelta(days=d, hours=b)).isoformat(),
            }
            for d, a, b in week_bookings()
        ]
        free, cursor = [], start
        for interval in busy:
            free.append({"start": cursor.isoformat(), "end": interval["start"]})
            cursor = datetime.fromisoformat(interval["end"])
        free.append({"start": cursor.isoformat(), "end": (start + timedelta(7)).isoformat()})
        end = (start + timedelta(7)).isoformat()
        payload = {
            "equipment_id": 1,
            "timezone": "Asia/Ho_Chi_Minh",
            "start": start.isoformat(),
            "end": end,
            "free": free,
            "busy": busy,
        }
        return JSONResponse(payload)

    async def availability_db(request: Request) -> Response:
        """The same job as the app's availability API, with raw SQL and no framework.

        Reads what the app reads from the same SQLite file: the bearer token's user, the
        machine and its lab, the lab's opening hours, the machine's blackouts and active
        bookings in the week; answers the same JSON shape. No ORM, no middleware, no
        validation models, no translations.
        """
        import hashlib
        from datetime import UTC, datetime, timedelta
        from zoneinfo import ZoneInfo

        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        start = datetime.fromisoformat(request.query_params["from"])
        end = start + timedelta(days=7)
        machine = int(request.path_params["equipment_id"])
        db = request.app.state.db
        fmt = "%Y-%m-%d %H:%M:%S+00:00"
        lo, hi = start.astimezone(UTC).strftime(fmt), end.astimezone(UTC).strftime(fmt)
        async with db.execute(
            "SELECT u.id FROM api_token t JOIN user_account u ON u.id = t.user_id "
            "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.is_active",
            (hashlib.sha256(token.encode()).hexdigest(),),
        ) as cursor:
            if await cursor.fetchone() is None:
                return JSONResponse({"error": "unauthenticated"}, status_code=401)
        async with db.execute(
            "SELECT e.id, l.id, l.timezone FROM labs_equipment e "
            "JOIN labs_lab l ON l.id = e.lab_id WHERE e.id = ?",
            (machine,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        _, lab_id, tz_name = row
        tz = ZoneInfo(tz_name)
        async with db.execute(
            "SELECT weekday, opens_minute, closes_minute FROM labs_opening_hours WHERE lab_id = ?",
            (lab_id,),
        ) as cursor:
            hours = await cursor.fetchall()
        async with db.execute(
            "SELECT starts_at, ends_at FROM labs_blackout "
            "WHERE equipment_id = ? AND starts_at < ? AND ends_at > ?",
            (machine, hi, lo),
        ) as cursor:
            blocked = list(await cursor.fetchall())
        async with db.execute(
            "SELECT starts_at, ends_at FROM labs_booking WHERE equipment_id = ? "
            "AND status IN ('pending', 'confirmed') AND starts_at < ? AND starts_at > ? "
            "AND ends_at > ? ORDER BY starts_at",
            (machine, hi, (start - timedelta(days=8)).astimezone(UTC).strftime(fmt), lo),
        ) as cursor:
            booked = list(await cursor.fetchall())
        local = start.astimezone(tz)
        opened = []
        for offset in range(7):
            day = (local + timedelta(days=offset)).date()
            for weekday, opens, closes in hours:
                if weekday == day.weekday():
                    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
                    opened.append(
                        (midnight + timedelta(minutes=opens), midnight + timedelta(minutes=closes))
                    )
        taken = sorted(
            (datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in blocked + booked
        )
        free = []
        for a, b in sorted(opened):
            cursor_at = a
            for x, y in taken:
                if y <= cursor_at or x >= b:
                    continue
                if x > cursor_at:
                    free.append((cursor_at, x))
                cursor_at = max(cursor_at, y)
            if cursor_at < b:
                free.append((cursor_at, b))
        payload = {
            "equipment_id": machine,
            "timezone": tz_name,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "free": [
                {"start": a.astimezone(tz).isoformat(), "end": b.astimezone(tz).isoformat()}
                for a, b in free
            ],
            "busy": [
                {
                    "start": datetime.fromisoformat(a).astimezone(tz).isoformat(),
                    "end": datetime.fromisoformat(b).astimezone(tz).isoformat(),
                }
                for a, b in booked
            ],
        }
        return JSONResponse(payload)

    async def lab_grid(request: Request) -> Response:
        """A lab's machines × slots (`mode=day`: hours) or × days (`mode=week`), raw SQL.

        The yardstick of `labs.routes.grid`: the same reads from the same SQLite file (lab,
        machines, opening hours, the window's active bookings and blackouts of the lab's
        machines), each cell classified free/busy/blackout/closed/past in plain Python, one
        table in the base layout. No ORM, middleware, session, translations or filters. A lab
        of more than 40 machines shows its first category's first 40, as the app's first page
        (the bookings are still read for the whole lab: a little more work than the app's).
        """
        from datetime import UTC, date, datetime, timedelta
        from zoneinfo import ZoneInfo

        db = request.app.state.db
        mode = request.query_params.get("mode", "week")
        async with db.execute(
            "SELECT id, name, timezone FROM labs_lab WHERE slug = ?", (request.path_params["slug"],)
        ) as cursor:
            found = await cursor.fetchone()
        if found is None:
            return Response("not found", status_code=404)
        lab_id, lab_name, tz_name = found
        tz = ZoneInfo(tz_name)
        now = datetime.now(UTC)
        day = date.fromisoformat(
            request.query_params.get("date") or now.astimezone(tz).date().isoformat()
        )
        if mode == "week":
            day -= timedelta(days=day.weekday())
        days = 7 if mode == "week" else 1
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        end = start + timedelta(days=days)
        fmt = "%Y-%m-%d %H:%M:%S+00:00"
        lo, hi = start.astimezone(UTC).strftime(fmt), end.astimezone(UTC).strftime(fmt)
        async with db.execute(
            "SELECT id, name, category, status FROM labs_equipment WHERE lab_id = ? "
            "AND status != 'retired' ORDER BY category, name, id",
            (lab_id,),
        ) as cursor:
            machines = await cursor.fetchall()
        if len(machines) > 40:  # a big lab: one category, 40 machines a page, as the app
            machines = [m for m in machines if m[2] == machines[0][2]][:40]
        async with db.execute(
            "SELECT weekday, opens_minute, closes_minute FROM labs_opening_hours WHERE lab_id = ?",
            (lab_id,),
        ) as cursor:
            hours = await cursor.fetchall()
        async with db.execute(
            "SELECT b.equipment_id, b.starts_at, b.ends_at FROM labs_booking b "
            "JOIN labs_equipment e ON e.id = b.equipment_id WHERE e.lab_id = ? "
            "AND b.status IN ('pending', 'confirmed', 'pending_payment') AND b.starts_at < ? "
            "AND b.starts_at > ? AND b.ends_at > ?",
            (lab_id, hi, (start - timedelta(days=8)).astimezone(UTC).strftime(fmt), lo),
        ) as cursor:
            booked = await cursor.fetchall()
        async with db.execute(
            "SELECT k.equipment_id, k.starts_at, k.ends_at FROM labs_blackout k "
            "JOIN labs_equipment e ON e.id = k.equipment_id WHERE e.lab_id = ? "
            "AND k.starts_at < ? AND k.ends_at > ?",
            (lab_id, hi, lo),
        ) as cursor:
            blocked = await cursor.fetchall()
        busy: dict[int, list] = {}
        for machine, a, b in booked:
            busy.setdefault(machine, []).append(
                (datetime.fromisoformat(a), datetime.fromisoformat(b))
            )
        held: dict[int, list] = {}
        for machine, a, b in blocked:
            held.setdefault(machine, []).append(
                (datetime.fromisoformat(a), datetime.fromisoformat(b))
            )
        opened = []
        for offset in range(days):
            local = day + timedelta(days=offset)
            midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
            for weekday, opens, closes in hours:
                if weekday == local.weekday():
                    opened.append(
                        (midnight + timedelta(minutes=opens), midnight + timedelta(minutes=closes))
                    )
        if mode == "week":
            columns = [
                {
                    "start": start + timedelta(days=n),
                    "end": start + timedelta(days=n + 1),
                    "label": (day + timedelta(days=n)).strftime("%a %d/%m"),
                }
                for n in range(7)
            ]
        else:
            first = min((a for a, _b in opened), default=start)
            last = max((b for _a, b in opened), default=start)
            columns = []
            while first < last:
                columns.append(
                    {
                        "start": first,
                        "end": first + timedelta(hours=1),
                        "label": first.strftime("%H:%M"),
                    }
                )
                first += timedelta(hours=1)

        def overlaps(spans, a, b):
            return any(x < b and a < y for x, y in spans)

        rows = []
        for machine, name, category, status in machines:
            cells = []
            for column in columns:
                a, b = column["start"], column["end"]
                if status != "available" or not overlaps(opened, a, b):
                    state = "closed"
                elif overlaps(busy.get(machine, ()), a, b):
                    state = "busy"
                elif overlaps(held.get(machine, ()), a, b):
                    state = "blackout"
                elif b <= now:
                    state = "past"
                else:
                    state = "free"
                cells.append({"state": state, "start": a.isoformat(), "label": column["label"]})
            rows.append({"id": machine, "name": name, "category": category, "cells": cells})
        context = {
            **common,
            "lab": lab_name,
            "mode": mode,
            "day": day.isoformat(),
            "previous": (day - timedelta(days=days)).isoformat(),
            "next": (day + timedelta(days=days)).isoformat(),
            "columns": columns,
            "rows": rows,
        }
        return templates.TemplateResponse(request, "lab_grid.html", context)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.db = None
        if database:
            import aiosqlite

            app.state.db = await aiosqlite.connect(database)
        yield
        if app.state.db is not None:
            await app.state.db.close()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", home),
            Route("/equipment/{equipment_id:int}/availability", availability_db),
            Route("/organisations", directory),
            Route("/week", week),
            Route("/labs/{slug}/grid", lab_grid),
            Route("/availability", availability),
        ],
    )


BOOKING_COLUMNS = (
    "equipment_id, user_id, starts_at, ends_at, status, check_in_code, created_at, updated_at,"
    " purpose, price_amount, price_currency, price_category, decision_reason, usage_note,"
    " sequence, guest_name, guest_phone"
)


def create_booking_app() -> Starlette:
    """The yardstick of the app's `POST /api/v1/bookings` on PostgreSQL (labs_bench part 4).

    One route, `POST /api/v1/bookings`, over asyncpg on the database named by the
    `BARE_DATABASE_URL` environment variable (a pool of at most 5 connections per process,
    as tortoise's default): the same bearer-token check (the token's hash, not revoked, its
    user active), the JSON body's machine and times, and one INSERT into the same
    `labs_booking` table, so that PostgreSQL's exclusion constraint refuses an overlap (409).
    No ORM, middleware, validation models, booking rules, prices, lock or jobs: the
    difference with the app is the price of those.
    """
    import hashlib
    import os
    import secrets
    from datetime import UTC, datetime

    import asyncpg

    insert = (
        f"INSERT INTO labs_booking ({BOOKING_COLUMNS}) VALUES ($1, $2, $3, $4, 'confirmed', $5,"
        " $6, $6, '', 0, 'VND', '', '', '', 0, '', '') RETURNING id"
    )

    async def book(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        pool = request.app.state.pool
        user_id = await pool.fetchval(
            "SELECT u.id FROM api_token t JOIN user_account u ON u.id = t.user_id "
            "WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.is_active",
            hashlib.sha256(token.encode()).hexdigest(),
        )
        if user_id is None:
            return JSONResponse({"error": {"code": "unauthenticated"}}, status_code=401)
        try:
            body = await request.json()
            machine = int(body["equipment_id"])
            starts = datetime.fromisoformat(body["start"]).astimezone(UTC)
            ends = datetime.fromisoformat(body["end"]).astimezone(UTC)
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": {"code": "invalid"}}, status_code=422)
        if ends <= starts:
            return JSONResponse({"error": {"code": "invalid"}}, status_code=422)
        try:
            booking_id = await pool.fetchval(
                insert, machine, user_id, starts, ends, secrets.token_hex(8), datetime.now(UTC)
            )
        except asyncpg.exceptions.ExclusionViolationError:
            return JSONResponse({"error": {"code": "conflict"}}, status_code=409)
        except asyncpg.exceptions.ForeignKeyViolationError:
            return JSONResponse({"error": {"code": "not_found"}}, status_code=404)
        payload = {
            "id": booking_id,
            "equipment_id": machine,
            "status": "confirmed",
            "start": starts.isoformat(),
            "end": ends.isoformat(),
        }
        return JSONResponse(payload, status_code=201)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.pool = await asyncpg.create_pool(
            os.environ["BARE_DATABASE_URL"], min_size=1, max_size=5
        )
        yield
        await app.state.pool.close()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/api/v1/bookings", book, methods=["POST"]),
            Route("/healthz", healthz),
        ],
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--organisations", type=int, default=1000)
    parser.add_argument(
        "--database", default="", help="SQLite file for /equipment/{id}/availability"
    )
    parser.add_argument(
        "--bookings",
        action="store_true",
        help="serve only POST /api/v1/bookings on PostgreSQL (BARE_DATABASE_URL)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (with --bookings)")
    args = parser.parse_args()
    if args.bookings:  # as `python -m ecosystem serve --workers N`: an import string
        uvicorn.run(
            "bare_app:create_booking_app",
            factory=True,
            app_dir=str(Path(__file__).resolve().parent),
            host="127.0.0.1",
            port=args.port,
            workers=args.workers,
            proxy_headers=False,
        )
        return
    # The same server settings as `python -m ecosystem serve` (one worker, access log on).
    uvicorn.run(
        create_app(args.organisations, args.database),
        host="127.0.0.1",
        port=args.port,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
