"""Platform administration reads: people, organisations by id, the mail outbox.

Every function checks the actor's permission itself; the admin pages only render.
"""

from __future__ import annotations

from tortoise.expressions import Q

from ecosystem import permissions
from ecosystem.errors import NotFound
from ecosystem.i18n import _
from ecosystem.models import Organisation, OutboxMessage, User

PAGE_SIZE = 50


async def organisation_by_id(actor: User, organisation_id: int) -> Organisation:
    await permissions.ensure(actor, "organisation.verify")
    organisation = await Organisation.get_or_none(id=organisation_id)
    if organisation is None:
        raise NotFound(_("No such organisation."))
    return organisation


async def list_users(actor: User, query: str = "", page: int = 1) -> tuple[list[User], bool]:
    """A page of people (by email) and whether another page follows."""
    await permissions.ensure(actor, "user.deactivate")
    rows = User.all().order_by("email")
    if query:
        rows = rows.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
    found = await rows.offset((max(1, page) - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    return found[:PAGE_SIZE], len(found) > PAGE_SIZE


async def user_by_id(actor: User, user_id: int) -> User:
    await permissions.ensure(actor, "user.deactivate")
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


async def list_outbox(actor: User) -> list[OutboxMessage]:
    await permissions.ensure(actor, "outbox.read")
    return await OutboxMessage.all().order_by("-id").limit(PAGE_SIZE)


async def outbox_message(actor: User, message_id: int) -> OutboxMessage:
    await permissions.ensure(actor, "outbox.read")
    message = await OutboxMessage.get_or_none(id=message_id)
    if message is None:
        raise NotFound(_("No such message."))
    return message
