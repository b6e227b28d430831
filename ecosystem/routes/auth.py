"""Register, verify, sign in and out, reset a forgotten password."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError, RateLimited
from ecosystem.i18n import _
from ecosystem.restapi import client_ip
from ecosystem.schemas import RegistrationIn, validate
from ecosystem.services import accounts, identity, second_factor
from ecosystem.web import (
    SESSION_LOCALE,
    SESSION_ORG,
    SESSION_PENDING,
    complete_sign_in,
    count_pending_attempt,
    current_user,
    flash,
    form_text,
    pending_sign_in,
    read_form,
    redirect,
    render,
    require_user,
    safe_next,
    sign_in,
    sign_out,
)


async def _with_providers(context: dict) -> dict:
    """The sign-in and register pages offer "Sign in with …" for every provider."""
    return {**context, "oidc_providers": await identity.list_providers()}


async def register(request: Request) -> Response:
    # A new account lands on its account page, which asks to verify the address.
    next_url = safe_next(request.query_params.get("next"), "/account")
    if request.method == "GET":
        context = {"values": {}, "errors": {}, "next": next_url}
        return await render(request, "ecosystem/register.html", await _with_providers(context))
    form = await read_form(request)
    next_url = safe_next(form_text(form, "next"), next_url)
    values = {
        "email": form_text(form, "email"),
        "full_name": form_text(form, "full_name"),
        "password": form_text(form, "password"),
        "locale": form_text(form, "locale") or request.session.get(SESSION_LOCALE, "vi"),
        "timezone": form_text(form, "timezone")[:200],
    }
    try:
        user = await accounts.register(validate(RegistrationIn, values), ip=client_ip(request))
    except DomainError as exc:
        values.pop("password")
        context = {"values": values, "errors": exc.fields, "message": exc.message, "next": next_url}
        return await render(
            request, "ecosystem/register.html", await _with_providers(context), exc.status_code
        )
    await sign_in(request, user)
    flash(request, _("Welcome! We sent a verification link to %(email)s.", email=user.email))
    return redirect(request, next_url)


async def login(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"), "/dashboard")
    if request.method == "GET":
        context = {"values": {}, "next": next_url, "message": ""}
        return await render(request, "ecosystem/login.html", await _with_providers(context))
    form = await read_form(request)
    email = form_text(form, "email")
    try:
        user = await accounts.authenticate(
            email, form_text(form, "password"), request.app.state.limiter, ip=client_ip(request)
        )
    except DomainError as exc:
        context = {"values": {"email": email}, "next": next_url, "message": exc.message}
        response = await render(
            request, "ecosystem/login.html", await _with_providers(context), exc.status_code
        )
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return await complete_sign_in(
        request, user, safe_next(form_text(form, "next"), "/dashboard"), "password"
    )


async def second_factor_page(request: Request) -> Response:
    """The second step of signing in: a code from the app, a recovery code, or a passkey."""
    pending = pending_sign_in(request)
    user = await second_factor.pending_user(pending["uid"]) if pending else None
    if pending is None or user is None:
        request.session.pop(SESSION_PENDING, None)
        flash(request, _("Your sign-in has expired. Please sign in again."), "error")
        return redirect(request, "/login")
    context = {
        "email": user.email,
        "next": pending["next"],
        "message": "",
        "errors": {},
        "has_passkey": await second_factor.has_passkey(user),
    }
    if request.method == "GET":
        return await render(request, "ecosystem/second_factor.html", context)
    form = await read_form(request)
    count_pending_attempt(request, pending)
    try:
        await second_factor.verify(
            user, form_text(form, "code"), request.app.state.limiter, ip=client_ip(request)
        )
    except DomainError as exc:
        context.update(message=exc.message, errors=exc.fields)
        response = await render(request, "ecosystem/second_factor.html", context, exc.status_code)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return await complete_sign_in(request, user, pending["next"], "second_factor")


async def logout(request: Request) -> Response:
    await sign_out(request)
    flash(request, _("You have signed out."))
    return redirect(request, "/")


async def verify(request: Request) -> Response:
    try:
        user = await accounts.verify_email(request.query_params.get("token", ""))
    except DomainError as exc:
        context = {"title": _("Email verification"), "message": exc.message}
        return await render(request, "ecosystem/message.html", context, exc.status_code)
    signed_in = await current_user(request)
    if signed_in is None or signed_in.id != user.id:
        request.session.pop(SESSION_ORG, None)
    flash(request, _("Thank you: your email address is verified."))
    return redirect(request, "/account" if signed_in else "/login")


async def resend_verification(request: Request) -> Response:
    user = await require_user(request)
    await accounts.resend_verification(user, request.app.state.limiter)
    flash(request, _("We sent a new verification link to %(email)s.", email=user.email))
    return redirect(request, "/account")


async def forgot_password(request: Request) -> Response:
    if request.method == "GET":
        return await render(request, "ecosystem/forgot_password.html", {"sent": False})
    form = await read_form(request)
    await accounts.request_password_reset(
        form_text(form, "email"), request.app.state.limiter, ip=client_ip(request)
    )
    return await render(request, "ecosystem/forgot_password.html", {"sent": True})


async def reset_password(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if request.method == "GET":
        try:
            await accounts.user_for_reset_token(token)
        except DomainError as exc:
            context = {"title": _("Reset your password"), "message": exc.message}
            return await render(request, "ecosystem/message.html", context, exc.status_code)
        return await render(
            request, "ecosystem/reset_password.html", {"token": token, "errors": {}}
        )
    form = await read_form(request)
    token = form_text(form, "token") or token
    try:
        user = await accounts.reset_password(
            token, form_text(form, "password"), client_ip(request), request.app.state.limiter
        )
    except DomainError as exc:
        context = {"token": token, "errors": exc.fields, "message": exc.message}
        return await render(request, "ecosystem/reset_password.html", context, exc.status_code)
    # A reset proves the mailbox, not the second factor: it is asked for as at sign-in.
    flash(request, _("Your password has been changed."))
    return await complete_sign_in(request, user, "/account", "reset")


routes = [
    Route("/register", register, methods=["GET", "POST"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/login/second-factor", second_factor_page, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/verify", verify, methods=["GET"]),
    Route("/verify/resend", resend_verification, methods=["POST"]),
    Route("/password/forgot", forgot_password, methods=["GET", "POST"]),
    Route("/password/reset", reset_password, methods=["GET", "POST"]),
]
