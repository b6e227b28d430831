"""Sign in with an identity provider (OpenID Connect), link and unlink providers.

The rules are in `ecosystem.services.identity`; here: the flow record in the session (taken
out at the callback, whatever happens next), and the pages. Every successful sign-in ends in
`_finish_sign_in`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError, NotPermitted
from ecosystem.i18n import _
from ecosystem.restapi import client_ip
from ecosystem.services import identity
from ecosystem.web import (
    SESSION_LOCALE,
    complete_sign_in,
    current_user,
    flash,
    form_text,
    login_redirect,
    read_form,
    redirect,
    render,
    require_user,
    safe_next,
)

SESSION_FLOW = "oidc"


async def _finish_sign_in(request: Request, user, next_url: str, provider: str) -> Response:
    """The one way an OpenID Connect sign-in ends: through the second-factor step when the
    account has a factor (a provider's word alone does not replace it)."""
    return await complete_sign_in(request, user, next_url, method=f"oidc:{provider}")


async def _refusal(request: Request, exc: DomainError) -> Response:
    context = {"title": _("Sign-in with a provider"), "message": exc.message}
    return await render(request, "ecosystem/oidc_refused.html", context, exc.status_code)


async def start(request: Request) -> Response:
    """GET from the sign-in buttons; POST (with the CSRF token) from the account page, which
    links a provider to the signed-in account."""
    if request.method == "POST":
        form = await read_form(request)
        intent = form_text(form, "intent") or "link"
        next_url = safe_next(form_text(form, "next"), "/account")
    else:
        intent = "sign_in"
        next_url = safe_next(request.query_params.get("next"), "/dashboard")
    user = await current_user(request)
    if intent == "link" and user is None:
        return login_redirect(request)
    try:
        provider = await identity.get_provider(request.path_params["provider"])
        url, flow = await identity.begin(provider, intent, next_url, user)
    except DomainError as exc:
        return await _refusal(request, exc)
    request.session[SESSION_FLOW] = flow
    return redirect(request, url)


async def callback(request: Request) -> Response:
    flow = request.session.pop(SESSION_FLOW, None)  # single use, whatever happens next
    ip = client_ip(request)
    try:
        provider = await identity.get_provider(request.path_params["provider"])
        claims = await identity.finish(provider, flow, request.query_params)
        if flow and flow.get("intent") == "link":
            user = await current_user(request)
            if user is None or user.id != flow.get("user_id"):
                raise NotPermitted(_("Please sign in to continue."))
            await identity.link(user, claims, ip=ip)
            flash(
                request, _("%(provider)s is now linked to your account.", provider=provider.title)
            )
            return redirect(request, safe_next(flow.get("next"), "/account"))
        outcome = await identity.sign_in_with(
            provider, claims, locale=request.session.get(SESSION_LOCALE, ""), ip=ip
        )
    except DomainError as exc:
        return await _refusal(request, exc)
    next_url = safe_next(flow.get("next") if flow else None, "/dashboard")
    response = await _finish_sign_in(request, outcome.user, next_url, provider.name)
    if outcome.created:
        flash(
            request,
            _("Welcome! Your account was created with %(provider)s.", provider=provider.title),
        )
    elif outcome.linked:
        flash(request, _("%(provider)s is now linked to your account.", provider=provider.title))
    for organisation in outcome.requested:
        flash(
            request,
            _(
                "You asked to join %(name)s: its administrators will answer your request.",
                name=organisation.name,
            ),
        )
    return response


async def unlink(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    removed = await identity.unlink(user, request.path_params["identity_id"], ip=client_ip(request))
    titles = await identity.provider_titles()
    flash(
        request,
        _(
            "%(provider)s is no longer linked.",
            provider=titles.get(removed.provider, removed.provider),
        ),
    )
    return redirect(request, "/account")


routes = [
    Route("/login/oidc/{provider}", start, methods=["GET", "POST"]),
    Route("/login/oidc/{provider}/callback", callback, methods=["GET"]),
    Route("/account/providers/{identity_id:int}/unlink", unlink, methods=["POST"]),
]
