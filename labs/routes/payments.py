"""HTML page of a lab's staff for money: payments to collect at the lab, organisations'
monthly statements, credit grants and the late-cancellation refund policy."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError
from ecosystem.i18n import _
from ecosystem.payments.services import common, statements
from ecosystem.web import flash, form_text, read_form, redirect, render, require_user
from labs.services import payments as booking_payments


async def lab_payments(request: Request) -> Response:
    user = await require_user(request)
    lab = await booking_payments.staff_lab(user, request.path_params["slug"])
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        action = form_text(form, "action")
        values = {k: form_text(form, k) for k in ("recipient", "amount", "reason", "percent")}
        try:
            if action == "policy":
                await booking_payments.set_refund_policy(user, lab, values["percent"])
                flash(request, _("The refund policy is saved."))
            elif action == "providers":
                chosen = [str(v) for v in form.getlist("providers")]
                await booking_payments.set_providers(user, lab, chosen)
                flash(request, _("The ways to pay online are saved."))
            else:
                entry = await booking_payments.grant_lab_credit(
                    user,
                    lab,
                    values["recipient"],
                    values["amount"],
                    values["reason"],
                    form_text(form, "nonce"),
                )
                flash(
                    request,
                    _("Credit granted: the new balance is %(n)s VND.", n=entry.balance_after),
                )
            return redirect(request, f"/labs/{lab.slug}/payments")
        except DomainError as exc:
            if not exc.fields:
                raise
            errors, status = exc.fields, exc.status_code
    key = booking_payments.issuer_key(lab.id)
    context = {
        "lab": lab,
        "due": await statements.payments_due_at_issuer(user, key),
        "statements": await statements.statements_of_issuer(user, key),
        "issuer_key": key,
        "budget": await booking_payments.lab_budget(lab),
        "online": common.online_payments(),
        "providers": await booking_payments.providers_of(lab),
        "values": values,
        "errors": errors,
        "nonce": secrets.token_urlsafe(12),
    }
    return await render(request, "labs/staff/payments.html", context, status)


routes = [Route("/labs/{slug}/payments", lab_payments, methods=["GET", "POST"])]
