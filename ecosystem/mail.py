"""Templated, localised email: written to the outbox, delivered by a job.

With SMTP_URL set (smtp://user:pass@host:587?starttls=1, smtps://… for implicit TLS) the job
sends over SMTP with aiosmtplib; without it the message is logged and stays readable in the
admin outbox, which is how development works with no mail server.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from tortoise import timezone

from ecosystem import jobs
from ecosystem.i18n import use_locale
from ecosystem.models import OutboxMessage
from ecosystem.settings import get_settings
from ecosystem.templating import render_text

logger = logging.getLogger("ecosystem.mail")


async def send_mail(to: str, template: str, context: dict[str, Any], locale: str) -> OutboxMessage:
    """Render `templates/mail/<template>.{subject,txt,html}` in `locale` and queue delivery.

    Call it inside the transaction that decides to send: delivery starts after commit.
    """
    context = {**context, "base_url": get_settings().base_url}
    with use_locale(locale):
        subject = render_text(f"mail/{template}.subject.txt", context).strip()
        text_body = render_text(f"mail/{template}.txt", context)
        html_body = render_text(f"mail/{template}.html", context)
    message = await OutboxMessage.create(
        to=to, subject=subject, text_body=text_body, html_body=html_body
    )
    await jobs.enqueue(deliver_mail, message.id, job_id=f"mail:{message.id}")
    return message


async def deliver_mail(ctx: dict[str, Any], message_id: int) -> str:
    """Idempotent: a message already sent or logged is not sent again."""
    message = await OutboxMessage.get_or_none(id=message_id)
    if message is None or message.status in ("sent", "logged"):
        return "skipped"
    message.attempts += 1
    smtp_url = get_settings().smtp_url
    try:
        if smtp_url:
            await _send_smtp(smtp_url, _to_email(message))
            message.status = "sent"
        else:
            logger.info("mail to %s: %s\n%s", message.to, message.subject, message.text_body)
            message.status = "logged"
        message.sent_at = timezone.now()
        message.last_error = ""
    except Exception as exc:
        message.last_error = repr(exc)[:500]
        message.status = "failed"
        await message.save()
        raise
    await message.save()
    return message.status


def _to_email(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = get_settings().mail_from
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


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
