"""Payments on the web: the Stripe webhook, VNPay's IPN and return, payment and receipt pages,
statements, credits, organisations' billing permits, and the platform admins' credit budgets
(`/admin/budgets`)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ecosystem import permissions, tabular
from ecosystem.errors import DomainError, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import path_id, whole_dong, whole_number
from ecosystem.labels import N_
from ecosystem.models import Organisation
from ecosystem.payments import documents
from ecosystem.payments.schemas import credit_balances
from ecosystem.payments.services import billing, budgets, common, statements, webhooks
from ecosystem.restapi import client_ip
from ecosystem.web import (
    flash,
    form_text,
    is_htmx,
    read_form,
    redirect,
    render,
    require_user,
    safe_next,
)

logger = logging.getLogger("ecosystem.payments")

MAX_WEBHOOK_BYTES = 512 * 1024

METHOD_LABELS = {
    "card": N_("Card (online)"),
    "vnpay": N_("VNPay (online)"),  # a card payment whose provider is VNPay
    "credit": N_("Credit"),
    "organisation": N_("Billed to the organisation"),
    "at_lab": N_("Pay at the lab"),
}
STATE_LABELS = {
    "pending": N_("Waiting for payment"),
    "expired": N_("Not paid in time"),
    "void": N_("Cancelled"),
    "billed": N_("On the monthly statement"),
    "paid": N_("Paid"),
    "partially_refunded": N_("Partly refunded"),
    "refunded": N_("Refunded"),
}


def _labels() -> dict:
    return {"method_labels": METHOD_LABELS, "state_labels": STATE_LABELS}


# --- the webhook --------------------------------------------------------------------------------


async def stripe_webhook(request: Request) -> Response:
    """Verified on the raw body; each event id processed at most once; 200 for the rest."""
    declared = request.headers.get("content-length", "")
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > MAX_WEBHOOK_BYTES)
    ):
        return JSONResponse({"error": "too large"}, status_code=413)
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        return JSONResponse({"error": "too large"}, status_code=413)
    try:
        event = webhooks.verify_event(payload, request.headers.get("stripe-signature", ""))
    except webhooks.BadSignature:
        return JSONResponse({"error": "invalid signature"}, status_code=400)
    outcome = await webhooks.process_event(event)
    logger.info("stripe event %s (%s): %s", event.get("id"), event.get("type"), outcome)
    return JSONResponse({"received": True, "outcome": outcome})


MAX_IPN_QUERY = 4096


async def vnpay_ipn(request: Request) -> Response:
    """VNPay's IPN (a GET with the signed `vnp_*` result): answered with VNPay's JSON,
    `{"RspCode": "00", "Message": "Confirm Success"}` or the code of what is wrong."""
    if len(request.url.query) > MAX_IPN_QUERY:
        code, outcome = "99", "too large"
    else:
        params = dict(request.query_params)
        code, outcome = await webhooks.process_vnpay_ipn(params)
        logger.info("vnpay ipn %s: %s %s", params.get("vnp_TxnRef"), code, outcome)
    return JSONResponse({"RspCode": code, "Message": webhooks.IPN_ANSWERS[code]})


async def vnpay_return(request: Request) -> Response:
    """Where VNPay sends the payer back: only says what happened; the IPN confirms."""
    payment, paid = None, False
    if len(request.url.query) <= MAX_IPN_QUERY:
        payment, paid = await webhooks.vnpay_return_outcome(dict(request.query_params))
    if payment is None:
        raise Invalid(_("This answer from VNPay could not be verified. Nothing was changed."))
    if payment.state in common.SETTLED_STATES:
        flash(request, _("Your payment is confirmed."))
    elif paid:
        flash(request, _("VNPay accepted your payment: it is confirmed as soon as VNPay tells us."))
    else:
        flash(request, _("The payment was not completed. Your hold ends soon if unpaid."), "error")
    return redirect(request, f"/payments/{payment.id}")


# --- a payment --------------------------------------------------------------------------------


async def _payment_context(request: Request, payment_id: int) -> dict:
    user = await require_user(request)
    payment, manages = await statements.payment_for(user, payment_id)
    return {
        "payment": payment,
        "refunds": list(payment.refunds),
        "manages": manages,
        "online": common.online_payments(),
        "receipt_code": documents.receipt_code(payment) if payment.receipt_number else "",
        **_labels(),
    }


async def payment_page(request: Request) -> Response:
    context = await _payment_context(request, path_id(request, "payment_id"))
    fragment = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    template = "payments/_status.html" if fragment else "payments/payment.html"
    response = await render(request, template, context)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request, Cookie"
    response.headers["Cache-Control"] = "no-store"
    return response


async def payment_return(request: Request) -> Response:
    """Where Stripe sends the payer back (paid or not): the payment's page, never an error."""
    payment_id = path_id(request, "payment_id")
    if request.query_params.get("cancelled"):
        flash(request, _("The payment was not completed. Your hold ends soon if unpaid."), "error")
    return redirect(request, f"/payments/{payment_id}")


async def receipt(request: Request) -> Response:
    context = await _payment_context(request, path_id(request, "payment_id"))
    if not context["payment"].receipt_number:
        raise NotFound(_("There is no receipt for this payment yet."))
    return await render(request, "payments/receipt.html", context)


async def receipt_pdf(request: Request) -> Response:
    context = await _payment_context(request, path_id(request, "payment_id"))
    payment = context["payment"]
    if not payment.receipt_number:
        raise NotFound(_("There is no receipt for this payment yet."))
    await payment.fetch_related("user")
    method = _(METHOD_LABELS[payment.method])
    # Laying out a PDF is CPU work: in a thread (with this request's locale), off the loop.
    body = await asyncio.to_thread(documents.receipt_pdf, payment, payment.user.full_name, method)
    name = documents.receipt_code(payment)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


async def mark_paid(request: Request) -> Response:
    user = await require_user(request)
    payment_id = path_id(request, "payment_id")
    form = await read_form(request)
    try:
        await statements.mark_paid(user, payment_id)
        flash(request, _("The payment is recorded as paid."))
    except DomainError as exc:
        if isinstance(exc, NotFound | NotPermitted):
            raise
        flash(request, exc.message, "error")
    return redirect(request, safe_next(form_text(form, "next"), f"/payments/{payment_id}"))


# --- statements ---------------------------------------------------------------------------------


async def _statement(request: Request):
    user = await require_user(request)
    found = await statements.statement(
        user,
        request.path_params["issuer"],
        path_id(request, "organisation_id"),
        request.path_params["period"],
    )
    return user, found


async def statement_page(request: Request) -> Response:
    user, found = await _statement(request)
    context = {
        "statement": found,
        "manages": await common.manages_issuer(user, found.issuer_key),
        "due": statements.billed_due,
        **_labels(),
    }
    return await render(request, "payments/statement.html", context)


async def statement_table(request: Request) -> Response:
    _user, found = await _statement(request)
    name = f"statement-{found.organisation.slug}-{found.period}"
    return tabular.download(documents.statement_table(found), name, request.path_params["format"])


async def statement_pdf(request: Request) -> Response:
    _user, found = await _statement(request)
    name = f"statement-{found.organisation.slug}-{found.period}.pdf"
    return Response(
        await asyncio.to_thread(documents.statement_pdf, found),  # CPU work, off the loop
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


async def statement_mark_paid(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    issuer, period = request.path_params["issuer"], request.path_params["period"]
    organisation_id = path_id(request, "organisation_id")
    try:
        await statements.mark_statement_paid(user, issuer, organisation_id, period)
        flash(request, _("The statement is marked as paid."))
    except DomainError as exc:
        if isinstance(exc, NotFound | NotPermitted):
            raise
        flash(request, exc.message, "error")
    return redirect(request, f"/payments/statements/{issuer}/{organisation_id}/{period}")


# --- credits and billing permits ----------------------------------------------------------------


async def credits_page(request: Request) -> Response:
    user = await require_user(request)
    balances = credit_balances(await billing.credit_holders(user))
    return await render(request, "payments/credits.html", {"balances": balances})


async def _organisation(request: Request) -> Organisation:
    organisation = await Organisation.get_or_none(slug=request.path_params["slug"])
    if organisation is None:
        raise NotFound(_("This page does not exist."))
    return organisation


async def billing_page(request: Request) -> Response:
    user = await require_user(request)
    organisation = await _organisation(request)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        try:
            if form_text(form, "action") == "revoke":
                member_id = whole_number(form_text(form, "user_id"))
                if member_id is not None:
                    await billing.revoke_billing(user, organisation, member_id)
                flash(request, _("The member may no longer bill the organisation."))
            else:
                await billing.allow_billing(user, organisation, form_text(form, "email"))
                flash(request, _("The member may now bill bookings to the organisation."))
            return redirect(request, f"/payments/organisations/{organisation.slug}/billing")
        except DomainError as exc:
            if not exc.fields:
                raise
            errors, status = exc.fields, exc.status_code
    permits = await billing.billing_permits(user, organisation)
    context = {"organisation": organisation, "permits": permits, "errors": errors}
    return await render(request, "payments/billing.html", context, status)


# --- credit budgets (platform admins) ------------------------------------------------------------


async def budgets_page(request: Request) -> Response:
    """Issuers' credit budgets: a platform admin tops one up or sets it (audited)."""
    user = await require_user(request)
    await permissions.ensure(user, "budget.fund")
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        values = {k: form_text(form, k) for k in ("issuer", "amount", "reason", "action")}
        amount = whole_dong(values["amount"])
        try:
            if amount is None:
                message = _("Give a whole amount of dong.")
                raise Invalid(message, fields={"amount": message})
            if values["action"] == "set":
                await budgets.set_budget(
                    user, values["issuer"], amount, values["reason"], ip=client_ip(request)
                )
                flash(request, _("The budget is set."))
            else:
                await budgets.top_up_budget(
                    user, values["issuer"], amount, values["reason"], ip=client_ip(request)
                )
                flash(request, _("The budget is topped up."))
            return redirect(request, "/admin/budgets")
        except DomainError as exc:
            if not exc.fields:
                raise
            errors, status = exc.fields, exc.status_code
    context = {"issuers": await budgets.issuers(), "values": values, "errors": errors}
    return await render(request, "ecosystem/admin/budgets.html", context, status)


routes = [
    Route("/payments/stripe/webhook", stripe_webhook, methods=["POST"]),
    Route("/payments/vnpay/ipn", vnpay_ipn, methods=["GET"]),
    Route("/payments/vnpay/return", vnpay_return, methods=["GET"]),
    Route("/payments/credits", credits_page, methods=["GET"]),
    Route("/payments/organisations/{slug}/billing", billing_page, methods=["GET", "POST"]),
    Route(
        "/payments/statements/{issuer}/{organisation_id}/{period}.{format:tabular}",
        statement_table,
        methods=["GET"],
    ),
    Route(
        "/payments/statements/{issuer}/{organisation_id}/{period}.pdf",
        statement_pdf,
        methods=["GET"],
    ),
    Route(
        "/payments/statements/{issuer}/{organisation_id}/{period}/paid",
        statement_mark_paid,
        methods=["POST"],
    ),
    Route(
        "/payments/statements/{issuer}/{organisation_id}/{period}",
        statement_page,
        methods=["GET"],
    ),
    Route("/payments/{payment_id}", payment_page, methods=["GET"]),
    Route("/payments/{payment_id}/return", payment_return, methods=["GET"]),
    Route("/payments/{payment_id}/receipt", receipt, methods=["GET"]),
    Route("/payments/{payment_id}/receipt.pdf", receipt_pdf, methods=["GET"]),
    Route("/payments/{payment_id}/mark-paid", mark_paid, methods=["POST"]),
    Route("/admin/budgets", budgets_page, methods=["GET", "POST"]),
]
