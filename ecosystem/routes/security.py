"""A person's account security: sessions, second factors (authenticator app, recovery codes,
passkeys), linked providers, recent security events; and signing in with a passkey."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ecosystem.devices import describe
from ecosystem.errors import DomainError, Invalid, RateLimited
from ecosystem.i18n import _
from ecosystem.restapi import client_ip
from ecosystem.services import (
    identity,
    organisations,
    passkeys,
    second_factor,
    security_events,
    sessions,
)
from ecosystem.web import (
    SECURITY_PAGE,
    SESSION_KEY,
    SESSION_PENDING,
    complete_sign_in,
    factor_set_up,
    flash,
    form_text,
    must_enrol,
    pending_sign_in,
    read_form,
    redirect,
    render,
    require_signed_in,
    require_user,
    safe_next,
)

SESSION_CHALLENGE = "webauthn"
MAX_CREDENTIAL_BYTES = 64 * 1024


async def _page_context(request: Request, user, **extra) -> dict:
    current_key = request.session.get(SESSION_KEY, "")
    active = await sessions.list_active(user)
    pending_secret = await second_factor.pending_totp_secret(user)
    context = {
        "user": user,
        "sessions": [
            {
                "row": s,
                "device": describe(s.user_agent),
                "current": sessions.is_current(s, current_key),
            }
            for s in active
        ],
        "factors": await second_factor.summary(user),
        "events": await security_events.recent(user),
        "linked_providers": await identity.account_providers(user),
        "must_enrol": must_enrol(request, user),
        "next": safe_next(request.query_params.get("next"), ""),
        "pending_secret": pending_secret,
        "pending_qr": (
            second_factor.qr_svg(second_factor.provisioning_uri(user, pending_secret))
            if pending_secret
            else ""
        ),
        "recovery_codes": [],
        "errors": {},
        "message": "",
    }
    context.update(extra)
    return context


async def security_page(request: Request) -> Response:
    user = await require_signed_in(request)
    return await render(request, "ecosystem/security.html", await _page_context(request, user))


async def _refuse(request: Request, user, exc: DomainError) -> Response:
    context = await _page_context(request, user, errors=exc.fields, message=exc.message)
    response = await render(request, "ecosystem/security.html", context, exc.status_code)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def totp_start(request: Request) -> Response:
    user = await require_signed_in(request)
    next_url = safe_next(request.query_params.get("next"), "")
    try:
        await second_factor.start_totp(user)
    except DomainError as exc:
        return await _refuse(request, user, exc)
    suffix = f"?{urlencode({'next': next_url})}" if next_url else ""
    return redirect(request, f"{SECURITY_PAGE}{suffix}#totp")


async def totp_confirm(request: Request) -> Response:
    user = await require_signed_in(request)
    form = await read_form(request)
    try:
        codes = await second_factor.confirm_totp(
            user, form_text(form, "code"), request.app.state.limiter, ip=client_ip(request)
        )
    except DomainError as exc:
        return await _refuse(request, user, exc)
    factor_set_up(request)
    context = await _page_context(
        request, user, recovery_codes=codes, next=safe_next(form_text(form, "next"), "")
    )
    return await render(request, "ecosystem/security.html", context, 201)


async def totp_disable(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    try:
        await second_factor.disable_totp(
            user,
            form_text(form, "code"),
            form.get("password") if isinstance(form.get("password"), str) else "",
            request.app.state.limiter,
            ip=client_ip(request),
        )
    except DomainError as exc:
        return await _refuse(request, user, exc)
    flash(request, _("The authenticator app has been removed."))
    return redirect(request, SECURITY_PAGE)


async def recovery_codes(request: Request) -> Response:
    user = await require_user(request)
    try:
        codes = await second_factor.regenerate_recovery_codes(user, ip=client_ip(request))
    except DomainError as exc:
        return await _refuse(request, user, exc)
    context = await _page_context(request, user, recovery_codes=codes)
    return await render(request, "ecosystem/security.html", context, 201)


async def revoke_session(request: Request) -> Response:
    user = await require_user(request)
    await sessions.revoke(user, request.path_params["session_id"], ip=client_ip(request))
    flash(request, _("That device has been signed out."))
    return redirect(request, SECURITY_PAGE)


async def revoke_other_sessions(request: Request) -> Response:
    user = await require_user(request)
    ended = await sessions.revoke_others(
        user, request.session.get(SESSION_KEY, ""), ip=client_ip(request)
    )
    flash(request, _("Other devices signed out: %(n)d.", n=ended))
    return redirect(request, SECURITY_PAGE)


# --- passkeys: the browser talks JSON to these (static/passkeys.js) ------------------------


def _keep_challenge(request: Request, purpose: str, challenge: bytes) -> None:
    request.session[SESSION_CHALLENGE] = {
        "purpose": purpose,
        "challenge": base64.urlsafe_b64encode(challenge).decode(),
        "exp": int(time.time()) + passkeys.CHALLENGE_SECONDS,
    }


def _take_challenge(request: Request, purpose: str) -> bytes:
    """The challenge issued for `purpose`, once (it leaves the session)."""
    kept = request.session.pop(SESSION_CHALLENGE, None)
    if (
        not isinstance(kept, dict)
        or kept.get("purpose") != purpose
        or kept.get("exp", 0) < time.time()
    ):
        raise Invalid(_("This passkey request has expired. Try again."))
    return base64.urlsafe_b64decode(kept["challenge"])


async def _credential(request: Request) -> tuple[str, str]:
    """The credential JSON the browser sent, and the name typed for a new passkey."""
    body = await request.body()
    if len(body) > MAX_CREDENTIAL_BYTES:
        raise Invalid(_("This passkey could not be checked. Try again or use another way."))
    try:
        data = json.loads(body)
        credential = data["credential"]
        name = data.get("name", "")
        if not isinstance(credential, dict) or not isinstance(name, str):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise Invalid(
            _("This passkey could not be checked. Try again or use another way.")
        ) from None
    return json.dumps(credential), name


def _json_error(exc: DomainError) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status_code
    )


async def passkey_register_options(request: Request) -> Response:
    user = await require_signed_in(request)
    options, challenge = await passkeys.registration_options(user)
    _keep_challenge(request, "register", challenge)
    return Response(options, media_type="application/json")


async def passkey_register(request: Request) -> Response:
    user = await require_signed_in(request)
    try:
        challenge = _take_challenge(request, "register")
        credential, name = await _credential(request)
        await passkeys.register(user, credential, challenge, name, ip=client_ip(request))
    except DomainError as exc:
        return _json_error(exc)
    factor_set_up(request)
    flash(request, _("Your passkey has been added."))
    return JSONResponse({"redirect": SECURITY_PAGE}, status_code=201)


async def passkey_remove(request: Request) -> Response:
    user = await require_user(request)
    await passkeys.remove(user, request.path_params["passkey_id"], ip=client_ip(request))
    flash(request, _("The passkey has been removed."))
    return redirect(request, SECURITY_PAGE)


async def passkey_login_options(request: Request) -> Response:
    """Options for a passkey: any of this site's (sign in with a passkey), or the pending
    sign-in's account's (the passkey as second factor)."""
    pending = pending_sign_in(request)
    user = await second_factor.pending_user(pending["uid"]) if pending else None
    options, challenge = await passkeys.authentication_options(user)
    _keep_challenge(request, "login", challenge)
    return Response(options, media_type="application/json")


async def passkey_login(request: Request) -> Response:
    pending = pending_sign_in(request)
    expected = await second_factor.pending_user(pending["uid"]) if pending else None
    try:
        challenge = _take_challenge(request, "login")
        credential, _name = await _credential(request)
        user = await passkeys.authenticate(
            credential, challenge, user=expected, ip=client_ip(request)
        )
    except DomainError as exc:
        return _json_error(exc)
    next_url = pending["next"] if pending else safe_next(request.query_params.get("next"), "/")
    request.session.pop(SESSION_PENDING, None)
    response = await complete_sign_in(request, user, next_url, "passkey")
    return JSONResponse({"redirect": response.headers.get("location") or next_url})


async def organisation_policy(request: Request) -> Response:
    user = await require_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    form = await read_form(request)
    required = form_text(form, "require_second_factor") == "1"
    await second_factor.set_organisation_policy(user, organisation, required, ip=client_ip(request))
    flash(request, _("The two-factor sign-in policy has been saved."))
    return redirect(request, f"/organisations/{organisation.slug}/edit")


routes = [
    Route(SECURITY_PAGE, security_page, methods=["GET"]),
    Route(f"{SECURITY_PAGE}/totp", totp_start, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/totp/confirm", totp_confirm, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/totp/disable", totp_disable, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/recovery-codes", recovery_codes, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/sessions/{{session_id:int}}/revoke", revoke_session, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/sessions/revoke-others", revoke_other_sessions, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/passkeys/options", passkey_register_options, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/passkeys", passkey_register, methods=["POST"]),
    Route(f"{SECURITY_PAGE}/passkeys/{{passkey_id:int}}/remove", passkey_remove, methods=["POST"]),
    Route("/login/passkey/options", passkey_login_options, methods=["POST"]),
    Route("/login/passkey", passkey_login, methods=["POST"]),
    Route("/organisations/{slug}/second-factor-policy", organisation_policy, methods=["POST"]),
]
