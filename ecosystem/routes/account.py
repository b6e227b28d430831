"""A person's own account: profile, language, organisation switcher, API tokens."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise import timezone

from ecosystem.errors import DomainError, Invalid, NotPermitted
from ecosystem.i18n import _, normalise_locale
from ecosystem.middleware import LOCALE_COOKIE
from ecosystem.restapi import client_ip
from ecosystem.services import accounts, identity, organisations, sessions, tokens
from ecosystem.settings import get_settings
from ecosystem.web import (
    SESSION_FACTOR,
    SESSION_LOCALE,
    SESSION_ORG,
    current_user,
    flash,
    form_text,
    read_form,
    redirect,
    render,
    require_user,
    safe_next,
    sign_in,
)


async def account(request: Request) -> Response:
    user = await require_user(request)
    context = {
        "user": user,
        "errors": {},
        "joinable": await organisations.joinable_by_domain(user),
        "linked_providers": await identity.account_providers(user),
    }
    if request.method == "POST":
        form = await read_form(request)
        try:
            zone = form_text(form, "timezone") if "timezone" in form else None
            await accounts.update_profile(
                user, form_text(form, "full_name"), form_text(form, "locale"), zone
            )
        except DomainError as exc:
            context["errors"] = exc.fields
            context["typed_timezone"] = form_text(form, "timezone")
            return await render(request, "ecosystem/account.html", context, exc.status_code)
        request.session[SESSION_LOCALE] = user.locale
        flash(request, _("Your profile has been saved."))
        return redirect(request, "/account")
    return await render(request, "ecosystem/account.html", context)


async def set_language(request: Request) -> Response:
    form = await read_form(request)
    locale = normalise_locale(form_text(form, "locale"))
    target = safe_next(form_text(form, "next"), "/")
    response = redirect(request, target)
    if locale:
        request.session[SESSION_LOCALE] = locale
        response.set_cookie(
            LOCALE_COOKIE,
            locale,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=get_settings().secure_cookies,
        )
        if user := await current_user(request):
            await accounts.set_locale(user, locale)
    return response


async def switch_organisation(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    wanted = form_text(form, "organisation_id")
    memberships = await organisations.active_memberships(user)
    chosen = next((m for m in memberships if str(m.organisation_id) == wanted), None)
    if chosen is None:
        raise NotPermitted(_("You are not an active member of that organisation."))
    request.session[SESSION_ORG] = chosen.organisation_id
    flash(request, _("You are now working as %(name)s.", name=chosen.organisation.name))
    return redirect(request, safe_next(form_text(form, "next"), "/account"))


async def api_tokens(request: Request) -> Response:
    user = await require_user(request)
    context: dict = {
        "tokens": await tokens.list_tokens(user),
        "new_token": None,
        "errors": {},
        "values": {},
        "now": timezone.now(),
    }
    if request.method == "POST":
        form = await read_form(request)
        values = {
            "name": form_text(form, "name"),
            "expires_on": form_text(form, "expires_on"),
            "read_only": form_text(form, "read_only") == "1",
        }
        context["values"] = values
        try:
            expires_on = _parse_day(values["expires_on"], "expires_on")
            _token, plaintext = await tokens.create_token(
                user,
                values["name"],
                ip=client_ip(request),
                scope="read" if values["read_only"] else "full",
                expires_on=expires_on,
            )
        except DomainError as exc:
            context["errors"] = exc.fields or {"name": exc.message}
            return await render(request, "ecosystem/tokens.html", context, exc.status_code)
        context["new_token"] = plaintext
        context["values"] = {}
        context["tokens"] = await tokens.list_tokens(user)
        return await render(request, "ecosystem/tokens.html", context, 201)
    return await render(request, "ecosystem/tokens.html", context)


def _parse_day(raw: str, field: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = _("Enter a date as YYYY-MM-DD.")
        raise Invalid(message, fields={field: message}) from None


async def revoke_api_token(request: Request) -> Response:
    user = await require_user(request)
    await tokens.revoke_token(user, request.path_params["token_id"], ip=client_ip(request))
    flash(request, _("The token has been revoked."))
    return redirect(request, "/account/tokens")


async def sessions_page(request: Request) -> Response:
    """Signed-in devices, and what "sign out everywhere" will end, before it is confirmed."""
    user = await require_user(request)
    context = {
        "sessions": await sessions.list_active(user),
        "active_tokens": await tokens.count_active(user),
    }
    return await render(request, "ecosystem/sessions.html", context)


async def sign_out_everywhere(request: Request) -> Response:
    """End every session and revoke every personal token; this browser starts a new session."""
    user = await require_user(request)
    organisation = request.session.get(SESSION_ORG)
    factor_passed = request.session.get(SESSION_FACTOR)
    await sessions.sign_out_everywhere(user, ip=client_ip(request))
    await sign_in(request, user)  # this browser's new session keeps what the old one proved
    if organisation is not None:
        request.session[SESSION_ORG] = organisation
    if factor_passed:
        request.session[SESSION_FACTOR] = True
    flash(
        request,
        _("Every other device has been signed out and every API token of yours revoked."),
    )
    return redirect(request, "/account")


routes = [
    Route("/account", account, methods=["GET", "POST"]),
    Route("/language", set_language, methods=["POST"]),
    Route("/account/organisation", switch_organisation, methods=["POST"]),
    Route("/account/tokens", api_tokens, methods=["GET", "POST"]),
    Route("/account/tokens/{token_id:int}/revoke", revoke_api_token, methods=["POST"]),
    Route("/account/sessions", sessions_page, methods=["GET"]),
    Route("/account/sessions/revoke", sign_out_everywhere, methods=["POST"]),
]
