"""Templated, localised email: written to the outbox, delivered by a job.

With SMTP_URL set (smtp://user:pass@host:587?starttls=1, smtps://… for implicit TLS) the job
sends over SMTP with aiosmtplib; without it the message is logged and stays readable in the
admin outbox, which is how development works with no mail server.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from tortoise import timezone

from ecosystem import jobs, rawsql
from ecosystem.i18n import DEFAULT_LOCALE, is_zone, normalise_locale, use_locale
from ecosystem.models import OutboxAttachment, OutboxMessage
from ecosystem.settings import get_settings
from ecosystem.templating import render_text

logger = logging.getLogger("ecosystem.mail")

SUBJECT_MAX_LENGTH = 300  # OutboxMessage.subject


def render_mail(
    template: str, context: dict[str, Any], locale: str, timezone: str | None = None
) -> tuple[str, str, str]:
    """The subject, text and HTML of a message exactly as `send_mail` writes them (a preview
    shows what will be sent), in `locale` and with times in the recipient's `timezone`."""
    locale = normalise_locale(locale) or DEFAULT_LOCALE
    context = {**context, "base_url": get_settings().base_url}
    with use_locale(locale, _recipient_zone(timezone)):
        subject = render_text(f"mail/{template}.subject.txt", context)
        text_body = render_text(f"mail/{template}.txt", context)
        html_body = render_text(f"mail/{template}.html", context)
    return " ".join(subject.split())[:SUBJECT_MAX_LENGTH], text_body, html_body  # one line


def _recipient_zone(timezone: str | None) -> str:
    """The recipient's zone when known and valid, else the platform's – never the zone of
    whoever's request happens to send the message."""
    return timezone if timezone and is_zone(timezone) else get_settings().default_timezone


@dataclass(frozen=True)
class Attachment:
    """A file to send with a message: `content_type` may carry parameters
    ("text/calendar; method=REQUEST"), which are kept on the MIME part."""

    filename: str
    content_type: str
    content: bytes
    params: dict[str, str] = field(default_factory=dict)

    @property
    def full_type(self) -> str:
        return "; ".join([self.content_type, *(f"{k}={v}" for k, v in self.params.items())])


async def send_mail(
    to: str,
    template: str,
    context: dict[str, Any],
    locale: str,
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
    timezone: str | None = None,
) -> int:
    """Render `templates/mail/<template>.{subject,txt,html}` in `locale`, times in the
    recipient's `timezone` (their account's; else the platform's), and queue delivery, with
    `attachments` (kept in the outbox with the message, sent as MIME parts). Returns the
    outbox message's id.

    Call it inside the transaction that decides to send: delivery starts after commit, and
    nothing is sent if that transaction rolls back.
    """
    locale = normalise_locale(locale) or DEFAULT_LOCALE
    subject, text_body, html_body = render_mail(template, context, locale, timezone)
    message_id = await _write_to_outbox(to, subject, text_body, html_body, attachments)
    await jobs.enqueue(deliver_mail, message_id, locale, job_id=f"mail:{message_id}")
    return message_id


# The outbox rows in plain SQL (see `ecosystem.rawsql`): every booking writes a message and
# its .ics. On PostgreSQL both go in one statement (a data-modifying WITH, the attachments
# as arrays, in order); SQLite, in the process, takes one for each table.
_MESSAGE_SQL = (
    'INSERT INTO outbox_message ("to", subject, text_body, html_body, status, attempts,'
    " last_error, created_at) VALUES (?, ?, ?, ?, 'queued', 0, '', ?) RETURNING id"
)
_ATTACHMENT_COLUMNS = "INSERT INTO outbox_attachment (filename, content_type, content, message_id)"
_MESSAGE_WITH_ATTACHMENTS_SQL = (
    f"WITH message AS ({_MESSAGE_SQL}), attached AS ({_ATTACHMENT_COLUMNS}"
    " SELECT a.filename, a.content_type, a.content, message.id FROM message,"
    " unnest(CAST(? AS varchar[]), CAST(? AS varchar[]), CAST(? AS bytea[]))"
    " WITH ORDINALITY AS a(filename, content_type, content, n) ORDER BY a.n)"
    " SELECT id FROM message"
)


async def _write_to_outbox(
    to: str, subject: str, text_body: str, html_body: str, attachments: Sequence[Attachment]
) -> int:
    """The message and its attachments as queued outbox rows; the message's id."""
    params = (to, subject, text_body, html_body, timezone.now())
    files = [(a.filename[:200], a.full_type[:200], bytes(a.content)) for a in attachments]
    if files and rawsql.dialect() == "postgres":
        columns = [list(column) for column in zip(*files, strict=True)]
        [(message_id,)] = await rawsql.returning(_MESSAGE_WITH_ATTACHMENTS_SQL, (*params, *columns))
        return message_id
    [(message_id,)] = await rawsql.returning(_MESSAGE_SQL, params)
    if files:
        rows = ", ".join(["(?, ?, ?, ?)"] * len(files))
        values = [value for file in files for value in (*file, message_id)]
        await rawsql.execute(f"{_ATTACHMENT_COLUMNS} VALUES {rows}", values)
    return message_id


async def deliver_mail(ctx: dict[str, Any], message_id: int, locale: str = "") -> str:
    """Send one outbox message. Idempotent: a message already sent or logged is skipped.

    A failure is recorded on the row (`status="failed"`, `last_error`, `attempts`) and
    raised, so the job is retried with backoff.
    """
    smtp_url = get_settings().smtp_url
    if not smtp_url:
        return await _log_instead(message_id)
    message = await OutboxMessage.get_or_none(id=message_id)
    if message is None or message.status in ("sent", "logged"):
        return "skipped"
    message.attempts += 1
    try:
        attachments = await OutboxAttachment.filter(message_id=message.id).order_by("id")
        await _send_smtp(smtp_url, _to_email(message, locale, attachments))
        message.status = "sent"
        message.sent_at = timezone.now()
        message.last_error = ""
    except Exception as exc:
        message.last_error = (repr(exc) or type(exc).__name__)[:500]
        message.status = "failed"
        await message.save(update_fields=["attempts", "status", "last_error"])
        raise
    await message.save(update_fields=["attempts", "status", "last_error", "sent_at"])
    return message.status


# Marks the message logged and returns what the log shows, in one statement (every booking's
# mail takes this path in development and in the benchmarks).
_LOGGED_SQL = (
    "UPDATE outbox_message SET status = 'logged', attempts = attempts + 1, last_error = '',"
    " sent_at = ? WHERE id = ? AND status NOT IN ('sent', 'logged')"
    ' RETURNING "to", subject, text_body'
)


async def _log_instead(message_id: int) -> str:
    """No SMTP_URL: the message goes to the log and stays readable in the admin outbox."""
    logged = await rawsql.returning(_LOGGED_SQL, (timezone.now(), message_id))
    if not logged:
        return "skipped"  # unknown, or already sent or logged
    to, subject, text_body = logged[0]
    logger.info("mail to %s (no SMTP_URL, kept in the outbox): %s\n%s", to, subject, text_body)
    return "logged"


def _to_email(
    message: OutboxMessage, locale: str = "", attachments: list[OutboxAttachment] | None = None
) -> EmailMessage:
    sender = get_settings().mail_from
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    # The same Message-ID on every try, so a receiving server can drop a duplicate.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    email["Message-ID"] = f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    for attachment in attachments or []:
        maintype, subtype, params = _split_type(attachment.content_type)
        email.add_attachment(
            bytes(attachment.content),
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=params,
        )
    if locale:  # after the body: set_content() drops Content-* headers
        email["Content-Language"] = locale
    return email


def _split_type(content_type: str) -> tuple[str, str, dict[str, str]]:
    """ "text/calendar; method=REQUEST" → ("text", "calendar", {"method": "REQUEST"})."""
    main, *rest = [piece.strip() for piece in content_type.split(";")]
    maintype, _slash, subtype = main.partition("/")
    params = dict(piece.partition("=")[::2] for piece in rest if "=" in piece)
    return maintype or "application", subtype or "octet-stream", params


async def _send_smtp(smtp_url: str, email: EmailMessage) -> None:
    parts = urlsplit(smtp_url)
    options = parse_qs(parts.query)
    implicit_tls = parts.scheme == "smtps"
    await aiosmtplib.send(
        email,
        hostname=parts.hostname or "localhost",
        port=parts.port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=implicit_tls,
        start_tls=True if options.get("starttls") == ["1"] else None,
        timeout=30,
    )


REDELIVERY_AFTER_MINUTES = 15
MAX_DELIVERY_ATTEMPTS = 15


async def redeliver_stalled_mail(ctx: dict[str, Any]) -> int:
    """Cron: queue again messages left queued or failed (e.g. Redis was down at commit).

    A message is given up after MAX_DELIVERY_ATTEMPTS; it stays `failed` in the outbox.
    """
    cutoff = timezone.now() - timedelta(minutes=REDELIVERY_AFTER_MINUTES)
    stalled = (
        await OutboxMessage.filter(
            status__in=["queued", "failed"],
            created_at__lt=cutoff,
            attempts__lt=MAX_DELIVERY_ATTEMPTS,
        )
        .order_by("id")
        .limit(200)
        .values_list("id", "attempts")
    )
    for message_id, attempts in stalled:
        # A fresh job id per attempt count: the first job's id may still be remembered.
        await jobs.enqueue(deliver_mail, message_id, job_id=f"mail:{message_id}:{attempts}")
    return len(stalled)
