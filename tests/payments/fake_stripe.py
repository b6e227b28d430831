"""A local stand-in for the few Stripe API endpoints the platform calls, on a real HTTP port.

The real `stripe` SDK talks to it (`STRIPE_API_BASE`): form-encoded requests, Stripe-shaped
JSON, `Idempotency-Key` honoured (same key → same response, no second object), errors in
Stripe's `{"error": {...}}` shape. Endpoints (as in Stripe's API reference):

- POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id},
  POST /v1/checkout/sessions/{id}/expire (400 unless the session is open)
- POST /v1/refunds, GET /v1/refunds/{id}

and, for the browser test, a local checkout page: GET /pay/{id} shows the amount and a "Pay"
button; POST /pay/{id} completes the session, posts a signed `checkout.session.completed`
webhook to the app (when `webhook_url` is set) and redirects to the session's success_url.

Events are signed with the real scheme (`stripe.WebhookSignature.generate_signature_header`).
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any

import httpx
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

KEY_PART = re.compile(r"\[([^\]]*)\]")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _set(target: dict[str, Any], path: list[str], value: str) -> None:
    """Stripe's form encoding: `a[b][0][c]=v` → {"a": {"b": {"0": {"c": v}}}} (lists below)."""
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return [_lists(value[k]) for k in sorted(value, key=int)]
        return {k: _lists(v) for k, v in value.items()}
    return value


def decode_form(items: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items:
        head = key.split("[", 1)[0]
        _set(out, [head, *KEY_PART.findall(key)], value)
    return _lists(out)


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`, made by Stripe's own helper."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


def event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-10-29.clover",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }


@dataclass
class FakeStripe:
    webhook_secret: str = "whsec_test_" + "x" * 24
    webhook_url: str = ""
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail_next: int = 0  # answer the next N API calls with a 500 (Stripe down)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        self.sessions.clear()
        self.refunds.clear()
        self.idempotent.clear()
        self.requests.clear()
        self.fail_next = 0
        self.webhook_url = ""

    # --- API ---------------------------------------------------------------------------

    async def _api(self, request: Request, create) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer sk_test_"):
            return self._error(401, "Invalid API Key provided.", "invalid_request_error")
        form = decode_form(list((await request.form()).multi_items()))
        self.requests.append((request.method, request.url.path, form))
        if self.fail_next:
            self.fail_next -= 1
            return self._error(500, "Something went wrong on Stripe's end.", "api_error")
        key = request.headers.get("idempotency-key", "")
        if key and (request.url.path, key) in self.idempotent:
            status, body = self.idempotent[(request.url.path, key)]
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
        status, body = create(form, request)
        if key:
            self.idempotent[(request.url.path, key)] = (status, body)
        return JSONResponse(body, status_code=status)

    @staticmethod
    def _error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)

    def _new_session(self, form: dict[str, Any], request: Request) -> tuple[int, dict]:
        if form.get("mode") != "payment" or not form.get("success_url"):
            return 400, {"error": {"type": "invalid_request_error", "message": "bad params"}}
        item = form["line_items"][0]
        amount = int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
        session_id = f"cs_test_{secrets.token_hex(12)}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_total": amount,
            "currency": item["price_data"]["currency"],
            "client_reference_id": form.get("client_reference_id"),
            "customer_email": form.get("customer_email"),
            "expires_at": int(form.get("expires_at") or time.time() + 86400),
            "livemode": False,
            "metadata": form.get("metadata") or {},
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"],
            "cancel_url": form.get("cancel_url"),
            "url": f"{self.url}/pay/{session_id}",
            "_name": item["price_data"]["product_data"]["name"],
        }
        self.sessions[session_id] = session
        return 200, self.public(session)

    @staticmethod
    def public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    async def create_session(self, request: Request) -> Response:
        return await self._api(request, self._new_session)

    async def get_session(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return self._error(404, "No such checkout.session", "invalid_request_error")
        return JSONResponse(self.public(session))

    async def expire_session(self, request: Request) -> Response:
        def expire(form: dict[str, Any], request: Request) -> tuple[int, dict]:
            session = self.sessions.get(request.path_params["id"])
            if session is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such"}}
            if session["status"] != "open":
                message = "Only Checkout Sessions with a status in [open] can be expired."
                return 400, {"error": {"type": "invalid_request_error", "message": message}}
            session["status"] = "expired"
            return 200, self.public(session)

        return await self._api(request, expire)

    def _new_refund(self, form: dict[str, Any], request: Request) -> tuple[int, dict]:
        intent = form.get("payment_intent")
        paid = [s for s in self.sessions.values() if s["payment_intent"] == intent]
        if not intent or not paid:
            return 400, {
                "error": {"type": "invalid_request_error", "message": "No such payment_intent"}
            }
        already = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        amount = int(form.get("amount") or paid[0]["amount_total"])
        if already + amount > paid[0]["amount_total"]:
            return 400, {"error": {"type": "invalid_request_error", "message": "Refund exceeds"}}
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": amount,
            "currency": paid[0]["currency"],
            "payment_intent": intent,
            "metadata": form.get("metadata") or {},
            "status": "pending",
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return 200, dict(refund)

    async def create_refund(self, request: Request) -> Response:
        return await self._api(request, self._new_refund)

    async def get_refund(self, request: Request) -> Response:
        refund = self.refunds.get(request.path_params["id"])
        if refund is None:
            return self._error(404, "No such refund", "invalid_request_error")
        return JSONResponse(refund)

    # --- the hosted checkout page ----------------------------------------------------------

    async def pay_page(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["id"])
        if session is None or session["status"] != "open":
            return HTMLResponse("<h1>This checkout session is no longer open.</h1>", 410)
        return HTMLResponse(
            "<!doctype html><html><head><title>Fake Stripe Checkout</title>"
            '<meta name="viewport" content="width=device-width"></head><body>'
            f"<h1 id='checkout'>{escape(session['_name'])}</h1>"
            f"<p id='amount'>{session['amount_total']} {session['currency'].upper()}</p>"
            f"<form method='post' action='/pay/{session['id']}'>"
            "<button id='pay' type='submit'>Pay</button></form></body></html>"
        )

    async def pay(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["id"])
        if session is None or session["status"] != "open":
            return HTMLResponse("<h1>This checkout session is no longer open.</h1>", 410)
        completed = self.complete(session["id"])
        if self.webhook_url:
            body = json.dumps(completed)
            async with httpx.AsyncClient() as client:
                await client.post(
                    self.webhook_url,
                    content=body,
                    headers={
                        "Stripe-Signature": sign(body, self.webhook_secret),
                        "Content-Type": "application/json",
                    },
                )
        target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        return RedirectResponse(target, status_code=303)

    # --- what Stripe would send -------------------------------------------------------------

    def complete(self, session_id: str) -> dict[str, Any]:
        """The customer paid: the session completes; returns its completed event."""
        session = self.sessions[session_id]
        session["status"] = "complete"
        session["payment_status"] = "paid"
        session["payment_intent"] = session["payment_intent"] or f"pi_{secrets.token_hex(12)}"
        return event("checkout.session.completed", self.public(session))

    def expired_event(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        if session["status"] == "open":
            session["status"] = "expired"
        return event("checkout.session.expired", self.public(session))

    def refund_event(self, refund_id: str, status: str = "succeeded") -> dict[str, Any]:
        refund = self.refunds[refund_id]
        refund["status"] = status
        return event("refund.updated", dict(refund))

    def signed(self, payload: dict[str, Any], timestamp: int | None = None) -> tuple[str, dict]:
        body = json.dumps(payload)
        headers = {
            "Stripe-Signature": sign(body, self.webhook_secret, timestamp),
            "Content-Type": "application/json",
        }
        return body, headers

    # --- running -------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/checkout/sessions", self.create_session, methods=["POST"]),
                Route("/v1/checkout/sessions/{id}", self.get_session, methods=["GET"]),
                Route("/v1/checkout/sessions/{id}/expire", self.expire_session, methods=["POST"]),
                Route("/v1/refunds", self.create_refund, methods=["POST"]),
                Route("/v1/refunds/{id}", self.get_refund, methods=["GET"]),
                Route("/pay/{id}", self.pay_page, methods=["GET"]),
                Route("/pay/{id}", self.pay, methods=["POST"]),
            ]
        )

    def start(self) -> None:
        config = uvicorn.Config(
            self.app(), host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Stripe server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


if __name__ == "__main__":  # a standalone fake for the browser test's subprocess
    import sys

    fake = FakeStripe(port=int(sys.argv[1]), webhook_url=sys.argv[2], webhook_secret=sys.argv[3])
    uvicorn.run(fake.app(), host="127.0.0.1", port=fake.port, log_level="warning")
