"""A local stand-in for VNPay (payment URL v2.1, IPN, `querydr`, `refund`) on a real HTTP port.

It checks and signs like VNPay, with its own implementation of the rules (not the app's):
the payment URL's `vnp_SecureHash` is HMAC-SHA512 over the sorted `vnp_*` parameters, values
form-encoded; the JSON API's `vnp_SecureHash` over fixed fields joined by `|`.

- GET /paymentv2/vpcpay.html?…: the payment page (checks the signature, the terminal code and
  the expiry; shows the amount, a "Pay" and a "Cancel" button);
- POST /paymentv2/pay/{ref} (`outcome=pay|cancel`): the result, signed; when `ipn_url` is
  set the IPN is called first (GET, as VNPay does), then the payer is redirected to
  `vnp_ReturnUrl` with the same signed parameters;
- POST /merchant_webapi/api/transaction: `querydr` and `refund` (JSON, checksums checked,
  answers signed).

Tests also build results directly (`result`, `signed_query`) to call the IPN themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PAY_PATH = "/paymentv2/vpcpay.html"
API_PATH = "/merchant_webapi/api/transaction"

QUERY_IN = "vnp_RequestId|vnp_Version|vnp_Command|vnp_TmnCode|vnp_TxnRef|vnp_TransactionDate|vnp_CreateDate|vnp_IpAddr|vnp_OrderInfo"  # noqa: E501
QUERY_OUT = "vnp_ResponseId|vnp_Command|vnp_ResponseCode|vnp_Message|vnp_TmnCode|vnp_TxnRef|vnp_Amount|vnp_BankCode|vnp_PayDate|vnp_TransactionNo|vnp_TransactionType|vnp_TransactionStatus|vnp_OrderInfo|vnp_PromotionCode|vnp_PromotionAmount"  # noqa: E501
REFUND_IN = "vnp_RequestId|vnp_Version|vnp_Command|vnp_TmnCode|vnp_TransactionType|vnp_TxnRef|vnp_Amount|vnp_TransactionNo|vnp_TransactionDate|vnp_CreateBy|vnp_CreateDate|vnp_IpAddr|vnp_OrderInfo"  # noqa: E501
REFUND_OUT = "vnp_ResponseId|vnp_Command|vnp_ResponseCode|vnp_Message|vnp_TmnCode|vnp_TxnRef|vnp_Amount|vnp_BankCode|vnp_PayDate|vnp_TransactionNo|vnp_TransactionType|vnp_TransactionStatus|vnp_OrderInfo"  # noqa: E501


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def url_hash(params: dict[str, str], secret: str) -> str:
    fields = sorted(
        (k, v)
        for k, v in params.items()
        if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and v != ""
    )
    return _mac(secret, "&".join(f"{k}={quote_plus(v)}" for k, v in fields))


def pipe_hash(data: dict[str, Any], names: str, secret: str) -> str:
    return _mac(secret, "|".join(str(data.get(n, "") or "") for n in names.split("|")))


def now_vn() -> str:
    return datetime.now(VN).strftime("%Y%m%d%H%M%S")


@dataclass
class FakeVnpay:
    tmn_code: str = "LABTEST1"
    hash_secret: str = "S" * 32
    ipn_url: str = ""
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    orders: dict[str, dict[str, str]] = field(default_factory=dict)  # by vnp_TxnRef
    refunds: list[dict[str, Any]] = field(default_factory=list)
    api_calls: list[dict[str, Any]] = field(default_factory=list)
    ipn_answers: list[dict[str, Any]] = field(default_factory=list)
    refuse_refunds: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def payment_url(self) -> str:
        return self.url + PAY_PATH

    @property
    def api_url(self) -> str:
        return self.url + API_PATH

    def reset(self) -> None:
        self.orders.clear()
        self.refunds.clear()
        self.api_calls.clear()
        self.ipn_answers.clear()
        self.ipn_url = ""
        self.refuse_refunds = False

    # --- the payment page -------------------------------------------------------------------

    def check_request(self, params: dict[str, str]) -> str:
        """What is wrong with a payment URL ('' if nothing), as VNPay's page would refuse it."""
        if params.get("vnp_SecureHash", "").lower() != url_hash(params, self.hash_secret):
            return "Sai chữ ký (invalid signature)"
        if params.get("vnp_TmnCode") != self.tmn_code:
            return "Website chưa được phê duyệt (unknown terminal)"
        if params.get("vnp_Version") != "2.1.0" or params.get("vnp_Command") != "pay":
            return "bad version or command"
        if params.get("vnp_ExpireDate", "") <= now_vn():
            return "Giao dịch đã quá thời gian chờ thanh toán (expired)"
        return ""

    def open_order(self, params: dict[str, str]) -> dict[str, str]:
        order = self.orders.setdefault(params["vnp_TxnRef"], dict(params))
        order.setdefault("_status", "open")
        return order

    async def pay_page(self, request: Request) -> Response:
        params = dict(request.query_params)
        problem = self.check_request(params)
        if problem:
            return HTMLResponse(f"<h1 id='refused'>{escape(problem)}</h1>", 400)
        order = self.open_order(params)
        amount = int(order["vnp_Amount"]) // 100
        ref = escape(order["vnp_TxnRef"])
        return HTMLResponse(
            "<!doctype html><html><head><title>Fake VNPay</title>"
            '<meta name="viewport" content="width=device-width"></head><body>'
            f"<h1 id='vnpay'>{escape(order['vnp_OrderInfo'])}</h1>"
            f"<p id='amount'>{amount} VND</p>"
            f"<form method='post' action='/paymentv2/pay/{ref}'>"
            "<button id='pay' name='outcome' value='pay' type='submit'>Thanh toán</button>"
            "<button id='cancel' name='outcome' value='cancel' type='submit'>Hủy</button>"
            "</form></body></html>"
        )

    async def pay(self, request: Request) -> Response:
        ref = request.path_params["ref"]
        order = self.orders.get(ref)
        if order is None or order["_status"] != "open":
            return HTMLResponse("<h1>Giao dịch không tồn tại</h1>", 404)
        outcome = (await request.form()).get("outcome")
        params = self.result(ref, paid=outcome == "pay")
        if self.ipn_url:
            async with httpx.AsyncClient() as client:
                answer = await client.get(self.ipn_url, params=params)
            self.ipn_answers.append(answer.json())
        return RedirectResponse(f"{order['vnp_ReturnUrl']}?{urlencode(params)}", 303)

    # --- what VNPay sends back ------------------------------------------------------------------

    def result(
        self, ref: str, paid: bool = True, code: str | None = None, amount: int | None = None
    ) -> dict[str, str]:
        """The signed result of an order (IPN and return): paid (00/00) or cancelled (24/02)."""
        order = self.orders[ref]
        if paid:
            order["_status"] = "paid"
            order.setdefault("_transaction_no", str(14_000_000 + len(self.orders)))
            order["_pay_date"] = now_vn()
        else:
            order["_status"] = "cancelled"
        params = {
            "vnp_Amount": str(amount * 100) if amount is not None else order["vnp_Amount"],
            "vnp_BankCode": "NCB",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": order["vnp_OrderInfo"],
            "vnp_PayDate": order.get("_pay_date", now_vn()),
            "vnp_ResponseCode": code or ("00" if paid else "24"),
            "vnp_TmnCode": self.tmn_code,
            "vnp_TransactionNo": order.get("_transaction_no", "0"),
            "vnp_TransactionStatus": "00" if paid else "02",
            "vnp_TxnRef": ref,
        }
        if paid:
            params["vnp_BankTranNo"] = "VNP" + order["_transaction_no"]
        params["vnp_SecureHashType"] = "HmacSHA512"
        params["vnp_SecureHash"] = url_hash(params, self.hash_secret)
        return params

    # --- the JSON API -------------------------------------------------------------------------

    def _answer(self, body: dict[str, Any], names: str, **fields: Any) -> JSONResponse:
        answer = {
            "vnp_ResponseId": secrets.token_hex(16),
            "vnp_Command": body.get("vnp_Command", ""),
            "vnp_TmnCode": self.tmn_code,
            **fields,
        }
        answer["vnp_SecureHash"] = pipe_hash(answer, names, self.hash_secret)
        return JSONResponse(answer)

    async def api(self, request: Request) -> Response:
        body = await request.json()
        self.api_calls.append(body)
        command = body.get("vnp_Command")
        names_in, names_out = {
            "querydr": (QUERY_IN, QUERY_OUT),
            "refund": (REFUND_IN, REFUND_OUT),
        }.get(command, (None, None))
        if names_in is None:
            return self._answer(body, QUERY_OUT, vnp_ResponseCode="99", vnp_Message="Bad command")
        if str(body.get("vnp_SecureHash", "")).lower() != pipe_hash(
            body, names_in, self.hash_secret
        ):
            return self._answer(body, names_out, vnp_ResponseCode="97", vnp_Message="Checksum")
        if body.get("vnp_TmnCode") != self.tmn_code:
            return self._answer(body, names_out, vnp_ResponseCode="02", vnp_Message="Merchant")
        order = self.orders.get(str(body.get("vnp_TxnRef")))
        if order is None or order["vnp_CreateDate"] != body.get("vnp_TransactionDate"):
            return self._answer(body, names_out, vnp_ResponseCode="91", vnp_Message="Not found")
        base = {
            "vnp_TxnRef": order["vnp_TxnRef"],
            "vnp_BankCode": "NCB",
            "vnp_PayDate": order.get("_pay_date", ""),
            "vnp_TransactionNo": order.get("_transaction_no", ""),
            "vnp_OrderInfo": body.get("vnp_OrderInfo", ""),
        }
        if command == "querydr":
            status = {"paid": "00", "open": "01", "cancelled": "02"}.get(order["_status"], "02")
            return self._answer(
                body,
                QUERY_OUT,
                vnp_ResponseCode="00",
                vnp_Message="QueryDR Success",
                vnp_Amount=order["vnp_Amount"],
                vnp_TransactionType="01",
                vnp_TransactionStatus=status,
                vnp_PromotionCode="",
                vnp_PromotionAmount="",
                **base,
            )
        amount = int(body.get("vnp_Amount") or 0)
        done = sum(r["amount"] for r in self.refunds if r["ref"] == order["vnp_TxnRef"])
        if (
            self.refuse_refunds
            or order["_status"] != "paid"
            or body.get("vnp_TransactionNo") != order["_transaction_no"]
            or done + amount > int(order["vnp_Amount"])
        ):
            return self._answer(
                body, REFUND_OUT, vnp_ResponseCode="95", vnp_Message="Refund refused", **base
            )
        self.refunds.append(
            {"ref": order["vnp_TxnRef"], "amount": amount, "type": body["vnp_TransactionType"]}
        )
        return self._answer(
            body,
            REFUND_OUT,
            vnp_ResponseCode="00",
            vnp_Message="Refund success",
            vnp_Amount=str(amount),
            vnp_TransactionType=body["vnp_TransactionType"],
            vnp_TransactionStatus="05",
            **{**base, "vnp_TransactionNo": str(15_000_000 + len(self.refunds))},
        )

    # --- running -------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(PAY_PATH, self.pay_page, methods=["GET"]),
                Route("/paymentv2/pay/{ref}", self.pay, methods=["POST"]),
                Route(API_PATH, self.api, methods=["POST"]),
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
                raise RuntimeError("the fake VNPay server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
