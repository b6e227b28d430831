"""A person's own account: profile, language, organisation switcher, API tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError, NotPermitted
from ecosystem.i18n import _, normalise_locale
from ecosystem.middleware import LOCALE_COOKIE
from ecosystem.restapi import client_ip
from ecosystem.services import accounts, organisations, tokens
from ecosystem.settings import get_settings
from ecosystem.web import (
    SESSION_LOCALE,
    SESSION_ORG,
    SESSION_VERSION,
    current_user,
    flash,
    form_text,
    read_form,
    redirect,
    render,
    require_user,
    safe_next,
)


async def account(request: Request) -> Response:
    user = await require_user(request)
    context = {
        "user": user,
        "errors": {},
        "joinable": await organisations.joinable_by_domain(user),
    }
    if request.method == "POST":
        form = await read_form(request)
        try:
            await accounts.update_profile(
                user, form_text(form, "full_name"), form_text(form, "locale")
            )
        except DomainError as exc:
            context["errors"] = exc.fields
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
    context: dict = {"tokens": await tokens.list_tokens(user), "new_token": None, "errors": {}}
    if request.method == "POST":
        form = await read_form(request)
        try:
            _token, plaintext = await tokens.create_token(
                user, form_text(form, "name"), ip=client_ip(request)
            )
        except DomainError as exc:
            context["errors"] = exc.fields or {"name": exc.message}
            return await render(request, "ecosystem/tokens.html", context, exc.status_code)
        context["new_token"] = plaintext
        context["tokens"] = await tokens.list_tokens(user)
        return await render(request, "ecosystem/tokens.html", context, 201)
    return await render(request, "ecosystem/tokens.html", context)


async def revoke_api_token(request: Request) -> Response:
    user = await require_user(request)
    await tokens.revoke_token(user, request.path_params["token_id"], ip=client_ip(request))
    flash(request, _("The token has been revoked."))
    return redirect(request, "/account/tokens")


async def sign_out_elsewhere(request: Request) -> Response:
    user = await require_user(request)
    request.session[SESSION_VERSION] = await accounts.sign_out_other_sessions(
        user, ip=client_ip(request)
    )
    flash(request, _("You have been signed out on every other device."))
    return redirect(request, "/account")


routes = [
    Route("/account", account, methods=["GET", "POST"]),
    Route("/language", set_language, methods=["POST"]),
    Route("/account/organisation", switch_organisation, methods=["POST"]),
    Route("/account/tokens", api_tokens, methods=["GET", "POST"]),
    Route("/account/tokens/{token_id:int}/revoke", revoke_api_token, methods=["POST"]),
    Route("/account/sessions/revoke", sign_out_elsewhere, methods=["POST"]),
]
