"""Accessibility: every page passes axe-core with no serious or critical violation.

axe-core comes from the npm registry (root `package.json`, pinned; `npm ci` installs it into
`node_modules/`). The real app runs as a subprocess over a fresh SQLite database with the
demo data; headless Chromium visits the pages as the demo people – signed out, the student,
the lab staff member, the platform administrator, and the incubator's and contests' people
when those packages are mounted – starting from a list of known pages and
following every same-site link from them (one page per URL shape, so `/labs/a` and
`/labs/b` count once), kernel and package pages alike. On each page axe-core runs in the
page itself. The page must not be a server error either.

The page's CSP forbids injected scripts, as it should: the browser context bypasses CSP for
the axe runs (`bypass_csp=True`). A second test visits the pages with their real CSP and
fails on any CSP violation the browser reports (an inline script, style or handler) or any
uncaught script error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.conftest import TEST_PACKAGES
from tests.production.shape import DEMO_PASSWORD, free_port, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
HOST = "127.0.0.1"
PAGES_PER_PERSON = int(os.environ.get("A11Y_PAGES", "30"))
BLOCKING_IMPACTS = ("serious", "critical")
SKIP = re.compile(
    r"^/(static|media|api|logout|language|verify|calendar)\b|\.(ics|csv|xlsx|svg|ico|pdf|webp|png|json)$"
)

pytestmark = pytest.mark.browser

# Where each person starts; links found on these pages are followed too.
START = {
    "anonymous": [
        "/",
        "/login",
        "/register",
        "/password/forgot",
        "/organisations",
        "/labs",
        "/labs/search?category=laser_cutter&duration=60",
        "/trainings",
        "/no-such-page",
    ],
    "student@example.org": [
        "/",
        "/account",
        "/account/tokens",
        "/account/sessions",
        "/bookings",
        "/waitlist",
    ],
    "staff@example.org": ["/", "/labs", "/labs/becamex-fablab/manage", "/labs/new"],
    "admin@example.org": ["/admin", "/admin/users", "/admin/audit", "/admin/outbox"],
}
# The packages' own people, when the packages are mounted: their pages are linked from "/".
if "incubator" in TEST_PACKAGES:
    START["manager@example.org"] = ["/"]
    START["founder@example.org"] = ["/"]
if "hackathon" in TEST_PACKAGES:
    START["judge@example.org"] = ["/"]
    START["organiser@example.org"] = ["/"]


SERVER_LOG: dict[str, Path] = {}


def server_errors() -> str:
    """The server's tracebacks, if any (shown with a failure)."""
    log = SERVER_LOG.get("path")
    text = log.read_text(errors="replace") if log and log.exists() else ""
    return text[text.find("Traceback") :][-4000:] if "Traceback" in text else ""


@pytest.fixture(scope="module")
def demo_server() -> Iterator[str]:
    if not AXE.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{AXE} is missing: run `npm ci` at the root of the checkout")
        pytest.skip("axe-core is not installed (npm ci)")
    workdir = Path(tempfile.mkdtemp(prefix="e2e-a11y-"))
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DEBUG", "SMTP_URL")}
    env.update(
        PACKAGES=",".join(TEST_PACKAGES),
        DATABASE_URL=f"sqlite://{workdir / 'a11y.sqlite3'}",
        SECRET_KEY="a11y-secret-" + "s" * 40,
        BASE_URL=base,
        MEDIA_DIR=str(workdir / "media"),
    )
    for command in (["migrate"], ["seed", "--demo"]):
        done = subprocess.run(
            [sys.executable, "-m", "ecosystem", *command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecosystem", "serve", "--host", HOST, "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    SERVER_LOG["path"] = log
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30, "no server")
        yield base
    finally:
        stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)


def shape_of(path: str) -> str:
    """One URL shape per page kind: ids (digits) and slugs (with a hyphen) count once."""
    parts = urlsplit(path).path.rstrip("/").split("/")
    shape = [
        "N" if part.isdigit() else "S" if "-" in part or re.search(r"\d", part) else part
        for part in parts
    ]
    return "/".join(shape) or "/"


def same_site_links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    links = []
    for href in hrefs:
        url = urljoin(page.url, href)
        if not url.startswith(base):
            continue
        path = url[len(base) :].split("#", 1)[0] or "/"
        if not SKIP.search(urlsplit(path).path):
            links.append(path)
    return links


# URL shapes already checked by an earlier person (per viewport): later people still load
# them to follow their links, without running axe again, and spend their checks on their
# own pages.
CHECKED: dict[str, set[str]] = {}


def check_pages(
    page, base: str, start: list[str], checked: set[str], run_axe: bool = True
) -> dict[str, list[str]]:
    """Visit `start` and the links found, run axe on each; the problems found per page."""
    problems: dict[str, list[str]] = {}
    queue, shapes, visited, loads = deque(start), set(), 0, 0
    while queue and visited < PAGES_PER_PERSON and loads < 3 * PAGES_PER_PERSON:
        path = queue.popleft()
        shape = shape_of(path)
        if shape in shapes:
            continue
        shapes.add(shape)
        response = page.goto(base + path, wait_until="load")
        loads += 1
        found: list[str] = []
        if response is None or response.status >= 500:
            found.append(f"status {response.status if response else 'none'}")
        html = "text/html" in (response.headers.get("content-type", "") if response else "")
        if html and (shape not in checked or path in start):
            checked.add(shape)
            visited += 1
            if run_axe:
                found += axe_violations(page)
        if found:
            problems[path] = found
        if html:
            queue.extend(same_site_links(page, base))
    print(f"checked {visited} pages, loaded {loads}")
    assert visited >= min(len(start), PAGES_PER_PERSON), "the crawl checked too little"
    return problems


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    found = []
    for violation in violations:
        if violation["impact"] in BLOCKING_IMPACTS:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(
                f"{violation['impact']} {violation['id']}: {violation['help']} → {targets}"
            )
    return found


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_load_state("load")
    assert "/login" not in urlsplit(page.url).path, f"{email} could not sign in"


# Every person on a desktop; the phone layout (menus, the week view's day tabs) signed out.
RUNS = [(person, "desktop") for person in START] + [("anonymous", "phone")]
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.mark.parametrize(("person", "viewport"), RUNS, ids=[f"{p}-{v}" for p, v in RUNS])
def test_pages_have_no_serious_accessibility_violation(person, viewport, chromium, demo_server):
    width, height = VIEWPORTS[viewport]
    context = chromium.new_context(
        bypass_csp=True, viewport={"width": width, "height": height}, locale="vi-VN"
    )
    try:
        page = context.new_page()
        if person != "anonymous":
            sign_in(page, demo_server, person)
        checked = CHECKED.setdefault(viewport, set())
        problems = check_pages(page, demo_server, START[person], checked)
    finally:
        context.close()
    report = "\n".join(f"{path}\n  " + "\n  ".join(found) for path, found in problems.items())
    assert not problems, f"{person} on {width}px:\n{report}\n{server_errors()}"


@pytest.mark.parametrize("person", ["anonymous", "student@example.org", "admin@example.org"])
def test_pages_run_under_their_own_csp_without_errors(person, chromium, demo_server):
    """With the real CSP (no bypass): no violation reported, no script error, on the pages
    and those they link to – inline scripts, styles or handlers would show up here."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                errors.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        if person != "anonymous":
            sign_in(page, demo_server, person)
        problems = check_pages(page, demo_server, START[person], set(), run_axe=False)
    finally:
        context.close()
    assert not problems, problems
    assert not errors, "\n".join(errors)
