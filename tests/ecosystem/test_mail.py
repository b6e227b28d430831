"""Mail: templated, localised, sent by a job over a real SMTP server (aiosmtpd), or logged.

These use the in-process job backend; test_worker.py sends the same email through a real
arq worker over Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from tortoise import timezone

from ecosystem import i18n, jobs
from ecosystem.db import atomic
from ecosystem.i18n import use_locale
from ecosystem.labels import label
from ecosystem.mail import Attachment, deliver_mail, send_mail
from ecosystem.models import OutboxAttachment, OutboxMessage, User
from ecosystem.settings import Settings
from tests.conftest import PASSWORD, BrowserSession, make_user, running_app

VERIFY_LINK = re.compile(r"http://testserver(/verify\?token=[A-Za-z0-9_.\-]+)")


# --- a real SMTP server -------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps what it receives; it can refuse recipients for a while."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = False
        self.refused = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.refuse:
            self.refused += 1
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(port: int, mailbox: Mailbox) -> Iterator[Controller]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
async def smtp_browsers(settings: Settings, smtp_port: int) -> AsyncIterator:
    """The app with SMTP_URL pointing at `smtp_port` (the test decides when a server listens).

    Do not combine with the conftest `app` fixture: the last app created sets the
    process-wide settings, SMTP_URL included.
    """
    smtp_settings = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{smtp_port}")
    async with running_app(smtp_settings) as browser:
        yield browser


@pytest.fixture
def smtp_browser(smtp_browsers) -> BrowserSession:
    return smtp_browsers()


async def register(browser: BrowserSession, email: str, locale: str = "en") -> None:
    response = await browser.post(
        "/register",
        {"full_name": "Nguyễn Thị Lan", "email": email, "password": PASSWORD, "locale": locale},
    )
    assert response.status_code == 303, response.text[:500]


async def wait_for(predicate, seconds: float = 5.0, step: float = 0.02):
    """Poll `predicate` until it returns something truthy (bounded)."""
    for _ in range(int(seconds / step)):
        if result := await predicate():
            return result
        await asyncio.sleep(step)
    raise AssertionError(f"still waiting after {seconds}s")


def parts(message: EmailMessage) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.iter_parts()}


# --- over SMTP ----------------------------------------------------------------------------


async def test_the_verification_email_arrives_over_smtp_with_html_and_text(
    smtp_browser: BrowserSession, smtp_port: int, mailbox: Mailbox, settings: Settings
) -> None:
    with smtp_server(smtp_port, mailbox):
        await register(smtp_browser, "lan@eiu.edu.vn", locale="en")
        await jobs.drain()
    assert len(mailbox.messages) == 1
    email = mailbox.messages[0]
    assert mailbox.envelopes[0][1] == ["lan@eiu.edu.vn"]
    assert email["To"] == "lan@eiu.edu.vn"
    assert email["From"] == settings.mail_from
    assert email["Subject"] == "Confirm your email address"
    assert email["Content-Language"] == "en"
    assert email["Message-ID"] and email["Date"]
    assert email.get_content_type() == "multipart/alternative"
    bodies = parts(email)
    assert list(bodies) == ["text/plain", "text/html"]  # the plain text first, HTML preferred
    assert "Nguyễn Thị Lan" in bodies["text/plain"]
    assert '<html lang="en">' in bodies["text/html"]
    text_link = VERIFY_LINK.search(bodies["text/plain"])
    html_link = VERIFY_LINK.search(bodies["text/html"])
    assert text_link and html_link and text_link.group(1) == html_link.group(1)

    message = await OutboxMessage.get(to="lan@eiu.edu.vn")
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, "")
    assert message.sent_at is not None
    # Delivering again (a duplicate job) sends nothing more.
    assert await deliver_mail({}, message.id, "en") == "skipped"
    assert len(mailbox.messages) == 1

    response = await smtp_browser.get(text_link.group(1))
    assert response.status_code == 303
    assert (await User.get(email="lan@eiu.edu.vn")).email_verified_at is not None
    account = await smtp_browser.get("/account")
    assert 'action="/verify/resend"' not in account.text  # no "please verify" banner any more


async def test_each_email_is_written_in_its_recipients_language(
    smtp_browsers, smtp_port: int, mailbox: Mailbox
) -> None:
    with smtp_server(smtp_port, mailbox):
        await register(smtp_browsers(), "minh@tdmu.edu.vn", locale="vi")
        await register(smtp_browsers(), "jan@tue.nl", locale="en")
        await jobs.drain()
    by_recipient = {email["To"]: email for email in mailbox.messages}
    vietnamese, english = by_recipient["minh@tdmu.edu.vn"], by_recipient["jan@tue.nl"]
    assert vietnamese["Content-Language"] == "vi"
    assert english["Content-Language"] == "en"
    assert '<html lang="vi">' in parts(vietnamese)["text/html"]
    assert '<html lang="en">' in parts(english)["text/html"]
    msgid = "Confirm your email address"
    assert english["Subject"] == msgid
    assert vietnamese["Subject"] == i18n.translations_for("vi").gettext(msgid)


async def test_a_refusing_server_makes_the_job_retry_until_it_accepts(
    smtp_browser: BrowserSession,
    smtp_port: int,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "RETRY_BASE_SECONDS", 0.2)
    mailbox.refuse = True
    with smtp_server(smtp_port, mailbox):
        await register(smtp_browser, "retry@becamex.com.vn")

        async def failed_twice() -> OutboxMessage | None:
            message = await OutboxMessage.get(to="retry@becamex.com.vn")
            return message if message.attempts >= 2 and message.status == "failed" else None

        failed = await wait_for(failed_twice)
        assert "451" in failed.last_error
        assert mailbox.messages == []
        mailbox.refuse = False
        await jobs.drain()
    message = await OutboxMessage.get(to="retry@becamex.com.vn")
    assert message.status == "sent"
    assert message.attempts == mailbox.refused + 1 >= 3
    assert message.last_error == ""
    assert [email["To"] for email in mailbox.messages] == ["retry@becamex.com.vn"]


async def test_a_server_that_is_down_is_retried_once_it_is_back(
    smtp_browser: BrowserSession,
    smtp_port: int,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "RETRY_BASE_SECONDS", 0.2)
    await register(smtp_browser, "down@eiu.edu.vn")  # nothing listens on the port yet

    async def failed() -> OutboxMessage | None:
        message = await OutboxMessage.get(to="down@eiu.edu.vn")
        return message if message.status == "failed" else None

    message = await wait_for(failed)
    assert message.attempts >= 1 and str(smtp_port) in message.last_error
    with smtp_server(smtp_port, mailbox):
        await jobs.drain()
    message = await OutboxMessage.get(to="down@eiu.edu.vn")
    assert (message.status, message.last_error) == ("sent", "")
    assert message.attempts >= 2
    assert [email["To"] for email in mailbox.messages] == ["down@eiu.edu.vn"]


# --- without SMTP_URL: logged, kept in the outbox -----------------------------------------


async def test_without_smtp_the_email_is_logged_and_only_admins_read_the_outbox(
    browser: BrowserSession, new_browser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="ecosystem.mail")
    await register(browser, "dev@fablab.vn")
    await jobs.drain()
    message = await OutboxMessage.get(to="dev@fablab.vn")
    assert (message.status, message.attempts) == ("logged", 1)
    assert "dev@fablab.vn" in caplog.text and "/verify?token=" in caplog.text

    # The person who registered is signed in, but is no platform admin.
    assert (await browser.get("/admin/outbox")).status_code == 403
    assert (await browser.get(f"/admin/outbox/{message.id}")).status_code == 403
    anonymous = await new_browser().get("/admin/outbox")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]

    await make_user("admin@binhduong.gov.vn", admin=True)
    admin = new_browser()
    await admin.login("admin@binhduong.gov.vn")
    outbox = await admin.get("/admin/outbox")
    assert outbox.status_code == 200
    assert "dev@fablab.vn" in outbox.text and message.subject in outbox.text
    with use_locale("vi"):  # the admin reads the outbox in the default language
        assert f">{label('logged')}<" in outbox.text
    detail = await admin.get(f"/admin/outbox/{message.id}")
    assert detail.status_code == 200
    assert VERIFY_LINK.search(detail.text)


async def test_no_email_is_written_when_the_transaction_rolls_back(app, caplog) -> None:
    caplog.set_level("INFO", logger="ecosystem.mail")
    with pytest.raises(RuntimeError):
        async with atomic():
            await send_mail(
                "ghost@example.org",
                "verify_email",
                {"user_name": "Ghost", "path": "/verify?token=x"},
                locale="en",
                attachments=[Attachment("booking.ics", "text/calendar", b"BEGIN:VCALENDAR")],
            )
            raise RuntimeError("the registration failed after the email was written")
    await jobs.drain()
    assert await OutboxMessage.all().count() == 0
    assert await OutboxAttachment.all().count() == 0
    assert "ghost@example.org" not in caplog.text


async def test_attachments_are_kept_with_the_message_and_sent_as_mime_parts(
    smtp_browser: BrowserSession, smtp_port: int, mailbox: Mailbox
) -> None:
    invite = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    async with atomic():
        message_id = await send_mail(
            "lan@eiu.edu.vn",
            "verify_email",
            {"user_name": "Lan", "path": "/verify?token=x"},
            locale="en",
            attachments=[
                Attachment("booking.ics", "text/calendar", invite, {"method": "REQUEST"}),
                Attachment("note.bin", "application/octet-stream", bytes(range(256))),
            ],
        )
    queued = await OutboxMessage.get(id=message_id)
    assert (queued.to, queued.status, queued.attempts, queued.last_error) == (
        "lan@eiu.edu.vn",
        "queued",
        0,
        "",
    )
    assert queued.subject and "Lan" in queued.text_body and "Lan" in queued.html_body
    assert abs(queued.created_at - timezone.now()) < timedelta(minutes=1)
    stored = await OutboxAttachment.filter(message_id=message_id).order_by("id")
    assert [(a.filename, a.content_type) for a in stored] == [
        ("booking.ics", "text/calendar; method=REQUEST"),
        ("note.bin", "application/octet-stream"),
    ]
    with smtp_server(smtp_port, mailbox):
        await jobs.drain()
    [email] = mailbox.messages
    assert email.get_content_type() == "multipart/mixed"
    body = email.get_body(("plain",))
    assert body is not None and "Lan" in body.get_content()
    files = list(email.iter_attachments())
    assert [part.get_filename() for part in files] == ["booking.ics", "note.bin"]
    assert files[0].get_content_type() == "text/calendar"
    assert files[0].get_param("method") == "REQUEST"
    assert files[0].get_content().replace("\r\n", "\n") == invite.decode().replace("\r\n", "\n")
    assert files[1].get_content() == bytes(range(256))
    assert (await OutboxMessage.get(id=message_id)).status == "sent"
